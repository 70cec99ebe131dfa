"""Documentation that restates code or the template, tested against it (docs true by construction).

* verdict.json: the field table of docs/design.md lists exactly the fields of `scangate_core::verdict::Verdict`.
* hub.json: the field table of docs/report-processor.md lists exactly the fields of the processor's `HubDoc`, its
  `status` row and README's status list name exactly the values of `HubStatus`.
* Lambda environment: docs/design.md names exactly the variables the stack sets on each function.
* IAM: the permission tables (docs/deploy.md "Permissions", the "Permissions" lists of docs/pipeline-gate.md and
  docs/report-processor.md) name exactly the actions each role policy of cfn/scangate.yaml allows.
* docs/security.md: every test a row cites exists (file by path or name, Rust `fn`, Python class and method,
  module path `a::tests::name` in the file of module `a`).
* docs/deploy.md: every stack parameter appears exactly once as the first cell of a well-formed row of the parameter
  table (a blank line ends a Markdown table: a row after it is plain text).
* Pipeline variable namespaces (`#{Ns.var}`) used in README, docs/ and examples/ are defined by the example they
  belong to (examples/pipeline.yml `Namespace:`), or are CodePipeline's own (`codepipeline`).
* Rules: a deployment without a QScanner source is refused (ScanProjectsHaveQScanner), an unpinned one too
  (QScannerIsPinned).

Each check has a negative case: the same comparison run on a copy of the document with the drift made by hand.
Needs only PyYAML; run by scripts/lint-cfn.sh (and `python3 cfn/tests/test_docs.py`).
"""

from __future__ import annotations

import re
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ template


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load((ROOT / "cfn" / "scangate.yaml").read_text(), Loader=CfnLoader)
RESOURCES = TEMPLATE["Resources"]


def allowed_actions(policy: str) -> set[str]:
    """Actions of the Allow statements of a policy resource, both branches of any Fn::If."""
    found = []
    for st in RESOURCES[policy]["Properties"]["PolicyDocument"]["Statement"]:
        if isinstance(st, dict) and "Fn::If" in st:
            found += [b for b in st["Fn::If"][1:] if isinstance(b, dict) and "Effect" in b]
        else:
            found.append(st)
    actions = set()
    for st in found:
        if st.get("Effect") == "Allow":
            a = st["Action"]
            actions |= set(a if isinstance(a, list) else [a])
    return actions


# ------------------------------------------------------------------ Markdown


def read(rel: str) -> str:
    return (ROOT / rel).read_text()


def section(text: str, heading: str) -> str:
    """The text under a heading line (any level) up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(#+)\s+(.*)$", line)
        if m and m.group(2).strip() == heading:
            level = len(m.group(1))
            body = []
            for nxt in lines[i + 1 :]:
                n = re.match(r"^(#+)\s", nxt)
                if n and len(n.group(1)) <= level:
                    break
                body.append(nxt)
            return "\n".join(body)
    raise AssertionError(f"no heading {heading!r}")


def cells(row: str) -> list[str]:
    """The cells of a table row; `\\|` inside a cell is not a separator."""
    inner = row.strip()[1:-1] if row.strip().endswith("|") else row.strip()[1:]
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table: the lines starting with `|` up to the first line that does not (a blank line ends it).
    Returns the rows after the header and the separator, as cells."""
    out, current = [], []
    for line in text.splitlines() + [""]:
        if line.lstrip().startswith("|"):
            current.append(line)
        elif current:
            out.append(current)
            current = []
    result = []
    for t in out:
        if len(t) >= 2 and re.match(r"^\|\s*:?-{3,}", t[1].strip()):
            result.append([cells(r) for r in t])
        else:
            result.append([cells(r) for r in t])
    return result


def ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def first_column_names(rows: list[list[str]]) -> list[str]:
    """Backticked names in the first cell of each body row (`a`, `b` and `a[]` count as a, b)."""
    names = []
    for row in rows[2:]:
        for t in ticked(row[0]):
            names.append(t.removesuffix("[]"))
    return names


# ------------------------------------------------------------------ Rust types


def brace_block(source: str, start: int) -> str:
    depth, j = 0, source.index("{", start)
    begin = j
    while True:
        depth += {"{": 1, "}": -1}.get(source[j], 0)
        j += 1
        if depth == 0:
            return source[begin + 1 : j - 1]


def find_definition(directory: Path, pattern: str) -> tuple[str, re.Match]:
    for path in sorted(directory.rglob("*.rs")):
        text = path.read_text()
        m = re.search(pattern, text, re.M)
        if m:
            return text, m
    raise AssertionError(f"{pattern!r} not found under {directory}")


def serde_attrs_before(source: str, pos: int) -> str:
    """The attribute lines right above a definition."""
    lines = source[:pos].splitlines()
    attrs = []
    for line in reversed(lines):
        s = line.strip()
        if s.startswith("#[") or s.startswith("///") or s.startswith("//"):
            attrs.append(s)
        elif s:
            break
    return " ".join(attrs)


def struct_fields(directory: Path, name: str) -> set[str]:
    """The JSON field names of a serde struct: its fields, renamed where `#[serde(rename = "...")]` says,
    without `#[serde(skip)]` ones. Refuses what this reader does not understand (flatten, rename_all)."""
    source, m = find_definition(directory, rf"^\s*pub(?:\([^)]*\))?\s+struct\s+{name}\s*\{{")
    if "rename_all" in serde_attrs_before(source, m.start()):
        raise AssertionError(f"struct {name}: serde rename_all: teach test_docs.py")
    fields, pending = set(), ""
    for line in brace_block(source, m.start()).splitlines():
        s = line.strip()
        if s.startswith("#["):
            pending += s
            continue
        f = re.match(r"^pub(?:\([^)]*\))?\s+(\w+)\s*:", s) or re.match(r"^(\w+)\s*:", s)
        if f:
            if "flatten" in pending:
                raise AssertionError(f"struct {name}: serde flatten: teach test_docs.py")
            rename = re.search(r'rename\s*=\s*"([^"]+)"', pending)
            if not re.search(r"\bskip\b(?!_)", pending):
                fields.add(rename.group(1) if rename else f.group(1))
            pending = ""
    return fields


def enum_values(directory: Path, name: str) -> set[str]:
    """The JSON values of a serde unit enum (rename_all lowercase / snake_case, or per-variant rename)."""
    source, m = find_definition(directory, rf"^\s*pub(?:\([^)]*\))?\s+enum\s+{name}\s*\{{")
    attrs = serde_attrs_before(source, m.start())
    case = re.search(r'rename_all\s*=\s*"([^"]+)"', attrs)
    values, pending = set(), ""
    for line in brace_block(source, m.start()).splitlines():
        s = line.strip()
        if s.startswith("#["):
            pending += s
            continue
        v = re.match(r"^([A-Z]\w*)\s*(?:,|$)", s)
        if not v:
            continue
        rename = re.search(r'rename\s*=\s*"([^"]+)"', pending)
        pending = ""
        if rename:
            values.add(rename.group(1))
        elif case is None:
            values.add(v.group(1))
        elif case.group(1) == "lowercase":
            values.add(v.group(1).lower())
        elif case.group(1) == "snake_case":
            values.add(re.sub(r"(?<!^)([A-Z])", r"_\1", v.group(1)).lower())
        else:
            raise AssertionError(f"enum {name}: rename_all {case.group(1)}: teach test_docs.py")
    return values


CORE = ROOT / "crates" / "core" / "src"
PROCESSOR = ROOT / "functions" / "report-processor" / "src"


def verdict_table_names(design: str) -> list[str]:
    body = section(design, "verdict.json")
    return first_column_names(tables(body)[0])


def hub_doc_table(doc: str) -> list[list[str]]:
    start = doc.index("hub.json` (schema `scangate.hub.v1`)")
    return tables(doc[start:])[0]


def hub_statuses_in_table(rows: list[list[str]]) -> set[str]:
    for row in rows[2:]:
        if ticked(row[0]) == ["status"]:
            return set(re.findall(r"`([a-z]+)` \(", row[1]))
    raise AssertionError("hub.json table: no `status` row")


def readme_hub_statuses(readme: str) -> set[str]:
    m = re.search(r"`status`\s+`([a-z|]+)`", readme)
    if not m:
        raise AssertionError("README: no `status` `a|b|…` list of hub.json")
    return set(m.group(1).split("|"))


def drift(doc: set[str] | list[str], code: set[str]) -> str:
    doc_set = set(doc)
    problems = []
    if code - doc_set:
        problems.append(f"undocumented: {sorted(code - doc_set)}")
    if doc_set - code:
        problems.append(f"documented but not in the code: {sorted(doc_set - code)}")
    dupes = sorted({d for d in doc if list(doc).count(d) > 1}) if isinstance(doc, list) else []
    if dupes:
        problems.append(f"listed twice: {dupes}")
    return "; ".join(problems)


class ContractTables(unittest.TestCase):
    def test_verdict_field_table_matches_the_type(self) -> None:
        fields = struct_fields(CORE, "Verdict")
        self.assertIn("passed", fields)
        self.assertEqual(drift(verdict_table_names(read("docs/design.md")), fields), "", "docs/design.md verdict.json")

    def test_verdict_table_drift_is_caught(self) -> None:
        fields = struct_fields(CORE, "Verdict")
        design = read("docs/design.md").replace("| `processed_at` |", "| `processed_at_renamed` |")
        self.assertIn("processed_at", drift(verdict_table_names(design), fields))
        self.assertIn("processed_at", drift(verdict_table_names(design), fields | {"new_field"}))
        self.assertIn("new_field", drift(verdict_table_names(read("docs/design.md")), fields | {"new_field"}))

    def test_hub_doc_table_and_statuses_match_the_types(self) -> None:
        fields = struct_fields(PROCESSOR, "HubDoc")
        statuses = enum_values(PROCESSOR, "HubStatus")
        self.assertIn("pending", statuses)
        rows = hub_doc_table(read("docs/report-processor.md"))
        self.assertEqual(drift(first_column_names(rows), fields), "", "docs/report-processor.md hub.json fields")
        self.assertEqual(drift(hub_statuses_in_table(rows), statuses), "", "docs/report-processor.md hub.json status")
        self.assertEqual(drift(readme_hub_statuses(read("README.md")), statuses), "", "README.md hub.json status")

    def test_hub_status_drift_is_caught(self) -> None:
        statuses = enum_values(PROCESSOR, "HubStatus")
        self.assertIn("incomplete", drift(readme_hub_statuses("`status` `pending|done|failed|disabled|superseded`"), statuses))
        self.assertIn("bogus", drift(readme_hub_statuses("`status` `" + "|".join(sorted(statuses | {"bogus"})) + "`"), statuses))
        rows = hub_doc_table(read("docs/report-processor.md").replace("| `updated_at` |", "| `updated` |"))
        self.assertIn("updated_at", drift(first_column_names(rows), struct_fields(PROCESSOR, "HubDoc")))

    def test_the_rust_reader_understands_serde_attributes(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            Path(d, "x.rs").write_text(
                "#[derive(Serialize)]\n#[serde(rename_all = \"lowercase\")]\npub enum E {\n    /// doc\n    OneThing,\n"
                "    #[serde(rename = \"two\")]\n    Second,\n}\npub struct S {\n    pub a: u8,\n"
                "    #[serde(rename = \"bee\")]\n    pub b: u8,\n    #[serde(skip)]\n    pub c: u8,\n"
                "    #[serde(skip_serializing_if = \"Option::is_none\")]\n    pub d: Option<u8>,\n}\n"
            )
            self.assertEqual(enum_values(Path(d), "E"), {"onething", "two"})
            self.assertEqual(struct_fields(Path(d), "S"), {"a", "bee", "d"})


# ------------------------------------------------------------------ the Lambdas' environment in design.md

LAMBDA_PLATFORM = {"RUST_LOG"}  # read by the function, set by whoever runs it, not by the stack


def design_env_names(design: str, heading: str) -> set[str]:
    body = section(design, heading)
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", body))
    if re.search(r"`MAX_CRITICAL` …\s*`MAX_LOW`", body):
        names |= {"MAX_HIGH", "MAX_MEDIUM"}
    return names - LAMBDA_PLATFORM


def function_env(function: str) -> set[str]:
    return set(RESOURCES[function]["Properties"].get("Environment", {}).get("Variables", {}))


class LambdaEnvironment(unittest.TestCase):
    def test_design_md_names_each_functions_environment(self) -> None:
        design = read("docs/design.md")
        for heading, function in (
            ("report-processor (Lambda environment)", "ProcessorFunction"),
            ("pipeline-gate (CodePipeline Invoke action)", "GateFunction"),
        ):
            with self.subTest(function=function):
                self.assertEqual(drift(design_env_names(design, heading), function_env(function)), "", heading)

    def test_an_unlisted_variable_is_caught(self) -> None:
        design = read("docs/design.md")
        self.assertIn("`ALLOW_METADATA_RELAX` (`false`),", design)
        design = design.replace("`ALLOW_METADATA_RELAX` (`false`),", "")
        names = design_env_names(design, "report-processor (Lambda environment)")
        self.assertIn("ALLOW_METADATA_RELAX", drift(names, function_env("ProcessorFunction")))


# ------------------------------------------------------------------ IAM tables

ACTION = re.compile(r"\b([a-z0-9-]+):([A-Z][A-Za-z0-9]*(?:/[A-Z][A-Za-z0-9]*)*)")
DEPLOY_ROLES = {
    "report-processor": "ProcessorPolicy",
    "pipeline-gate": "GatePolicy",
    "scan projects": "ScanPolicy",
    "publisher": "PublisherPolicy",
}


def actions_in(text: str) -> set[str]:
    """`svc:A`, and `svc:A/B` for svc:A and svc:B."""
    out = set()
    for service, names in ACTION.findall(text):
        out |= {f"{service}:{n}" for n in names.split("/")}
    return out


def deploy_permission_rows(deploy: str) -> dict[str, set[str]]:
    rows = tables(section(deploy, "Permissions"))[0][2:]
    return {row[0]: actions_in(row[1]) for row in rows}


def bullet_actions(body: str) -> set[str]:
    """Actions named in the bullet list of a section (the role's grants; prose after it is about other roles)."""
    bullets, inside = [], False
    for line in body.splitlines():
        if line.startswith("- "):
            inside = True
            bullets.append(line)
        elif inside and line.startswith("  "):
            bullets.append(line)
        elif inside and line.strip() == "":
            break
    return actions_in("\n".join(bullets))


class PermissionTables(unittest.TestCase):
    def test_deploy_md_names_exactly_what_each_role_allows(self) -> None:
        rows = deploy_permission_rows(read("docs/deploy.md"))
        self.assertEqual(set(rows), set(DEPLOY_ROLES), "docs/deploy.md Permissions: one row per role")
        for role, policy in DEPLOY_ROLES.items():
            with self.subTest(role=role):
                self.assertEqual(drift(rows[role], allowed_actions(policy)), "", f"docs/deploy.md {role} vs {policy}")

    def test_pipeline_gate_and_report_processor_pages_match_their_roles(self) -> None:
        for doc, policy in (("docs/pipeline-gate.md", "GatePolicy"), ("docs/report-processor.md", "ProcessorPolicy")):
            with self.subTest(doc=doc):
                found = bullet_actions(section(read(doc), "Permissions"))
                self.assertEqual(drift(found, allowed_actions(policy)), "", f"{doc} Permissions vs {policy}")

    def test_permission_drift_is_caught(self) -> None:
        deploy = read("docs/deploy.md")
        rows = deploy_permission_rows(deploy.replace("codebuild:BatchGetBuilds", "codebuild:BatchGetBuildz"))
        self.assertIn("codebuild:BatchGetBuilds", drift(rows["report-processor"], allowed_actions("ProcessorPolicy")))
        self.assertEqual(actions_in("s3:GetObject/GetObjectVersion on x"), {"s3:GetObject", "s3:GetObjectVersion"})
        gate = section(read("docs/pipeline-gate.md"), "Permissions").replace("`codepipeline:GetJobDetails`, ", "")
        self.assertIn("GetJobDetails", drift(bullet_actions(gate), allowed_actions("GatePolicy")))


# ------------------------------------------------------------------ security.md citations

SEARCH_DIRS = ["crates", "functions", "cfn", "stacksets", "scripts", "fuzz", "tests", "ci"]


def source_files() -> list[Path]:
    files = []
    for d in SEARCH_DIRS:
        base = ROOT / d
        if base.is_dir():
            files += [p for p in base.rglob("*") if p.suffix in (".rs", ".py") and "target" not in p.parts]
    return files


FILES = source_files()


def files_named(token: str) -> list[Path]:
    if "/" in token:
        p = ROOT / token
        return [p] if p.is_file() else []
    return [p for p in FILES if p.name == token]


def module_files(module: str) -> list[Path]:
    return [p for p in FILES if p.suffix == ".rs" and (p.stem == module or (p.name == "mod.rs" and p.parent.name == module))]


def defines(path: Path, name: str) -> bool:
    text = path.read_text()
    if path.suffix == ".rs":
        return re.search(rf"\bfn\s+{re.escape(name)}\b", text) is not None
    return re.search(rf"^\s*(?:def|class)\s+{re.escape(name)}\b", text, re.M) is not None


def python_method(path: Path, cls: str, method: str) -> bool:
    text = path.read_text()
    m = re.search(rf"^class\s+{re.escape(cls)}\b.*?(?=^class\s|\Z)", text, re.M | re.S)
    return m is not None and re.search(rf"^\s+def\s+{re.escape(method)}\b", m.group(0), re.M) is not None


def citation_problems(cell: str) -> list[str]:
    """What a 'test that performs the attack' cell cites that does not exist."""
    problems = []
    text = re.sub(r"\([^()]*\)", "", cell)  # parenthesised notes are not citations
    for part in text.split(";"):
        scope: list[Path] = []
        for token in ticked(part):
            if re.search(r"\.(rs|py)$", token):
                scope = files_named(token)
                if not scope:
                    problems.append(f"no file {token}")
                continue
            if not re.fullmatch(r"[A-Za-z_][\w]*(?:::\w+)*(?:\.\w+)?", token):
                continue
            if "." in token:  # Python Class.method
                cls, method = token.split(".")
                where = scope or [p for p in FILES if p.suffix == ".py"]
                if not any(python_method(p, cls, method) for p in where):
                    problems.append(f"no {token}")
                continue
            segments = token.split("::")
            name = segments[-1]
            modules = [s for s in segments[:-1] if s != "tests" and not s.startswith("scangate_")]
            if modules:
                where = module_files(modules[-1])
                if not where:
                    problems.append(f"no module {modules[-1]} (file {modules[-1]}.rs or {modules[-1]}/mod.rs) for {token}")
                    continue
            else:
                where = scope or FILES
            if not any(defines(p, name) for p in where):
                shown = ", ".join(str(p.relative_to(ROOT)) for p in where[:3]) if where is not FILES else "the sources"
                problems.append(f"no {name} in {shown} ({token})")
    return problems


def security_citations(doc: str) -> list[tuple[str, str]]:
    """(row's first cell, its last cell) of every table whose last column cites tests."""
    out = []
    for rows in tables(doc):
        if len(rows) > 2 and "test" in rows[0][-1]:
            out += [(r[0][:60], r[-1]) for r in rows[2:]]
    return out


class SecurityCitations(unittest.TestCase):
    def test_every_cited_test_exists(self) -> None:
        rows = security_citations(read("docs/security.md"))
        self.assertGreater(len(rows), 10)
        problems = {threat: p for threat, cell in rows if (p := citation_problems(cell))}
        self.assertFalse(problems, f"docs/security.md cites what does not exist: {problems}")

    def test_a_renamed_test_or_module_is_caught(self) -> None:
        self.assertEqual(citation_problems("`scan_download.rs` `missing_checksum_is_refused`"), [])
        self.assertTrue(citation_problems("`scan_download.rs` `missing_checksum_is_refused_renamed`"))
        self.assertTrue(citation_problems("`no_such_module::tests::missing_checksum_is_refused`"))
        self.assertTrue(citation_problems("`crates/cli/tests/nope.rs` `x`"))
        self.assertTrue(citation_problems("`test_templates.py` `TrustBoundaries.test_nothing_like_this`"))
        self.assertEqual(citation_problems("`test_templates.py` `ScanInstallStep` (`NOT_A_TEST`)"), [])


# ------------------------------------------------------------------ deploy.md parameter table


def parameter_table_problems(deploy: str, parameters: set[str]) -> list[str]:
    body = section(deploy, "Parameters of `cfn/scangate.yaml`")
    found = tables(body)
    if not found:
        return ["no table"]
    rows = found[0]
    problems = []
    width = len(rows[0])
    seen: list[str] = []
    for row in rows[2:]:
        if len(row) != width:
            problems.append(f"row {row[0]!r} has {len(row)} cells, the header {width}")
        seen += [t for t in ticked(row[0])]
    for p in sorted(parameters):
        n = seen.count(p)
        if n != 1:
            problems.append(f"{p} appears {n} times in the table")
    extra = sorted(set(seen) - parameters)
    if extra:
        problems.append(f"not parameters of the template: {extra}")
    return problems


class ParameterTable(unittest.TestCase):
    def test_every_parameter_once_in_one_well_formed_table(self) -> None:
        self.assertEqual(parameter_table_problems(read("docs/deploy.md"), set(TEMPLATE["Parameters"])), [])

    def test_a_blank_line_a_duplicate_or_a_missing_row_is_caught(self) -> None:
        params = set(TEMPLATE["Parameters"])
        deploy = read("docs/deploy.md")
        row = next(line for line in deploy.splitlines() if line.startswith("| `AccessLogDays` |"))
        broken = deploy.replace(row + "\n", row + "\n\n")
        self.assertTrue(parameter_table_problems(broken, params))
        self.assertTrue(parameter_table_problems(deploy.replace(row, row + "\n" + row), params))
        self.assertTrue(parameter_table_problems(deploy.replace(row + "\n", ""), params))
        self.assertTrue(parameter_table_problems(deploy, params | {"NewParameter"}))


# ------------------------------------------------------------------ pipeline namespaces

BUILTIN_NAMESPACES = {"codepipeline"}


def defined_namespaces() -> set[str]:
    return set(re.findall(r"^\s*Namespace:\s*(\w+)\s*$", read("examples/pipeline.yml"), re.M))


def namespace_problems(name: str, text: str, defined: set[str]) -> list[str]:
    own = set(re.findall(r"Namespace:\s*(\w+)", text))  # a snippet may define its own
    used = set(re.findall(r"#\{(\w+)\.\w+\}", text))
    return [f"{name}: #{{{ns}.…}} (defined: {sorted(defined | own)})" for ns in sorted(used - defined - own - BUILTIN_NAMESPACES)]


class PipelineNamespaces(unittest.TestCase):
    def test_every_namespace_used_is_defined_by_the_example(self) -> None:
        defined = defined_namespaces()
        self.assertTrue({"SourceVars", "ScanVars", "GateVars"} <= defined)
        docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").rglob("*.y*ml"))]
        problems = [p for f in docs for p in namespace_problems(str(f.relative_to(ROOT)), f.read_text(), defined)]
        self.assertEqual(problems, [])

    def test_an_undefined_namespace_is_caught(self) -> None:
        defined = defined_namespaces()
        self.assertTrue(namespace_problems("x", '{"verdict_key": "#{Scan.verdict_key}"}', defined))
        self.assertEqual(namespace_problems("x", "#{codepipeline.PipelineExecutionId} #{ScanVars.verdict_key}", defined), [])


# ------------------------------------------------------------------ rules: a stack that cannot scan is refused


def evaluate(expr, params: dict[str, str]):
    if isinstance(expr, dict):
        (fn, arg), = expr.items()
        if fn == "Ref":
            return params.get(arg, str(TEMPLATE["Parameters"][arg].get("Default", "")))
        if fn == "Fn::Not":
            return not evaluate(arg[0], params)
        if fn == "Fn::Equals":
            return evaluate(arg[0], params) == evaluate(arg[1], params)
        if fn == "Fn::Join":
            vals = evaluate(arg[1], params)
            return arg[0].join(vals if isinstance(vals, list) else [v for v in str(vals).split(",") if v])
        raise AssertionError(f"rule function {fn}: teach test_docs.py")
    return expr


def refused_by(params: dict[str, str]) -> list[str]:
    out = []
    for name, rule in TEMPLATE.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        out += [name for a in rule["Assertions"] if not evaluate(a["Assert"], params)]
    return out


class StackRefusesWhatCannotScan(unittest.TestCase):
    SHA = "0" * 64

    def test_no_qscanner_source_is_refused(self) -> None:
        self.assertIn("ScanProjectsHaveQScanner", refused_by({}))

    def test_an_unpinned_download_is_refused(self) -> None:
        self.assertEqual(refused_by({"QScannerUrl": "https://example.com/qscanner.gz"}), ["QScannerIsPinned"])

    def test_a_pinned_download_deploys(self) -> None:
        self.assertEqual(refused_by({"QScannerUrl": "https://example.com/qscanner.gz", "QScannerSha256": self.SHA}), [])


if __name__ == "__main__":
    unittest.main(verbosity=1)

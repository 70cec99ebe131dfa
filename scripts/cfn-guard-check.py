#!/usr/bin/env python3
"""Run cfn-guard over CloudFormation templates and apply in-template suppressions.

The AWS Control Tower proactive rules do not read template metadata, so suppressions live in each
resource's `Metadata.guard.SuppressedRules` as `{rule: <guard rule name>, reason: <why>}` and are applied
here, after cfn-guard ran:

* a failure is suppressed only for the resources that list the rule, and only with a non-empty reason;
* a failure that names no resource cannot be suppressed;
* a suppression that matches no failure is an error too (stale suppressions hide nothing and mislead);
* every checkov skip (`Metadata.checkov.skip`) must carry a `comment` and every cfn-lint ignore
  (`Metadata.cfn-lint.config.ignore_checks`) a `Metadata.cfn-lint.reasons` entry, so no suppression in
  any of the three tools goes without its reason.

Usage: cfn-guard-check.py --guard BIN --rules DIR [--list] TEMPLATE...
Exit status: 0 clean, 1 failures, 2 usage or tool errors.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from cfnlint.decode import decode  # cfn-lint's YAML/JSON loader understands the short-form tags


def load_template(path: Path) -> dict:
    template, matches = decode(str(path))
    if matches or template is None:
        raise SystemExit(f"{path}: cannot be parsed: {'; '.join(str(m) for m in matches)}")
    return template


def guard_documents(output: str, source: str) -> list[dict]:
    """cfn-guard -o json prints one JSON document per rule file, back to back."""
    decoder = json.JSONDecoder()
    docs, pos = [], 0
    while True:
        while pos < len(output) and output[pos].isspace():
            pos += 1
        if pos >= len(output):
            return docs
        try:
            doc, pos = decoder.raw_decode(output, pos)
        except json.JSONDecodeError as err:
            raise SystemExit(f"{source}: unexpected cfn-guard output at byte {pos}: {err}") from err
        docs.append(doc)


def collect(node, key: str, out: set) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                out.add(v)
            else:
                collect(v, key, out)
    elif isinstance(node, list):
        for v in node:
            collect(v, key, out)


def first_messages(node) -> list[str]:
    found: set = set()
    collect(node, "custom_message", found)
    lines = {m.strip().splitlines()[0].strip() for m in found if m and m.strip()}
    return sorted(line for line in lines if line.startswith("["))


def failures(docs: list[dict]) -> dict[str, tuple[set[str], bool, list[str]]]:
    """rule name -> (failing resource ids, whether some failure named no resource, messages)."""
    result: dict[str, tuple[set[str], bool, list[str]]] = {}
    for doc in docs:
        if doc.get("status") != "FAIL":
            continue
        for item in doc.get("not_compliant", []):
            rule = item.get("Rule", {}).get("name", "?")
            paths: set = set()
            collect(item, "path", paths)
            resources = {p.split("/")[2] for p in paths if p.startswith("/Resources/") and len(p.split("/")) > 2}
            unnamed = not resources
            old = result.get(rule, (set(), False, []))
            result[rule] = (old[0] | resources, old[1] or unnamed, sorted(set(old[2]) | set(first_messages(item))))
    return result


def suppressions(template: dict, path: Path, errors: list[str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for rid, res in (template.get("Resources") or {}).items():
        meta = (res or {}).get("Metadata") or {}
        for entry in (meta.get("guard") or {}).get("SuppressedRules") or []:
            if not isinstance(entry, dict) or not str(entry.get("rule", "")).strip():
                errors.append(f"{path}: Resources.{rid}.Metadata.guard.SuppressedRules: expected {{rule, reason}}, got {entry!r}")
                continue
            reason = str(entry.get("reason", "")).strip()
            if not reason:
                errors.append(f"{path}: Resources.{rid}: guard suppression of {entry['rule']} has no reason")
            found[(entry["rule"], rid)] = " ".join(reason.split())
        for entry in (meta.get("checkov") or {}).get("skip") or []:
            if not isinstance(entry, dict) or not str(entry.get("comment", "")).strip():
                errors.append(f"{path}: Resources.{rid}.Metadata.checkov.skip: {entry!r} has no comment (the reason)")
        lint = meta.get("cfn-lint") or {}
        ignored = ((lint.get("config") or {}).get("ignore_checks")) or []
        reasons = lint.get("reasons") or {}
        for check in ignored:
            if not str(reasons.get(check, "")).strip():
                errors.append(f"{path}: Resources.{rid}: cfn-lint ignore of {check} has no Metadata.cfn-lint.reasons.{check}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guard", required=True, help="cfn-guard binary")
    parser.add_argument("--rules", required=True, help="directory of .guard rule files")
    parser.add_argument("--list", action="store_true", help="print every suppression (all three tools) as Markdown")
    parser.add_argument("templates", nargs="+", type=Path)
    args = parser.parse_args()

    errors: list[str] = []
    rows: list[str] = []
    suppressed = 0
    for path in args.templates:
        template = load_template(path)
        supp = suppressions(template, path, errors)
        proc = subprocess.run(
            [args.guard, "validate", "-d", str(path), "-r", args.rules, "--show-summary", "none", "-o", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        # 0 = all pass, 19 = some rule failed; anything else is a tool or rule-parse error.
        if proc.returncode not in (0, 19):
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"{path}: cfn-guard exited {proc.returncode}")
        used: set[tuple[str, str]] = set()
        for rule, (resources, unnamed, messages) in sorted(failures(guard_documents(proc.stdout, str(path))).items()):
            what = "; ".join(messages) or rule
            if unnamed:
                errors.append(f"{path}: {rule}: {what} (names no resource, cannot be suppressed)")
            for rid in sorted(resources):
                if (rule, rid) in supp:
                    used.add((rule, rid))
                    suppressed += 1
                else:
                    errors.append(f"{path}: Resources.{rid}: {rule}: {what}")
        for (rule, rid), reason in sorted(supp.items()):
            if (rule, rid) not in used:
                errors.append(f"{path}: Resources.{rid}: guard suppression of {rule} matches no failure: remove it")
        if args.list:
            for rid, res in (template.get("Resources") or {}).items():
                meta = (res or {}).get("Metadata") or {}
                for entry in (meta.get("checkov") or {}).get("skip") or []:
                    rows.append(f"| `{path}` | {rid} | checkov {entry.get('id')} | {' '.join(str(entry.get('comment', '')).split())} |")
                for entry in (meta.get("guard") or {}).get("SuppressedRules") or []:
                    rows.append(f"| `{path}` | {rid} | cfn-guard {entry.get('rule')} | {' '.join(str(entry.get('reason', '')).split())} |")
                lint = meta.get("cfn-lint") or {}
                for check in ((lint.get("config") or {}).get("ignore_checks")) or []:
                    rows.append(f"| `{path}` | {rid} | cfn-lint {check} | {(lint.get('reasons') or {}).get(check, '')} |")

    if args.list:
        print("| template | resource | suppressed check | reason |")
        print("|---|---|---|---|")
        print("\n".join(rows))
    for err in errors:
        print(f"cfn-guard: {err}", file=sys.stderr)
    print(f"cfn-guard: {len(args.templates)} templates, {suppressed} suppressed failures (each with its reason), {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

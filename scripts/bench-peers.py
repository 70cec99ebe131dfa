#!/usr/bin/env python3
"""scangate beside its peers (`make bench-peers`).

Times `scangate process --asff` beside two open-source tools that read SARIF, on the same
files: sarif-tools (PyPI: `sarif summary`, `sarif codeclimate`) and MITRE SAF CLI (npm:
`saf convert sarif2hdf` then `saf convert hdf2asff`, the only peer that writes ASFF). Each
run is a child process measured by bench.measure (wall time, peak RSS), under a timeout and
a memory watch; a run that times out or dies is reported as such with the memory it reached.

The peers are installed, pinned, into .peers/ (gitignored): .peers/venv for sarif-tools and
.peers/node for @mitre/saf and the Node.js it declares (node 22 from npm's `node` package).
`make test` never installs or runs them.

Usage: scripts/bench-peers.py [--quick] [--no-big] [--timeout S] [--rss-limit-mib M]
                              [--big-heap-mib M] [--markdown FILE] [--keep-outputs]
"""
import argparse
import atexit
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (shared measuring code: bench.measure, bench.synth paths)

ROOT = bench.ROOT
PEERS = os.path.join(ROOT, ".peers")
SARIF_TOOLS_VERSION = "3.0.5"
SAF_VERSION = "1.5.3"
NODE_VERSION = "22.23.3"
VENV = os.path.join(PEERS, "venv")
NODE_DIR = os.path.join(PEERS, "node")
SARIF = os.path.join(VENV, "bin", "sarif")
NODE = os.path.join(NODE_DIR, "node_modules", "node", "bin", "node")
SAF = os.path.join(NODE_DIR, "node_modules", "@mitre", "saf", "bin", "run")
MIB = 1024 * 1024


def log(msg):
    print(msg, flush=True)


def installed_version(cmd):
    try:
        # In .peers: SAF writes saf-cli.log into its current directory.
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=PEERS).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def install():
    """Installs the pinned peers into .peers/ when missing or at another version."""
    os.makedirs(PEERS, exist_ok=True)
    if SARIF_TOOLS_VERSION not in installed_version([SARIF, "--version"]):
        log(f"installing sarif-tools {SARIF_TOOLS_VERSION} into {os.path.relpath(VENV, ROOT)}…")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
                        f"sarif-tools=={SARIF_TOOLS_VERSION}"], check=True)
    saf_ok = os.path.exists(NODE) and f"@mitre/saf/{SAF_VERSION}" in installed_version([NODE, SAF, "--version"])
    if not saf_ok or NODE_VERSION not in installed_version([NODE, "--version"]):
        log(f"installing @mitre/saf {SAF_VERSION} and node {NODE_VERSION} into {os.path.relpath(NODE_DIR, ROOT)}…")
        os.makedirs(NODE_DIR, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", NODE_DIR, "--save-exact", "--no-audit", "--no-fund",
                        "--loglevel=error", f"@mitre/saf@{SAF_VERSION}", f"node@{NODE_VERSION}"], check=True)


def node_heap_limit_mib(extra=()):
    out = installed_version([NODE, *extra, "-e", "console.log(require('v8').getHeapStatistics().heap_size_limit)"])
    try:
        return int(out) / MIB
    except ValueError:
        return float("nan")


def count_results(path):
    """SARIF results in the file: exact (json) for small files, marker count for the synthetic one."""
    if os.path.getsize(path) < 64 * MIB:
        with open(path, encoding="utf-8-sig") as f:
            doc = json.load(f)
        return sum(len(run.get("results") or []) for run in doc.get("runs") or [])
    # The synthetic generator starts every result with this and writes it nowhere else.
    marker, count, tail = b'{"ruleId":"qid-', 0, b""
    with open(path, "rb") as f:
        while chunk := f.read(8 * MIB):
            buf = tail + chunk
            count += buf.count(marker)
            tail = buf[-(len(marker) - 1):]
    return count


def count_records(path):
    """Objects in a JSON array file, or in every JSON array file of a directory (what a tool wrote)."""
    files = [os.path.join(path, f) for f in sorted(os.listdir(path))] if os.path.isdir(path) else [path]
    total = 0
    for f in files:
        if os.path.getsize(f) > 2 * 1024 * MIB:
            return None
        with open(f, encoding="utf-8") as fh:
            doc = json.load(fh)
        if not isinstance(doc, list):
            return None
        total += len(doc)
    return total


def synth_fresh(path, size, distinct):
    """Regenerates the synthetic report (bench-data/ may hold one from an older generator)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    log(f"generating {os.path.relpath(path, ROOT)} ({size // MIB} MiB, {distinct} distinct findings)…")
    subprocess.run([os.path.join(bench.BIN, "scangate-bench"), "synth", "--bytes", str(size),
                    "--distinct", str(distinct), "--out", path], check=True, stdout=subprocess.DEVNULL)


class Row:
    """One line of the table: the median of runs that all succeeded, else the failed run."""

    def __init__(self, input_name, tool, step, what, runs, command):
        self.input, self.tool, self.step, self.what, self.command = input_name, tool, step, what, command
        self.reps = len(runs)
        ok = [m for m in runs if m.status == "ok"]
        failed = [m for m in runs if m.status != "ok"]
        self.status = "ok" if not failed else describe_failure(failed[-1])
        chosen = runs if failed else ok
        self.wall = statistics.median(m.wall for m in chosen) if chosen else 0.0
        self.rss = max((m.rss_mib for m in chosen), default=0.0)
        self.stderr_tail = failed[-1].stderr.strip()[-400:] if failed else ""
        self.records = None


def describe_failure(m):
    if "heap out of memory" in m.stderr or "Reached heap limit" in m.stderr:
        return f"node heap out of memory ({m.status})"
    if m.status == "timeout":
        return "timed out"
    if m.status == "rss-limit":
        return "killed at the RSS limit"
    return m.status


def ratio(theirs, ours):
    if ours <= 0:
        return "?"
    x = theirs / ours
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one repetition per small input, 50 MB synthetic")
    ap.add_argument("--no-big", action="store_true", help="skip the large synthetic report")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per peer run (default 1200)")
    ap.add_argument("--rss-limit-mib", type=float, default=14 * 1024,
                    help="kill a run whose process tree exceeds this resident size (default 14336)")
    ap.add_argument("--big-heap-mib", type=int, default=12 * 1024,
                    help="node --max-old-space-size for the retry of a saf step that failed (default 12288)")
    ap.add_argument("--markdown", metavar="FILE", help="also write the table and the commands as Markdown")
    ap.add_argument("--keep-outputs", action="store_true",
                    help="keep what the tools wrote (saf writes about 1.7 GB of ASFF for the 200 MB input)")
    args = ap.parse_args()

    install()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "scangate-cli", "-p", "scangate-bench"],
                   cwd=ROOT, check=True)
    scangate = os.path.join(bench.BIN, "scangate")
    big_size = (50 if args.quick else 200) * MIB
    big = os.path.join(bench.DATA, f"peers-synthetic-{big_size // MIB}mb.sarif")
    small_reps = 1 if args.quick else 3
    inputs = [
        ("CodeQL juice-shop", os.path.join(bench.CORPUS, "codeql-javascript-juice-shop-3mb.sarif"), small_reps),
        ("Anchore 2020", os.path.join(bench.CORPUS, "anchore-scan-action-2020-large.sarif"), small_reps),
    ]
    if not args.no_big:
        synth_fresh(big, big_size, 20_000)
        inputs.append((f"synthetic QScanner-shaped {big_size // MIB} MB", big, 1))

    versions = {
        "scangate": installed_version([scangate, "--version"]),
        "sarif-tools": installed_version([SARIF, "--version"]),
        "saf": installed_version([NODE, SAF, "--version"]),
        "node": installed_version([NODE, "--version"]),
        "python (sarif-tools venv)": installed_version([os.path.join(VENV, "bin", "python"), "--version"]),
        "node default heap limit MiB": f"{node_heap_limit_mib():.0f}",
    }
    log("versions: " + json.dumps(versions))
    work = tempfile.mkdtemp(prefix="scangate-peers-")
    if not args.keep_outputs:
        # Also after a failure: SAF alone writes about 1.7 GB here for the 200 MB input.
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    rows, info = [], []
    limits = {"timeout": args.timeout, "rss_limit_mib": args.rss_limit_mib}

    def timed(input_name, tool, step, what, cmd, reps, ok_codes=(0,), show=None, records=None):
        runs = []
        for _ in range(reps):
            # In the work directory: SAF writes saf-cli.log into its current directory.
            m = bench.measure(cmd, ok_codes=ok_codes, cwd=work, **limits)
            runs.append(m)
            log(f"  {tool} {step}: {m.status}, {m.wall:.2f} s, {m.rss_mib:.0f} MiB")
            if m.status != "ok":
                break
        row = Row(input_name, tool, step, what, runs, show or cmd)
        row.records = count_records(records) if records and row.status == "ok" else None
        rows.append(row)
        return row

    for name, path, reps in inputs:
        size = os.path.getsize(path)
        results = count_results(path)
        log(f"{name}: {os.path.basename(path)}, {size / MIB:.1f} MiB, {results} results")
        out = os.path.join(work, os.path.basename(path))
        os.makedirs(out, exist_ok=True)
        norm = os.path.normpath(path)
        rel = os.path.relpath(norm, ROOT) if norm.startswith(ROOT + os.sep) else norm

        verdict = os.path.join(out, "verdict.json")
        ours = timed(name, "scangate", "process --asff", "SARIF → findings, dedup, severity, verdict, ASFF JSON",
                     [scangate, "process", path, "--format", "json", "--max-critical", "-1",
                      "--asff", os.path.join(out, "asff.json"), "--verdict", verdict],
                     # scangate is fast enough to repeat: more runs steady its median
                     max(reps, 5 if size < 64 * MIB else 3), ok_codes=(0, 42),
                     records=os.path.join(out, "asff.json"),
                     show=["target/release/scangate", "process", rel, "--format", "json", "--max-critical", "-1",
                           "--asff", "asff.json", "--verdict", "verdict.json"])
        findings = None
        try:
            with open(verdict) as f:
                findings = json.load(f)["counts"]["total"]
        except (OSError, ValueError, KeyError):
            pass
        info.append((name, os.path.basename(path), size, results, findings, ours))

        # sarif --check makes the exit code the number of issues at or above the level (any code is a result).
        any_code = tuple(range(256))
        timed(name, "sarif-tools", "summary --check error",
              "SARIF → counts per level and rule, exit code = issues ≥ error (the closest to a gate)",
              [SARIF, "--check", "error", "summary", path, "--output", os.path.join(out, "summary.txt")],
              reps, ok_codes=any_code,
              show=[".peers/venv/bin/sarif", "--check", "error", "summary", rel, "--output", "summary.txt"])
        timed(name, "sarif-tools", "codeclimate",
              "SARIF → Code Climate JSON, one object per result (the closest to a per-finding conversion)",
              [SARIF, "codeclimate", path, "--output", os.path.join(out, "codeclimate.json")], reps,
              records=os.path.join(out, "codeclimate.json"),
              show=[".peers/venv/bin/sarif", "codeclimate", rel, "--output", "codeclimate.json"])

        hdf = os.path.join(out, "hdf.json")
        saf_js = ".peers/node/node_modules/@mitre/saf/bin/run"
        node_shown = ".peers/node/node_modules/node/bin/node"

        def saf(step, what, argv, shown, records=None):
            """A saf step with node's default heap; retried once with a larger heap when that failed."""
            row = timed(name, "saf", step, what, [NODE, SAF, *argv], reps, show=[node_shown, saf_js, *shown],
                        records=records)
            if row.status in ("ok", "timed out", "killed at the RSS limit"):
                return row
            heap = f"--max-old-space-size={args.big_heap_mib}"
            return timed(name, f"saf, node {heap}", step, what, [NODE, heap, SAF, *argv], reps,
                         show=[node_shown, heap, saf_js, *shown], records=records)

        step1 = saf("convert sarif2hdf", "SARIF → HDF JSON (step 1 of 2)",
                    ["convert", "sarif2hdf", "-i", path, "-o", hdf],
                    ["convert", "sarif2hdf", "-i", rel, "-o", "hdf.json"])
        if step1.status == "ok":
            asff_args = ["-a", "123456789012", "-r", "us-east-1", "-t", "bench", "-o"]
            step2 = saf("convert hdf2asff", "HDF → ASFF JSON files (step 2 of 2)",
                        ["convert", "hdf2asff", "-i", hdf, *asff_args, os.path.join(out, "saf-asff")],
                        ["convert", "hdf2asff", "-i", "hdf.json", *asff_args, "saf-asff"],
                        records=os.path.join(out, "saf-asff"))
            tool = step1.tool if step1.tool == step2.tool else f"{step1.tool} / {step2.tool}"
            total = Row(name, tool, "sarif2hdf + hdf2asff", "SARIF → ASFF, the two steps together", [], [])
            total.status = "ok" if step2.status == "ok" else f"step 2: {step2.status}"
            total.wall = step1.wall + step2.wall
            total.rss = max(step1.rss, step2.rss)
            total.reps = min(step1.reps, step2.reps)
            total.records = step2.records
            rows.append(total)

    ours_by_input = {name: r for name, _, _, _, _, r in info}
    header = ("| input | tool | step | what it does | runs | status | wall s | peak RSS MiB "
              "| scangate faster × | memory ratio × | records out |")
    lines = [header, "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ours = ours_by_input[r.input]
        is_ours = r.tool == "scangate"
        speed = "—" if is_ours else ("" if r.status == "ok" else "> ") + ratio(r.wall, ours.wall)
        mem = "—" if is_ours else ("" if r.status == "ok" else "≥ ") + ratio(r.rss, ours.rss)
        lines.append(f"| {r.input} | {r.tool} | `{r.step}` | {r.what} | {r.reps} | {r.status} | {r.wall:.2f} "
                     f"| {r.rss:.0f} | {speed} | {mem} | {'' if r.records is None else r.records} |")
    table = "\n".join(lines)
    inputs_table = ["| input | file | MiB | SARIF results | scangate findings (after dedup) |",
                    "|---|---|---:|---:|---:|"]
    for name, base, size, results, findings, _ in info:
        inputs_table.append(f"| {name} | `{base}` | {size / MIB:.1f} | {results} | {findings} |")
    commands = []
    seen = set()
    for r in rows:
        if r.command and r.command[0] != "" and (r.tool, r.step) not in seen:
            seen.add((r.tool, r.step))
            commands.append(f"{r.tool} {r.step}:\n    " + " ".join(r.command))
    failures = [f"- {r.input}, {r.tool} `{r.step}`: {r.status}: {r.stderr_tail}"
                for r in rows if getattr(r, "stderr_tail", "")]
    machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, "
               f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB RAM, "
               f"{platform.system()} {platform.release()}")

    text = ("\n".join(inputs_table) + "\n\n" + table + "\n\nVersions: "
            + ", ".join(f"{k} {v}" for k, v in versions.items()) + f"\n\nMachine: {machine}\n\nCommands:\n\n```\n"
            + "\n".join(commands) + "\n```\n" + ("\nFailures:\n\n" + "\n".join(failures) + "\n" if failures else ""))
    print()
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.keep_outputs:
        log(f"outputs kept in {work}")


if __name__ == "__main__":
    main()

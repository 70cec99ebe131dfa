#!/usr/bin/env python3
"""scangate benchmarks (`make bench`).

Throughput of `scangate process` (SARIF in, ASFF + verdict + JUnit out) beside a serde_json
IgnoredAny pass over the same bytes (the cost of merely reading the JSON), and the peak
resident memory of `scangate process` on a 1 GB synthetic report. Every figure is measured
on child processes of this script with os.wait4 (wall time and ru_maxrss), in the same run,
so the ratio compares like with like on whatever machine runs it.

Usage: scripts/bench.py [--quick] [--no-1gb] [--markdown FILE]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "..", "shared", "corpus", "sarif")
DATA = os.path.join(ROOT, "bench-data")
BIN = os.path.join(ROOT, "target", "release")


def run(cmd, ok_codes=(0,)):
    """Runs cmd, returns (wall seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if code not in ok_codes:
        sys.exit(f"bench: {' '.join(cmd)} exited {code}\n{err}")
    return wall, usage.ru_maxrss / 1024.0


def synth(path, size, distinct):
    if os.path.exists(path) and os.path.getsize(path) >= size * 0.95:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    print(f"generating {os.path.basename(path)} ({size // (1024 * 1024)} MiB, {distinct} distinct findings)…", flush=True)
    subprocess.run(
        [os.path.join(BIN, "scangate-bench"), "synth", "--bytes", str(size), "--distinct", str(distinct), "--out", path],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, 50 MB synthetic instead of 200 MB")
    ap.add_argument("--no-1gb", action="store_true", help="skip the 1 GB peak-memory run")
    ap.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown to FILE")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "scangate-cli", "-p", "scangate-bench"], cwd=ROOT, check=True)
    mib = 1024 * 1024
    big = (50 if args.quick else 200) * mib
    synth_big = os.path.join(DATA, f"synthetic-{big // mib}mb.sarif")
    synth(synth_big, big, 20_000)
    inputs = [
        ("codeql-javascript-juice-shop-3mb.sarif", os.path.join(CORPUS, "codeql-javascript-juice-shop-3mb.sarif"), 3 if args.quick else 7),
        ("anchore-scan-action-2020-large.sarif", os.path.join(CORPUS, "anchore-scan-action-2020-large.sarif"), 3 if args.quick else 7),
        (os.path.basename(synth_big), synth_big, 1 if args.quick else 3),
    ]
    out = tempfile.mkdtemp(prefix="scangate-bench-")
    scangate = os.path.join(BIN, "scangate")
    rows = []
    for name, path, reps in inputs:
        size = os.path.getsize(path)
        base, ours, rss = [], [], []
        for _ in range(reps):
            # Alternate the two so that cache and frequency effects hit both alike.
            base.append(run([os.path.join(BIN, "scangate-bench"), "ignored-any", path])[0])
            wall, peak = run(
                [scangate, "process", path, "--format", "json", "--max-critical", "-1",
                 "--asff", os.path.join(out, "asff.json"), "--verdict", os.path.join(out, "verdict.json"),
                 "--junit", os.path.join(out, "junit.xml")],
                ok_codes=(0, 42),
            )
            ours.append(wall)
            rss.append(peak)
        b, o = statistics.median(base), statistics.median(ours)
        rows.append((name, size / mib, b, size / mib / b, o, size / mib / o, b / o, max(rss)))

    header = "| input | MiB | IgnoredAny s | MiB/s | scangate process s | MiB/s | ratio (≥ 0.5) | peak RSS MiB |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, size, b, bt, o, ot, ratio, rss in rows:
        lines.append(f"| {name} | {size:.1f} | {b:.3f} | {bt:.0f} | {o:.3f} | {ot:.0f} | {ratio:.2f} | {rss:.1f} |")
    table = "\n".join(lines)
    print()
    print(table)

    rss_table = ""
    if not args.no_1gb:
        gb = os.path.join(DATA, "synthetic-1gb.sarif")
        synth(gb, 1024 * mib, 20_000)
        wall, peak = run([scangate, "process", gb, "--format", "json", "--max-critical", "-1",
                          "--asff", os.path.join(out, "asff.json"), "--verdict", os.path.join(out, "verdict.json")],
                         ok_codes=(0, 42))
        size = os.path.getsize(gb) / mib
        rss_table = ("| input | MiB | wall s | peak RSS MiB (≤ 64) |\n|---|---:|---:|---:|\n"
                     f"| synthetic-1gb.sarif | {size:.0f} | {wall:.1f} | {peak:.1f} |")
        print()
        print(rss_table)

    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n\n" + rss_table + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""scangate benchmarks (`make bench`).

Throughput of `scangate process` (SARIF in, ASFF + verdict + JUnit out) beside a serde_json
IgnoredAny pass over the same bytes (the cost of merely reading the JSON), and the peak
resident memory of `scangate process` on a 1 GB synthetic report; and `scangate process
--asff --verdict` beside Python's `json.load` of the same file (100 000 distinct QScanner-shaped
findings, and real reports from tests/corpus). Every figure is measured on child processes of
this script with os.wait4 (wall time, CPU time and ru_maxrss), in the same run, so the ratio
compares like with like on whatever machine runs it.

Usage: scripts/bench.py [--quick] [--no-1gb] [--only-json-load] [--markdown FILE]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "corpus", "sarif")
DATA = os.path.join(ROOT, "bench-data")
BIN = os.path.join(ROOT, "target", "release")


class Measured:
    """One timed child process: wall seconds, CPU seconds (user + sys), peak RSS in MiB, exit
    code and how it ended."""

    def __init__(self, wall, rss_mib, code, status, stderr, cpu=0.0):
        self.wall = wall
        self.cpu = cpu
        self.rss_mib = rss_mib
        self.code = code
        # "ok", "exit N", "timeout", "rss-limit" or "signal N"
        self.status = status
        self.stderr = stderr


def _tree_rss_kib(pid):
    """Resident memory of pid and its descendants (KiB), from /proc; 0 when it is gone."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return total


# GNU time, when installed, starts the measured command from its own small process: a child
# forked from this Python process would carry Python's resident memory (about 15 MiB) into its
# ru_maxrss, a floor that hides the footprint of a small command.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measure(cmd, ok_codes=(0,), timeout=None, rss_limit_mib=None, env=None, cwd=None):
    """Runs cmd in its own process group and returns a Measured.

    Wall time is taken around the child. Peak RSS is the command's ru_maxrss (from GNU time's %M
    when /usr/bin/time exists, else from os.wait4, which then includes the floor described above),
    or the largest resident size of the process tree polled from /proc every 0.2 s if that is
    larger (the only figure left for a command that was killed). A watcher kills the whole group
    when it runs longer than timeout seconds or its tree's resident memory exceeds rss_limit_mib.
    """
    import signal
    import threading

    stderr = tempfile.TemporaryFile()
    rss_file = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False)
    rss_file.close()
    full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd] if GNU_TIME else list(cmd)
    start = time.perf_counter()
    proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=cwd, start_new_session=True)
    why = []
    polled = [0]
    done = threading.Event()

    def watch():
        while not done.wait(0.2):
            rss = _tree_rss_kib(proc.pid) / 1024.0
            # The tree includes GNU time itself (about 2 MiB); only the peak matters here.
            polled[0] = max(polled[0], rss)
            if timeout is not None and time.perf_counter() - start > timeout:
                why.append("timeout")
            elif rss_limit_mib is not None and rss > rss_limit_mib:
                why.append("rss-limit")
            else:
                continue
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    stderr.seek(0)
    err = stderr.read().decode(errors="replace")
    stderr.close()
    peak = usage.ru_maxrss / 1024.0
    if GNU_TIME:
        peak = 0.0
        try:
            with open(rss_file.name) as f:
                lines = [line.strip() for line in f if line.strip()]
            # GNU time writes "Command exited with non-zero status N" / "...terminated by signal N" first.
            peak = int(lines[-1]) / 1024.0
            if any("terminated by signal" in line for line in lines):
                code = -int(lines[0].rsplit(" ", 1)[-1])
        except (OSError, ValueError, IndexError):
            pass
    os.unlink(rss_file.name)
    peak = max(peak, polled[0])
    if why:
        state = why[0]
    elif code < 0:
        state = f"signal {-code}"
    elif code in ok_codes:
        state = "ok"
    else:
        state = f"exit {code}"
    # user + sys of the child and what it waited for (the command itself, under GNU time).
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(wall, peak, code, state, err, cpu)


def run(cmd, ok_codes=(0,)):
    """Runs cmd, returns (wall seconds, peak RSS in MiB); exits the script when cmd fails."""
    m = run_measured(cmd, ok_codes)
    return m.wall, m.rss_mib


def run_measured(cmd, ok_codes=(0,)):
    """Runs cmd, returns its Measured; exits the script when cmd fails."""
    m = measure(cmd, ok_codes)
    if m.status != "ok":
        sys.exit(f"bench: {' '.join(cmd)} exited {m.code}\n{m.stderr}")
    return m


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


def synth_results(path, results):
    """A synthetic report of exactly `results` results, every one a distinct finding."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    print(f"generating {os.path.basename(path)} ({results} distinct findings)…", flush=True)
    subprocess.run(
        [os.path.join(BIN, "scangate-bench"), "synth", "--results", str(results), "--distinct", str(results), "--out", path],
        check=True,
        stdout=subprocess.DEVNULL,
    )


# Python's json.load of the file: the reference `scangate process --asff` is held to (issue #23, ratio <= 1.0).
JSON_LOAD = [sys.executable, "-c", "import json,sys; json.load(open(sys.argv[1]))"]


def json_load_table(reps, out):
    """`scangate process --asff --verdict` beside `json.load` of the same files, alternating: wall
    time (what a user waits; the ASFF is rendered on up to four threads) and CPU time (user +
    sys, what the work costs whatever the cores; the issue's ratio holds for both)."""
    mib = 1024 * 1024
    synth_100k = os.path.join(DATA, "synthetic-100k-distinct.sarif")
    synth_results(synth_100k, 100_000)
    inputs = [
        (os.path.basename(synth_100k), synth_100k, reps),
        ("codeql-javascript-juice-shop-3mb.sarif", os.path.join(CORPUS, "codeql-javascript-juice-shop-3mb.sarif"), reps * 2 + 1),
        ("codeql-javascript-tag-sarif-large.sarif", os.path.join(CORPUS, "codeql-javascript-tag-sarif-large.sarif"), reps * 2 + 1),
    ]
    scangate = os.path.join(BIN, "scangate")
    rows = []
    for name, path, n in inputs:
        size = os.path.getsize(path)
        base, ours = [], []
        for _ in range(n):
            base.append(run_measured([*JSON_LOAD, path]))
            ours.append(
                run_measured(
                    [scangate, "process", "--asff", os.path.join(out, "out.json"), "--verdict", os.path.join(out, "v.json"), path],
                    ok_codes=(0, 42),
                )
            )
        b, o = statistics.median(m.wall for m in base), statistics.median(m.wall for m in ours)
        bc, oc = statistics.median(m.cpu for m in base), statistics.median(m.cpu for m in ours)
        rows.append((name, size / mib, n, b, o, o / b, bc, oc, oc / bc, max(m.rss_mib for m in ours)))
    lines = [
        "| input | MiB | runs | python json.load s | scangate process --asff s | ratio (≤ 1.0) "
        "| json.load CPU s | scangate CPU s | ratio, CPU (≤ 1.0) | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size, n, b, o, ratio, bc, oc, cratio, rss in rows:
        lines.append(
            f"| {name} | {size:.1f} | {n} | {b:.3f} | {o:.3f} | {ratio:.2f} | {bc:.3f} | {oc:.3f} | {cratio:.2f} | {rss:.1f} |"
        )
    load = os.getloadavg()
    lines.append("")
    lines.append(f"Wall and CPU (user + sys) are medians; load average at the end {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, 50 MB synthetic instead of 200 MB")
    ap.add_argument("--no-1gb", action="store_true", help="skip the 1 GB peak-memory run")
    ap.add_argument("--only-json-load", action="store_true", help="only the json.load table")
    ap.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown to FILE")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "scangate-cli", "-p", "scangate-bench"], cwd=ROOT, check=True)
    mib = 1024 * 1024
    big = (50 if args.quick else 200) * mib
    out = tempfile.mkdtemp(prefix="scangate-bench-")
    json_table = json_load_table(3 if args.quick else 7, out)
    print()
    print(json_table)
    if args.only_json_load:
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(json_table + "\n")
        return

    synth_big = os.path.join(DATA, f"synthetic-{big // mib}mb.sarif")
    synth(synth_big, big, 20_000)
    inputs = [
        ("codeql-javascript-juice-shop-3mb.sarif", os.path.join(CORPUS, "codeql-javascript-juice-shop-3mb.sarif"), 3 if args.quick else 7),
        ("anchore-scan-action-2020-large.sarif", os.path.join(CORPUS, "anchore-scan-action-2020-large.sarif"), 3 if args.quick else 7),
        (os.path.basename(synth_big), synth_big, 1 if args.quick else 3),
    ]
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
            f.write(json_table + "\n\n" + table + "\n\n" + rss_table + "\n")


if __name__ == "__main__":
    main()

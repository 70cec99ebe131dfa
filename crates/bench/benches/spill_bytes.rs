//! The SARIF reader in memory (`read_sarif_limited`) beside the reader spilling its findings to
//! a file (`read_sarif_spilled`): for a report of N tiny distinct findings (the processor
//! bench's `tiny` shape, about 67 bytes of SARIF each; N = 1 000 000 by default), the heap
//! peak during the read and the heap still held after it (a counting global allocator), the
//! peak RSS of the process (`VmHWM`), the spill file's bytes, and, spilled, one sequential
//! pass over the findings (`for_each_finding`) and 10 000 reads by position (`get`).
//! Bytes per finding in memory and on disk. Not a timed test: it prints a Markdown table.
//!
//! `cargo bench -p scangate-bench --bench spill_bytes`; `N=150000` sets the findings,
//! `SHAPE=ruff` (or `qscanner`) another shape. Each mode runs in a child process of its own
//! (the SARIF is written to a file in the temp dir first and read from there), so its peak
//! RSS is its own.

use peak_alloc::PeakAlloc;
use scangate_bench::synth::{write_lint, write_synthetic, LintShape, SynthConfig};
use scangate_core::sarif::{read_sarif_limited, read_sarif_spilled, ReadLimits};
use scangate_core::FindingSource;
use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

fn vm_kb(key: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

const MIB: f64 = 1024.0 * 1024.0;

fn one(mode: &str, path: &Path) {
    let open = || BufReader::with_capacity(256 * 1024, std::fs::File::open(path).expect("the report"));
    let heap0 = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let started = Instant::now();
    let limits = ReadLimits::default();
    let (n, disk, spill_mem, extra, kept) = match mode {
        "memory" => {
            let r = read_sarif_limited(open(), "bench", limits).expect("reads");
            let n = r.findings.len();
            let kept = HEAP.current_usage().saturating_sub(heap0);
            (n, 0u64, 0u64, String::new(), Some(kept))
        }
        _ => {
            let dir = std::env::temp_dir();
            let s = read_sarif_spilled(open(), "bench", limits, &dir).expect("reads");
            let kept = HEAP.current_usage().saturating_sub(heap0);
            let read_secs = started.elapsed().as_secs_f64();
            let n = s.findings.len();
            let t = Instant::now();
            let mut sum = 0u64;
            s.findings.for_each_finding(&mut |_, f| sum += u64::from(f.occurrences)).expect("reads back");
            let pass = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let step = (n / 10_000).max(1);
            let mut got = 0;
            for i in (0..n).step_by(step).take(10_000) {
                got += s.findings.get(i).expect("in range").title.len().min(1);
            }
            let gets = t.elapsed().as_secs_f64();
            assert_eq!(sum, n as u64, "one occurrence each");
            let extra = format!(
                " read {read_secs:.2} s; one pass {pass:.2} s ({:.0} ns/finding); {got} gets {:.1} µs each",
                pass * 1e9 / n.max(1) as f64,
                gets * 1e6 / got.max(1) as f64
            );
            (n, s.bytes(), s.findings.memory_bytes() + s.suppressed.memory_bytes(), extra, Some(kept))
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let peak = HEAP.peak_usage().saturating_sub(heap0);
    let kept = kept.unwrap_or(0);
    let per = |b: f64| b / n.max(1) as f64;
    println!(
        "| {mode} | {n} | {:.1} | {:.1} ({:.0} B/finding) | {:.1} ({:.0} B/finding) | {:.0} B/finding | {:.1} ({:.0} B/finding) | {secs:.2} |",
        vm_kb("VmHWM:") as f64 / 1024.0,
        peak as f64 / MIB,
        per(peak as f64),
        kept as f64 / MIB,
        per(kept as f64),
        per(spill_mem as f64),
        disk as f64 / MIB,
        per(disk as f64),
    );
    if !extra.is_empty() {
        println!("#   {mode}:{extra}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        let mode = args.get(i + 1).expect("--one MODE FILE");
        let path = args.get(i + 2).expect("--one MODE FILE");
        one(mode, Path::new(path));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("spill_bytes: bench");
        return;
    }
    let n = std::env::var("N").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(1_000_000);
    let shape = std::env::var("SHAPE").unwrap_or_else(|_| "tiny".into());
    let path = std::env::temp_dir().join(format!("scangate-spill-bench-{}-{shape}-{n}.sarif", std::process::id()));
    let file = std::fs::File::create(&path).expect("a temp file");
    let bytes = match shape.as_str() {
        "tiny" => write_lint(file, LintShape::Tiny, n, n),
        "ruff" => write_lint(file, LintShape::Ruff, n, n),
        _ => {
            let cfg =
                SynthConfig { rules: 500, results: n, distinct: n, string_len: 60, seed: n, ..Default::default() };
            write_synthetic(file, &cfg)
        }
    }
    .expect("synthetic SARIF");
    println!(
        "{shape}: {n} distinct findings, {:.1} MiB of SARIF ({:.0} B/finding)\n",
        bytes as f64 / MIB,
        bytes as f64 / n as f64
    );
    println!("| reader | findings | peak RSS MiB | heap peak MiB | heap held after MiB | spill index in memory | spill file MiB | read s |");
    println!("|---|---|---|---|---|---|---|---|");
    let exe = std::env::current_exe().expect("current exe");
    for mode in ["memory", "spilled"] {
        let out = std::process::Command::new(&exe)
            .args(["--one", mode, &path.display().to_string()])
            .output()
            .expect("child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{mode}: failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let _ = std::fs::remove_file(&path);
}

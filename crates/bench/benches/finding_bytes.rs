//! Where a parsed report's bytes go, per distinct finding: `read_sarif` of synthetic reports of
//! the shapes the processor's bench uses (`tiny`, `ruff`, `qscanner`), then the live heap
//! (a counting global allocator: bytes requested), the RSS the read added (what the
//! allocator's chunks really take), and a breakdown of the findings by field under glibc's
//! chunk model (a heap block of `n` bytes takes `max(32, n + 8 rounded up to 16)`). Shared
//! values (`Arc`) are counted once, wherever they are referenced. Not a timed test: it prints.
//!
//! `cargo bench -p scangate-bench --bench finding_bytes`; `N=150000` sets the findings per
//! shape (default 100 000), `SHAPES=tiny,ruff` picks the shapes. Each shape runs in a child
//! process of its own, so its RSS is its own.

use peak_alloc::PeakAlloc;
use scangate_bench::synth::{write_lint, write_synthetic, LintShape, SynthConfig};
use scangate_core::finding::{Finding, Location, Package, Scanner};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// glibc's chunk for a block of `n` bytes (64-bit: 8 bytes of header, 16-byte alignment,
/// 32 bytes at least).
fn chunk(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).div_ceil(16).max(2) * 16
    }
}

/// The heap bytes a value holds beyond its inline size, shared blocks counted once (`seen`).
trait Held {
    fn held(&self, seen: &mut HashSet<usize>) -> usize;
}

impl Held for String {
    fn held(&self, _: &mut HashSet<usize>) -> usize {
        chunk(self.capacity())
    }
}

impl Held for Box<str> {
    fn held(&self, _: &mut HashSet<usize>) -> usize {
        chunk(self.len())
    }
}

impl Held for Arc<str> {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        // An ArcInner: two counters, then the text.
        if seen.insert(Arc::as_ptr(self) as *const u8 as usize) {
            chunk(16 + self.len())
        } else {
            0
        }
    }
}

impl<T: Held> Held for Vec<T> {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        chunk(self.capacity() * std::mem::size_of::<T>()) + self.iter().map(|t| t.held(seen)).sum::<usize>()
    }
}

impl<T: Held> Held for Arc<[T]> {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        if !seen.insert(Arc::as_ptr(self) as *const u8 as usize) {
            return 0;
        }
        chunk(16 + self.len() * std::mem::size_of::<T>()) + self.iter().map(|t| t.held(seen)).sum::<usize>()
    }
}

impl<T: Held> Held for Option<T> {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        self.as_ref().map_or(0, |t| t.held(seen))
    }
}

impl<T: Held> Held for Box<T> {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        chunk(std::mem::size_of::<T>()) + (**self).held(seen)
    }
}

impl Held for Arc<Scanner> {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        if seen.insert(Arc::as_ptr(self) as usize) {
            chunk(16 + std::mem::size_of::<Scanner>()) + (**self).held(seen)
        } else {
            0
        }
    }
}

impl Held for Scanner {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        self.name.held(seen) + self.version.held(seen)
    }
}

impl Held for Package {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        self.name.held(seen) + self.installed_version.held(seen) + self.fixed_version.held(seen) + self.purl.held(seen)
    }
}

impl Held for Location {
    fn held(&self, seen: &mut HashSet<usize>) -> usize {
        self.uri.held(seen)
    }
}

/// Bytes per finding by field (heap blocks under the chunk model; `struct` is the inline size).
fn breakdown(findings: &[Finding]) -> BTreeMap<&'static str, usize> {
    let mut seen = HashSet::new();
    let mut out = BTreeMap::new();
    let mut add = |k: &'static str, v: usize| *out.entry(k).or_insert(0) += v;
    for f in findings {
        let s = &mut seen;
        add("id", f.id.held(s));
        add("rule_id", f.rule_id.held(s));
        add("title", f.title.held(s));
        add("description", f.description.held(s));
        add("severity_original", f.severity_original.held(s));
        add("cves", f.cves.held(s));
        add("cvss_vector", f.cvss_vector.held(s));
        add("package", f.package.held(s));
        add("layer", f.layer.held(s));
        add("location", f.location.held(s));
        add("help_uri", f.help_uri.held(s));
        add("help_text", f.help_text.held(s));
        add("tags", f.tags.held(s));
        add("scanner", f.scanner.held(s));
        add("fingerprint", f.fingerprint.held(s));
        add(
            "exception, suppression",
            f.exception.as_ref().map_or(0, |_| 64) + f.suppression.as_ref().map_or(0, |_| 64),
        );
    }
    out.insert("struct (inline)", std::mem::size_of_val(findings));
    out
}

fn rss_kb() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn one(shape: &str, n: u64) {
    let mut body = Vec::new();
    match shape {
        "tiny" => write_lint(&mut body, LintShape::Tiny, n, n).map(drop),
        "ruff" => write_lint(&mut body, LintShape::Ruff, n, n).map(drop),
        _ => {
            // The processor bench's QScanner shape.
            let cfg =
                SynthConfig { rules: 500, results: n, distinct: n, string_len: 60, seed: n, ..Default::default() };
            write_synthetic(&mut body, &cfg).map(drop)
        }
    }
    .expect("synthetic SARIF");
    let (rss0, heap0) = (rss_kb(), HEAP.current_usage());
    HEAP.reset_peak_usage();
    let report = scangate_core::sarif::read_sarif(&body[..], "bench").expect("reads");
    let (rss1, heap1, peak) = (rss_kb(), HEAP.current_usage(), HEAP.peak_usage());
    let k = report.findings.len().max(1) as f64;
    let per = |b: f64| b / k;
    println!(
        "{shape}\t{}\t{:.0}\t{}\t{:.0}\t{:.0}\t{:.0}",
        report.findings.len(),
        per(body.len() as f64),
        std::mem::size_of::<Finding>(),
        per(heap1.saturating_sub(heap0) as f64),
        per(peak.saturating_sub(heap0) as f64),
        per(((rss1.saturating_sub(rss0)) * 1024) as f64),
    );
    let b = breakdown(&report.findings);
    let total: usize = b.values().sum();
    let fields: Vec<String> =
        b.iter().filter(|(_, v)| **v > 0).map(|(k, v)| format!("{k} {:.0}", per(*v as f64))).collect();
    println!("#   {shape} chunk model, bytes per finding: {:.0} = {}", per(total as f64), fields.join(", "));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        let shape = args.get(i + 1).expect("--one SHAPE N");
        let n: u64 = args.get(i + 2).and_then(|v| v.parse().ok()).expect("--one SHAPE N");
        one(shape, n);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("finding_bytes: bench");
        return;
    }
    let n = std::env::var("N").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(100_000);
    let shapes = std::env::var("SHAPES").unwrap_or_else(|_| "tiny,ruff,qscanner".into());
    let exe = std::env::current_exe().expect("current exe");
    println!("shape\tfindings\tSARIF bytes/finding\tsize_of Finding\theap/finding after read\theap peak/finding in read\tRSS added/finding");
    for shape in shapes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let out = std::process::Command::new(&exe).args(["--one", shape, &n.to_string()]).output().expect("child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{shape}: failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

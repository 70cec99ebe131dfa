//! Time to verdict, time to import, peak RSS, heap peak and ephemeral storage of the
//! report-processor for a first report of 1 000, 20 000 and 100 000 new findings (other shapes
//! and sizes below). Not a timed test: it prints a Markdown table, one row per report.
//!
//! `cargo bench -p report-processor --bench verdict_first` (needs `make venv`: S3 is moto).
//! Each size runs in a child process of its own, so its peak RSS (`VmHWM`) is the
//! processor's alone: the real S3 store against moto (another process), the real sink with
//! the production token bucket at `SECURITY_HUB_MAX_TPS` over a BatchImportFindings stand-in
//! that accepts every request at once (Security Hub's own latency is not modelled). **The
//! time to import is therefore the stand-in's rate limit**: at the stack's 5 calls/s (the
//! default here) its floor is one second per 500 findings; with a high `SECURITY_HUB_MAX_TPS`
//! (1000, say) it is the processor's own work of rendering and sending. `SHAPE=1m` defaults to
//! `SECURITY_HUB_MAX_TPS=1000` so its row finishes (2 000 s at 5 calls/s otherwise).
//! `SIZES=1000,20000` picks the sizes. `RESCAN=1` then processes,
//! in the same child, a rescan of the same image with the same findings and every text
//! changed (so every finding is imported again against the first report's state), with the
//! peak RSS reset before it: a second row per size.
//!
//! `SHAPE` picks the report's shape: `qscanner` (default: QScanner-like, about 470 bytes of
//! SARIF per distinct finding), `ruff` (a linter's: every result a distinct finding at its own
//! line, about 270 bytes each; 93 000 results are a 24.9 MB report) or `tiny` (about 67 bytes a
//! result, each a distinct finding). The breakdown of `PHASES=1` is for `qscanner` only.
//! `SHAPE=1m` is `tiny` at 1 000 000 distinct findings (unless `SIZES` says otherwise).
//!
//! The children run with the allocator settings the stack gives the function (`MALLOC_ARENA_MAX=2`,
//! `MALLOC_MMAP_THRESHOLD_=131072`, `MALLOC_TRIM_THRESHOLD_=1048576`: glibc returns a report's pages);
//! `ALLOCATOR=default` runs them with glibc's defaults instead, as every row before 79f2afb did.
//!
//! `LIMITS=stack` applies the stack's default `MAX_REPORT_BYTES` and `MAX_FINDINGS` (512 MB,
//! as `Config::default()` computes them) instead of none: a report over them is quarantined
//! and its row says so with the reason.
//!
//! The columns: the peak RSS (`VmHWM`, reset after the upload), the heap peak (the counting
//! allocator's highest live heap from the start of processing) and the ephemeral storage
//! used: the highest number of bytes under the child's temp dir (`TMPDIR`, a fresh empty
//! directory per child, which `std::env::temp_dir()` returns: where a processor spills on
//! Lambda's `/tmp`), polled every 10 ms on a thread of the child (a file that lives shorter
//! than that may be missed). Bytes still there after a report are printed as a `#` line.
//!
//! `PHASES=1` also prints, per size, where the memory goes: the live heap (a counting global
//! allocator, bench only) at each store call the processor makes and the highest live heap
//! since the one before, then a breakdown of the per-finding structures built again outside
//! the processor from the same report (bytes per finding of each).

use peak_alloc::PeakAlloc;
use report_processor::config::Config;
use report_processor::process::{Outcome, Processor};
use scangate_aws::clients::Clients;
use scangate_aws::identity::AwsIdentity;
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::s3::{Fetched, ObjectHead, PutOptions, PutResult, ReportStore, S3Store, StoreError};
use scangate_aws::securityhub::{BatchImporter, CallError, ImportResponse, Sink, SinkConfig};
use scangate_bench::synth::{write_lint, write_synthetic, LintShape, SynthConfig};
use scangate_core::asff::{self, AsffContext, FindingStub};
use scangate_core::events::ObjectRef;
use scangate_core::lifecycle::state::{self, FindingKey, ImportOn, LifecycleState, NewFinding, ReportMark, Stub};
use scangate_core::lifecycle::{LifecycleKey, ScanType};
use scangate_testkit::{unique_bucket, Moto, ACCOUNT_ID, REGION};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Counts live heap bytes and their peak (no unsafe code here: the crate wraps `System`).
#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The live heap at points of the processor's run: each store call it makes, and the first
/// BatchImportFindings request.
struct Phases {
    started: Instant,
    marks: Mutex<Vec<(f64, String, usize, usize)>>,
}

impl Phases {
    fn new(started: Instant) -> Phases {
        Phases { started, marks: Mutex::new(Vec::new()) }
    }

    /// Notes the live heap now and its peak since the previous mark, then restarts the peak.
    fn mark(&self, what: String) {
        let (live, peak) = (HEAP.current_usage(), HEAP.peak_usage());
        HEAP.reset_peak_usage();
        let at = self.started.elapsed().as_secs_f64();
        if let Ok(mut m) = self.marks.lock() {
            m.push((at, what, live, peak));
        }
    }

    /// The highest live heap of the run so far: the peaks between the marks and since the last.
    fn heap_peak(&self) -> usize {
        let marked = self.marks.lock().map(|m| m.iter().map(|(_, _, _, peak)| *peak).max().unwrap_or(0)).unwrap_or(0);
        marked.max(HEAP.peak_usage())
    }

    fn print(&self, n: u64) {
        let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
        println!("# {n} findings: live heap at each step (MB), and the highest since the step before");
        println!("#   time (s)\tlive\tpeak before\tstep");
        if let Ok(m) = self.marks.lock() {
            for (at, what, live, peak) in m.iter() {
                println!("#   {at:.2}\t{:.1}\t{:.1}\t{what}", mb(*live), mb(*peak));
            }
        }
    }
}

/// The unique id S3 would record for the bench's writer (a configured uploader).
const BENCH_WRITER_ID: &str = "AIDABENCHUPLOADER001";

/// What a key is, for the phase log.
fn kind(key: &str) -> &str {
    if key.starts_with("state/") {
        "state"
    } else if key.ends_with(".sarif") {
        "report"
    } else {
        key.rsplit('/').next().unwrap_or(key)
    }
}

/// Accepts every request; counts findings.
struct Accepting {
    findings: AtomicU64,
    phases: Arc<Phases>,
}

impl BatchImporter for Accepting {
    async fn import(&self, _body: bytes::Bytes, count: usize) -> Result<ImportResponse, CallError> {
        if self.findings.fetch_add(count as u64, Ordering::Relaxed) == 0 {
            self.phases.mark("first BatchImportFindings request".into());
        }
        Ok(ImportResponse::default())
    }
}

/// The S3 store, noting when verdict.json is written.
struct Timed {
    inner: S3Store,
    started: Instant,
    verdict_at: Mutex<Option<f64>>,
    phases: Arc<Phases>,
}

impl ReportStore for Timed {
    async fn head(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Option<ObjectHead>, StoreError> {
        self.phases.mark(format!("HEAD {}", kind(key)));
        self.inner.head(bucket, key, version_id).await
    }

    async fn get_bytes(&self, bucket: &str, key: &str, limit: u64) -> Result<Option<Fetched>, StoreError> {
        self.phases.mark(format!("GET {} (before)", kind(key)));
        let out = self.inner.get_bytes(bucket, key, limit).await;
        let got = out.as_ref().ok().and_then(|f| f.as_ref()).map_or(0, |f| f.body.len());
        self.phases.mark(format!("GET {} (after, {got} bytes)", kind(key)));
        out
    }

    async fn read_with<T, F>(&self, bucket: &str, key: &str, version_id: Option<&str>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        self.phases.mark(format!("read {} (before)", kind(key)));
        let out = self.inner.read_with(bucket, key, version_id, f).await;
        self.phases.mark(format!("read {} (after)", kind(key)));
        out
    }

    async fn read_tagged_with<T, F>(
        &self,
        bucket: &str,
        key: &str,
        f: F,
    ) -> Result<Option<(T, Option<String>)>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        self.phases.mark(format!("read {} (before)", kind(key)));
        let out = self.inner.read_tagged_with(bucket, key, f).await;
        self.phases.mark(format!("read {} (after)", kind(key)));
        out
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, options: &PutOptions) -> Result<PutResult, StoreError> {
        self.phases.mark(format!("PUT {} (before, {} bytes)", kind(key), body.len()));
        let out = self.inner.put(bucket, key, body, options).await;
        self.phases.mark(format!("PUT {} (after)", kind(key)));
        if key.ends_with("/verdict.json") {
            let mut at = self.verdict_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            at.get_or_insert(self.started.elapsed().as_secs_f64());
        }
        out
    }

    async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &std::path::Path,
        options: &PutOptions,
    ) -> Result<PutResult, StoreError> {
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        self.phases.mark(format!("PUT {} (before, {bytes} bytes from a file)", kind(key)));
        let out = self.inner.put_file(bucket, key, path, options).await;
        self.phases.mark(format!("PUT {} (after)", kind(key)));
        out
    }

    async fn copy(
        &self,
        source_bucket: &str,
        source_key: &str,
        dest_bucket: &str,
        dest_key: &str,
        kms_key_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner.copy(source_bucket, source_key, dest_bucket, dest_key, kms_key_id).await
    }
}

/// Peak resident set of this process (kB), from /proc/self/status.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets this process's peak RSS (`VmHWM`) to its current RSS (Linux `clear_refs` 5).
fn reset_peak_rss() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("# could not reset the peak RSS: {e}");
    }
}

/// The highest number of bytes seen under the temp dir since [`Ephemeral::reset`].
static EPHEMERAL_PEAK: AtomicU64 = AtomicU64::new(0);

/// The ephemeral storage the processor uses: the bytes of the files under this process's temp
/// dir (`TMPDIR`), polled on a thread of their own.
struct Ephemeral {
    dir: PathBuf,
}

impl Ephemeral {
    /// Starts polling `std::env::temp_dir()` every 10 ms for the life of the process.
    fn start() -> Ephemeral {
        let dir = std::env::temp_dir();
        let polled = dir.clone();
        std::thread::spawn(move || loop {
            EPHEMERAL_PEAK.fetch_max(dir_bytes(&polled), Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(10));
        });
        Ephemeral { dir }
    }

    /// Counts from what is there now.
    fn reset(&self) {
        EPHEMERAL_PEAK.store(dir_bytes(&self.dir), Ordering::Relaxed);
    }

    /// The high-water mark since the reset and the bytes there now.
    fn peak_and_now(&self) -> (u64, u64) {
        let now = dir_bytes(&self.dir);
        (EPHEMERAL_PEAK.fetch_max(now, Ordering::Relaxed).max(now), now)
    }
}

/// The bytes of the files under `dir`: those with a name ([`named_bytes`]) and those this process
/// holds open without one ([`unlinked_bytes`]: a spill file made with `tempfile_in` is unlinked
/// as it is created and never appears in the directory).
fn dir_bytes(dir: &Path) -> u64 {
    named_bytes(dir) + unlinked_bytes(dir)
}

/// The bytes of the files under `dir`, recursively (files that vanish during the walk count 0).
fn named_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => named_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// The bytes of the files this process holds open under `dir` that have no name any more
/// (Linux: `/proc/self/fd/N` links to `<path> (deleted)`, or `<dir>/#<inode> (deleted)` for an
/// `O_TMPFILE` file); each open file counts once, however many descriptors share it.
fn unlinked_bytes(dir: &Path) -> u64 {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else { return 0 };
    let mut seen = std::collections::HashSet::new();
    fds.filter_map(Result::ok)
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let text = target.to_str()?;
            let deleted = text.strip_suffix(" (deleted)")?;
            Path::new(deleted).starts_with(dir).then_some(fd.path())
        })
        .filter_map(|fd| std::fs::metadata(fd).ok())
        .filter(|m| seen.insert((m.dev(), m.ino())))
        .map(|m| m.len())
        .sum()
}

/// One row of the table (`None`: not measured for a quarantined report).
struct Row<'a> {
    label: &'a str,
    findings: u64,
    report_bytes: usize,
    outcome: String,
    verdict_s: Option<f64>,
    import_s: Option<f64>,
    imported: Option<u64>,
    sent: Option<u64>,
    rss_before_kb: u64,
    ephemeral_peak: u64,
}

impl Row<'_> {
    const HEADER: &'static str = "| shape | distinct findings | report MB | limits | outcome | time to verdict s | time to import s | imported | sent | RSS before MiB | peak RSS MiB | heap peak MiB | ephemeral peak MiB |\n|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|";

    fn print(&self, heap_peak: usize) {
        let secs = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let count = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let mb = |b: f64| b / (1024.0 * 1024.0);
        let limits = if stack_limits() { "stack" } else { "none" };
        println!(
            "| {} | {} | {:.1} | {limits} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            self.label,
            self.findings,
            self.report_bytes as f64 / 1e6,
            self.outcome,
            secs(self.verdict_s),
            secs(self.import_s),
            count(self.imported),
            count(self.sent),
            self.rss_before_kb / 1024,
            peak_rss_kb().unwrap_or(0) / 1024,
            heap_peak / (1024 * 1024),
            mb(self.ephemeral_peak as f64),
        );
    }
}

/// `LIMITS=stack`: the stack's default limits, else none.
fn stack_limits() -> bool {
    std::env::var("LIMITS").is_ok_and(|v| v == "stack")
}

/// One size, in this process: prints one table row (two with `RESCAN=1`).
fn one(n: u64, endpoint: &str, tps: f64) {
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_MAX_ATTEMPTS", "1"),
    ] {
        std::env::set_var(k, v);
    }
    let ephemeral = Ephemeral::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let sdk = scangate_aws::clients::load_sdk_config().await;
        let clients = Clients::new(&sdk);
        let bucket = unique_bucket("sg-bench");
        clients.s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        let image = format!("registry.example/bench-{n}:1");
        let cfg = SynthConfig { rules: 500, results: n, distinct: n, string_len: 60, seed: n, image: image.clone() };
        let key = format!("scans/bench/b-{n}/report.sarif");
        let shape = shape();
        let label = match shape {
            None => "qscanner".to_string(),
            Some(s) => format!("{s:?}").to_lowercase(),
        };
        let phases = run_report(&clients, &bucket, &key, &cfg, shape, tps, &label, &ephemeral).await;
        if std::env::var_os("PHASES").is_some() && shape.is_none() {
            phases.print(n);
            breakdown(&cfg, &bucket, &key);
        }
        if std::env::var_os("RESCAN").is_some() {
            // The same image and findings (same ids), every text changed (another seed): every
            // finding is imported again while the first report's state is the previous one.
            // A second later: reports of one lifecycle are ordered by their upload time (S3's
            // LastModified, to the second), and a tie would make the rescan look stale.
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            reset_peak_rss();
            let rescan = SynthConfig { seed: n + 1, ..cfg };
            let key = format!("scans/bench/b-{n}-rescan/report.sarif");
            let label = format!("{label}, rescan");
            let phases = run_report(&clients, &bucket, &key, &rescan, shape, tps, &label, &ephemeral).await;
            if std::env::var_os("PHASES").is_some() {
                phases.print(n);
            }
        }
    });
}

/// Uploads the synthetic report `cfg` under `key`, processes it, prints its row (`label`
/// first) and returns the live heap's marks.
#[allow(clippy::too_many_arguments)]
async fn run_report(
    clients: &Clients,
    bucket: &str,
    key: &str,
    cfg: &SynthConfig,
    shape: Option<LintShape>,
    tps: f64,
    label: &str,
    ephemeral: &Ephemeral,
) -> Arc<Phases> {
    let mut body = Vec::new();
    match shape {
        None => write_synthetic(&mut body, cfg).map(drop),
        Some(s) => write_lint(&mut body, s, cfg.results, cfg.seed).map(drop),
    }
    .expect("synthetic SARIF");
    let report_bytes = body.len();
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .metadata("scangate-target", &cfg.image)
        .metadata("scangate-scan-type", "image")
        .send()
        .await
        .expect("upload");
    let baseline = rss_kb().unwrap_or(0);
    // The peak RSS counts from here too: not the generated report's buffer, freed by now.
    reset_peak_rss();
    // The bench's writer is a configured uploader: its reports are verified (docs/security.md,
    // "Provenance"), so the Security Hub step runs as for a real scan.
    // `LIMITS=stack`: the stack's defaults at 512 MB (a report over them is quarantined, and the
    // row says so); otherwise none, so each row is the processor's own memory.
    let stack = Config::default();
    let stack_limits = stack_limits();
    let config = Config {
        security_hub_max_tps: tps,
        max_report_bytes: if stack_limits { stack.max_report_bytes } else { u64::MAX },
        max_findings: if stack_limits { stack.max_findings } else { usize::MAX },
        max_spill_bytes: if stack_limits { stack.max_spill_bytes } else { Some(u64::MAX) },
        max_held_bytes: if stack_limits { stack.max_held_bytes } else { u64::MAX },
        uploader_principal_ids: vec![BENCH_WRITER_ID.to_string()],
        ..Config::default()
    };
    let tokens = Arc::new(TokenBucket::new(config.security_hub_max_tps, config.security_hub_burst()));
    // The heap peak counts from here: the processor's, not the generated report's upload.
    HEAP.reset_peak_usage();
    ephemeral.reset();
    let started = Instant::now();
    let phases = Arc::new(Phases::new(started));
    let importer = Accepting { findings: AtomicU64::new(0), phases: phases.clone() };
    let sink = Sink::new(importer, tokens, SinkConfig::default());
    let store = Timed {
        inner: S3Store::new(clients.s3.clone(), None),
        started,
        verdict_at: Mutex::new(None),
        phases: phases.clone(),
    };
    let processor = Processor::new(config, store, Some(sink));
    let identity = AwsIdentity { partition: "aws".into(), region: REGION.into(), account_id: ACCOUNT_ID.into() };
    let obj = ObjectRef { requester: Some(format!("AWS:{BENCH_WRITER_ID}")), ..ObjectRef::put(bucket, key) };
    let out = processor.process(&obj, &identity, time::OffsetDateTime::now_utc()).await.expect("processed");
    let import_s = started.elapsed().as_secs_f64();
    let (ephemeral_peak, ephemeral_left) = ephemeral.peak_and_now();
    let mut row = Row {
        label,
        findings: cfg.results,
        report_bytes,
        outcome: String::new(),
        verdict_s: None,
        import_s: None,
        imported: None,
        sent: None,
        rss_before_kb: baseline,
        ephemeral_peak,
    };
    match out {
        Outcome::Processed { metrics, .. } => {
            row.outcome = "processed".into();
            row.verdict_s = processor.store.verdict_at.lock().ok().and_then(|v| *v);
            row.import_s = Some(import_s);
            row.imported = Some(metrics.imported);
            row.sent = processor.sink.as_ref().map(|s| s.importer().findings.load(Ordering::Relaxed));
        }
        // The reason has no `|` of its own (it would split the Markdown cell).
        Outcome::Quarantined { reason } => row.outcome = format!("quarantined: {}", reason.replace('|', "/")),
        other => panic!("{other:?}"),
    }
    row.print(phases.heap_peak());
    if ephemeral_left > 0 {
        println!("# {label}: {ephemeral_left} bytes left under TMPDIR after processing");
    }
    phases.mark("processed".into());
    drop(processor);
    phases.mark("processor dropped".into());
    phases
}

/// `SHAPE`: None for the QScanner-like report, else a linter's shape.
fn shape() -> Option<LintShape> {
    match std::env::var("SHAPE").unwrap_or_default().as_str() {
        "ruff" => Some(LintShape::Ruff),
        "tiny" | "1m" => Some(LintShape::Tiny),
        _ => None,
    }
}

/// Live heap added per finding since the last step.
struct Meter {
    findings: f64,
    last: usize,
}

impl Meter {
    fn start(findings: f64) -> Meter {
        HEAP.reset_peak_usage();
        Meter { findings, last: HEAP.current_usage() }
    }

    /// Prints what the heap holds more than at the last step, and its peak since, per finding.
    fn step(&mut self, what: &str) {
        let (live, peak) = (HEAP.current_usage(), HEAP.peak_usage());
        let per = |b: usize| (b as f64 - self.last as f64) / 1024.0 / self.findings;
        println!("#   {what}: +{:.2} KB per finding kept, {:.2} KB per finding at the peak", per(live), per(peak));
        self.rebase();
    }

    /// Starts counting from now (after something was dropped).
    fn rebase(&mut self) {
        self.last = HEAP.current_usage();
        HEAP.reset_peak_usage();
    }
}

/// Builds the processor's per-finding structures again, one after the other and all kept
/// (as the processor keeps them), printing the live heap each adds, per finding.
fn breakdown(cfg: &SynthConfig, bucket: &str, key: &str) {
    let n = cfg.expected_findings().max(1) as f64;
    let mut body = Vec::new();
    write_synthetic(&mut body, cfg).expect("synthetic SARIF");
    let mut meter = Meter::start(n);
    println!(
        "# breakdown ({n} findings, report {} bytes = {:.2} KB per finding)",
        body.len(),
        body.len() as f64 / 1024.0 / n
    );
    let mut report = scangate_core::sarif::read_sarif(&body[..], "bench").expect("reads");
    meter.step("parsed report (Vec<Finding>)");
    let gate = Config::default().gate;
    let evaluated = scangate_core::evaluate::evaluate(&mut report, &gate, None, Default::default());
    meter.step("evaluation and verdict");
    let junit = scangate_core::junit::to_junit(&evaluated.verdict, &evaluated.evaluation, &report.findings, &gate);
    let summary = scangate_core::summary::markdown(&evaluated.verdict, &report.findings, 20);
    meter.step(&format!("junit.xml ({} bytes) and summary.md ({} bytes)", junit.len(), summary.len()));
    let ctx = AsffContext {
        account_id: ACCOUNT_ID.into(),
        region: REGION.into(),
        partition: "aws".into(),
        scan_type: ScanType::Image,
        target: cfg.image.clone(),
        lifecycle: LifecycleKey::for_report(ACCOUNT_ID, REGION, bucket, key),
        codebuild_project: None,
        build_arn: None,
        updated_at: "2026-12-01T00:00:00Z".into(),
        created_at: None,
        report_uri: Some(format!("s3://{bucket}/{key}")),
        host: None,
    };
    let ids: Vec<FindingKey> = report.findings.iter().map(|f| asff::finding_id(&ctx, f).into()).collect();
    meter.step("ASFF ids (FindingKey: 48 bytes for the usual id)");
    let hashes: Vec<([u8; 32], [u8; 32])> =
        report.findings.iter().map(|f| (asff::content_digest(f, &ctx), asff::sighting_digest(f, &ctx))).collect();
    meter.step("content and sighting hashes (32 bytes each)");
    let values: Vec<serde_json::Value> =
        report.findings.iter().map(|f| serde_json::to_value(FindingStub::new(f, &ctx)).unwrap_or_default()).collect();
    meter.step("stubs as serde_json::Value (what the state kept before, for comparison)");
    drop(values);
    meter.rebase();
    let mut interner = scangate_core::asff::StubInterner::default();
    let stubs: Vec<Stub> = report
        .findings
        .iter()
        .zip(&ids)
        .map(|(f, id)| Stub::from(FindingStub::new_in(f, &ctx, &mut interner)).keyed(id))
        .collect();
    drop(interner);
    meter.step("stubs, typed (what the state keeps: shared texts once, no id)");
    let new: Vec<NewFinding> = ids
        .into_iter()
        .zip(hashes)
        .zip(stubs)
        .map(|((id, (content_hash, sighting_hash)), stub)| NewFinding { id, content_hash, sighting_hash, stub })
        .collect();
    meter.step("NewFinding vec (moves the above)");
    // The processor keeps the report's findings in a vector beside the NewFinding one (same
    // index): no map by id.
    let findings: Vec<&scangate_core::Finding> = report.findings.iter().collect();
    meter.step("findings by index (a reference each)");
    let mark = ReportMark {
        report_time: "2026-12-01T00:00:00Z".into(),
        sequencer: None,
        bucket: bucket.into(),
        key: key.into(),
        version_id: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let plan = state::plan(None, &new, &mark, now, 30, ImportOn::Content);
    let _imports: Vec<usize> = plan.imports().filter(|&i| i < findings.len()).collect();
    meter.step("plan and imports list (indices)");
    let next =
        state::next_state(None, &ctx.lifecycle.key, &plan, &new, &Default::default(), &mark, "2026-12-01T00:00:00Z");
    meter.step("state with an entry per finding (id and stub copies)");
    let bytes = serde_json::to_vec(&next).expect("to vec");
    meter.step(&format!("state serialized ({} bytes)", bytes.len()));
    let _parsed = LifecycleState::from_json(&bytes, "state").expect("parses");
    meter.step("state parsed from bytes (a later delivery's read)");
    let _chunk: Vec<serde_json::Value> = report.findings.iter().take(400).map(|f| asff::to_asff(f, &ctx)).collect();
    meter.step("one import chunk of 400 ASFF findings (total, not per finding)");
}

/// What the stack sets on the report-processor for glibc (cfn/scangate.yaml; `test_templates.py`
/// `ALLOCATOR_VARIABLES` checks the template holds exactly these).
const STACK_ALLOCATOR: [(&str, &str); 3] =
    [("MALLOC_ARENA_MAX", "2"), ("MALLOC_MMAP_THRESHOLD_", "131072"), ("MALLOC_TRIM_THRESHOLD_", "1048576")];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let one_million = std::env::var("SHAPE").is_ok_and(|v| v == "1m");
    // 1 000 000 findings at the stack's 5 calls/s would take 2 000 s to import.
    let default_tps = if one_million { 1000.0 } else { 5.0 };
    let tps: f64 = std::env::var("SECURITY_HUB_MAX_TPS").ok().and_then(|v| v.parse().ok()).unwrap_or(default_tps);
    if let Some(i) = args.iter().position(|a| a == "--one") {
        let n: u64 = args.get(i + 1).and_then(|v| v.parse().ok()).expect("--one N");
        let endpoint = args.get(i + 2).expect("--one N ENDPOINT");
        one(n, endpoint, tps);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("verdict_first: bench");
        return;
    }
    let sizes: Vec<u64> = std::env::var("SIZES")
        .unwrap_or_else(|_| if one_million { "1000000" } else { "1000,20000,100000" }.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let exe = std::env::current_exe().expect("current exe");
    // The children run with the allocator settings the stack gives the function (cfn/scangate.yaml), unless
    // `ALLOCATOR=default` asks for glibc's own defaults (the rows before 79f2afb).
    let stack_allocator = std::env::var("ALLOCATOR").map_or(true, |v| v != "default");
    println!(
        "# SECURITY_HUB_MAX_TPS={tps} (the time to import is this rate limit's, over a BatchImportFindings stand-in \
         that accepts at once); S3 = moto; ephemeral = bytes under the child's TMPDIR; allocator: {}",
        if stack_allocator { "the stack's MALLOC_* settings" } else { "glibc defaults (ALLOCATOR=default)" }
    );
    println!("{}", Row::HEADER);
    for n in sizes {
        // A fresh, empty temp dir per child: its ephemeral storage is the processor's alone.
        let tmp = std::env::temp_dir().join(format!("sg-bench-tmp-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("bench temp dir");
        let mut child = std::process::Command::new(&exe);
        child
            .args(["--one", &n.to_string(), &endpoint])
            .env("SECURITY_HUB_MAX_TPS", tps.to_string())
            .env("TMPDIR", &tmp);
        if stack_allocator {
            child.envs(STACK_ALLOCATOR);
        }
        let out = child.output().expect("run one size");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{n}: failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        if let Err(e) = std::fs::remove_dir_all(&tmp) {
            eprintln!("# could not remove {}: {e}", tmp.display());
        }
    }
}

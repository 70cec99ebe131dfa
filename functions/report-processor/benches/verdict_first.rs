//! Time to verdict, time to import and peak RSS of the report-processor for a first report
//! of 1 000, 20 000 and 100 000 new findings (issue 13). Not a timed test: it prints.
//!
//! `cargo bench -p report-processor --bench verdict_first` (needs `make venv`: S3 is moto).
//! Each size runs in a child process of its own, so its peak RSS (`VmHWM`) is the
//! processor's alone: the real S3 store against moto (another process), the real sink with
//! the production token bucket at `SECURITY_HUB_MAX_TPS` (default 5, the stack's) over a
//! BatchImportFindings stand-in that accepts every request at once (Security Hub's own
//! latency is not modelled). `SIZES=1000,20000` picks the sizes.

use report_processor::config::Config;
use report_processor::process::{Outcome, Processor};
use scangate_aws::clients::Clients;
use scangate_aws::identity::AwsIdentity;
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::s3::{Fetched, ObjectHead, PutOptions, PutResult, ReportStore, S3Store, StoreError};
use scangate_aws::securityhub::{BatchImporter, CallError, ImportResponse, Sink, SinkConfig};
use scangate_bench::synth::{write_synthetic, SynthConfig};
use scangate_core::events::ObjectRef;
use scangate_testkit::{unique_bucket, Moto, ACCOUNT_ID, REGION};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Accepts every request; counts findings.
struct Accepting {
    findings: AtomicU64,
}

impl BatchImporter for Accepting {
    async fn import(&self, _body: bytes::Bytes, count: usize) -> Result<ImportResponse, CallError> {
        self.findings.fetch_add(count as u64, Ordering::Relaxed);
        Ok(ImportResponse::default())
    }
}

/// The S3 store, noting when verdict.json is written.
struct Timed {
    inner: S3Store,
    started: Instant,
    verdict_at: Mutex<Option<f64>>,
}

impl ReportStore for Timed {
    async fn head(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Option<ObjectHead>, StoreError> {
        self.inner.head(bucket, key, version_id).await
    }

    async fn get_bytes(&self, bucket: &str, key: &str, limit: u64) -> Result<Option<Fetched>, StoreError> {
        self.inner.get_bytes(bucket, key, limit).await
    }

    async fn read_with<T, F>(&self, bucket: &str, key: &str, version_id: Option<&str>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        self.inner.read_with(bucket, key, version_id, f).await
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, options: &PutOptions) -> Result<PutResult, StoreError> {
        let out = self.inner.put(bucket, key, body, options).await;
        if key.ends_with("/verdict.json") {
            let mut at = self.verdict_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            at.get_or_insert(self.started.elapsed().as_secs_f64());
        }
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

/// One size, in this process: prints one tab-separated line.
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
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let sdk = scangate_aws::clients::load_sdk_config().await;
        let clients = Clients::new(&sdk);
        let bucket = unique_bucket("sg-bench");
        clients.s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        let image = format!("registry.example/bench-{n}:1");
        let cfg = SynthConfig { rules: 500, results: n, distinct: n, string_len: 60, seed: n, image: image.clone() };
        let key = format!("scans/bench/b-{n}/report.sarif");
        let mut body = Vec::new();
        write_synthetic(&mut body, &cfg).expect("synthetic SARIF");
        let report_bytes = body.len();
        clients
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.into())
            .metadata("scangate-target", &image)
            .metadata("scangate-scan-type", "image")
            .send()
            .await
            .expect("upload");
        let baseline = rss_kb().unwrap_or(0);
        let config = Config { security_hub_max_tps: tps, max_report_bytes: u64::MAX, ..Config::default() };
        let tokens = Arc::new(TokenBucket::new(config.security_hub_max_tps, config.security_hub_burst()));
        let sink = Sink::new(Accepting { findings: AtomicU64::new(0) }, tokens, SinkConfig::default());
        let started = Instant::now();
        let store = Timed { inner: S3Store::new(clients.s3.clone(), None), started, verdict_at: Mutex::new(None) };
        let processor = Processor::new(config, store, Some(sink));
        let identity = AwsIdentity { partition: "aws".into(), region: REGION.into(), account_id: ACCOUNT_ID.into() };
        let obj = ObjectRef {
            bucket: bucket.clone(),
            key: key.clone(),
            version_id: None,
            sequencer: None,
            etag: None,
            size: None,
            event_time: None,
            event_name: "ObjectCreated:Put".into(),
        };
        let out = processor.process(&obj, &identity, time::OffsetDateTime::now_utc()).await.expect("processed");
        let import_s = started.elapsed().as_secs_f64();
        let Outcome::Processed { metrics, .. } = out else { panic!("{out:?}") };
        let verdict_s = processor.store.verdict_at.lock().map(|v| v.unwrap_or(f64::NAN)).unwrap_or(f64::NAN);
        let sent = processor.sink.as_ref().map_or(0, |s| s.importer().findings.load(Ordering::Relaxed));
        println!(
            "{n}\t{report_bytes}\t{verdict_s:.2}\t{import_s:.2}\t{}\t{sent}\t{}\t{}",
            metrics.imported,
            baseline / 1024,
            peak_rss_kb().unwrap_or(0) / 1024
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tps: f64 = std::env::var("SECURITY_HUB_MAX_TPS").ok().and_then(|v| v.parse().ok()).unwrap_or(5.0);
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
        .unwrap_or_else(|_| "1000,20000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let exe = std::env::current_exe().expect("current exe");
    println!("SECURITY_HUB_MAX_TPS={tps}; S3 = moto; BatchImportFindings stand-in accepts at once");
    println!("findings\treport bytes\ttime to verdict (s)\ttime to import (s)\timported\tsent\tRSS before (MB)\tpeak RSS (MB)");
    for n in sizes {
        let out = std::process::Command::new(&exe)
            .args(["--one", &n.to_string(), &endpoint])
            .env("SECURITY_HUB_MAX_TPS", tps.to_string())
            .output()
            .expect("run one size");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{n}: failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

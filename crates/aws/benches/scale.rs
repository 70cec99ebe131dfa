//! A day of one account-region's scan traffic replayed against a local endpoint that
//! throttles like Security Hub, once per `IMPORT_ON` setting, so the two can be compared in
//! the same run (docs/scale.md). Not a timed test: it prints figures, it asserts nothing.
//!
//! `cargo bench -p scangate-aws --bench scale`, tuned by environment variables:
//! `BUILDS_PER_HOUR` (20), `FINDINGS` per report (2000), `CHANGE` (0.05: the share of a
//! report's findings that differ from the previous scan of the same image; half of them
//! change content, half are fixed and replaced by new ones), `PIPELINES` (10 images built in
//! turn), `HOURS` (24), `SPEEDUP` (480: model seconds per wall second), `CONCURRENCY` (2
//! processors, the stack's MaximumConcurrency), `CLIENT_TPS` (5, the stack's
//! SecurityHubMaxTps), `CALL_MS` (100: the endpoint's model latency per call).
//!
//! Time is compressed: arrivals, the endpoint's quota (10 calls/s, burst 30), each
//! processor's token bucket, the retry backoff and the call latency are all scaled by
//! `SPEEDUP`, so calls and throttling are those of the real rates. Local work (planning,
//! rendering, HTTP on loopback) is not scaled down: its wall time counts `SPEEDUP` times in
//! model time, which makes the measured times upper bounds. The state is planned with the
//! real `scangate_core::lifecycle::state::plan`; findings carry content and sighting hashes like the
//! processor's. "Time to import done" is from a report's arrival to the end of its Security
//! Hub import: the time to verdict while the verdict waits for the import, and the time the
//! findings take to reach Security Hub once it does not.

mod endpoint;

use endpoint::{start, Seen, ServerBucket};
use scangate_aws::ratelimit::{Backoff, TokenBucket};
use scangate_aws::securityhub::{SecurityHubImporter, Sink, SinkConfig};
use scangate_core::lifecycle::state::{self, ImportOn, LifecycleState, NewFinding, ReportMark};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Clone, Debug)]
struct Scenario {
    builds_per_hour: f64,
    findings: usize,
    change: f64,
    pipelines: usize,
    hours: f64,
    speedup: f64,
    concurrency: usize,
    client_tps: f64,
    call_ms: f64,
}

/// One scanned image: its findings as (id number, content version).
struct Pipeline {
    findings: Vec<(u64, u32)>,
    next_id: u64,
}

/// One report of the replay.
struct Report {
    pipeline: usize,
    build: usize,
    /// Model seconds from the start.
    at: f64,
    findings: Vec<(u64, u32)>,
}

/// The day's reports, the same for both settings (a fixed seed).
fn traffic(s: &Scenario) -> Vec<Report> {
    let mut rng = fastrand::Rng::with_seed(13);
    let mut pipes: Vec<Pipeline> = (0..s.pipelines)
        .map(|p| Pipeline {
            findings: (0..s.findings as u64).map(|i| (((p as u64) << 32) | i, 0)).collect(),
            next_id: s.findings as u64,
        })
        .collect();
    let total = (s.builds_per_hour * s.hours).round() as usize;
    let spacing = 3600.0 / s.builds_per_hour;
    let changed = (s.findings as f64 * s.change).round() as usize;
    let mut out = Vec::with_capacity(total);
    for build in 0..total {
        let pipeline = build % s.pipelines;
        let pipe = &mut pipes[pipeline];
        if build >= s.pipelines {
            // Half of the changed share: new content; the other half: fixed, replaced by new findings.
            for _ in 0..changed / 2 {
                let i = rng.usize(..pipe.findings.len());
                pipe.findings[i].1 += 1;
            }
            for _ in 0..changed - changed / 2 {
                let i = rng.usize(..pipe.findings.len());
                pipe.findings[i] = (((pipeline as u64) << 32) | pipe.next_id, 0);
                pipe.next_id += 1;
            }
        }
        // Arrivals jittered ±half a spacing around a steady rate.
        let at = (build as f64 + rng.f64() - 0.5).max(0.0) * spacing;
        out.push(Report { pipeline, build, at, findings: pipe.findings.clone() });
    }
    out.sort_by(|a, b| a.at.total_cmp(&b.at));
    out
}

/// A hash stand-in: distinct for distinct texts of up to 32 bytes (these are short).
fn digest(text: &str) -> [u8; 32] {
    let mut d = [0u8; 32];
    for (i, b) in text.bytes().enumerate() {
        d[i % 32] ^= b.wrapping_add(i as u8);
    }
    d
}

fn asff(id: &str, build: usize, state: &str) -> serde_json::Value {
    json!({
        "SchemaVersion": "2018-10-08", "Id": id,
        "ProductArn": "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
        "GeneratorId": "scangate/QScanner/qid-1", "AwsAccountId": "123456789012",
        "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
        "CreatedAt": "2026-12-01T00:00:00.000Z", "UpdatedAt": "2026-12-01T00:00:00.000Z",
        "Severity": {"Label": "HIGH", "Original": "4"}, "Title": "CVE in a package", "Description": "x",
        "Resources": [{"Type": "Container", "Id": format!("app:{build}"), "Partition": "aws", "Region": "us-east-1"}],
        "RecordState": state
    })
}

struct Outcome {
    reports: usize,
    findings_sent: u64,
    calls: u64,
    throttled: u64,
    p50: f64,
    p99: f64,
    max: f64,
    backlog: usize,
    wall: f64,
}

async fn replay(s: &Scenario, import_on: ImportOn, reports: Vec<Report>) -> Outcome {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let delay = Duration::from_secs_f64(s.call_ms / 1000.0 / s.speedup);
    let (server, clients) = start(ServerBucket::new(10.0 * s.speedup, 30.0 * s.speedup), seen.clone(), delay).await;
    let sink_config = SinkConfig {
        max_elapsed: Duration::from_secs(3600),
        max_attempts: 50,
        backoff: Backoff {
            base: Duration::from_secs_f64(0.1 / s.speedup),
            cap: Duration::from_secs_f64(5.0 / s.speedup),
        },
        ..SinkConfig::default()
    };
    // One sink (token bucket) per processor instance, like one Lambda each.
    let sinks: Vec<Arc<Sink<SecurityHubImporter>>> = (0..s.concurrency)
        .map(|_| {
            let rate = s.client_tps * s.speedup;
            Arc::new(Sink::new(
                SecurityHubImporter::new(clients.securityhub.clone()),
                Arc::new(TokenBucket::new(rate, (s.client_tps * 3.0 * s.speedup).round() as u32)),
                sink_config.clone(),
            ))
        })
        .collect();
    let states: Arc<Vec<Mutex<Option<LifecycleState>>>> =
        Arc::new((0..s.pipelines).map(|_| Mutex::new(None)).collect());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let done: Arc<Mutex<Vec<(f64, usize)>>> = Arc::new(Mutex::new(Vec::new()));
    let in_system = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let backlog = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let now0 = time::macros::datetime!(2026-12-01 00:00 UTC);
    let times: Vec<f64> = reports.iter().map(|r| r.at).collect();
    let reports: Arc<Vec<Report>> = Arc::new(reports);
    let mut workers = Vec::new();
    for sink in &sinks {
        let (rx, sink, states, reports, done, in_system) =
            (rx.clone(), sink.clone(), states.clone(), reports.clone(), done.clone(), in_system.clone());
        let speedup = s.speedup;
        workers.push(tokio::spawn(async move {
            loop {
                let next = rx.lock().await.recv().await;
                let Some((i, arrived)) = next else { return };
                let r = &reports[i];
                let (pipeline, build) = (&r.pipeline, &r.build);
                let new: Vec<NewFinding> = r
                    .findings
                    .iter()
                    .map(|(id, version)| NewFinding {
                        id: format!("scangate/bench/{id:x}").into(),
                        content_hash: digest(&format!("c{version}")),
                        sighting_hash: digest(&format!("b{build}")),
                        stub: scangate_core::lifecycle::state::Stub::None,
                    })
                    .collect();
                let new = &new;
                let mark = ReportMark {
                    report_time: "2026-12-01T00:00:00Z".to_string(),
                    sequencer: Some(format!("{build:016X}")),
                    bucket: "b".into(),
                    key: "k".into(),
                    version_id: None,
                };
                let previous = states[*pipeline].lock().expect("state").clone();
                let model_now =
                    now0 + time::Duration::seconds_f64(arrived.duration_since(start).as_secs_f64() * speedup);
                let plan = state::plan(previous.as_ref(), new, &mark, model_now, 30, import_on);
                let mut payload: Vec<serde_json::Value> =
                    plan.imports().map(|i| asff(&new[i].id.to_string(), *build, "ACTIVE")).collect();
                payload.extend(plan.archive.iter().map(|id| asff(&id.to_string(), *build, "ARCHIVED")));
                if !payload.is_empty() {
                    let _ = sink.import_findings(payload).await;
                }
                let next = state::next_state(
                    previous.as_ref(),
                    "k",
                    &plan,
                    new,
                    &HashSet::new(),
                    &mark,
                    "2026-12-01T00:00:00Z",
                );
                *states[*pipeline].lock().expect("state") = Some(next);
                let took = arrived.elapsed().as_secs_f64() * speedup;
                in_system.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                done.lock().expect("done").push((took, i));
            }
        }));
    }
    for (i, model_at) in times.iter().enumerate() {
        let at = start + Duration::from_secs_f64(model_at / s.speedup);
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        let n = in_system.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        backlog.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
        let _ = tx.send((i, Instant::now()));
    }
    drop(tx);
    for w in workers {
        let _ = w.await;
    }
    let wall = start.elapsed().as_secs_f64();
    server.abort();
    let mut times: Vec<f64> = done.lock().expect("done").iter().map(|(t, _)| *t).collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times.get(((times.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    let seen = seen.lock().expect("seen");
    Outcome {
        reports: times.len(),
        findings_sent: seen.findings,
        calls: seen.calls - seen.throttled,
        throttled: seen.throttled,
        p50: pct(0.5),
        p99: pct(0.99),
        max: times.last().copied().unwrap_or(0.0),
        backlog: backlog.load(std::sync::atomic::Ordering::SeqCst),
        wall,
    }
}

#[tokio::main]
async fn main() {
    let s = Scenario {
        builds_per_hour: env("BUILDS_PER_HOUR", 20.0),
        findings: env("FINDINGS", 2000),
        change: env("CHANGE", 0.05),
        pipelines: env("PIPELINES", 10usize).max(1),
        hours: env("HOURS", 24.0),
        speedup: env("SPEEDUP", 480.0),
        concurrency: env("CONCURRENCY", 2usize).max(1),
        client_tps: env("CLIENT_TPS", 5.0),
        call_ms: env("CALL_MS", 100.0),
    };
    let reports = traffic(&s);
    let count = reports.len();
    drop(reports);
    println!();
    println!(
        "Replay: {} reports ({} builds/h x {} h, {} images), {} findings each, {:.0} % changed per scan; \
         {} processors at {} calls/s, endpoint 10 calls/s burst 30, {} ms per call; time x{}",
        count,
        s.builds_per_hour,
        s.hours,
        s.pipelines,
        s.findings,
        s.change * 100.0,
        s.concurrency,
        s.client_tps,
        s.call_ms,
        s.speedup
    );
    println!(
        "{:<22} {:>8} {:>12} {:>9} {:>10} {:>12} {:>12} {:>12} {:>8} {:>7}",
        "IMPORT_ON", "reports", "findings", "calls", "throttled", "p50 s", "p99 s", "max s", "backlog", "wall s"
    );
    let mut rows = Vec::new();
    for (name, mode) in [("sighting (baseline)", ImportOn::Sighting), ("content (default)", ImportOn::Content)] {
        let o = replay(&s, mode, traffic(&s)).await;
        println!(
            "{:<22} {:>8} {:>12} {:>9} {:>10} {:>12.1} {:>12.1} {:>12.1} {:>8} {:>7.0}",
            name, o.reports, o.findings_sent, o.calls, o.throttled, o.p50, o.p99, o.max, o.backlog, o.wall
        );
        rows.push(o);
    }
    if let [base, delta] = &rows[..] {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        println!(
            "content / sighting: findings sent {:.3}, calls {:.3} ({} saved), p50 {:.2}, p99 {:.2}, backlog {}/{}",
            ratio(delta.findings_sent as f64, base.findings_sent as f64),
            ratio(delta.calls as f64, base.calls as f64),
            base.calls.saturating_sub(delta.calls),
            ratio(delta.p50, base.p50),
            ratio(delta.p99, base.p99),
            delta.backlog,
            base.backlog
        );
    }
}

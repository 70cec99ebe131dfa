//! Throughput of the Security Hub sink against a local endpoint that throttles like
//! Security Hub (token bucket 10 calls/s, burst 30, ThrottlingException otherwise).
//!
//! `cargo bench -p scangate-aws --bench throttle` (FINDINGS=20000 by default). Prints a
//! table: findings/s, calls per finding, throttled retries, findings lost. Not a timed test.

mod endpoint;

use endpoint::{start, Seen, ServerBucket};
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::securityhub::{SecurityHubImporter, Sink, SinkConfig};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Row {
    name: String,
    findings: usize,
    secs: f64,
    calls: u64,
    throttled_retries: u64,
    server_throttled: u64,
    lost: usize,
    failed: usize,
}

async fn run(name: &str, findings: usize, client_tps: f64, client_burst: u32) -> Row {
    let seen = Arc::new(Mutex::new(Seen { ids: Some(HashSet::new()), ..Seen::default() }));
    let (server, clients) = start(ServerBucket::new(10.0, 30.0), seen.clone(), Duration::ZERO).await;

    let sink = Sink::new(
        SecurityHubImporter::new(clients.securityhub.clone()),
        Arc::new(TokenBucket::new(client_tps, client_burst)),
        SinkConfig { max_elapsed: Duration::from_secs(600), ..SinkConfig::default() },
    );
    let product = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default";
    let batch: Vec<serde_json::Value> = (0..findings)
        .map(|i| {
            json!({
                "SchemaVersion": "2018-10-08", "Id": format!("scangate/bench/{i:06}"), "ProductArn": product,
                "GeneratorId": "scangate/QScanner/qid-1", "AwsAccountId": "123456789012",
                "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
                "CreatedAt": "2026-11-23T08:00:00.000Z", "UpdatedAt": "2026-11-23T08:00:00.000Z",
                "Severity": {"Label": "HIGH", "Normalized": 70, "Original": "4"},
                "Title": format!("CVE-2026-{i:05} in openssl 3.0.2"), "Description": "x".repeat(600),
                "Resources": [{"Type": "Container", "Id": "app:1", "Partition": "aws", "Region": "us-east-1"}],
                "RecordState": "ACTIVE"
            })
        })
        .collect();
    let start = Instant::now();
    let outcome = sink.import_findings(batch).await;
    let secs = start.elapsed().as_secs_f64();
    server.abort();
    let s = seen.lock().expect("seen lock");
    Row {
        name: name.to_string(),
        findings,
        secs,
        calls: outcome.calls,
        throttled_retries: outcome.throttled_retries,
        server_throttled: s.throttled,
        lost: findings.saturating_sub(s.ids.as_ref().map_or(0, |ids| ids.len())),
        failed: outcome.failed.len(),
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("FINDINGS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let rows = vec![
        run("client 10/s burst 30 (default)", n, 10.0, 30).await,
        run("client 20/s burst 60 (too fast)", n, 20.0, 60).await,
    ];
    println!();
    println!("Security Hub sink vs. a throttling endpoint (10 calls/s, burst 30), {n} findings of ~1 KB");
    println!(
        "{:<34} {:>10} {:>9} {:>7} {:>14} {:>10} {:>10} {:>6} {:>7}",
        "scenario", "findings/s", "seconds", "calls", "calls/finding", "throttled", "retries", "lost", "failed"
    );
    for r in rows {
        println!(
            "{:<34} {:>10.0} {:>9.1} {:>7} {:>14.4} {:>10} {:>10} {:>6} {:>7}",
            r.name,
            r.findings as f64 / r.secs,
            r.secs,
            r.calls,
            r.calls as f64 / r.findings as f64,
            r.server_throttled,
            r.throttled_retries,
            r.lost,
            r.failed
        );
    }
}

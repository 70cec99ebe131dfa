//! Throughput of the Security Hub sink against a local endpoint that throttles like
//! Security Hub (token bucket 10 calls/s, burst 30, ThrottlingException otherwise).
//!
//! `cargo bench -p scangate-aws --bench throttle` (FINDINGS=20000 by default). Prints a
//! table: findings/s, calls per finding, throttled retries, findings lost. Not a timed test.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::securityhub::{SecurityHubImporter, Sink, SinkConfig};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server's bucket: refuses instead of waiting.
struct ServerBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl ServerBucket {
    fn try_take(&self) -> bool {
        let mut s = self.state.lock().expect("bucket lock");
        let now = Instant::now();
        s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    calls: u64,
    throttled: u64,
}

async fn serve(listener: tokio::net::TcpListener, bucket: Arc<ServerBucket>, seen: Arc<Mutex<Seen>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let bucket = bucket.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let bucket = bucket.clone();
                let seen = seen.clone();
                async move {
                    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let mut s = seen.lock().expect("seen lock");
                    s.calls += 1;
                    if !bucket.try_take() {
                        s.throttled += 1;
                        let resp = Response::builder()
                            .status(429)
                            .header("content-type", "application/json")
                            .header("x-amzn-errortype", "ThrottlingException")
                            .body(Full::new(Bytes::from_static(
                                br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                            )));
                        return resp;
                    }
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let findings = v["Findings"].as_array().cloned().unwrap_or_default();
                    for f in &findings {
                        if let Some(id) = f["Id"].as_str() {
                            s.ids.insert(id.to_string());
                        }
                    }
                    let out = json!({"FailedCount": 0, "SuccessCount": findings.len(), "FailedFindings": []});
                    Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(out.to_string())))
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let bucket = Arc::new(ServerBucket { rate: 10.0, burst: 30.0, state: Mutex::new((30.0, Instant::now())) });
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = tokio::spawn(serve(listener, bucket, seen.clone()));

    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(scangate_aws::clients::http_client())
        .endpoint_url(format!("http://{addr}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("bench", "bench", None, None, "bench"))
        .load()
        .await;
    let clients = scangate_aws::clients::Clients::new(&sdk);
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
        lost: findings.saturating_sub(s.ids.len()),
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

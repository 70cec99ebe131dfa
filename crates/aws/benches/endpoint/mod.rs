//! A local endpoint that answers BatchImportFindings like Security Hub under its quota: a
//! token bucket (refuses with ThrottlingException instead of waiting), an optional model
//! latency per call, and a record of what it accepted. Shared by the `throttle` and `scale`
//! benches.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server's bucket: refuses instead of waiting.
pub(crate) struct ServerBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl ServerBucket {
    /// `rate` calls/s, up to `burst` at once, starting full.
    pub(crate) fn new(rate: f64, burst: f64) -> ServerBucket {
        ServerBucket { rate, burst, state: Mutex::new((burst, Instant::now())) }
    }

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

/// What the endpoint saw. `ids` is kept only when it starts as `Some`: a day's replay
/// accepts millions of findings.
#[derive(Default)]
pub(crate) struct Seen {
    pub ids: Option<HashSet<String>>,
    pub findings: u64,
    pub calls: u64,
    pub throttled: u64,
}

/// Starts the endpoint on a free loopback port (every call waits `delay`, the model latency,
/// first) and returns its task (abort it when done) and SDK clients pointed at it.
pub(crate) async fn start(
    bucket: ServerBucket,
    seen: Arc<Mutex<Seen>>,
    delay: Duration,
) -> (tokio::task::JoinHandle<()>, scangate_aws::clients::Clients) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let server = tokio::spawn(serve(listener, Arc::new(bucket), seen, delay));
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(scangate_aws::clients::http_client())
        .endpoint_url(format!("http://{addr}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("bench", "bench", None, None, "bench"))
        .load()
        .await;
    (server, scangate_aws::clients::Clients::new(&sdk))
}

async fn serve(listener: tokio::net::TcpListener, bucket: Arc<ServerBucket>, seen: Arc<Mutex<Seen>>, delay: Duration) {
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
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let allowed = bucket.try_take();
                    let mut count = 0;
                    {
                        let mut s = seen.lock().expect("seen lock");
                        s.calls += 1;
                        if allowed {
                            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                            let findings = v["Findings"].as_array().map(Vec::as_slice).unwrap_or_default();
                            count = findings.len();
                            s.findings += count as u64;
                            if let Some(ids) = s.ids.as_mut() {
                                ids.extend(findings.iter().filter_map(|f| f["Id"].as_str()).map(str::to_string));
                            }
                        } else {
                            s.throttled += 1;
                        }
                    }
                    if !allowed {
                        return Response::builder()
                            .status(429)
                            .header("content-type", "application/json")
                            .header("x-amzn-errortype", "ThrottlingException")
                            .body(Full::new(Bytes::from_static(
                                br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                            )));
                    }
                    let out = json!({"FailedCount": 0, "SuccessCount": count, "FailedFindings": []});
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

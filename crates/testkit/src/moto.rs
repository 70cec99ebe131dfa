//! A moto server on a free loopback port, and SDK configuration for it.
//!
//! `Moto::start()` runs `<workspace>/.venv/bin/moto_server` (or `$MOTO_SERVER`) on
//! 127.0.0.1 and waits until it answers. The server is stopped when the `Moto` is
//! dropped, and also when the test process ends (it is started under a small shell that
//! kills it once the test process's end of a pipe closes), so [`Moto::shared`] servers
//! do not outlive the test binary either.
//!
//! When moto is missing the harness FAILS with a message saying to run `make venv`; it
//! never skips silently.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The fake account moto uses.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region tests use.
pub const REGION: &str = "us-east-1";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    keepalive: Option<ChildStdin>,
    addr: SocketAddr,
    log: PathBuf,
}

/// Where the moto server binary is: `$MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server`.
pub fn moto_server_path() -> PathBuf {
    match std::env::var_os("MOTO_SERVER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => crate::fixtures::repo_root().join(".venv/bin/moto_server"),
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local address of the ephemeral listener").port()
}

impl Moto {
    /// Starts a moto server and waits (up to 60 s) until it answers.
    ///
    /// # Panics
    /// When moto is not installed (`run make venv`) or does not come up.
    pub fn start() -> Moto {
        let server = moto_server_path();
        assert!(
            server.exists(),
            "moto_server not found at {}: run `make venv` (or set MOTO_SERVER to a moto_server binary)",
            server.display()
        );
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::try_start(&server) {
                Ok(m) => return m,
                Err(e) => last_error = e,
            }
        }
        panic!("moto_server ({}) did not start: {last_error}", server.display());
    }

    fn try_start(server: &std::path::Path) -> Result<Moto, String> {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("scangate-moto-{}-{port}.log", std::process::id()));
        // The shell starts moto, then waits for its stdin (our pipe) to close: at Drop or
        // when this process exits, whichever comes first, and stops moto.
        let script = r#""$MOTO" -H 127.0.0.1 -p "$PORT" </dev/null >"$LOG" 2>&1 &
pid=$!
read -r _ignored
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("MOTO", server)
            .env("PORT", port.to_string())
            .env("LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot spawn sh: {e}"))?;
        let keepalive = child.stdin.take();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut moto = Moto { child, keepalive, addr, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("exited with {status}; log: {}", moto.log_tail()));
            }
            if let Ok((200, _)) = moto.http("GET", "/moto-api/data.json", &[], b"") {
                return Ok(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("no answer on {addr} within 60 s; log: {}", moto.log_tail()))
    }

    /// One server for the whole test binary, started on first use.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment a child process needs to use this server with the AWS SDK or CLI.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_MAX_ATTEMPTS", "1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// SDK configuration pointing at this server: endpoint, fake credentials, us-east-1, one attempt.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "scangate-testkit",
            ))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }

    /// Calls an AWS JSON-protocol API (KMS, Secrets Manager, …) on this server without
    /// an SDK client: `target` is the `X-Amz-Target` (`TrentService.CreateKey`).
    pub fn json_call(&self, service: &str, target: &str, body: &serde_json::Value) -> serde_json::Value {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=00"
        );
        let headers = [
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Authorization", auth.as_str()),
        ];
        let body = serde_json::to_vec(body).expect("serialize request body");
        let (status, text) = self.http("POST", "/", &headers, &body).expect("moto request");
        assert_eq!(status, 200, "{target} answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target} answered non-JSON ({e}): {text}"))
    }

    /// Creates a symmetric KMS key in moto and returns its ARN.
    pub fn create_kms_key(&self) -> String {
        let out = self.json_call("kms", "TrentService.CreateKey", &serde_json::json!({"Description": "scangate test"}));
        out["KeyMetadata"]["Arn"].as_str().expect("KeyMetadata.Arn in CreateKey answer").to_string()
    }

    /// A minimal HTTP/1.1 request (Connection: close): (status, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:.200}")))?;
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        // moto answers without chunked encoding when the connection closes.
        Ok((status, body.to_string()))
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the pipe makes the shell stop moto.
        drop(self.keepalive.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server lent from a process-wide pool ([`Moto::pooled`]); it goes back to the pool
/// when dropped (also when the test using it panics: the next user resets it anyway).
#[derive(Debug)]
pub struct PooledMoto(Option<Moto>);

fn pool() -> &'static std::sync::Mutex<Vec<Moto>> {
    static POOL: OnceLock<std::sync::Mutex<Vec<Moto>>> = OnceLock::new();
    POOL.get_or_init(|| std::sync::Mutex::new(Vec::new()))
}

impl Moto {
    /// A server of its own for as long as the returned value lives, emptied first: tests
    /// that each need a fresh server (same bucket names, same finding ids) reuse servers
    /// instead of starting one each (a start costs 1-2 s of CPU). At most as many servers
    /// run as tests run at once.
    pub fn pooled() -> PooledMoto {
        let spare = pool().lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let moto = spare.unwrap_or_else(Moto::start);
        moto.reset();
        PooledMoto(Some(moto))
    }

    /// Empties every service of this server (`POST /moto-api/reset`).
    ///
    /// # Panics
    /// When the server does not answer 200.
    pub fn reset(&self) {
        let (status, body) = self.http("POST", "/moto-api/reset", &[], b"").expect("moto reset request");
        assert_eq!(status, 200, "moto reset answered {status}: {body}");
    }
}

impl std::ops::Deref for PooledMoto {
    type Target = Moto;

    fn deref(&self) -> &Moto {
        self.0.as_ref().expect("a pooled server is present until dropped")
    }
}

impl Drop for PooledMoto {
    fn drop(&mut self) {
        if let Some(m) = self.0.take() {
            pool().lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(m);
        }
    }
}

/// A bucket name unique in this process (tests share one server).
pub fn unique_bucket(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

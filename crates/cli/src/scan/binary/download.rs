//! Downloading a QScanner binary over HTTP(S): one agent with the given proxy (never an
//! ambient one), every redirect checked, retries, and a progress display. What is
//! downloaded is verified by the caller (`verify.rs`).

use super::super::values::{check_download_url, redact_url, url_secrets, ProxyUrl};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) struct Http {
    agent: ureq::Agent,
    retries: u32,
    proxy_shown: Option<(String, String)>,
    /// Values hidden in messages: the URL's user-info and query string.
    url_secrets: Vec<String>,
}

/// Redirects followed at most (each hop checked by [`check_redirect`]).
const MAX_REDIRECTS: usize = 5;

/// A redirect may only go where a download URL may start (https, or plain http to a loopback
/// host), and never from https down to plain http.
pub(super) fn check_redirect(from: &str, to: &str) -> Result<(), String> {
    check_download_url(to).map_err(|m| format!("refusing the redirect to {}: {}", redact_url(to), redact_url(&m)))?;
    if from.starts_with("https://") && !to.starts_with("https://") {
        return Err(format!("refusing the redirect from https to plain http ({})", redact_url(to)));
    }
    Ok(())
}

/// The absolute URL a `Location` header names, relative to `base`.
fn resolve_location(base: &str, location: &str) -> Option<String> {
    if location.starts_with("https://") || location.starts_with("http://") {
        return Some(location.to_string());
    }
    let (scheme, rest) = base.split_once("://")?;
    let authority = rest.split('/').next()?;
    if let Some(path) = location.strip_prefix('/') {
        if path.starts_with('/') {
            return Some(format!("{scheme}:{location}"));
        }
        return Some(format!("{scheme}://{authority}/{path}"));
    }
    None
}

#[derive(Debug)]
pub(super) struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Http {
    pub(super) fn new(url: &str, proxy: Option<&ProxyUrl>, retries: u32) -> Http {
        // Loopback URLs never go through a proxy; others use the one given (never the ambient one implicitly,
        // so that --proxy / HTTPS_PROXY is the single source).
        let loopback = url.starts_with("http://");
        let proxy = if loopback { None } else { proxy };
        let ureq_proxy = proxy.and_then(|p| ureq::Proxy::new(p.expose()).ok());
        let config = ureq::Agent::config_builder()
            .proxy(ureq_proxy)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_global(Some(Duration::from_secs(1800)))
            // Redirects are followed by `call`, which checks every hop.
            .max_redirects(0)
            .user_agent(concat!("scangate/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: config.into(),
            retries,
            proxy_shown: proxy.map(|p| (p.expose().to_string(), p.to_string())),
            url_secrets: url_secrets(url),
        }
    }

    fn describe(&self, e: &ureq::Error) -> String {
        let mut s = e.to_string();
        if let Some((raw, shown)) = &self.proxy_shown {
            s = s.replace(raw, shown);
        }
        for secret in &self.url_secrets {
            s = s.replace(secret, "***");
        }
        s
    }

    /// GET `url`, following up to [`MAX_REDIRECTS`] redirects, each checked by [`check_redirect`].
    fn call(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>, Attempt> {
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.agent.get(&current).call().map_err(|e| self.classify(e))?;
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let next = resolve_location(&current, location).ok_or_else(|| {
                Attempt::Fatal(format!("HTTP {} from {} with no usable Location", resp.status(), redact_url(&current)))
            })?;
            check_redirect(&current, &next).map_err(Attempt::Fatal)?;
            eprintln!("scangate: {} redirects to {}", redact_url(&current), redact_url(&next));
            current = next;
        }
        Err(Attempt::Fatal(format!("more than {MAX_REDIRECTS} redirects from {}", redact_url(url))))
    }

    fn retryable(e: &ureq::Error) -> bool {
        match e {
            ureq::Error::StatusCode(c) => *c >= 500 || *c == 408 || *c == 429,
            ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_) => true,
            _ => false,
        }
    }

    /// Runs `op` with exponential backoff (0.5 s, 1 s, 2 s … capped at 8 s, with jitter).
    fn with_retries<T>(&self, url: &str, mut op: impl FnMut() -> Result<T, Attempt>) -> Result<T, HttpError> {
        let mut attempt = 0u32;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(m)) => return Err(HttpError(m)),
                Err(Attempt::Retry(m)) if attempt < self.retries => {
                    let base = 500u64.saturating_mul(1 << attempt.min(4)).min(8000);
                    // Up to 25 % jitter, from the clock's sub-second digits (no RNG needed).
                    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.subsec_nanos());
                    let jitter = u64::from(nanos % 1000) * base / 4000;
                    let wait = Duration::from_millis(base + jitter);
                    attempt += 1;
                    eprintln!("scangate: {url}: {m}; retry {attempt}/{} in {:.1}s", self.retries, wait.as_secs_f64());
                    std::thread::sleep(wait);
                }
                Err(Attempt::Retry(m)) => {
                    return Err(HttpError(format!("{m} (gave up after {} attempts)", attempt + 1)))
                }
            }
        }
    }

    fn classify(&self, e: ureq::Error) -> Attempt {
        let m = self.describe(&e);
        if Self::retryable(&e) {
            Attempt::Retry(m)
        } else {
            Attempt::Fatal(m)
        }
    }

    pub(super) fn get_small(&self, url: &str) -> Result<String, HttpError> {
        self.with_retries(&redact_url(url), || {
            let mut resp = self.call(url)?;
            resp.body_mut().with_config().limit(64 * 1024).read_to_string().map_err(|e| self.classify(e))
        })
    }

    /// Streams `url` into the new file `dest` (never through a symlink), returning the SHA-256 of what was written.
    pub(super) fn download(&self, url: &str, shown: &str, dest: &Path) -> Result<String, HttpError> {
        self.with_retries(shown, || {
            let resp = self.call(url)?;
            let len = resp.body().content_length();
            let mut reader = resp.into_body().into_reader();
            let _ = fs::remove_file(dest);
            let file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dest)
                .map_err(|e| Attempt::Fatal(format!("cannot create {}: {e}", dest.display())))?;
            let mut out = BufWriter::new(file);
            let mut hasher = Sha256::new();
            let mut progress = Progress::start(shown, len);
            let mut buf = vec![0u8; 128 * 1024];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        progress.abandon();
                        return Err(Attempt::Retry(format!("reading the response body: {e}")));
                    }
                };
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(|e| Attempt::Fatal(format!("writing {}: {e}", dest.display())))?;
                progress.advance(n as u64);
            }
            out.flush().map_err(|e| Attempt::Fatal(format!("writing {}: {e}", dest.display())))?;
            progress.finish();
            Ok(hex::encode(hasher.finalize()))
        })
    }
}

enum Attempt {
    Retry(String),
    Fatal(String),
}

/// A progress bar on a terminal, a few plain lines otherwise (CI logs).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: Option<u64>,
    done: u64,
    next_report: u64,
    started: Instant,
}

impl Progress {
    fn start(url: &str, total: Option<u64>) -> Progress {
        let mb = |b: u64| b as f64 / 1_048_576.0;
        let bar = if io::stderr().is_terminal() {
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message("downloading QScanner");
            Some(bar)
        } else {
            match total {
                Some(t) => eprintln!("scangate: downloading {url} ({:.1} MB)", mb(t)),
                None => eprintln!("scangate: downloading {url}"),
            }
            None
        };
        Progress { bar, total, done: 0, next_report: total.map_or(u64::MAX, |t| t / 4), started: Instant::now() }
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        } else if let Some(t) = self.total.filter(|t| *t > 0) {
            if self.done >= self.next_report && self.done < t {
                eprintln!("scangate: downloaded {}%", self.done * 100 / t);
                self.next_report = self.next_report.saturating_add(t / 4).max(self.done + 1);
            }
        }
    }

    fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!(
            "scangate: downloaded {:.1} MB in {:.1}s",
            self.done as f64 / 1_048_576.0,
            self.started.elapsed().as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_never_downgrade() {
        assert!(check_redirect("https://a.example/q", "https://b.example/q").is_ok());
        assert!(check_redirect("http://127.0.0.1:1/q", "http://localhost:2/q").is_ok());
        let e = check_redirect("https://a.example/q", "http://127.0.0.1/q").expect_err("https to http");
        assert!(e.contains("https to plain http"), "{e}");
        assert!(check_redirect("http://127.0.0.1:1/q", "http://mirror.example/q").is_err());
        assert!(check_redirect("https://a.example/q", "ftp://a.example/q").is_err());
        let e = check_redirect("https://a.example/q", "http://u:s3cr3t@evil.example/q?sig=abcdefgh").expect_err("bad");
        assert!(!e.contains("s3cr3t") && !e.contains("abcdefgh"), "{e}");
    }

    #[test]
    fn locations_resolve() {
        assert_eq!(resolve_location("https://a.example/x/q", "/y/q").as_deref(), Some("https://a.example/y/q"));
        assert_eq!(resolve_location("https://a.example/x/q", "//b.example/q").as_deref(), Some("https://b.example/q"));
        assert_eq!(resolve_location("https://a.example/x", "http://b/q").as_deref(), Some("http://b/q"));
        assert_eq!(resolve_location("https://a.example/x", "q"), None);
    }
}

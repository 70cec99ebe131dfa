//! Getting a QScanner binary the runner can trust: a given path, or a download that is
//! SHA-256 verified against a pinned checksum, gunzipped, checked for this host's CPU and
//! run as a private copy.
//!
//! Trust rests on the pin alone. The cache (`<cache-dir>/<sha256>/download`, which a shared
//! CodeBuild cache lets other builds write) keeps only the download as fetched, re-hashed
//! against the pin before every use; nothing in it vouches for itself. The binary that runs is
//! unpacked from the verified bytes into a new 0700 directory (files created with
//! `create_new`, which never follows a symlink) and re-hashed immediately before it runs.

use super::private;
use super::values::{check_download_url, redact_url, url_secrets, ProxyUrl};
use crate::error::CliError;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the binary comes from.
#[derive(Clone, Debug)]
pub(super) struct BinarySource {
    pub path: Option<PathBuf>,
    pub url: Option<String>,
    pub sha256: Option<String>,
    /// Accept `<url>.sha256` from the download's own host when no checksum is pinned.
    pub trust_same_host_checksum: bool,
    pub cache_dir: PathBuf,
    /// Attempts per request after the first (network errors, 5xx, 408, 429).
    pub retries: u32,
    pub proxy: Option<ProxyUrl>,
}

/// The binary to run and how it was obtained. A private copy's directory is removed on drop.
#[derive(Debug)]
pub(super) struct Obtained {
    pub path: PathBuf,
    /// "given", "cache" or "download".
    pub origin: &'static str,
    /// SHA-256 of the file at `path`, checked again by [`Obtained::verify_before_exec`]; `None` for a
    /// given binary without a checksum (run in place: there is nothing to verify it against).
    sha256: Option<String>,
    private_dir: Option<PathBuf>,
}

impl Obtained {
    /// Re-hashes the binary right before it runs.
    pub(super) fn verify_before_exec(&self) -> Result<(), CliError> {
        let Some(want) = &self.sha256 else {
            return Ok(());
        };
        let got =
            sha256_file(&self.path).map_err(|e| CliError::internal(format!("hashing {}: {e}", self.path.display())))?;
        if &got != want {
            return Err(CliError::internal(format!(
                "the QScanner copy {} changed before it ran (SHA-256 {got}, verified as {want}); not running it",
                self.path.display()
            )));
        }
        Ok(())
    }
}

impl Drop for Obtained {
    fn drop(&mut self) {
        if let Some(d) = &self.private_dir {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// The default cache directory: `$XDG_CACHE_HOME/scangate/qscanner`, else
/// `$HOME/.cache/scangate/qscanner`, else `.scangate-cache/qscanner`.
pub(super) fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("scangate").join("qscanner");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("scangate").join("qscanner");
    }
    PathBuf::from(".scangate-cache").join("qscanner")
}

pub(super) fn obtain(src: &BinarySource) -> Result<Obtained, CliError> {
    if let Some(path) = &src.path {
        return given(path, src.sha256.as_deref(), "--qscanner-path / QSCANNER_PATH");
    }
    let Some(url) = &src.url else {
        return match find_on_path("qscanner") {
            Some(p) => {
                eprintln!("scangate: using qscanner found on PATH: {}", p.display());
                given(&p, src.sha256.as_deref(), "qscanner on PATH")
            }
            None => Err(CliError::usage(
                "no QScanner binary: set --qscanner-path / QSCANNER_PATH, or --qscanner-url / QSCANNER_URL \
                 with --qscanner-sha256 / QSCANNER_SHA256",
            )),
        };
    };
    let shown = redact_url(url);
    check_download_url(url)
        .map_err(|m| CliError::usage(format!("--qscanner-url / QSCANNER_URL: {}", redact_url(&m))))?;
    let http = Http::new(url, src.proxy.as_ref(), src.retries);
    let expected = match &src.sha256 {
        Some(s) => s.clone(),
        None if src.trust_same_host_checksum => {
            let sums_url = format!("{url}.sha256");
            let sums_shown = redact_url(&sums_url);
            eprintln!(
                "scangate: WARNING: no pinned QSCANNER_SHA256; trusting {sums_shown} from the download's own host \
                 (--trust-same-host-checksum). Whoever controls that host controls the binary that runs with the token."
            );
            let text = http.get_small(&sums_url).map_err(|e| {
                CliError::internal(format!(
                    "no checksum for {shown}: {sums_shown} could not be fetched: {e}. The runner never runs an \
                     unverified binary."
                ))
            })?;
            parse_sha256_file(&text).ok_or_else(|| {
                CliError::internal(format!(
                    "{sums_shown} does not start with a 64-hex-digit SHA-256 (\"<sha256>  <file>\")"
                ))
            })?
        }
        None => {
            return Err(CliError::usage(format!(
                "no checksum for {shown}: set --qscanner-sha256 / QSCANNER_SHA256 (the stack's QScannerSha256) to the \
                 SHA-256 of the download. A <url>.sha256 from the same host only shows that the host agrees with \
                 itself; to accept it anyway set --trust-same-host-checksum / QSCANNER_TRUST_SAME_HOST_SHA256=true. \
                 Nothing was downloaded."
            )))
        }
    };
    let dir = src.cache_dir.join(&expected);
    let download = dir.join("download");
    let mut origin = "cache";
    if !reuse_cached(&dir, &download, &expected) {
        origin = "download";
        fetch_into_cache(&http, url, &shown, &dir, &download, &expected)?;
    }
    let mut obtained = private_copy(&download, &shown)?;
    obtained.origin = origin;
    eprintln!("scangate: QScanner verified ({expected}), running a private copy {}", obtained.path.display());
    Ok(obtained)
}

/// Whether the cache holds a download matching the pin (a real file in a real directory); anything
/// else found there is removed.
fn reuse_cached(dir: &Path, download: &Path, expected: &str) -> bool {
    let dir_ok = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    let file_ok = fs::symlink_metadata(download).is_ok_and(|m| m.file_type().is_file());
    if !dir_ok || !file_ok {
        if fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
            eprintln!("scangate: cache entry {} is not a directory (a symlink?); removing it", dir.display());
            let _ = fs::remove_file(dir);
        } else if fs::symlink_metadata(download).is_ok() {
            eprintln!("scangate: cached {} is not a regular file; removing it", download.display());
            let _ = fs::remove_file(download);
        }
        return false;
    }
    match sha256_file(download) {
        Ok(sum) if sum == expected => {
            eprintln!("scangate: cached QScanner download {} matches the pinned SHA-256", download.display());
            true
        }
        _ => {
            eprintln!(
                "scangate: cached {} failed re-verification against {expected}; downloading again",
                download.display()
            );
            let _ = fs::remove_file(download);
            false
        }
    }
}

fn fetch_into_cache(
    http: &Http,
    url: &str,
    shown: &str,
    dir: &Path,
    download: &Path,
    expected: &str,
) -> Result<(), CliError> {
    fs::create_dir_all(dir)
        .map_err(|e| CliError::internal(format!("cannot create cache directory {}: {e}", dir.display())))?;
    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos());
    let part = dir.join(format!(".download-{}-{nanos:x}.part", std::process::id()));
    let started = Instant::now();
    let got = match http.download(url, shown, &part) {
        Ok(sum) => sum,
        Err(e) => {
            let _ = fs::remove_file(&part);
            return Err(CliError::internal(format!("downloading {shown} failed: {e}")));
        }
    };
    if got != expected {
        let removed = fs::remove_file(&part).is_ok();
        let _ = fs::remove_dir(dir);
        return Err(CliError::internal(format!(
            "checksum mismatch for {shown}: expected SHA-256 {expected}, downloaded file has {got}; {} \
             Check QSCANNER_SHA256 / the published .sha256, or the download source.",
            if removed { "the download was deleted." } else { "the download could not be deleted!" }
        )));
    }
    eprintln!("scangate: SHA-256 verified ({expected}) in {:.1}s", started.elapsed().as_secs_f64());
    fs::rename(&part, download)
        .map_err(|e| CliError::internal(format!("storing QScanner in the cache {}: {e}", dir.display())))
}

/// Unpacks a verified download into a new private directory as an executable only this user can touch.
fn private_copy(download: &Path, shown: &str) -> Result<Obtained, CliError> {
    let dir = private::new_private_dir(&std::env::temp_dir(), "scangate-qscanner-")
        .map_err(|e| CliError::internal(format!("cannot create a private directory for QScanner: {e}")))?;
    let bin = dir.join("qscanner");
    // From here on the directory is removed on every exit.
    let mut obtained = Obtained { path: bin.clone(), origin: "download", sha256: None, private_dir: Some(dir) };
    let sum = unpack(download, &bin).map_err(|e| CliError::internal(format!("unpacking {shown}: {e}")))?;
    check_platform_file(&bin)
        .map_err(|e| CliError::internal(format!("refusing the QScanner from {shown}: {e}; the file was deleted")))
        .inspect_err(|_| {
            let _ = fs::remove_file(download);
        })?;
    obtained.sha256 = Some(sum);
    Ok(obtained)
}

/// A binary given by path (or found on PATH). With a checksum, it must match, and what runs is a
/// private copy of the verified bytes; without one it runs in place.
fn given(path: &Path, sha256: Option<&str>, what: &str) -> Result<Obtained, CliError> {
    let meta =
        fs::metadata(path).map_err(|e| CliError::usage(format!("{what}: cannot use {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(CliError::usage(format!("{what}: {} is not a file", path.display())));
    }
    let Some(want) = sha256 else {
        check_platform_file(path).map_err(|e| CliError::internal(format!("refusing {}: {e}", path.display())))?;
        return Ok(Obtained { path: path.to_path_buf(), origin: "given", sha256: None, private_dir: None });
    };
    let dir = private::new_private_dir(&std::env::temp_dir(), "scangate-qscanner-")
        .map_err(|e| CliError::internal(format!("cannot create a private directory for QScanner: {e}")))?;
    let bin = dir.join("qscanner");
    let mut obtained = Obtained { path: bin.clone(), origin: "given", sha256: None, private_dir: Some(dir) };
    let got = fs::File::open(path)
        .and_then(|mut f| copy_hashing(&mut f, &bin))
        .map_err(|e| CliError::internal(format!("copying {}: {e}", path.display())))?;
    if got != want {
        return Err(CliError::internal(format!(
            "checksum mismatch for {what} {}: expected SHA-256 {want} (--qscanner-sha256 / QSCANNER_SHA256), the \
             file has {got}; not running it",
            path.display()
        )));
    }
    check_platform_file(&bin).map_err(|e| CliError::internal(format!("refusing {}: {e}", path.display())))?;
    eprintln!("scangate: {} matches QSCANNER_SHA256; running a private copy", path.display());
    obtained.sha256 = Some(got);
    Ok(obtained)
}

/// Copies `src` into a new executable file `dst` (create_new, mode 0700), returning the SHA-256 of the bytes.
fn copy_hashing(src: &mut impl Read, dst: &Path) -> io::Result<String> {
    let file = fs::OpenOptions::new().write(true).create_new(true).mode(0o700).open(dst)?;
    let mut out = BufWriter::new(file);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.flush()?;
    Ok(hex::encode(h.finalize()))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The first whitespace-separated word of a `.sha256` file, when it is 64 hex digits.
pub(super) fn parse_sha256_file(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?.to_ascii_lowercase();
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())).then_some(word)
}

pub(super) fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Gunzips `src` into a new executable file `dst`, or copies it when it is not gzip; returns the
/// SHA-256 of what was written.
fn unpack(src: &Path, dst: &Path) -> io::Result<String> {
    let mut magic = [0u8; 2];
    let mut f = fs::File::open(src)?;
    let n = f.read(&mut magic)?;
    drop(f);
    if n == 2 && magic == [0x1f, 0x8b] {
        let input = io::BufReader::new(fs::File::open(src)?);
        let mut decoder = flate2::read::MultiGzDecoder::new(input);
        copy_hashing(&mut decoder, dst).map_err(|e| io::Error::new(e.kind(), format!("not a valid gzip file: {e}")))
    } else {
        copy_hashing(&mut fs::File::open(src)?, dst)
    }
}

// ---------------------------------------------------------------- platform check

/// ELF `e_machine` values of the architectures QScanner (and this runner) builds for.
const MACHINES: [(u16, &str); 8] = [
    (3, "x86 (i386)"),
    (62, "x86_64 (amd64)"),
    (40, "arm (32-bit)"),
    (183, "aarch64 (arm64)"),
    (21, "ppc64/ppc64le"),
    (22, "s390x"),
    (243, "riscv64"),
    (8, "mips"),
];

pub(super) fn machine_name(m: u16) -> String {
    MACHINES.iter().find(|(id, _)| *id == m).map_or_else(|| format!("machine {m}"), |(_, n)| n.to_string())
}

/// This host's ELF machine and class (1 = 32-bit, 2 = 64-bit), when known.
pub(super) fn host_machine() -> Option<(u16, u8)> {
    match std::env::consts::ARCH {
        "x86_64" => Some((62, 2)),
        "x86" => Some((3, 1)),
        "aarch64" => Some((183, 2)),
        "arm" => Some((40, 1)),
        "powerpc64" => Some((21, 2)),
        "s390x" => Some((22, 2)),
        "riscv64" => Some((243, 2)),
        _ => None,
    }
}

/// Checks that the header is a Linux-runnable ELF executable for `host` (machine, class).
pub(super) fn check_elf(header: &[u8], host: (u16, u8)) -> Result<(), String> {
    if header.len() >= 2 && header.starts_with(b"#!") {
        // A wrapper script: the interpreter decides; nothing to check.
        return Ok(());
    }
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return Err("it is not an ELF executable (no \\x7fELF header); expected a Linux QScanner binary".to_string());
    }
    let class = header[4];
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        2 => u16::from_be_bytes([header[18], header[19]]),
        other => return Err(format!("its ELF header has an unknown byte order ({other})")),
    };
    if machine != host.0 || class != host.1 {
        return Err(format!(
            "it is built for {} ({}-bit) but this host is {} ({}-bit); download the QScanner build for this \
             platform (for example qscanner-linux-{}.gz)",
            machine_name(machine),
            if class == 1 { 32 } else { 64 },
            machine_name(host.0),
            if host.1 == 1 { 32 } else { 64 },
            if host.0 == 183 { "arm64" } else { "amd64" },
        ));
    }
    Ok(())
}

fn check_platform_file(path: &Path) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let Some(host) = host_machine() else {
        return Ok(());
    };
    let mut header = [0u8; 64];
    let mut f = fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut n = 0;
    while n < header.len() {
        match f.read(&mut header[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("cannot read it: {e}")),
        }
    }
    check_elf(&header[..n], host)
}

// ---------------------------------------------------------------- HTTP

struct Http {
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
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Http {
    fn new(url: &str, proxy: Option<&ProxyUrl>, retries: u32) -> Http {
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

    fn get_small(&self, url: &str) -> Result<String, HttpError> {
        self.with_retries(&redact_url(url), || {
            let mut resp = self.call(url)?;
            resp.body_mut().with_config().limit(64 * 1024).read_to_string().map_err(|e| self.classify(e))
        })
    }

    /// Streams `url` into the new file `dest` (never through a symlink), returning the SHA-256 of what was written.
    fn download(&self, url: &str, shown: &str, dest: &Path) -> Result<String, HttpError> {
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

    fn elf(machine: u16, class: u8) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = 1;
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn elf_machine_check() {
        let amd64 = (62, 2);
        assert!(check_elf(&elf(62, 2), amd64).is_ok());
        let e = check_elf(&elf(183, 2), amd64).expect_err("arm64 on amd64");
        assert!(e.contains("aarch64") && e.contains("x86_64"), "{e}");
        assert!(check_elf(&elf(62, 1), amd64).is_err());
        assert!(check_elf(b"MZ\x90\x00", amd64).expect_err("PE").contains("not an ELF"));
        assert!(check_elf(b"", amd64).is_err());
        assert!(check_elf(b"#!/bin/sh\n", amd64).is_ok());
        let mut be = elf(62, 2);
        be[5] = 2;
        be[18..20].copy_from_slice(&62u16.to_be_bytes());
        assert!(check_elf(&be, amd64).is_ok());
        be[5] = 9;
        assert!(check_elf(&be, amd64).is_err());
    }

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

    #[test]
    fn sha256_files() {
        let s = "A".repeat(64);
        assert_eq!(parse_sha256_file(&format!("{s}  qscanner.gz\n")), Some(s.to_ascii_lowercase()));
        assert_eq!(parse_sha256_file("nope"), None);
        assert_eq!(parse_sha256_file(""), None);
    }
}

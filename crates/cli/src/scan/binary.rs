//! Getting a QScanner binary the runner can trust: a given path, or a download that is
//! SHA-256 verified against a pinned checksum, gunzipped, checked for this host's CPU and
//! run as a private copy.
//!
//! Trust rests on the pin alone. The cache (`<cache-dir>/<sha256>/download`, which a shared
//! CodeBuild cache lets other builds write) keeps only the download as fetched, re-hashed
//! against the pin before every use; nothing in it vouches for itself. The binary that runs is
//! unpacked from the verified bytes into a new 0700 directory (files created with
//! `create_new`, which never follows a symlink) and re-hashed immediately before it runs.
//!
//! This file obtains the binary (path, cache, private copy); `download.rs` fetches it over
//! HTTP(S); `verify.rs` hashes, unpacks and checks it.

mod download;
mod verify;

use super::private;
use super::values::{check_download_url, redact_url, ProxyUrl};
use crate::error::CliError;
use download::Http;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;
use verify::{check_platform_file, copy_hashing, parse_sha256_file, sha256_file, unpack};

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

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

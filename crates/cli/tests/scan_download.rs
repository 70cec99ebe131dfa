//! The runner obtains QScanner: download, SHA-256 verification against a pin, cache reuse that
//! re-verifies against the pin, a private copy, redirect checks, platform check.

mod scan_common;

use scan_common::*;
use std::collections::HashMap;

fn scan_from_url(dir: &std::path::Path, url: &str, extra: &[&str]) -> Output {
    let record = dir.join("record.jsonl");
    let record_s = record.to_string_lossy().into_owned();
    let cache = dir.join("cache");
    let cache_s = cache.to_string_lossy().into_owned();
    let mut args = vec!["scan", "image", "app:1.0", "--qscanner-url", url, "--cache-dir", &cache_s];
    args.extend_from_slice(extra);
    run(dir, &args, &[("QUALYS_ACCESS_TOKEN", TOKEN), ("QUALYS_POD", "US2"), ("FAKE_QSCANNER_RECORD", &record_s)])
}

#[test]
fn download_verifies_then_reuses_the_cached_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, sum) = serve_fake();
    let url = format!("{}/qscanner.gz", server.base);

    let first = scan_from_url(dir.path(), &url, &["--trust-same-host-checksum"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(server.hits("/qscanner.gz.sha256"), 1, "checksum fetched from <url>.sha256");
    assert_eq!(server.hits("/qscanner.gz"), 1);
    assert!(first.stderr.contains("SHA-256 verified"), "{}", first.all());
    assert!(first.stderr.contains("WARNING: no pinned QSCANNER_SHA256"), "{}", first.all());
    // The cache keeps the download as fetched (what the pin attests), nothing that vouches for itself.
    let cached = dir.path().join("cache").join(&sum).join("download");
    assert_eq!(sha256_hex(&std::fs::read(&cached).expect("read cached")), sum);
    let entries: Vec<_> = files_under(&dir.path().join("cache"));
    assert_eq!(entries, vec![cached.clone()], "only the download is cached");
    assert_eq!(records(dir.path()).len(), 1, "the downloaded scanner ran");

    // Second run: the checksum is fetched again (it names the cache entry) but the binary is not.
    let second = scan_from_url(dir.path(), &url, &["--trust-same-host-checksum"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(server.hits("/qscanner.gz"), 1, "no second download");
    assert!(second.stderr.contains("cached"), "{}", second.all());

    // With the checksum given, no request at all.
    let third = scan_from_url(dir.path(), &url, &["--qscanner-sha256", &sum]);
    assert_eq!(third.code, 0, "{}", third.all());
    assert_eq!(server.hits("/qscanner.gz"), 1);
    assert_eq!(server.hits("/qscanner.gz.sha256"), 2);
    assert_eq!(records(dir.path()).len(), 3);
}

#[test]
fn tampered_cache_entry_is_downloaded_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, sum) = serve_fake();
    let url = format!("{}/qscanner.gz", server.base);
    assert_eq!(scan_from_url(dir.path(), &url, &["--qscanner-sha256", &sum]).code, 0);
    let bin = dir.path().join("cache").join(&sum).join("download");
    let mut bytes = std::fs::read(&bin).expect("read cached");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&bin, &bytes).expect("tamper");
    let out = scan_from_url(dir.path(), &url, &["--qscanner-sha256", &sum]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("failed re-verification"), "{}", out.all());
    assert_eq!(server.hits("/qscanner.gz"), 2);
}

#[test]
fn wrong_checksum_deletes_the_download_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, _sum) = serve_fake();
    let url = format!("{}/qscanner.gz", server.base);
    let wrong = "0".repeat(64);
    let out = scan_from_url(dir.path(), &url, &["--qscanner-sha256", &wrong]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("checksum mismatch"), "{}", out.all());
    assert!(out.stderr.contains(&wrong) && out.stderr.contains("deleted"), "{}", out.all());
    assert_eq!(files_under(&dir.path().join("cache")), Vec::<std::path::PathBuf>::new(), "nothing left in the cache");
    assert!(records(dir.path()).is_empty(), "the unverified binary never ran");
}

#[test]
fn wrong_checksum_file_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = gzip(&std::fs::read(fake_qscanner()).expect("read fake"));
    let mut files = HashMap::new();
    files.insert("/q.gz.sha256".to_string(), format!("{}  q.gz\n", "ab".repeat(32)).into_bytes());
    files.insert("/q.gz".to_string(), gz);
    let server = Server::start(files, HashMap::new());
    let out = scan_from_url(dir.path(), &format!("{}/q.gz", server.base), &["--trust-same-host-checksum"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("checksum mismatch"), "{}", out.all());
    assert!(records(dir.path()).is_empty());
}

#[test]
fn missing_checksum_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = gzip(&std::fs::read(fake_qscanner()).expect("read fake"));
    let server = Server::start(HashMap::from([("/q.gz".to_string(), gz)]), HashMap::new());
    // No pin: refused before any request (a same-host <url>.sha256 is not trusted by default).
    let out = scan_from_url(dir.path(), &format!("{}/q.gz", server.base), &["--download-retries", "0"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("no checksum") && out.stderr.contains("QSCANNER_SHA256"), "{}", out.all());
    assert_eq!(server.hits("/q.gz.sha256") + server.hits("/q.gz"), 0, "no request without a pin");
    // Opted in, but the host publishes no checksum.
    let out = scan_from_url(
        dir.path(),
        &format!("{}/q.gz", server.base),
        &["--download-retries", "0", "--trust-same-host-checksum"],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("no checksum"), "{}", out.all());
    assert_eq!(server.hits("/q.gz"), 0, "nothing downloaded without a checksum");
}

/// The attack: whoever can write the (shared) CodeBuild cache plants a binary and the old
/// "verified" marker beside it, and a download that does not match the pin. The build runs
/// neither: the cache is re-hashed against the pin and the real binary is downloaded.
#[test]
fn a_planted_binary_and_marker_in_the_cache_never_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, sum) = serve_fake();
    let url = format!("{}/qscanner.gz", server.base);
    let pwned = dir.path().join("pwned");
    let evil = format!("#!/bin/sh\ntouch {}\n", pwned.display()).into_bytes();
    let entry = dir.path().join("cache").join(&sum);
    std::fs::create_dir_all(&entry).expect("mkdir");
    std::fs::write(entry.join("qscanner"), &evil).expect("plant binary");
    std::fs::write(entry.join("qscanner.sha256"), format!("{}\n", sha256_hex(&evil))).expect("plant marker");
    std::fs::write(entry.join("download"), gzip(&evil)).expect("plant download");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(entry.join("qscanner"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let out = scan_from_url(dir.path(), &url, &["--qscanner-sha256", &sum]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!pwned.exists(), "the planted binary ran: {}", out.all());
    assert!(out.stderr.contains("failed re-verification"), "{}", out.all());
    assert_eq!(server.hits("/qscanner.gz"), 1, "the real binary was downloaded");
    assert_eq!(records(dir.path()).len(), 1, "the real scanner ran");
    assert_eq!(sha256_hex(&std::fs::read(entry.join("download")).expect("download")), sum);
}

/// The attack: a symlink planted where the cache keeps the download; the runner neither follows
/// it nor writes through it.
#[test]
fn a_symlink_planted_in_the_cache_is_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, sum) = serve_fake();
    let url = format!("{}/qscanner.gz", server.base);
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").expect("victim");
    let entry = dir.path().join("cache").join(&sum);
    std::fs::create_dir_all(&entry).expect("mkdir");
    std::os::unix::fs::symlink(&victim, entry.join("download")).expect("symlink");
    let out = scan_from_url(dir.path(), &url, &["--qscanner-sha256", &sum]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious", "written through the symlink");
    assert!(!std::fs::symlink_metadata(entry.join("download")).expect("meta").file_type().is_symlink());
    assert_eq!(records(dir.path()).len(), 1);
}

/// The attack: the download host redirects to plain http elsewhere (a downgrade anyone on the path
/// could answer). Refused, nothing runs; a redirect within the loopback host is followed.
#[test]
fn a_redirect_to_plain_http_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = gzip(&std::fs::read(fake_qscanner()).expect("read fake"));
    let sum = sha256_hex(&gz);
    let server = Server::start_with_redirects(
        HashMap::from([("/q.gz".to_string(), gz)]),
        HashMap::new(),
        HashMap::from([
            ("/evil.gz".to_string(), "http://downloads.example.invalid/q.gz".to_string()),
            ("/moved.gz".to_string(), "/q.gz".to_string()),
        ]),
    );
    let out = scan_from_url(dir.path(), &format!("{}/evil.gz", server.base), &["--qscanner-sha256", &sum]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("refusing the redirect"), "{}", out.all());
    assert!(records(dir.path()).is_empty(), "nothing ran");
    let out = scan_from_url(dir.path(), &format!("{}/moved.gz", server.base), &["--qscanner-sha256", &sum]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(server.hits("/q.gz"), 1);
}

/// A given checksum applies to QSCANNER_PATH too: a wrong file is refused, a right one runs as a private copy.
#[test]
fn qscanner_path_is_checked_against_a_given_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = fake_qscanner();
    let fake_s = fake.to_string_lossy().into_owned();
    let record = dir.path().join("record.jsonl");
    let record_s = record.to_string_lossy().into_owned();
    let env = [("QUALYS_ACCESS_TOKEN", TOKEN), ("QUALYS_POD", "US2"), ("FAKE_QSCANNER_RECORD", record_s.as_str())];
    let wrong = "0".repeat(64);
    let out =
        run(dir.path(), &["scan", "image", "app:1", "--qscanner-path", &fake_s, "--qscanner-sha256", &wrong], &env);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("checksum mismatch") && out.stderr.contains(&wrong), "{}", out.all());
    assert!(records(dir.path()).is_empty(), "the unverified binary ran");
    let right = sha256_hex(&std::fs::read(&fake).expect("read fake"));
    let out =
        run(dir.path(), &["scan", "image", "app:1", "--qscanner-path", &fake_s, "--qscanner-sha256", &right], &env);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("running a private copy"), "{}", out.all());
    assert!(!out.stderr.contains(&format!("running {fake_s} ")), "the given path itself ran: {}", out.all());
    assert_eq!(records(dir.path()).len(), 1);
}

#[test]
fn binary_for_another_platform_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = gzip(&foreign_binary());
    let sum = sha256_hex(&gz);
    let server = Server::start(HashMap::from([("/q.gz".to_string(), gz)]), HashMap::new());
    let out = scan_from_url(dir.path(), &format!("{}/q.gz", server.base), &["--qscanner-sha256", &sum]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("built for"), "{}", out.all());
    assert!(out.stderr.contains("this host is"), "{}", out.all());
    assert_eq!(files_under(&dir.path().join("cache")), Vec::<std::path::PathBuf>::new());
    assert!(records(dir.path()).is_empty());

    // The same check applies to a binary given by path.
    let foreign = dir.path().join("foreign-qscanner");
    std::fs::write(&foreign, foreign_binary()).expect("write");
    let out = run(
        dir.path(),
        &["scan", "image", "app:1", "--qscanner-path", &foreign.to_string_lossy()],
        &[("QUALYS_ACCESS_TOKEN", TOKEN), ("QUALYS_POD", "US2")],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("built for"), "{}", out.all());
}

#[test]
fn transient_server_errors_are_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = gzip(&std::fs::read(fake_qscanner()).expect("read fake"));
    let sum = sha256_hex(&gz);
    let server = Server::start(HashMap::from([("/q.gz".to_string(), gz)]), HashMap::from([("/q.gz".to_string(), 2)]));
    let out = scan_from_url(dir.path(), &format!("{}/q.gz", server.base), &["--qscanner-sha256", &sum]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(server.hits("/q.gz"), 3, "two 503s then success");
    assert!(out.stderr.contains("retry 1/4") && out.stderr.contains("retry 2/4"), "{}", out.all());
}

#[test]
fn not_found_is_not_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(HashMap::new(), HashMap::new());
    let out = scan_from_url(dir.path(), &format!("{}/q.gz", server.base), &["--qscanner-sha256", &"1".repeat(64)]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("404"), "{}", out.all());
    assert_eq!(server.hits("/q.gz"), 1);
}

#[test]
fn plain_http_only_for_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_from_url(dir.path(), "http://downloads.example.com/qscanner.gz", &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("QSCANNER_URL") && out.stderr.contains("loopback"), "{}", out.all());
    let out = run(
        dir.path(),
        &["scan", "image", "app:1"],
        &[("QUALYS_ACCESS_TOKEN", TOKEN), ("QUALYS_POD", "US2"), ("QSCANNER_URL", "ftp://x/q.gz"), ("PATH", "")],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("QSCANNER_URL"), "{}", out.all());
}

#[test]
fn no_binary_source_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &["scan", "image", "app:1"],
        &[("QUALYS_ACCESS_TOKEN", TOKEN), ("QUALYS_POD", "US2"), ("PATH", "/nonexistent")],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("QSCANNER_PATH") && out.stderr.contains("QSCANNER_URL"), "{}", out.all());
}

//! Shared helpers of the runner tests: the fake QScanner, a loopback HTTP server, running `scangate`.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) const TOKEN: &str = "qtok-7f3a9c1e-SECRET-d00dfeed";

/// The pipeline output variables, in the order the runner writes them and buildspecs export them.
pub(crate) const OUTPUT_NAMES: [&str; 14] = [
    "vulnerability_count",
    "critical_count",
    "high_count",
    "medium_count",
    "low_count",
    "policy_result",
    "scan_passed",
    "sarif_path",
    "json_path",
    "sbom_path",
    "verdict_key",
    "informational_count",
    "waived_count",
    "not_fixable_count",
];

pub(crate) fn scangate() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_scangate"))
}

/// The fake QScanner example binary (built by `cargo test`; built here when a test is run alone).
pub(crate) fn fake_qscanner() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
        let path = profile_dir.join("examples").join("fake_qscanner");
        if !path.is_file() {
            let status = Command::new(env!("CARGO"))
                .args(["build", "--example", "fake_qscanner", "--manifest-path"])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .status()
                .expect("run cargo build --example fake_qscanner");
            assert!(status.success(), "building the fake qscanner failed");
        }
        assert!(path.is_file(), "fake qscanner not found at {}", path.display());
        path
    })
    .clone()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip finish")
}

/// The fake binary with its ELF machine set to another architecture than this host's.
pub(crate) fn foreign_binary() -> Vec<u8> {
    let mut b = std::fs::read(fake_qscanner()).expect("read fake qscanner");
    let other: u16 = if std::env::consts::ARCH == "aarch64" { 62 } else { 183 };
    b[18..20].copy_from_slice(&other.to_le_bytes());
    b
}

/// A tiny HTTP/1.1 file server on 127.0.0.1 that counts requests per path and can fail the first N.
pub(crate) struct Server {
    pub base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    /// `files`: path → body; `fail_first`: path → number of leading requests answered 503.
    pub(crate) fn start(files: HashMap<String, Vec<u8>>, fail_first: HashMap<String, usize>) -> Server {
        Server::start_with_redirects(files, fail_first, HashMap::new())
    }

    /// As `start`, and `redirects`: path → Location answered with 302.
    pub(crate) fn start_with_redirects(
        files: HashMap<String, Vec<u8>>,
        fail_first: HashMap<String, usize>,
        redirects: HashMap<String, String>,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let hits2 = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                let n = {
                    let mut h = hits2.lock().expect("hits lock");
                    let e = h.entry(path.clone()).or_insert(0);
                    *e += 1;
                    *e
                };
                let failing = fail_first.get(&path).is_some_and(|f| n <= *f);
                if let Some(location) = redirects.get(&path) {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.flush();
                    continue;
                }
                let (status, body): (&str, &[u8]) = match files.get(&path) {
                    _ if failing => ("503 Service Unavailable", b"try later"),
                    Some(b) => ("200 OK", b.as_slice()),
                    None => ("404 Not Found", b"not found"),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(body);
                let _ = stream.flush();
            }
        });
        Server { base, hits }
    }

    pub(crate) fn hits(&self, path: &str) -> usize {
        self.hits.lock().expect("hits lock").get(path).copied().unwrap_or(0)
    }
}

/// Serves the gzipped fake QScanner as /qscanner.gz with /qscanner.gz.sha256.
pub(crate) fn serve_fake() -> (Server, String) {
    let gz = gzip(&std::fs::read(fake_qscanner()).expect("read fake"));
    let sum = sha256_hex(&gz);
    let mut files = HashMap::new();
    files.insert("/qscanner.gz.sha256".to_string(), format!("{sum}  qscanner.gz\n").into_bytes());
    files.insert("/qscanner.gz".to_string(), gz);
    (Server::start(files, HashMap::new()), sum)
}

/// The work directory `run` gives the runner in `dir`.
pub(crate) fn work_dir(dir: &Path) -> PathBuf {
    dir.join("work")
}

/// The outputs file the runner writes by default in `dir`.
pub(crate) fn outputs_file(dir: &Path) -> PathBuf {
    work_dir(dir).join("outputs.env")
}

pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub(crate) fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Runs `scangate <args>` in `dir` with a clean environment (PATH, HOME=dir) plus `env`.
pub(crate) fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(scangate());
    cmd.args(args).current_dir(dir).env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", dir);
    // The runner's private directory (outputs.env, reports/, junit.xml) unless a test sets its own.
    cmd.env("SCANGATE_WORK_DIR", work_dir(dir));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run scangate");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `scangate scan <kind> <target> --qscanner-path <fake> …` with a token, a POD and a record file.
pub(crate) fn scan_with_fake(dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Output {
    let fake = fake_qscanner();
    let record = dir.join("record.jsonl");
    let mut args: Vec<&str> = vec!["scan"];
    args.extend_from_slice(extra_args);
    let fake_s = fake.to_string_lossy().into_owned();
    let record_s = record.to_string_lossy().into_owned();
    args.extend_from_slice(&["--qscanner-path", &fake_s]);
    let mut full_env: Vec<(&str, &str)> =
        vec![("QUALYS_ACCESS_TOKEN", TOKEN), ("QUALYS_POD", "US2"), ("FAKE_QSCANNER_RECORD", &record_s)];
    full_env.extend_from_slice(env);
    run(dir, &args, &full_env)
}

/// The fake's recorded invocations.
pub(crate) fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("record.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("record line is JSON"))
        .collect()
}

pub(crate) fn argv(record: &serde_json::Value) -> Vec<String> {
    record["argv"]
        .as_array()
        .expect("argv array")
        .iter()
        .map(|v| v.as_str().expect("argv string").to_string())
        .collect()
}

/// Parses the outputs env file into name → raw value.
pub(crate) fn outputs(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether a process is gone (no /proc entry, or a zombie waiting to be reaped).
pub(crate) fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

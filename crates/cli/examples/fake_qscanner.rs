//! A stand-in for Qualys QScanner, for the runner's tests. Same command line as the
//! real one (see docs/qscanner.md); behaviour set by environment:
//!
//! - `FAKE_QSCANNER_EXIT`: exit code (default 0)
//! - `FAKE_QSCANNER_SLEEP`: seconds to sleep before writing reports (fractions allowed)
//! - `FAKE_QSCANNER_SARIF`: a SARIF file to copy as the report (default: a small built-in one)
//! - `FAKE_QSCANNER_RECORD`: a file to append one JSON line to: argv, whether QUALYS_ACCESS_TOKEN
//!   was set (never its value), and the pid
//! - `FAKE_QSCANNER_CHILD_PID_FILE`: start a `sleep 300` grandchild and write its pid there
//! - `FAKE_QSCANNER_ECHO_TOKEN=1`: print the token on stdout and stderr (to test that the runner masks it)
//! - `FAKE_QSCANNER_NO_SARIF=1`: write no SARIF even when asked for one
//! - `FAKE_QSCANNER_FLOOD=N`: print the token N times on stdout as one line without a newline
//! - `FAKE_QSCANNER_PRINT_ENV=NAME,…`: print these variables' values (e.g. HTTPS_PROXY) on stderr

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

const VALUE_FLAGS: [&str; 12] = [
    "--pod",
    "--proxy",
    "--scan-types",
    "--mode",
    "--format",
    "--report-format",
    "--output-dir",
    "--storage-driver",
    "--platform",
    "--exclude-dirs",
    "--exclude-files",
    "--access-token-from",
];

const BUILTIN_SARIF: &str = r#"{
  "version": "2.1.0",
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
  "runs": [{
    "tool": {"driver": {"name": "QScanner", "version": "4.0.0-fake", "rules": [
      {"id": "qid-1001", "name": "openssl", "shortDescription": {"text": "OpenSSL vulnerability"},
       "helpUri": "https://example.invalid/qid-1001",
       "properties": {"severity": 5, "cve-ids": ["CVE-2024-0001"], "qds": 95, "tags": ["vulnerability"]}},
      {"id": "qid-1002", "name": "zlib", "shortDescription": {"text": "zlib vulnerability"},
       "properties": {"severity": 4, "cve-ids": ["CVE-2024-0002"], "tags": ["vulnerability"]}},
      {"id": "qid-1003", "name": "busybox", "shortDescription": {"text": "busybox vulnerability"},
       "properties": {"severity": 3, "cve-ids": ["CVE-2024-0003"], "tags": ["vulnerability"]}}
    ]}},
    "results": [
      {"ruleId": "qid-1001", "level": "error", "message": {"text": "openssl 3.0.2 is vulnerable"},
       "locations": [{"physicalLocation": {"artifactLocation": {"uri": "usr/lib/libssl.so.3"}}}],
       "properties": {"QID": 1001, "vulnerableSoftware": [{"name": "openssl", "installedVersion": "3.0.2", "fixedVersion": "3.0.13"}]}},
      {"ruleId": "qid-1002", "level": "error", "message": {"text": "zlib 1.2.11 is vulnerable"},
       "locations": [{"physicalLocation": {"artifactLocation": {"uri": "lib/libz.so.1"}}}],
       "properties": {"QID": 1002, "vulnerableSoftware": [{"name": "zlib", "installedVersion": "1.2.11", "fixedVersion": "1.2.13"}]}},
      {"ruleId": "qid-1003", "level": "warning", "message": {"text": "busybox 1.35 is vulnerable"},
       "locations": [{"physicalLocation": {"artifactLocation": {"uri": "bin/busybox"}}}],
       "properties": {"QID": 1003, "vulnerableSoftware": [{"name": "busybox", "installedVersion": "1.35.0"}]}}
    ],
    "properties": {"imageName": "app", "repoTags": ["app:1.0"]}
  }]
}
"#;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut positional: Vec<String> = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if VALUE_FLAGS.contains(&a.as_str()) {
            let Some(v) = argv.get(i + 1) else {
                eprintln!("fake qscanner: {a} needs a value");
                std::process::exit(2);
            };
            flags.insert(a.clone(), v.clone());
            i += 2;
        } else if a == "--offline-scan" {
            flags.insert(a.clone(), "true".into());
            i += 1;
        } else if a.starts_with("--") {
            eprintln!("fake qscanner: unknown flag {a}");
            std::process::exit(2);
        } else {
            positional.push(a.clone());
            i += 1;
        }
    }
    let token = std::env::var("QUALYS_ACCESS_TOKEN").ok();
    if let Ok(record) = std::env::var("FAKE_QSCANNER_RECORD") {
        let line = serde_json::json!({
            "argv": argv,
            "token_set": token.as_deref().is_some_and(|t| !t.is_empty()),
            "https_proxy_set": std::env::var("HTTPS_PROXY").is_ok(),
            "pid": std::process::id(),
        });
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&record) {
            let _ = writeln!(f, "{line}");
        }
    }
    let [command, target] = positional.as_slice() else {
        eprintln!("fake qscanner: expected `image|repo|rootfs <target>`, got {positional:?}");
        std::process::exit(2);
    };
    if !["image", "repo", "rootfs"].contains(&command.as_str()) {
        eprintln!("fake qscanner: unknown command {command}");
        std::process::exit(2);
    }
    println!("fake qscanner: {command} {target} (pod {:?})", flags.get("--pod"));
    if std::env::var("FAKE_QSCANNER_ECHO_TOKEN").as_deref() == Ok("1") {
        if let Some(t) = &token {
            println!("debug: using token {t}");
            eprintln!("debug: Authorization: Bearer {t}");
        }
    }
    if let Some(n) = std::env::var("FAKE_QSCANNER_FLOOD").ok().and_then(|n| n.parse::<usize>().ok()) {
        if let Some(t) = &token {
            let mut out = std::io::stdout().lock();
            for _ in 0..n {
                let _ = out.write_all(t.as_bytes());
            }
            let _ = out.flush();
        }
    }
    if let Ok(names) = std::env::var("FAKE_QSCANNER_PRINT_ENV") {
        for name in names.split(',') {
            eprintln!("debug: {name}={}", std::env::var(name).unwrap_or_default());
        }
    }
    if let Ok(pid_file) = std::env::var("FAKE_QSCANNER_CHILD_PID_FILE") {
        match std::process::Command::new("sleep").arg("300").spawn() {
            Ok(child) => {
                let _ = std::fs::write(&pid_file, child.id().to_string());
            }
            Err(e) => eprintln!("fake qscanner: cannot start a child: {e}"),
        }
    }
    if let Some(secs) = std::env::var("FAKE_QSCANNER_SLEEP").ok().and_then(|s| s.parse::<f64>().ok()) {
        if secs > 0.0 && secs.is_finite() {
            std::thread::sleep(Duration::from_secs_f64(secs));
        }
    }
    let out_dir = PathBuf::from(flags.get("--output-dir").cloned().unwrap_or_else(|| ".".into()));
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("fake qscanner: cannot create {}: {e}", out_dir.display());
        std::process::exit(30);
    }
    let name: String = target
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_string();
    let name = if name.is_empty() { "scan".to_string() } else { name };
    let report_formats = flags.get("--report-format").cloned().unwrap_or_default();
    let formats = flags.get("--format").cloned().unwrap_or_default();
    let mode = flags.get("--mode").cloned().unwrap_or_else(|| "get-report".into());
    let write = |file: String, body: &str| {
        if let Err(e) = std::fs::write(out_dir.join(&file), body) {
            eprintln!("fake qscanner: cannot write {file}: {e}");
            std::process::exit(31);
        }
    };
    let wants_sarif = report_formats.split(',').any(|f| f == "sarif")
        && mode != "inventory-only"
        && std::env::var("FAKE_QSCANNER_NO_SARIF").as_deref() != Ok("1");
    if wants_sarif {
        let body = match std::env::var("FAKE_QSCANNER_SARIF") {
            Ok(path) => std::fs::read_to_string(&path).unwrap_or_else(|e| {
                eprintln!("fake qscanner: cannot read {path}: {e}");
                std::process::exit(32);
            }),
            Err(_) => BUILTIN_SARIF.to_string(),
        };
        write(format!("{name}-Report.sarif.json"), &body);
    }
    for f in formats.split(',') {
        match f {
            "json" => write(format!("{name}-ScanResult.json"), r#"{"scanType":"fake","packages":[]}"#),
            "spdx" => write(format!("{name}.spdx.json"), r#"{"spdxVersion":"SPDX-2.3","packages":[]}"#),
            "cyclonedx" => write(format!("{name}.cdx.json"), r#"{"bomFormat":"CycloneDX","components":[]}"#),
            _ => {}
        }
    }
    let code = std::env::var("FAKE_QSCANNER_EXIT").ok().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
    println!("fake qscanner: done, exit {code}");
    std::process::exit(code);
}

//! `--local`: the runner's in-process verdict is the verdict of `scangate process`.

mod scan_common;

use scan_common::*;
use std::path::{Path, PathBuf};

fn corpus(name: &str) -> PathBuf {
    let p = scangate_testkit::fixtures::corpus(name);
    assert!(p.is_file(), "corpus file missing: {}", p.display());
    p
}

/// The built-in SARIF of the fake scanner, written to a file.
fn builtin_sarif(dir: &Path) -> PathBuf {
    let sub = dir.join("builtin");
    let status = std::process::Command::new(fake_qscanner())
        .args(["--report-format", "sarif", "--output-dir"])
        .arg(&sub)
        .args(["image", "builtin"])
        .status()
        .expect("run fake");
    assert!(status.success());
    sub.join("builtin-Report.sarif.json")
}

fn process_verdict(dir: &Path, file: &Path, exit_code: i32, extra: &[&str]) -> (i32, serde_json::Value) {
    let code = exit_code.to_string();
    let mut args = vec!["process", "--format", "json", "--scanner-exit-code", &code];
    args.extend_from_slice(extra);
    let f = file.to_string_lossy().into_owned();
    args.push(&f);
    let out = run(dir, &args, &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    (out.code, v)
}

#[test]
fn local_verdict_equals_process_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builtin = builtin_sarif(dir.path());
    let qscanner_fixture = scangate_testkit::fixtures::path("qscanner-image.sarif");
    assert!(qscanner_fixture.is_file(), "{}", qscanner_fixture.display());
    let files =
        [builtin, qscanner_fixture, corpus("trivy-image-alpine-310.sarif"), corpus("grype-image-snapshot.sarif")];
    let gates: &[&[&str]] = &[&[], &["--max-critical", "-1"], &["--max-critical", "-1", "--max-high", "0"]];
    for file in &files {
        for scanner_exit in [0, 42, 43] {
            for gate in gates {
                for audit in ["false", "true"] {
                    let mut gate_args: Vec<&str> = gate.to_vec();
                    gate_args.extend_from_slice(&["--fail-on-policy-audit", audit]);
                    let (want_code, want) = process_verdict(dir.path(), file, scanner_exit, &gate_args);
                    let run_dir = tempfile::tempdir().expect("tempdir");
                    let code = scanner_exit.to_string();
                    let f = file.to_string_lossy().into_owned();
                    let mut args = vec!["image", "app:1", "--local"];
                    args.extend_from_slice(&gate_args);
                    let out = scan_with_fake(
                        run_dir.path(),
                        &args,
                        &[("FAKE_QSCANNER_EXIT", &code), ("FAKE_QSCANNER_SARIF", &f)],
                    );
                    let ctx = format!("{} exit {scanner_exit} gate {gate_args:?}", file.display());
                    assert_eq!(out.code, want_code, "{ctx}: {}", out.all());
                    let o = outputs(&outputs_file(run_dir.path()));
                    let c = &want["counts"];
                    assert_eq!(o["critical_count"], c["critical"].to_string(), "{ctx}");
                    assert_eq!(o["high_count"], c["high"].to_string(), "{ctx}");
                    assert_eq!(o["medium_count"], c["medium"].to_string(), "{ctx}");
                    assert_eq!(o["low_count"], c["low"].to_string(), "{ctx}");
                    assert_eq!(o["vulnerability_count"], c["total"].to_string(), "{ctx}");
                    assert_eq!(o["policy_result"], want["policy_result"].as_str().expect("policy"), "{ctx}");
                    assert_eq!(o["scan_passed"], want["passed"].to_string(), "{ctx}");
                    let junit = std::fs::read_to_string(work_dir(run_dir.path()).join("junit.xml")).expect("junit");
                    assert!(junit.contains("<testsuite"), "{ctx}: {junit}");
                    for reason in want["reasons"].as_array().expect("reasons") {
                        let r = reason.as_str().expect("reason");
                        assert!(out.stderr.contains(r), "{ctx}: reason {r:?} not printed: {}", out.all());
                    }
                }
            }
        }
    }
}

#[test]
fn scan_sarif_gates_another_scanners_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = corpus("trivy-image-alpine-310.sarif");
    let f = file.to_string_lossy().into_owned();
    let (want_code, want) = process_verdict(dir.path(), &file, 0, &[]);
    let out = run(dir.path(), &["scan", "sarif", &f, "--local"], &[]);
    assert_eq!(out.code, want_code, "{}", out.all());
    let o = outputs(&outputs_file(dir.path()));
    assert_eq!(o["sarif_path"], f);
    assert_eq!(o["critical_count"], want["counts"]["critical"].to_string());

    // Thresholds from the environment; a flag wins.
    let out = run(dir.path(), &["scan", "sarif", &f, "--local"], &[("MAX_CRITICAL", "-1")]);
    let (code_unlimited, _) = process_verdict(dir.path(), &file, 0, &["--max-critical", "-1"]);
    assert_eq!(out.code, code_unlimited, "{}", out.all());
    let out = run(dir.path(), &["scan", "sarif", &f, "--local", "--max-critical", "0"], &[("MAX_CRITICAL", "-1")]);
    assert_eq!(out.code, want_code, "{}", out.all());

    // The other scanner's exit code carries a policy result.
    let out =
        run(dir.path(), &["scan", "sarif", &f, "--local", "--max-critical", "-1", "--scanner-exit-code", "42"], &[]);
    assert_eq!(out.code, 42, "{}", out.all());
    assert!(out.stderr.contains("DENY"), "{}", out.all());
}

#[test]
fn scan_sarif_rejects_unreadable_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["scan", "sarif", "missing.sarif", "--local"], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("missing.sarif"), "{}", out.all());
    let bad = corpus("sarifsdk-INVALID-json-syntax-error.sarif");
    let out = run(dir.path(), &["scan", "sarif", &bad.to_string_lossy(), "--local"], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("JSON"), "{}", out.all());
}

#[test]
fn counts_are_output_without_local_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(dir.path(), &["image", "app:1"], &[]);
    assert_eq!(out.code, 0, "the scanner's code decides without --local: {}", out.all());
    let o = outputs(&outputs_file(dir.path()));
    assert_eq!(o["critical_count"], "1", "{o:?}");
    assert_eq!(o["high_count"], "1", "{o:?}");
    assert_eq!(o["medium_count"], "1", "{o:?}");
    assert_eq!(o["vulnerability_count"], "3", "{o:?}");
}

/// The runner's log (what CodeBuild shows) for a report full of terminal escapes, carriage
/// returns and bidi controls (`tests/fixtures/hostile-text.sarif`): reader warnings, the
/// verdict's reasons and warnings reach it through the sanitizer, so nothing in it can drive
/// the log viewer's terminal or reorder text.
#[test]
fn the_runner_log_carries_no_escape_from_report_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scangate_testkit::fixtures::path("hostile-text.sarif");
    let f = file.to_string_lossy().into_owned();
    let out = run(dir.path(), &["scan", "sarif", &f, "--local"], &[]);
    assert_eq!(out.code, 42, "{}", out.all());
    let log = out.all();
    let bad: Vec<char> = log.chars().filter(|&c| scangate_core::text::is_unsafe_char(c)).collect();
    assert!(bad.is_empty(), "{bad:?} in the runner's log:\n{log}");
    assert!(log.contains("the scan did not complete: ") && log.contains("engine failed"), "{log}");
    assert!(log.contains('\u{FFFD}'), "{log}");
}

/// docs/security.md, "A waiver or VEX document planted in the scanned checkout": the runner
/// reads no exceptions file, so waivers and VEX statements for the scan's own CVEs in the
/// conventional places of a checkout change neither the exit code nor the counts.
#[test]
fn a_waiver_or_vex_planted_in_the_checkout_changes_nothing() {
    let clean = tempfile::tempdir().expect("tempdir");
    let baseline = scan_with_fake(clean.path(), &["repo", "--local"], &[]);
    let planted = tempfile::tempdir().expect("tempdir");
    let expires = {
        let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    let waivers = ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"]
        .iter()
        .map(|id| {
            format!("  - id: {id}\n    scope:\n      path: \"**\"\n    reason: planted\n    owner: x\n    expires: {expires}\n")
        })
        .collect::<String>();
    let waivers = format!("schema: scangate.waivers.v1\nwaivers:\n{waivers}");
    let vex = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "author": "x", "timestamp": "2026-11-01T00:00:00Z",
        "statements": [{"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:generic/app"}],
        "status": "fixed"}]}"#;
    std::fs::create_dir_all(planted.path().join(".scangate")).expect("mkdir");
    std::fs::create_dir_all(planted.path().join("policy")).expect("mkdir");
    for (name, body) in [
        ("waivers.yaml", waivers.as_str()),
        ("waivers.json", "{}"),
        (".scangate/waivers.yaml", waivers.as_str()),
        ("policy/waivers.yaml", waivers.as_str()),
        ("vex.json", vex),
        ("policy/vex.json", vex),
        (".scangate/vex.json", vex),
    ] {
        std::fs::write(planted.path().join(name), body).expect("plant");
    }
    let out = scan_with_fake(planted.path(), &["repo", "--local"], &[]);
    assert_eq!(out.code, baseline.code, "{}\n{}", baseline.all(), out.all());
    assert_ne!(out.code, 0, "the fake's critical fails max_critical=0: {}", out.all());
    let (base, got) = (outputs(&outputs_file(clean.path())), outputs(&outputs_file(planted.path())));
    for k in ["vulnerability_count", "critical_count", "high_count", "medium_count", "scan_passed", "waived_count"] {
        assert_eq!(got[k], base[k], "{k}");
    }
    assert_eq!(got["critical_count"], "1");
    assert_eq!(got["waived_count"], "0", "nothing waived by the planted documents");
    assert!(!out.stderr.contains("waived"), "{}", out.all());
}

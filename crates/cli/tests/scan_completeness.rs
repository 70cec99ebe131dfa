//! Suppressions and incomplete scans: `scangate process` and the runner's `--local` agree on suppressed results and on
//! scans that did not complete (the report-processor's side: functions/report-processor/tests/lifecycle.rs).

mod scan_common;

use scan_common::*;
use scangate_testkit::fixtures::corpus;
use std::path::Path;

fn process(dir: &Path, file: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let f = file.to_string_lossy().into_owned();
    let mut args = vec!["process", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(&f);
    let out = run(dir, &args, &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    (out.code, v)
}

/// (corpus file, gate args, runner environment, expected exit, expected suppressed, incomplete?)
type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], i32, u64, bool);

#[test]
fn process_and_local_agree_on_suppressions_and_incomplete_scans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[Case] = &[
        ("snyk-code-acceptance-large.sarif", &["--max-high", "3"], &[], 0, 2, false),
        ("snyk-code-acceptance-large.sarif", &["--max-high", "2"], &[], 42, 2, false),
        ("codeql-javascript-juice-shop-3mb.sarif", &["--max-critical", "-1", "--max-high", "-1"], &[], 42, 0, true),
        (
            "codeql-javascript-juice-shop-3mb.sarif",
            &["--max-critical", "-1", "--max-high", "-1", "--accept-incomplete-scan=true"],
            &[],
            0,
            0,
            true,
        ),
        (
            "codeql-javascript-juice-shop-3mb.sarif",
            &["--max-critical", "-1", "--max-high", "-1"],
            &[("ACCEPT_INCOMPLETE_SCAN", "true")],
            0,
            0,
            true,
        ),
    ];
    for (name, gate, env, want_code, suppressed, incomplete) in cases {
        let file = corpus(name);
        let ctx = format!("{name} {gate:?} {env:?}");
        let mut process_env_args: Vec<&str> = gate.to_vec();
        if env.iter().any(|(k, _)| *k == "ACCEPT_INCOMPLETE_SCAN") {
            process_env_args.push("--accept-incomplete-scan");
        }
        let (code, v) = process(dir.path(), &file, &process_env_args);
        assert_eq!(code, *want_code, "{ctx}: process {v}");
        assert_eq!(v["suppressed"], *suppressed, "{ctx}");
        assert_eq!(v.get("incomplete").is_some(), *incomplete, "{ctx}");
        if *incomplete && *want_code != 0 {
            assert!(v["reasons"][0].as_str().is_some_and(|r| r.contains("the scan did not complete")), "{ctx}: {v}");
        }
        let run_dir = tempfile::tempdir().expect("tempdir");
        let f = file.to_string_lossy().into_owned();
        let mut args = vec!["image", "app:1", "--local"];
        args.extend_from_slice(gate);
        let mut fake_env: Vec<(&str, &str)> = vec![("FAKE_QSCANNER_EXIT", "0"), ("FAKE_QSCANNER_SARIF", &f)];
        fake_env.extend_from_slice(env);
        let out = scan_with_fake(run_dir.path(), &args, &fake_env);
        assert_eq!(out.code, *want_code, "{ctx}: --local {}", out.all());
        for reason in v["reasons"].as_array().expect("reasons") {
            let r = reason.as_str().expect("reason");
            assert!(out.stderr.contains(r), "{ctx}: reason {r:?} not printed: {}", out.all());
        }
    }
}

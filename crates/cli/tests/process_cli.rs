//! `scangate process` end to end: the real binary, real files, exit codes and outputs.

use scangate_testkit::fixtures::{self, corpus};
use std::process::{Command, Output, Stdio};

/// Runs scangate with a clean threshold environment (no MAX_* or FAIL_ON_* leaking in).
fn scangate(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scangate"));
    for var in [
        "MAX_CRITICAL",
        "MAX_HIGH",
        "MAX_MEDIUM",
        "MAX_LOW",
        "FAIL_ON_POLICY_DENY",
        "FAIL_ON_POLICY_AUDIT",
        "SCANGATE_ACCOUNT_ID",
        "SCANGATE_PROJECT",
        "AWS_REGION",
        "FAIL_ONLY_FIXABLE",
        "HONOR_SUPPRESSIONS",
        "WAIVER_MAX_DAYS",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied()).args(args).stdin(Stdio::null());
    cmd.output().expect("run scangate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FIXED_TIME: &str = "2026-11-23T08:00:00Z";

#[test]
fn qscanner_fixture_fails_with_default_thresholds() {
    let f = fixtures::path("qscanner-image.sarif");
    let out = scangate(&["process", f.to_str().expect("utf8 path")], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(42), "stdout:\n{stdout}\nstderr:\n{}", text(&out.stderr));
    assert!(stdout.contains("Verdict: FAILED"), "{stdout}");
    assert!(stdout.contains("exceed max_critical=0"), "{stdout}");
    assert!(stdout.contains("Cloud policy: DENY"), "{stdout}");
    assert!(stdout.contains("Worst findings"), "{stdout}");
}

#[test]
fn thresholds_and_policy_flags_can_pass_the_gate() {
    let f = fixtures::path("qscanner-image.sarif");
    let f = f.to_str().expect("utf8 path");
    let out = scangate(&["process", "--max-critical", "-1", "--fail-on-policy-deny", "false", f], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("Verdict: PASSED"));
    // The same through the environment a buildspec would set.
    let out = scangate(&["process", f], &[("MAX_CRITICAL", "-1"), ("FAIL_ON_POLICY_DENY", "false")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // A flag wins over its variable.
    let out =
        scangate(&["process", "--max-critical", "0", f], &[("MAX_CRITICAL", "-1"), ("FAIL_ON_POLICY_DENY", "false")]);
    assert_eq!(out.status.code(), Some(42), "{}", text(&out.stdout));
}

#[test]
fn scanner_exit_code_43_is_audit_and_fails_only_when_asked() {
    let f = fixtures::path("qscanner-repo.sarif");
    let f = f.to_str().expect("utf8 path");
    let base = ["process", "--max-critical", "-1", "--scanner-exit-code", "43"];
    let out = scangate(&[&base[..], &[f]].concat(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("AUDIT"));
    let out = scangate(&[&base[..], &["--fail-on-policy-audit", "true", f]].concat(), &[]);
    assert_eq!(out.status.code(), Some(42), "{}", text(&out.stdout));
    let out = scangate(&["process", "--max-critical", "-1", "--scanner-exit-code", "42", f], &[]);
    assert_eq!(out.status.code(), Some(42), "{}", text(&out.stdout));
}

#[test]
fn json_format_prints_the_verdict_contract() {
    let f = fixtures::path("qscanner-image.sarif");
    let out = scangate(&["process", "--format", "json", "--timestamp", FIXED_TIME, f.to_str().expect("utf8")], &[]);
    assert_eq!(out.status.code(), Some(42));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["schema"], "scangate.verdict.v1");
    assert_eq!(v["passed"], false);
    assert_eq!(v["policy_result"], "DENY");
    assert_eq!(v["processed_at"], "2026-11-23T08:00:00.000Z");
    assert!(v["counts"]["critical"].as_u64().expect("count") >= 2);
    let c = &v["counts"];
    let sum: u64 =
        ["critical", "high", "medium", "low", "informational"].iter().map(|k| c[k].as_u64().unwrap_or(0)).sum();
    assert_eq!(Some(sum), c["total"].as_u64());
}

#[test]
fn output_files_are_written_and_consistent() {
    let dir = std::env::temp_dir().join(format!("scangate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let (asff, junit, verdict, summary) =
        (dir.join("asff.json"), dir.join("junit.xml"), dir.join("verdict.json"), dir.join("summary.md"));
    let f = fixtures::path("qscanner-image.sarif");
    let out = scangate(
        &[
            "process",
            "--format",
            "json",
            "--account-id",
            "123456789012",
            "--region",
            "eu-west-1",
            "--asff",
            asff.to_str().expect("utf8"),
            "--junit",
            junit.to_str().expect("utf8"),
            "--verdict",
            verdict.to_str().expect("utf8"),
            "--summary",
            summary.to_str().expect("utf8"),
            f.to_str().expect("utf8"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(42), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&verdict).expect("verdict file")).expect("json");
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v, printed, "--verdict file and --format json agree");
    let findings: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&asff).expect("asff file")).expect("asff is a JSON array");
    assert_eq!(findings.len() as u64, v["counts"]["total"].as_u64().expect("total"));
    for finding in &findings {
        assert_eq!(finding["AwsAccountId"], "123456789012");
        assert_eq!(finding["ProductArn"], "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default");
    }
    let xml = std::fs::read_to_string(&junit).expect("junit file");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("max_critical"), "{xml}");
    let md = std::fs::read_to_string(&summary).expect("summary file");
    assert!(md.contains("FAILED"), "{md}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn standard_input_is_read_with_dash() {
    let bytes = std::fs::read(fixtures::path("qscanner-image.sarif")).expect("fixture");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scangate"))
        .args(["process", "--format", "json", "-"])
        .env_remove("MAX_CRITICAL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&bytes).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(42), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["report"]["key"], "-");
}

#[test]
fn files_are_deduplicated_together() {
    let f = fixtures::path("qscanner-image.sarif");
    let f = f.to_str().expect("utf8");
    let one = scangate(&["process", "--format", "json", f], &[]);
    let twice = scangate(&["process", "--format", "json", f, f], &[]);
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).expect("json");
    let twice: serde_json::Value = serde_json::from_slice(&twice.stdout).expect("json");
    assert_eq!(one["counts"], twice["counts"], "the same report twice counts once");
}

#[test]
fn broken_json_is_exit_2_with_file_line_and_column() {
    let f = corpus("sarifsdk-INVALID-json-syntax-error.sarif");
    let out = scangate(&["process", f.to_str().expect("utf8")], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sarifsdk-INVALID-json-syntax-error.sarif"), "{stderr}");
    assert!(stderr.contains("line") && stderr.contains("column"), "{stderr}");
}

#[test]
fn json_that_is_not_sarif_is_exit_2_and_says_what_is_missing() {
    let dir = std::env::temp_dir().join(format!("scangate-notsarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let f = dir.join("package.json");
    std::fs::write(&f, br#"{"name": "not-a-report", "dependencies": {}}"#).expect("write");
    let out = scangate(&["process", f.to_str().expect("utf8")], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("package.json") && stderr.contains("runs"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_parameters_are_exit_2() {
    let f = fixtures::path("qscanner-image.sarif");
    let f = f.to_str().expect("utf8");
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["process", "--max-high", "-5", f], &[], "-1"),
        (&["process", "--max-high", "lots", f], &[], "integer"),
        (&["process", f], &[("MAX_LOW", "x")], "integer"),
        (&["process", "--fail-on-policy-deny=maybe", f], &[], "true or false"),
        // not a boolean word: a bare --fail-on-policy-deny, and "maybe" is a file that does not exist
        (&["process", "--fail-on-policy-deny", "maybe", f], &[], "maybe: cannot read"),
        (&["process", "--account-id", "12", f], &[], "12-digit"),
        (&["process", "/nonexistent/report.sarif"], &[], "/nonexistent/report.sarif"),
        (&["process", "--junit", "/nonexistent/dir/junit.xml", f], &[], "--junit"),
        (&["process", "-", "-"], &[], "only once"),
        (&["process"], &[], "FILE"),
    ];
    for (args, envs, needle) in cases {
        let out = scangate(args, envs);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in {stderr}");
    }
}

#[test]
fn help_explains_exit_codes_and_thresholds() {
    let out = scangate(&["process", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in ["MAX_CRITICAL", "FAIL_ON_POLICY_DENY", "-1 means unlimited", "42 gate failed", "--asff", "--junit"] {
        assert!(help.contains(needle), "help lacks {needle:?}");
    }
}

#[test]
fn code_scanning_sarif_is_one_run_with_the_target_category() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("code-scanning.sarif");
    let f = fixtures::path("qscanner-image.sarif");
    let out = scangate(
        &["process", "--code-scanning-sarif", out_path.to_str().expect("utf8"), f.to_str().expect("utf8 path")],
        &[],
    );
    assert_eq!(out.status.code(), Some(42), "the gate still decides the exit: {}", text(&out.stderr));
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).expect("written")).expect("code scanning SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let category = runs[0]["automationDetails"]["id"].as_str().expect("category");
    assert!(category.starts_with("scangate/image/") && category.ends_with('/'), "{category}");
    assert!(!runs[0]["results"].as_array().expect("results").is_empty());
    let custom = scangate(
        &[
            "process",
            "--code-scanning-sarif",
            out_path.to_str().expect("utf8"),
            "--category",
            "scangate/custom/",
            f.to_str().expect("utf8 path"),
        ],
        &[],
    );
    assert_eq!(custom.status.code(), Some(42));
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_path).expect("written")).expect("json");
    assert_eq!(sarif["runs"][0]["automationDetails"]["id"], "scangate/custom/");
}

#[test]
fn gitlab_report_names_the_target_and_the_processing_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("gl-container-scanning-report.json");
    let f = fixtures::path("qscanner-image.sarif");
    let out = scangate(
        &[
            "process",
            "--gitlab-report",
            out_path.to_str().expect("utf8"),
            "--target",
            "registry.example/app:1",
            "--timestamp",
            "2026-03-04T05:06:07.890+01:00",
            f.to_str().expect("utf8 path"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(42), "the gate still decides the exit: {}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).expect("written")).expect("the report is JSON");
    assert_eq!(report["version"], "15.2.1");
    assert_eq!(report["scan"]["end_time"], "2026-03-04T04:06:07", "UTC, second precision");
    assert_eq!(report["scan"]["scanner"]["name"], "QScanner");
    let vulns = report["vulnerabilities"].as_array().expect("vulnerabilities");
    assert!(!vulns.is_empty());
    assert!(vulns.iter().all(|v| v["location"]["image"] == "registry.example/app:1"));
}

#[test]
fn quality_findings_reach_the_asff_only_when_gated() {
    // The entry point relies on evaluation to take quality findings out of its outputs.
    let dir = std::env::temp_dir().join(format!("scangate-cli-quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let asff = dir.join("asff.json");
    let f = corpus("ruff-builtins-own-input.sarif");
    let run = |mode: &str| -> Vec<serde_json::Value> {
        let out = scangate(
            &[
                "process",
                "--format",
                "json",
                "--quality-findings",
                mode,
                "--asff",
                asff.to_str().expect("utf8"),
                f.to_str().expect("utf8"),
            ],
            &[],
        );
        assert!(matches!(out.status.code(), Some(0 | 42)), "{mode}: {}", text(&out.stderr));
        serde_json::from_slice(&std::fs::read(&asff).expect("asff file")).expect("asff is a JSON array")
    };
    assert!(run("report").is_empty(), "reported quality findings are not for Security Hub");
    assert!(run("ignore").is_empty());
    let gated = run("gate");
    assert!(!gated.is_empty(), "gated quality findings are");
    assert!(gated.iter().all(|f| f["Types"][0] == "Software and Configuration Checks/Code Quality"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `--waivers` and `--vex` offline: a waiver for this image's log4j CVE lets a max-critical-1
/// gate pass until its last day, and the day after the findings count again; a document
/// with an unscoped waiver is refused naming the file and the JSON path.
#[test]
fn waivers_offline_pass_until_expiry_and_bad_documents_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let waivers = dir.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "schema: scangate.waivers.v1\nwaivers:\n  - id: CVE-2021-44228\n    scope: {image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web}\n    reason: not reachable\n    owner: appsec@example.com\n    expires: 2026-12-10\n",
    )
    .expect("write");
    let f = fixtures::path("qscanner-image.sarif");
    let f = f.to_str().expect("utf8 path");
    let w = waivers.to_str().expect("utf8 path");
    let run = |timestamp: &str| {
        scangate(
            &[
                "process",
                "--max-critical",
                "1",
                "--fail-on-policy-deny=false",
                "--waivers",
                w,
                "--format",
                "json",
                "--timestamp",
                timestamp,
                f,
            ],
            &[],
        )
    };
    let out = run("2026-12-10T23:00:00Z");
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verdict JSON");
    assert_eq!(v["waived"]["critical"], 2);
    assert_eq!(v["exceptions"]["applied"][0]["reference"], "waivers[0]");
    assert_eq!(v["exceptions"]["documents"][0]["sha256"].as_str().map(str::len), Some(64));
    let out = run("2026-12-11T00:00:01Z");
    assert_eq!(out.status.code(), Some(42), "the day after expiry the findings count again");

    std::fs::write(&waivers, "schema: scangate.waivers.v1\nwaivers:\n  - id: CVE-1\n    scope: {}\n    reason: r\n    owner: o\n    expires: 2026-12-10\n").expect("write");
    let out = run("2026-12-01T00:00:00Z");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("waivers.yaml: at $.waivers[0].scope: an unscoped waiver is refused"), "{err}");
}

/// `--fixable-only` / FAIL_ONLY_FIXABLE: only findings with a fixed version count.
#[test]
fn fixable_only_flag_and_variable() {
    let f = corpus("trivy-image-ghas-test.sarif");
    let f = f.to_str().expect("utf8 path");
    let v = |out: &Output| -> serde_json::Value { serde_json::from_slice(&out.stdout).expect("verdict JSON") };
    let base = ["process", "--max-critical=-1", "--format", "json"];
    let all = scangate(&[&base[..], &[f]].concat(), &[]);
    let flag = scangate(&[&base[..], &["--fixable-only", f]].concat(), &[]);
    let var = scangate(&[&base[..], &[f]].concat(), &[("FAIL_ONLY_FIXABLE", "true")]);
    assert_eq!(v(&all)["counts"]["total"], 21);
    assert_eq!(v(&all)["not_fixable"]["total"], 5);
    assert_eq!(v(&all)["fixable_only"], false);
    for out in [&flag, &var] {
        assert_eq!(v(out)["counts"]["total"], 16);
        assert_eq!(v(out)["fixable_only"], true);
    }
}

/// `--honor-suppressions` / HONOR_SUPPRESSIONS: a critical finding the scanned repository
/// suppressed itself (`inSource`, `# nosec`) fails the gate by default and is in --asff as a
/// finding that claimed a suppression; with `all` it is suppressed (verdict `suppressed`),
/// not counted, and still in --asff, ACTIVE, with its severity and justification.
#[test]
fn in_source_suppressions_count_unless_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sarif = dir.path().join("semgrep.sarif");
    std::fs::write(
        &sarif,
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep","rules":[{"id":"python.exec"}]}},"results":[
          {"ruleId":"python.exec","level":"error","properties":{"security-severity":"9.8"},"message":{"text":"exec of user input"},
           "locations":[{"physicalLocation":{"artifactLocation":{"uri":"app.py"},"region":{"startLine":7}}}],
           "suppressions":[{"kind":"inSource","justification":"nosec: trust me"}]}]}]}"#,
    )
    .expect("write");
    let f = sarif.to_str().expect("utf8 path");
    let asff = dir.path().join("asff.json");
    let a = asff.to_str().expect("utf8 path");
    let run = |extra: &[&str], envs: &[(&str, &str)]| {
        let out = scangate(&[&["process", "--format", "json", "--asff", a][..], extra, &[f]].concat(), envs);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verdict JSON");
        let hub: serde_json::Value = serde_json::from_slice(&std::fs::read(&asff).expect("asff")).expect("ASFF JSON");
        (out.status.code(), v, hub)
    };
    for (extra, envs) in [(&[][..], &[][..]), (&["--honor-suppressions", "external"][..], &[][..])] {
        let (code, v, hub) = run(extra, envs);
        assert_eq!(code, Some(42), "{v}");
        assert_eq!((v["counts"]["critical"].as_u64(), v["suppressed"].as_u64()), (Some(1), Some(0)), "{v}");
        assert_eq!((v["suppressions_ignored"].as_u64(), v["honor_suppressions"].as_str()), (Some(1), Some("external")));
        assert_eq!(hub.as_array().map(Vec::len), Some(1), "{hub}");
        assert_eq!(hub[0]["ProductFields"]["scangate/Suppressed"], "false", "{hub}");
        assert_eq!(hub[0]["ProductFields"]["scangate/SuppressionKinds"], "inSource", "{hub}");
    }
    for (extra, envs) in
        [(&["--honor-suppressions", "all"][..], &[][..]), (&[][..], &[("HONOR_SUPPRESSIONS", "all")][..])]
    {
        let (code, v, hub) = run(extra, envs);
        assert_eq!(code, Some(0), "{v}");
        assert_eq!((v["counts"]["critical"].as_u64(), v["suppressed"].as_u64()), (Some(0), Some(1)), "{v}");
        assert_eq!(v["honor_suppressions"], "all");
        assert_eq!(hub.as_array().map(Vec::len), Some(1), "suppressed, still imported: {hub}");
        let f = &hub[0];
        assert_eq!((f["RecordState"].as_str(), f["Severity"]["Label"].as_str()), (Some("ACTIVE"), Some("CRITICAL")));
        assert_eq!(f["ProductFields"]["scangate/Suppressed"], "true", "{f}");
        assert_eq!(f["ProductFields"]["scangate/SuppressionJustification"], "nosec: trust me", "{f}");
    }
    let (code, v, _) = run(&["--honor-suppressions", "none"], &[]);
    assert_eq!((code, v["suppressions_ignored"].as_u64()), (Some(42), Some(1)));
    let out = scangate(&["process", "--honor-suppressions", "insource", f], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected none, external or all"), "{}", text(&out.stderr));
}

/// The attack: a finding the security team waived gains an `inSource` suppression (`# nosec`)
/// the default does not honour. It must be waived exactly as without the comment (before, the
/// comment took its waiver away and failed the gate); with `all` it is suppressed instead.
#[test]
fn a_nosec_comment_does_not_take_a_waiver_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let waivers = dir.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "schema: scangate.waivers.v1\nwaivers:\n  - id: python.exec\n    scope: {path: app.py}\n    reason: input is a constant\n    owner: appsec@example.com\n    expires: 2026-12-10\n",
    )
    .expect("write");
    let sarif = |suppressions: &str| {
        format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"semgrep","rules":[{{"id":"python.exec"}}]}}}},"results":[
              {{"ruleId":"python.exec","level":"error","properties":{{"security-severity":"9.8"}},"message":{{"text":"exec of user input"}},
               "locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"app.py"}},"region":{{"startLine":7}}}}}}]{suppressions}}}]}}]}}"#
        )
    };
    let plain = dir.path().join("plain.sarif");
    std::fs::write(&plain, sarif("")).expect("write");
    let nosec = dir.path().join("nosec.sarif");
    std::fs::write(&nosec, sarif(r#","suppressions":[{"kind":"inSource","justification":"nosec"}]"#)).expect("write");
    let asff = dir.path().join("asff.json");
    let run = |file: &std::path::Path, mode: &str| {
        let args = [
            "process",
            "--format",
            "json",
            "--timestamp",
            FIXED_TIME,
            "--waivers",
            waivers.to_str().expect("utf8 path"),
            "--honor-suppressions",
            mode,
            "--asff",
            asff.to_str().expect("utf8 path"),
            file.to_str().expect("utf8 path"),
        ];
        let out = scangate(&args, &[]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verdict JSON");
        let hub: serde_json::Value = serde_json::from_slice(&std::fs::read(&asff).expect("asff")).expect("ASFF JSON");
        (out.status.code(), v, hub)
    };
    for mode in ["external", "none"] {
        let (code, v, hub) = run(&nosec, mode);
        let (want_code, want, want_hub) = run(&plain, mode);
        assert_eq!((code, want_code), (Some(0), Some(0)), "{mode}: {v}");
        for field in ["counts", "waived", "passed", "reasons", "exceptions"] {
            assert_eq!(v[field], want[field], "{mode}: {field}");
        }
        assert_eq!((v["waived"]["critical"].as_u64(), v["suppressions_ignored"].as_u64()), (Some(1), Some(1)), "{v}");
        let fields = &hub[0]["ProductFields"];
        assert_eq!(fields["scangate/ExceptionId"], "python.exec", "{hub}");
        assert_eq!(fields["scangate/ExceptionId"], want_hub[0]["ProductFields"]["scangate/ExceptionId"]);
        assert_eq!(fields["scangate/Suppressed"], "false", "{hub}");
    }
    let (code, v, hub) = run(&nosec, "all");
    assert_eq!(code, Some(0), "{v}");
    assert_eq!((v["suppressed"].as_u64(), v["waived"]["total"].as_u64()), (Some(1), Some(0)), "{v}");
    assert_eq!(hub[0]["ProductFields"]["scangate/Suppressed"], "true", "{hub}");
}

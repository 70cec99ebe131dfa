//! The runner against moto: uploads with SSE-KMS and metadata, `--wait`, the token from Secrets Manager.

mod scan_common;

use scan_common::*;
use scangate_testkit::{unique_bucket, Moto};
use std::path::Path;
use std::time::{Duration, Instant};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let config = rt().block_on(moto.sdk_config());
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build())
}

fn create_bucket(moto: &Moto) -> String {
    let bucket = unique_bucket("qualys-reports");
    rt().block_on(s3(moto).create_bucket().bucket(&bucket).send()).expect("create bucket");
    bucket
}

fn put(moto: &Moto, bucket: &str, key: &str, body: &[u8]) {
    rt().block_on(s3(moto).put_object().bucket(bucket).key(key).body(body.to_vec().into()).send())
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

fn exists(moto: &Moto, bucket: &str, key: &str) -> bool {
    rt().block_on(s3(moto).head_object().bucket(bucket).key(key).send()).is_ok()
}

fn moto_env(moto: &Moto) -> Vec<(&'static str, String)> {
    moto.env()
}

/// Runs the fake-QScanner scan with moto's environment plus `env`.
fn scan_aws(dir: &Path, moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> Output {
    let base = moto_env(moto);
    let mut all: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(env);
    scan_with_fake(dir, args, &all)
}

/// Scans `app:1.0` of project `p`, build `build_id`, waiting up to 30 s for the verdict and handing the
/// JUnit on to `reports/junit.xml` in a new work directory (returned, with the run).
fn wait_for_verdict(moto: &Moto, bucket: &str, build_id: &str) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_aws(
        dir.path(),
        moto,
        &["image", "app:1.0", "--bucket", bucket, "--wait=30", "--junit-path", "reports/junit.xml"],
        &[("SCANGATE_PROJECT", "p"), ("SCANGATE_BUILD_ID", build_id)],
    );
    (dir, out)
}

/// A verdict document as the report-processor writes it.
fn verdict_json(report_key: &str, passed: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schema": "scangate.verdict.v1",
        "passed": passed,
        "reasons": if passed { vec![] } else { vec!["1 critical finding exceeds max_critical=0"] },
        "counts": {"critical": if passed {0} else {1}, "high": 2, "medium": 3, "low": 4, "informational": 0, "total": if passed {9} else {10}},
        "thresholds": {"max_critical": 0, "max_high": -1, "max_medium": -1, "max_low": -1},
        "policy_result": "NONE",
        "report": {"bucket": null, "key": report_key, "version_id": null, "etag": null},
        "target": "app:1.0",
        "scanner": {"name": "QScanner"},
        "build": null,
        "findings_imported": 10,
        "findings_archived": 0,
        "processed_at": "2026-11-23T09:00:00.000Z"
    }))
    .expect("serialize verdict")
}

/// The verdict naming the JUnit and summary the processor wrote beside it (their SHA-256).
fn naming(verdict: Vec<u8>, junit: &[u8], summary: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&verdict).expect("verdict json");
    v["junit_sha256"] = scangate_core::verdict::content_sha256(junit).into();
    v["summary_sha256"] = scangate_core::verdict::content_sha256(summary).into();
    serde_json::to_vec(&v).expect("serialize verdict")
}

#[test]
fn uploads_reports_with_sse_kms_and_metadata() {
    let moto = Moto::shared();
    let bucket = create_bucket(moto);
    let key_arn = moto.create_kms_key();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_aws(
        dir.path(),
        moto,
        &["image", "app:1.0", "--bucket", &bucket, "--kms-key-id", &key_arn, "--max-high", "5"],
        &[
            ("CODEBUILD_BUILD_ID", "qualys-codebuild-image-us-east-1:8d1e-42"),
            (
                "CODEBUILD_BUILD_ARN",
                "arn:aws:codebuild:us-east-1:123456789012:build/qualys-codebuild-image-us-east-1:8d1e-42",
            ),
            ("CODEBUILD_INITIATOR", "codepipeline/release"),
            ("CODEBUILD_RESOLVED_SOURCE_VERSION", "0123abcd"),
            ("CODEBUILD_SOURCE_REPO_URL", "https://git.example/app.git"),
            ("SCANGATE_PIPELINE_EXECUTION_ID", "exec-77"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let prefix = "scans/qualys-codebuild-image-us-east-1/8d1e-42/";
    let client = s3(moto);
    let listed = rt().block_on(client.list_objects_v2().bucket(&bucket).prefix(prefix).send()).expect("list");
    let mut keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            format!("{prefix}app_1.0-ScanResult.json"),
            format!("{prefix}app_1.0.spdx.json"),
            format!("{prefix}report.sarif"),
        ]
    );
    let head =
        rt().block_on(client.head_object().bucket(&bucket).key(format!("{prefix}report.sarif")).send()).expect("head");
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    let kms = head.ssekms_key_id().expect("SSE-KMS key id on the object");
    let key_id = key_arn.rsplit('/').next().expect("key id in the ARN");
    assert!(kms == key_arn || kms.ends_with(&format!("/{key_id}")), "{kms} vs {key_arn}");
    let meta = head.metadata().expect("metadata");
    let m = |k: &str| meta.get(k).map(String::as_str);
    assert_eq!(m("scangate-target"), Some("app:1.0"));
    assert_eq!(m("scangate-scan-type"), Some("image"));
    assert_eq!(m("scangate-scanner-exit-code"), Some("0"));
    assert_eq!(
        m("scangate-build-arn"),
        Some("arn:aws:codebuild:us-east-1:123456789012:build/qualys-codebuild-image-us-east-1:8d1e-42")
    );
    assert_eq!(m("scangate-pipeline"), Some("release"));
    assert_eq!(m("scangate-pipeline-execution-id"), Some("exec-77"));
    assert_eq!(m("scangate-max-high"), Some("5"));
    assert_eq!(m("scangate-max-critical"), None, "only thresholds the user set are overrides");
    assert_eq!(m("scangate-source-version"), Some("0123abcd"));
    assert_eq!(m("scangate-source-repo-url"), Some("https://git.example/app.git"));
    let at = m("scangate-scanned-at").expect("scanned-at");
    assert!(time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(), "{at}");
    let o = outputs(&outputs_file(dir.path()));
    assert_eq!(o["verdict_key"], "results/qualys-codebuild-image-us-east-1/8d1e-42/verdict.json");
}

#[test]
fn scan_sarif_uploads_another_scanners_report() {
    let moto = Moto::shared();
    let bucket = create_bucket(moto);
    let dir = tempfile::tempdir().expect("tempdir");
    let sarif = dir.path().join("grype.sarif");
    std::fs::write(&sarif, r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"grype"}},"results":[]}]}"#)
        .expect("write");
    let env = moto_env(moto);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(&[("SCANGATE_PROJECT", "web"), ("SCANGATE_BUILD_ID", "b-1")]);
    let out = run(
        dir.path(),
        &["scan", "sarif", &sarif.to_string_lossy(), "--bucket", &bucket, "--target", "https://git.example/web.git"],
        &all,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let head = rt()
        .block_on(s3(moto).head_object().bucket(&bucket).key("scans/web/b-1/report.sarif").send())
        .expect("uploaded");
    let meta = head.metadata().expect("metadata");
    assert_eq!(meta.get("scangate-scan-type").map(String::as_str), Some("other"));
    assert_eq!(meta.get("scangate-target").map(String::as_str), Some("https://git.example/web.git"));
}

#[test]
fn wait_with_the_verdict_present() {
    let moto = Moto::shared();
    let bucket = create_bucket(moto);
    let (junit, summary): (&[u8], &[u8]) = (
        b"<testsuites><testsuite name=\"scangate\"/></testsuites>",
        b"# scangate verdict: FAILED (from the processor)",
    );
    let verdict = naming(verdict_json("scans/p/b-present/report.sarif", false), junit, summary);
    put(moto, &bucket, "results/p/b-present/verdict.json", &verdict);
    put(moto, &bucket, "results/p/b-present/junit.xml", junit);
    put(moto, &bucket, "results/p/b-present/summary.md", summary);
    let (dir, out) = wait_for_verdict(moto, &bucket, "b-present");
    assert_eq!(out.code, 42, "{}", out.all());
    assert!(out.stderr.contains("FAILED (from the processor)"), "summary printed: {}", out.all());
    assert!(out.stderr.contains("1 critical finding exceeds max_critical=0"), "{}", out.all());
    let junit = std::fs::read_to_string(dir.path().join("reports/junit.xml")).expect("junit downloaded");
    assert!(junit.contains("<testsuite name=\"scangate\"/>"));
    let o = outputs(&outputs_file(dir.path()));
    assert_eq!(o["scan_passed"], "false");
    assert_eq!(o["critical_count"], "1", "counts come from the processor's verdict: {o:?}");
    assert_eq!(o["vulnerability_count"], "10");
    assert_eq!(o["verdict_key"], "results/p/b-present/verdict.json");
}

#[test]
fn wait_for_a_verdict_arriving_late() {
    let moto = Moto::shared();
    let bucket = create_bucket(moto);
    let dir = tempfile::tempdir().expect("tempdir");
    // Play the processor: once the report is uploaded, write the verdict a little later.
    let writer = {
        let bucket = bucket.clone();
        std::thread::spawn(move || {
            let moto = Moto::shared();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !exists(moto, &bucket, "scans/p/b-late/report.sarif") {
                assert!(Instant::now() < deadline, "the runner never uploaded the report");
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(1500));
            put(moto, &bucket, "results/p/b-late/junit.xml", b"<testsuites/>");
            let verdict = naming(verdict_json("scans/p/b-late/report.sarif", true), b"<testsuites/>", b"# summary");
            put(moto, &bucket, "results/p/b-late/verdict.json", &verdict);
        })
    };
    let out = scan_aws(
        dir.path(),
        moto,
        &["image", "app:1.0", "--bucket", &bucket],
        &[("SCANGATE_PROJECT", "p"), ("SCANGATE_BUILD_ID", "b-late"), ("SCANGATE_WAIT", "60")],
    );
    writer.join().expect("writer thread");
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("verdict arrived"), "{}", out.all());
    assert_eq!(std::fs::read_to_string(work_dir(dir.path()).join("junit.xml")).expect("junit"), "<testsuites/>");
}

#[test]
fn attack_a_junit_and_summary_rewritten_after_the_verdict_are_not_handed_on() {
    // The processor wrote the JUnit and summary of this report, then the verdict naming them; afterwards
    // someone (or a later report of the same folder) writes a new version of both: a passing JUnit over
    // a failed verdict. The runner hands the buildspec nothing but the verdict's own files.
    let moto = Moto::shared();
    let bucket = create_bucket(moto);
    let (junit, summary): (&[u8], &[u8]) =
        (b"<testsuites><testsuite name=\"scangate\" failures=\"1\"/></testsuites>", b"# scangate verdict: FAILED");
    let verdict = naming(verdict_json("scans/p/b-tampered/report.sarif", false), junit, summary);
    put(moto, &bucket, "results/p/b-tampered/junit.xml", junit);
    put(moto, &bucket, "results/p/b-tampered/summary.md", summary);
    put(moto, &bucket, "results/p/b-tampered/verdict.json", &verdict);
    let forged_junit = b"<testsuites><testsuite name=\"scangate\" failures=\"0\"/></testsuites>";
    put(moto, &bucket, "results/p/b-tampered/junit.xml", forged_junit);
    put(moto, &bucket, "results/p/b-tampered/summary.md", b"# scangate verdict: PASSED (forged)");
    let (dir, out) = wait_for_verdict(moto, &bucket, "b-tampered");
    assert_eq!(out.code, 42, "the verdict decides: {}", out.all());
    assert!(!dir.path().join("reports/junit.xml").exists(), "the rewritten JUnit was handed on: {}", out.all());
    assert!(out.stderr.contains("is not the JUnit of this verdict"), "{}", out.all());
    assert!(!out.stderr.contains("PASSED (forged)"), "the rewritten summary was printed: {}", out.all());
    assert!(out.stderr.contains("is not the summary of this verdict"), "{}", out.all());

    // The verdict's own files, put back (as the processor's next write of the same report would), are handed on.
    put(moto, &bucket, "results/p/b-tampered/junit.xml", junit);
    put(moto, &bucket, "results/p/b-tampered/summary.md", summary);
    let (dir, out) = wait_for_verdict(moto, &bucket, "b-tampered");
    assert_eq!(out.code, 42, "{}", out.all());
    assert_eq!(std::fs::read(dir.path().join("reports/junit.xml")).expect("junit"), junit);
    assert!(out.stderr.contains("# scangate verdict: FAILED"), "{}", out.all());
}

#[test]
fn wait_for_a_verdict_that_never_arrives() {
    let moto = Moto::shared();
    let bucket = create_bucket(moto);
    let dir = tempfile::tempdir().expect("tempdir");
    // A verdict for another report under the same key is not this run's verdict.
    put(moto, &bucket, "results/p/b-never/verdict.json", &verdict_json("scans/p/b-never/old.sarif", true));
    let out = scan_aws(
        dir.path(),
        moto,
        &["image", "app:1.0", "--bucket", &bucket, "--wait=2"],
        &[("SCANGATE_PROJECT", "p"), ("SCANGATE_BUILD_ID", "b-never")],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("no verdict at s3://") && out.stderr.contains("report-processor"), "{}", out.all());
    assert!(out.stderr.contains("earlier upload"), "{}", out.all());
}

#[test]
fn wait_value_after_a_space_is_the_wait_and_the_image_stays_the_image() {
    // `--wait 2 app:1.0` (docs/runner.md, "Command-line conventions"): waits 2 s, not the bare default
    // of 900 s, and scans app:1.0.
    let moto = Moto::shared();
    let bucket = create_bucket(moto);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_aws(
        dir.path(),
        moto,
        &["image", "--wait", "2", "app:1.0", "--bucket", &bucket],
        &[("SCANGATE_PROJECT", "p"), ("SCANGATE_BUILD_ID", "b-space")],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("/b-space/") && out.stderr.contains(" after 2s "), "{}", out.all());
}

#[test]
fn token_from_secrets_manager_plain_or_json() {
    let moto = Moto::shared();
    let env = moto_env(moto);
    for (i, secret) in
        [TOKEN.to_string(), format!("{{\"accessToken\": \"{TOKEN}\", \"note\": \"x\"}}")].iter().enumerate()
    {
        let name = unique_bucket("qualys-token");
        moto.json_call(
            "secretsmanager",
            "secretsmanager.CreateSecret",
            &serde_json::json!({"Name": name, "SecretString": secret}),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let record = dir.path().join("record.jsonl");
        let record_s = record.to_string_lossy().into_owned();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(&[
            ("QUALYS_POD", "US2"),
            ("FAKE_QSCANNER_RECORD", &record_s),
            ("FAKE_QSCANNER_ECHO_TOKEN", "1"),
            ("QUALYS_SECRET_ID", &name),
            ("RUST_LOG", "trace"),
        ]);
        let out =
            run(dir.path(), &["scan", "image", "app:1", "--qscanner-path", &fake_qscanner().to_string_lossy()], &all);
        assert_eq!(out.code, 0, "secret form {i}: {}", out.all());
        assert!(out.stderr.contains("Secrets Manager"), "{}", out.all());
        assert!(out.stdout.contains("using token ***"), "{}", out.all());
        assert!(!out.all().contains(TOKEN), "token leaked: {}", out.all());
        let rec = &records(dir.path())[0];
        assert_eq!(rec["token_set"], true);
        assert!(!argv(rec).iter().any(|a| a.contains(TOKEN)));
    }
}

#[test]
fn unusable_secrets_fail_clearly() {
    let moto = Moto::shared();
    let env = moto_env(moto);
    let name = unique_bucket("qualys-token-json");
    moto.json_call(
        "secretsmanager",
        "secretsmanager.CreateSecret",
        &serde_json::json!({"Name": name, "SecretString": "{\"token\": \"hidden-value-1\"}"}),
    );
    for (secret_id, needle) in [(name.as_str(), "accessToken"), ("no-such-secret-anywhere", "not found")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.push(("QUALYS_POD", "US2"));
        let out = run(
            dir.path(),
            &[
                "scan",
                "image",
                "app:1",
                "--secret-id",
                secret_id,
                "--qscanner-path",
                &fake_qscanner().to_string_lossy(),
            ],
            &all,
        );
        assert_eq!(out.code, 1, "{}", out.all());
        assert!(out.stderr.contains(secret_id) && out.stderr.contains(needle), "{}", out.all());
        assert!(!out.all().contains("hidden-value-1"));
    }
}

//! The report processor end to end against moto: S3 (SSE-KMS), Security Hub, state objects.

#[macro_use]
mod common;

use common::{hub_sink, identity, qscanner_sarif, run, s3_event, Counting, V1, V2, V3, V4};
use report_processor::config::Config;
use report_processor::process::{Processor, IN_FLIGHT};
use scangate_aws::clients::Clients;
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink};
use scangate_core::events::ObjectRef;
use scangate_core::lifecycle::state::{LifecycleState, Stub};
use scangate_core::lifecycle::{LifecycleKey, ScanType};
use scangate_core::verdict::Verdict;
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

type TestProcessor = Processor<S3Store, Counting<Sink<SecurityHubImporter>>>;

type Env = common::Env<TestProcessor>;

async fn env(moto: &Moto) -> Env {
    Env::new(moto, "sg-proc", |clients, kms| {
        let config = Config {
            uploader_principal_ids: common::uploaders(),
            kms_key_id: Some(kms.to_string()),
            ..Config::default()
        };
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(Counting::new(hub_sink(clients))))
    })
    .await
}

impl Env {
    async fn deliver(&self, key: &str) -> Value {
        self.processor.handle(&s3_event(&self.bucket, key), &identity()).await.expect("handler succeeds")
    }

    fn calls(&self) -> u64 {
        self.processor.sink.as_ref().map_or(0, |s| s.calls.load(Ordering::SeqCst))
    }

    async fn state(&self, target_repo: &str) -> LifecycleState {
        let lk = common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, target_repo));
        let bytes = self.get(&format!("state/{}.json", lk.hash())).await.expect("state object exists");
        LifecycleState::from_json(&bytes, "state").expect("state parses")
    }
}

/// Security Hub findings of one image lifecycle: finding → RecordState.
async fn hub_findings(clients: &Clients, target_repo: &str) -> BTreeMap<String, String> {
    common::hub_findings(clients, ScanType::Image, target_repo).await
}

fn meta<'a>(target: &'a str, at: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("scangate-target", target), ("scangate-scan-type", "image"), ("scangate-scanned-at", at)]
}

#[test]
fn scan_rescan_fixed_and_identical_rescan() {
    run(async {
        let moto = Moto::shared();
        let e = env(moto).await;
        let repo = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{}", e.bucket);
        let image = format!("{repo}:1.0");

        // 1. First scan: three findings imported, verdict (critical > 0: failed) and friends written.
        let mut m = meta(&image, "2026-11-23T08:00:00Z");
        m.push(("scangate-pipeline", "app-pipeline"));
        m.push(("scangate-pipeline-execution-id", "exec-1"));
        m.push(("scangate-build-arn", "arn:aws:codebuild:us-east-1:123456789012:build/app:b-1"));
        e.upload("scans/app/b-1/report.sarif", qscanner_sarif(&image, &[V1, V2, V3]), &m).await;
        let out = e.deliver("scans/app/b-1/report.sarif").await;
        assert_eq!(out["reports"][0]["imported"], 3, "{out}");
        let v = e.verdict("results/app/b-1/verdict.json").await;
        assert!(!v.passed, "one critical finding fails the default gate");
        assert_eq!(v.counts.critical, 1);
        assert_eq!(v.counts.total, 3);
        assert_eq!(v.findings_imported, 3);
        assert_eq!(v.report.bucket.as_deref(), Some(e.bucket.as_str()));
        assert_eq!(v.build.as_ref().and_then(|b| b.project.as_deref()), Some("app"));
        // This processor has no CodeBuild client to verify the claimed pipeline execution against
        // the build: no by-execution verdict, a warning instead (tests/attacks.rs writes a verified one).
        assert!(e.get("results/by-execution/app-pipeline/exec-1/verdict.json").await.is_none());
        assert!(v.warnings.iter().any(|w| w.contains("could not be verified")), "{:?}", v.warnings);
        assert!(e.get("results/app/b-1/junit.xml").await.is_some_and(|j| !j.is_empty()));
        assert!(e.get("results/app/b-1/summary.md").await.is_some());
        let hub = hub_findings(&e.clients, &repo).await;
        assert_eq!(hub.len(), 3, "{hub:?}");
        assert!(hub.values().all(|s| s == "ACTIVE"), "{hub:?}");
        let first_state = e.state(&repo).await;
        assert_eq!(first_state.entries.len(), 3);

        // 2. Rescan with V1 fixed: exactly that finding is archived, nothing else sent.
        let before = e.calls();
        let findings_before = e.processor.sink.as_ref().map_or(0, |s| s.findings.load(Ordering::SeqCst));
        let mut m = meta(&image, "2026-11-23T09:00:00Z");
        m.push(("scangate-build-arn", "arn:aws:codebuild:us-east-1:123456789012:build/app:b-2"));
        e.upload("scans/app/b-2/report.sarif", qscanner_sarif(&image, &[V2, V3]), &m).await;
        let out = e.deliver("scans/app/b-2/report.sarif").await;
        assert_eq!(out["reports"][0]["archived"], 1, "{out}");
        assert_eq!(out["reports"][0]["imported"], 0, "{out}");
        assert_eq!(out["reports"][0]["unchanged"], 2, "{out}");
        assert_eq!(e.calls() - before, 1);
        let sent = e.processor.sink.as_ref().map_or(0, |s| s.findings.load(Ordering::SeqCst)) - findings_before;
        assert_eq!(sent, 1, "only the archived finding is sent");
        let hub2 = hub_findings(&e.clients, &repo).await;
        let archived: Vec<_> = hub2.iter().filter(|(_, s)| s.as_str() == "ARCHIVED").map(|(k, _)| k.clone()).collect();
        assert_eq!(archived.len(), 1, "{hub2:?}");
        let v2 = e.verdict("results/app/b-2/verdict.json").await;
        assert!(v2.passed, "no critical left");
        assert_eq!(v2.findings_archived, 1);
        // The archived one is the finding that was in state 1 but not in state 2.
        let second_state = e.state(&repo).await;
        let gone: Vec<_> = first_state.entries.keys().filter(|k| !second_state.entries.contains_key(*k)).collect();
        assert_eq!(gone.len(), 1);
        assert!(gone[0].to_string().ends_with(&archived[0]), "{gone:?} vs {archived:?}");

        // 3. Identical rescan: zero BatchImportFindings calls.
        let before = e.calls();
        let mut m = meta(&image, "2026-11-23T10:00:00Z");
        m.push(("scangate-build-arn", "arn:aws:codebuild:us-east-1:123456789012:build/app:b-3"));
        e.upload("scans/app/b-3/report.sarif", qscanner_sarif(&image, &[V2, V3]), &m).await;
        let out = e.deliver("scans/app/b-3/report.sarif").await;
        assert_eq!(e.calls(), before, "identical rescan makes no BatchImportFindings call: {out}");
        assert_eq!(out["reports"][0]["unchanged"], 2);
        assert!(e.get("results/app/b-3/verdict.json").await.is_some());
        assert_eq!(e.state(&repo).await.applied.map(|a| a.key), Some("scans/app/b-3/report.sarif".to_string()));
    });
}

/// Normalized end state of a lifecycle: state entries (id → hash), applied key, ACTIVE findings.
async fn end_state(e: &Env, repo: &str) -> (BTreeMap<String, String>, Option<String>, Vec<String>) {
    let s = e.state(repo).await;
    let hub = hub_findings(&e.clients, repo).await;
    (
        s.entries.iter().map(|(k, v)| (k.to_string(), v.content_hash.to_string())).collect(),
        s.applied.map(|a| a.key),
        hub.into_iter().filter(|(_, st)| st == "ACTIVE").map(|(id, _)| id).collect(),
    )
}

#[test]
fn duplicates_and_shuffled_delivery_end_like_in_order_delivery() {
    run(async {
        // Two servers so both runs use the same target (same finding ids) without sharing state.
        let in_order_moto = Moto::start();
        let shuffled_moto = Moto::start();
        let a = env(&in_order_moto).await;
        let b = env(&shuffled_moto).await;
        let repo = "registry.example/team/shuffle-app";
        let image = format!("{repo}:2");
        let reports = [
            ("scans/app/r-1/report.sarif", vec![V1, V2, V3], "2026-11-23T08:00:00Z"),
            ("scans/app/r-2/report.sarif", vec![V1, V2], "2026-11-23T09:00:00Z"),
            ("scans/app/r-3/report.sarif", vec![V2, V4], "2026-11-23T10:00:00Z"),
        ];
        for e in [&a, &b] {
            for (key, vulns, at) in &reports {
                e.upload(key, qscanner_sarif(&image, vulns), &meta(&image, at)).await;
            }
        }
        for (key, _, _) in &reports {
            a.deliver(key).await;
        }
        // The same event three times, and the set out of order.
        for i in [2, 0, 2, 1, 2, 0, 1] {
            b.deliver(reports[i].0).await;
        }
        let want = end_state(&a, repo).await;
        let got = end_state(&b, repo).await;
        assert_eq!(got, want);
        assert_eq!(want.1.as_deref(), Some("scans/app/r-3/report.sarif"));
        assert_eq!(want.0.len(), 2, "V2 and V4 remain");
        // Security Hub shows the same active findings (V2, V4); in order, V1 and V3 were
        // imported and then archived, shuffled they were never imported at all.
        assert_eq!(want.2.len(), 2, "{:?}", want.2);
        let in_order_hub = hub_findings(&a.clients, repo).await;
        assert_eq!(in_order_hub.values().filter(|s| s.as_str() == "ARCHIVED").count(), 2, "{in_order_hub:?}");
        let shuffled_hub = hub_findings(&b.clients, repo).await;
        assert!(shuffled_hub.values().all(|s| s.as_str() == "ACTIVE"), "{shuffled_hub:?}");
    });
}

#[test]
fn keys_with_spaces_and_percent() {
    run(async {
        let e = env(Moto::shared()).await;
        let image = format!("registry.example/{}:1", e.bucket);
        let key = "scans/my app/build 7/100% done.sarif";
        e.upload(key, qscanner_sarif(&image, &[V3]), &meta(&image, "2026-11-23T08:00:00Z")).await;
        let out = e.deliver(key).await;
        assert_eq!(out["reports"][0]["key"], key, "{out}");
        let v = e.verdict("results/my app/build 7/verdict.json").await;
        assert_eq!(v.report.key, key);
        assert!(v.passed);
    });
}

#[test]
fn corrupt_report_is_quarantined_with_a_reason_and_a_failed_verdict() {
    run(async {
        let e = env(Moto::shared()).await;
        let key = "scans/app/b-9/broken.sarif";
        e.upload(key, b"{\"version\": \"2.1.0\", \"runs\": [ this is not JSON".to_vec(), &[]).await;
        let out = e.deliver(key).await;
        assert!(out["reports"][0]["quarantined"].is_string(), "{out}");
        assert!(e.get(&format!("quarantine/{key}")).await.is_some(), "report copied to quarantine/");
        let reason: Value =
            serde_json::from_slice(&e.get(&format!("quarantine/{key}.reason.json")).await.expect("reason object"))
                .expect("reason is JSON");
        assert_eq!(reason["key"], key);
        assert!(reason["reason"].as_str().is_some_and(|r| r.contains("JSON")), "{reason}");
        let v = e.verdict("results/app/b-9/verdict.json").await;
        assert!(!v.passed);
        assert!(v.error.is_some());
    });
}

#[test]
fn sqs_batch_reports_only_failed_messages_and_ignores_test_events() {
    run(async {
        let e = env(Moto::shared()).await;
        let image = format!("registry.example/{}:1", e.bucket);
        let key = "scans/app/s-1/report.sarif.json";
        e.upload(key, qscanner_sarif(&image, &[V2]), &meta(&image, "2026-11-23T08:00:00Z")).await;
        let mut batch: Value =
            serde_json::from_str(include_str!("fixtures/sqs-s3.json")).expect("fixture sqs-s3.json parses");
        batch["Records"][0]["body"] = json!(s3_event(&e.bucket, key).to_string());
        let mut garbage = batch["Records"][0].clone();
        garbage["messageId"] = json!("garbage-1");
        garbage["body"] = json!("{\"not\": \"an event\"}");
        batch["Records"].as_array_mut().expect("records").push(garbage);
        let out = e.processor.handle(&batch, &identity()).await.expect("SQS batches never fail as a whole");
        assert_eq!(out, json!({"batchItemFailures": [{"itemIdentifier": "garbage-1"}]}));
        assert!(e.get("results/app/s-1/verdict.json").await.is_some());
        // Objects outside the prefix or without a SARIF suffix are skipped, not failed.
        let out = e.deliver("uploads/other.txt").await;
        assert!(out["reports"][0]["skipped"].is_string(), "{out}");
    });
}

fn fixture(name: &str) -> Vec<u8> {
    let path = scangate_testkit::fixtures::path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn qscanner_fixture_scan_then_fixed_rescan_archives_exactly_one() {
    run(async {
        let e = env(Moto::shared()).await;
        // A target of its own, so the shared Security Hub holds no other findings of this lifecycle.
        let repo = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{}", e.bucket);
        let image = format!("{repo}:1.4.2");
        let mut m = meta(&image, "2026-11-23T08:00:00Z");
        m.push(("scangate-scanner-exit-code", "42"));
        e.upload("scans/shop/b-1/web-Report.sarif.json", fixture("qscanner-image.sarif"), &m).await;
        let out = e.deliver("scans/shop/b-1/web-Report.sarif.json").await;
        assert_eq!(out["reports"][0]["imported"], 13, "{out}");
        let v = e.verdict("results/shop/b-1/verdict.json").await;
        assert!(!v.passed);
        assert_eq!((v.counts.critical, v.counts.high, v.counts.total), (3, 4, 13));
        assert_eq!(v.policy_result, scangate_core::PolicyResult::Deny);

        let mut m = meta(&image, "2026-11-23T09:00:00Z");
        m.push(("scangate-scanner-exit-code", "42"));
        e.upload("scans/shop/b-2/web-Report.sarif.json", fixture("qscanner-image-fixed.sarif"), &m).await;
        let out = e.deliver("scans/shop/b-2/web-Report.sarif.json").await;
        assert_eq!(out["reports"][0]["archived"], 1, "{out}");
        assert_eq!(out["reports"][0]["imported"], 0, "{out}");
        assert_eq!(out["reports"][0]["unchanged"], 12, "{out}");
        let hub = hub_findings(&e.clients, &repo).await;
        assert_eq!(hub.len(), 13);
        assert_eq!(hub.values().filter(|s| s.as_str() == "ARCHIVED").count(), 1, "{hub:?}");
    });
}

/// A store whose first state write meets a competing writer that changed the object.
struct Conflicting {
    inner: S3Store,
    armed: std::sync::atomic::AtomicBool,
    state_puts: AtomicU64,
    /// HEAD of this key fails as S3 throttling would.
    fail_head_for: Option<String>,
}

impl scangate_aws::s3::ReportStore for Conflicting {
    forward_report_store!(get_bytes, read_with, copy);

    async fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<scangate_aws::s3::ObjectHead>, scangate_aws::s3::StoreError> {
        if self.fail_head_for.as_deref() == Some(key) {
            return Err(scangate_aws::s3::StoreError::Service {
                bucket: bucket.into(),
                key: key.into(),
                operation: "HeadObject",
                code: "SlowDown".into(),
                message: "Please reduce your request rate.".into(),
                transient: true,
            });
        }
        self.inner.head(bucket, key, version_id).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: &scangate_aws::s3::PutOptions,
    ) -> Result<scangate_aws::s3::PutResult, scangate_aws::s3::StoreError> {
        if key.starts_with("state/") {
            self.state_puts.fetch_add(1, Ordering::SeqCst);
            if self.armed.swap(false, Ordering::SeqCst) {
                let parsed = LifecycleState::from_json(&body, key).expect("the processor writes valid state");
                let rival = LifecycleState::empty(&parsed.lifecycle_key);
                let rival = serde_json::to_vec(&rival).expect("serialize");
                self.inner.put(bucket, key, rival, &scangate_aws::s3::PutOptions::json()).await?;
            }
        }
        self.inner.put(bucket, key, body, options).await
    }
}

#[test]
fn lost_conditional_write_is_reread_and_replanned() {
    run(async {
        let base = env(Moto::shared()).await;
        let image = format!("registry.example/{}:1", base.bucket);
        let store = Conflicting {
            inner: S3Store::new(base.clients.s3.clone(), None),
            armed: true.into(),
            state_puts: 0.into(),
            fail_head_for: None,
        };
        let sink = hub_sink(&base.clients);
        let processor = Processor::new(
            Config { uploader_principal_ids: common::uploaders(), ..Config::default() },
            store,
            Some(sink),
        );
        let key = "scans/app/c-1/report.sarif";
        base.upload(key, qscanner_sarif(&image, &[V2, V3]), &meta(&image, "2026-11-23T08:00:00Z")).await;
        let out = processor.handle(&s3_event(&base.bucket, key), &identity()).await.expect("handled");
        assert!(out["reports"][0]["passed"].is_boolean(), "{out}");
        assert_eq!(
            processor.store.state_puts.load(Ordering::SeqCst),
            3,
            "write-ahead loses (412), then re-read, re-plan, write-ahead and final write"
        );
        let state = base.state(&format!("registry.example/{}", base.bucket)).await;
        assert_eq!(state.entries.len(), 2, "the retry's plan, not the rival's empty state, is stored");
        assert_eq!(state.applied.map(|a| a.key).as_deref(), Some(key));
        assert_eq!(base.verdict("results/app/c-1/verdict.json").await.findings_imported, 2, "counted once");
        // Delivered again, the report changes nothing: the state is not written again.
        processor.handle(&s3_event(&base.bucket, key), &identity()).await.expect("handled");
        assert_eq!(processor.store.state_puts.load(Ordering::SeqCst), 3, "a redelivery writes no state");
    });
}

#[test]
fn transient_failure_fails_only_its_sqs_message_and_direct_invocations() {
    run(async {
        let base = env(Moto::shared()).await;
        let image = format!("registry.example/{}:1", base.bucket);
        let (good, bad) = ("scans/app/t-1/report.sarif", "scans/app/t-2/report.sarif");
        let store = Conflicting {
            inner: S3Store::new(base.clients.s3.clone(), None),
            armed: false.into(),
            state_puts: 0.into(),
            fail_head_for: Some(bad.to_string()),
        };
        let processor: Processor<Conflicting, Sink<SecurityHubImporter>> = Processor::new(
            Config { uploader_principal_ids: common::uploaders(), security_hub_enabled: false, ..Config::default() },
            store,
            None,
        );
        for key in [good, bad] {
            base.upload(key, qscanner_sarif(&image, &[V2]), &meta(&image, "2026-11-23T08:00:00Z")).await;
        }
        let mut batch: Value =
            serde_json::from_str(include_str!("fixtures/sqs-s3.json")).expect("fixture sqs-s3.json parses");
        let template = batch["Records"][0].clone();
        let mut records = Vec::new();
        for (id, key) in [("m-good", good), ("m-bad", bad)] {
            let mut r = template.clone();
            r["messageId"] = json!(id);
            r["body"] = json!(s3_event(&base.bucket, key).to_string());
            records.push(r);
        }
        batch["Records"] = json!(records);
        let out = processor.handle(&batch, &identity()).await.expect("SQS batches never fail as a whole");
        assert_eq!(out, json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]}));
        assert!(base.get("results/app/t-1/verdict.json").await.is_some());
        assert!(base.get("results/app/t-2/verdict.json").await.is_none(), "nothing written for the failed one");
        // Delivered directly, the same failure fails the invocation so Lambda retries it.
        let err = processor.handle(&s3_event(&base.bucket, bad), &identity()).await.expect_err("retried");
        assert!(err.to_string().contains("SlowDown"), "{err}");
    });
}

/// docs/scale.md "Isolation": a message whose report fails (here its HEAD keeps failing) is
/// the only `batchItemFailures` entry, first in its batch as well as between others: every
/// other report of the batch is processed in the same invocation and not delivered again.
#[test]
fn a_poisoned_message_fails_only_itself_whatever_its_place_in_the_batch() {
    run(async {
        let base = env(Moto::shared()).await;
        let image = format!("registry.example/{}:1", base.bucket);
        let keys = ["scans/app/p-1/report.sarif", "scans/app/p-2/report.sarif", "scans/app/p-3/report.sarif"];
        let poisoned = keys[1];
        let store = Conflicting {
            inner: S3Store::new(base.clients.s3.clone(), None),
            armed: false.into(),
            state_puts: 0.into(),
            fail_head_for: Some(poisoned.to_string()),
        };
        let processor: Processor<Conflicting, Sink<SecurityHubImporter>> = Processor::new(
            Config { uploader_principal_ids: common::uploaders(), security_hub_enabled: false, ..Config::default() },
            store,
            None,
        );
        for key in keys {
            base.upload(key, qscanner_sarif(&image, &[V2]), &meta(&image, "2026-11-23T08:00:00Z")).await;
        }
        let fixture: Value =
            serde_json::from_str(include_str!("fixtures/sqs-s3.json")).expect("fixture sqs-s3.json parses");
        let record = |id: &str, key: &str| {
            let mut r = fixture["Records"][0].clone();
            r["messageId"] = json!(id);
            r["body"] = json!(s3_event(&base.bucket, key).to_string());
            r
        };
        for order in [[1, 0, 2], [0, 1, 2]] {
            let records: Vec<Value> = order.iter().map(|&i| record(&format!("m-{i}"), keys[i])).collect();
            let out = processor.handle(&json!({ "Records": records }), &identity()).await.expect("SQS answers");
            assert_eq!(out, json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]}), "order {order:?}");
        }
        for (dir, written) in [("p-1", true), ("p-2", false), ("p-3", true)] {
            let verdict = base.get(&format!("results/app/{dir}/verdict.json")).await;
            assert_eq!(verdict.is_some(), written, "{dir}");
        }
    });
}

/// The announcement of `key` as the processor sees it after parsing the event.
fn object_ref(bucket: &str, key: &str) -> ObjectRef {
    common::by_writer(ObjectRef { sequencer: Some("0065A1B2C3D4E5F601".into()), ..ObjectRef::put(bucket, key) })
}

fn at(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

/// At-least-once delivery: the same event again (minutes later, so a rewrite would show in
/// `processed_at`) leaves verdict.json byte for byte as the first delivery wrote it, with the
/// report's counts, not the redelivery's zeros. With REFRESH_DAYS 0 every delivery imports
/// everything again, and still counts it once.
#[test]
fn redelivered_event_leaves_verdict_json_unchanged() {
    run(async {
        let e = env(Moto::shared()).await;
        let image = format!("registry.example/{}:1", e.bucket);
        let (first, second) = ("scans/app/r-1/report.sarif", "scans/app/r-2/report.sarif");
        e.upload(first, qscanner_sarif(&image, &[V1, V2, V3]), &meta(&image, "2026-11-23T08:00:00Z")).await;
        let obj = object_ref(&e.bucket, first);
        e.processor.process(&obj, &identity(), at("2026-11-23T08:05:00Z")).await.expect("processed");
        let vkey = "results/app/r-1/verdict.json";
        let written = e.get(vkey).await.expect("verdict written");
        let v = Verdict::from_json(&written).expect("verdict parses");
        assert_eq!((v.findings_imported, v.findings_archived), (3, 0));
        assert_eq!(v.processed_at, "2026-11-23T08:05:00.000Z");
        let calls = e.calls();
        for minute in ["08:10", "08:15"] {
            e.processor.process(&obj, &identity(), at(&format!("2026-11-23T{minute}:00Z"))).await.expect("again");
            assert_eq!(e.calls(), calls, "a redelivery imports nothing");
            let again = e.get(vkey).await.expect("verdict still there");
            assert_eq!(
                String::from_utf8_lossy(&again),
                String::from_utf8_lossy(&written),
                "redelivery at {minute} rewrote verdict.json"
            );
        }

        // REFRESH_DAYS 0: each delivery refreshes every finding, counted once for the report.
        let config = Config {
            uploader_principal_ids: common::uploaders(),
            refresh_days: 0,
            kms_key_id: Some(e.kms.clone()),
            ..Config::default()
        };
        let sink = hub_sink(&e.clients);
        let eager = Processor::new(config, S3Store::new(e.clients.s3.clone(), None), Some(sink));
        e.upload(second, qscanner_sarif(&image, &[V1, V2, V3, V4]), &meta(&image, "2026-11-23T09:00:00Z")).await;
        let obj = object_ref(&e.bucket, second);
        let vkey = "results/app/r-2/verdict.json";
        let mut first_bytes = None;
        for minute in ["09:05", "09:10", "09:15"] {
            let out = eager.process(&obj, &identity(), at(&format!("2026-11-23T{minute}:00Z"))).await.expect("ok");
            match out {
                report_processor::process::Outcome::Processed { metrics, .. } => {
                    assert_eq!(metrics.imported, 4, "{minute}: REFRESH_DAYS 0 imports every finding each time")
                }
                other => panic!("{minute}: {other:?}"),
            }
            let bytes = e.get(vkey).await.expect("verdict written");
            let v = Verdict::from_json(&bytes).expect("verdict parses");
            assert_eq!((v.findings_imported, v.processed_at.as_str()), (4, "2026-11-23T09:05:00.000Z"), "{minute}");
            assert_eq!(first_bytes.get_or_insert_with(|| bytes.clone()), &bytes, "{minute}");
        }
    });
}

/// A store whose PUTs of keys `armed_for` accepts fail (as S3 5xx) while `remaining` > 0:
/// the function "crashes" there.
struct FailingPuts {
    inner: S3Store,
    armed_for: fn(&str) -> bool,
    remaining: AtomicU64,
}

impl scangate_aws::s3::ReportStore for FailingPuts {
    forward_report_store!(head, get_bytes, read_with, copy);

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: &scangate_aws::s3::PutOptions,
    ) -> Result<scangate_aws::s3::PutResult, scangate_aws::s3::StoreError> {
        let armed = (self.armed_for)(key)
            && self.remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if armed {
            return Err(scangate_aws::s3::StoreError::Service {
                bucket: bucket.into(),
                key: key.into(),
                operation: "PutObject",
                code: "InternalError".into(),
                message: "injected crash".into(),
                transient: true,
            });
        }
        self.inner.put(bucket, key, body, options).await
    }
}

/// A lifecycle with a first report (V1, V4) applied, then a second (V1, V2, V3: imports V2
/// V3, archives V4) whose first delivery, at 08:05, "crashes" at the first PUT `armed_for`
/// accepts. Returns the processor, the second report's event and the findings sent so far.
async fn crashed_second_report(
    base: &Env,
    armed_for: fn(&str) -> bool,
) -> (Processor<FailingPuts, Counting<Sink<SecurityHubImporter>>>, ObjectRef, u64) {
    let image = format!("registry.example/{}:1", base.bucket);
    let store = FailingPuts { inner: S3Store::new(base.clients.s3.clone(), None), armed_for, remaining: 0.into() };
    let counting = Counting::new(hub_sink(&base.clients));
    let processor = Processor::new(
        Config { uploader_principal_ids: common::uploaders(), ..Config::default() },
        store,
        Some(counting),
    );
    let (old, new) = ("scans/app/k-1/report.sarif", "scans/app/k-2/report.sarif");
    base.upload(old, qscanner_sarif(&image, &[V1, V4]), &meta(&image, "2026-11-23T07:00:00Z")).await;
    processor.process(&object_ref(&base.bucket, old), &identity(), at("2026-11-23T07:05:00Z")).await.expect("ok");
    base.upload(new, qscanner_sarif(&image, &[V1, V2, V3]), &meta(&image, "2026-11-23T08:00:00Z")).await;
    let obj = object_ref(&base.bucket, new);
    processor.store.remaining.store(1, Ordering::SeqCst);
    let err = processor.process(&obj, &identity(), at("2026-11-23T08:05:00Z")).await.expect_err("crashes");
    assert!(err.to_string().contains("injected crash"), "{err}");
    let state = base.state(&format!("registry.example/{}", base.bucket)).await;
    assert_eq!(state.applied.map(|a| a.key).as_deref(), Some(old), "the crashed report is not applied");
    assert!(state.entries.values().all(|e| e.content_hash != IN_FLIGHT), "no write-ahead was stored");
    let sent = processor.sink.as_ref().map_or(0, |s| s.findings.load(Ordering::SeqCst));
    assert_eq!(sent, 2, "V1 V4 only: the crashed delivery made no Security Hub call");
    (processor, obj, sent)
}

/// Delivers `obj` at 08:20 and at 08:30 after a crashed delivery: the first imports V2 V3
/// and archives V4 (V1 unchanged) and writes `verdict.json` with the counts (2, 1) and
/// `processed_at` `expected_time`; the second sends nothing and leaves it byte for byte.
async fn redeliver_after_crash(
    base: &Env,
    processor: &Processor<FailingPuts, Counting<Sink<SecurityHubImporter>>>,
    obj: &ObjectRef,
    sent_before: u64,
    expected_time: &str,
) {
    let vkey = "results/app/k-2/verdict.json";
    processor.process(obj, &identity(), at("2026-11-23T08:20:00Z")).await.expect("redelivery succeeds");
    let sent_again = processor.sink.as_ref().map_or(0, |s| s.findings.load(Ordering::SeqCst));
    assert_eq!(sent_again, sent_before + 3, "the redelivery imports V2 V3 and archives V4 (V1 unchanged)");
    let state = base.state(&format!("registry.example/{}", base.bucket)).await;
    assert_eq!(state.applied.map(|a| a.key).as_deref(), Some(obj.key.as_str()));
    let written = base.get(vkey).await.expect("verdict written");
    let v = Verdict::from_json(&written).expect("verdict parses");
    assert_eq!((v.findings_imported, v.findings_archived), (2, 1), "the planned counts");
    assert_eq!(v.processed_at, expected_time);
    processor.process(obj, &identity(), at("2026-11-23T08:30:00Z")).await.expect("third delivery");
    let sent_third = processor.sink.as_ref().map_or(0, |s| s.findings.load(Ordering::SeqCst));
    assert_eq!(sent_third, sent_again, "the third delivery imports nothing");
    assert_eq!(base.get(vkey).await.as_deref(), Some(written.as_slice()), "unchanged by a third delivery");
}

/// The first delivery fails writing the results: nothing of it is stored (the results come
/// before the write-ahead and any Security Hub call), so its redelivery is a first delivery.
#[test]
fn crash_writing_the_results_leaves_nothing_and_the_redelivery_processes_afresh() {
    run(async {
        let base = env(Moto::shared()).await;
        let (processor, obj, sent) = crashed_second_report(&base, |k| k.ends_with("/junit.xml")).await;
        assert!(base.get("results/app/k-2/verdict.json").await.is_none(), "no verdict written by the crashed delivery");
        redeliver_after_crash(&base, &processor, &obj, sent, "2026-11-23T08:20:00.000Z").await;
    });
}

/// The first delivery writes its verdict, then fails writing the state ahead, before any
/// Security Hub call; its redelivery imports, and keeps the verdict.json the first delivery
/// wrote (its counts and time) byte for byte: what a waiting build read never changes.
#[test]
fn crash_after_verdict_before_write_ahead_redelivery_imports_and_keeps_the_verdict() {
    run(async {
        let base = env(Moto::shared()).await;
        let (processor, obj, sent) = crashed_second_report(&base, |k| k.starts_with("state/")).await;
        let first = base.get("results/app/k-2/verdict.json").await.expect("the verdict came before the crash");
        let v = Verdict::from_json(&first).expect("verdict parses");
        assert_eq!((v.findings_imported, v.findings_archived), (2, 1));
        assert_eq!(v.processed_at, "2026-11-23T08:05:00.000Z");
        redeliver_after_crash(&base, &processor, &obj, sent, "2026-11-23T08:05:00.000Z").await;
        assert_eq!(base.get("results/app/k-2/verdict.json").await.as_deref(), Some(first.as_slice()));
    });
}

/// The S3 store with the order of the processor's calls logged; a whole read of a state
/// object fails as an object over the old whole-read cap would.
struct StreamOnly {
    inner: S3Store,
    log: std::sync::Mutex<Vec<String>>,
}

impl StreamOnly {
    fn note(&self, what: String) {
        common::lock(&self.log).push(what);
    }
}

impl scangate_aws::s3::ReportStore for StreamOnly {
    forward_report_store!(head, read_with, copy);

    async fn get_bytes(
        &self,
        bucket: &str,
        key: &str,
        limit: u64,
    ) -> Result<Option<scangate_aws::s3::Fetched>, scangate_aws::s3::StoreError> {
        self.note(format!("GET {key}"));
        if key.starts_with("state/") {
            let (bucket, key) = (bucket.into(), key.into());
            return Err(scangate_aws::s3::StoreError::TooLarge {
                bucket,
                key,
                operation: "GetObject",
                size: 1 << 40,
                limit,
            });
        }
        self.inner.get_bytes(bucket, key, limit).await
    }

    async fn read_tagged_with<T, F>(
        &self,
        bucket: &str,
        key: &str,
        f: F,
    ) -> Result<Option<(T, Option<String>)>, scangate_aws::s3::StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        self.note(format!("STREAM {key}"));
        self.inner.read_tagged_with(bucket, key, f).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: &scangate_aws::s3::PutOptions,
    ) -> Result<scangate_aws::s3::PutResult, scangate_aws::s3::StoreError> {
        self.note(format!("PUT {key}"));
        self.inner.put(bucket, key, body, options).await
    }
}

/// The state object is streamed from S3 (never read whole: a whole read of it fails here),
/// both when the lifecycle is new and when a rescan plans against an existing state; the
/// state is read before the results are written and the results before the Security Hub
/// outcome; the rescan's counts and state are right.
#[test]
fn the_state_object_is_streamed_never_read_whole() {
    run(async {
        let base = env(Moto::shared()).await;
        let image = format!("registry.example/{}:1", base.bucket);
        let store = StreamOnly { inner: S3Store::new(base.clients.s3.clone(), None), log: Default::default() };
        let processor = Processor::new(
            Config { uploader_principal_ids: common::uploaders(), ..Config::default() },
            store,
            Some(Counting::new(hub_sink(&base.clients))),
        );
        let (first, rescan) = ("scans/app/s-1/report.sarif", "scans/app/s-2/report.sarif");
        base.upload(first, qscanner_sarif(&image, &[V1, V2, V4]), &meta(&image, "2026-11-23T07:00:00Z")).await;
        processor
            .process(&object_ref(&base.bucket, first), &identity(), at("2026-11-23T07:05:00Z"))
            .await
            .expect("first");
        base.upload(rescan, qscanner_sarif(&image, &[V1, V2, V3]), &meta(&image, "2026-11-23T08:00:00Z")).await;
        common::lock(&processor.store.log).clear();
        processor
            .process(&object_ref(&base.bucket, rescan), &identity(), at("2026-11-23T08:05:00Z"))
            .await
            .expect("rescan");

        let log = common::lock(&processor.store.log).clone();
        assert!(!log.iter().any(|l| l.starts_with("GET state/")), "{log:?}");
        let pos = |p: &str| log.iter().position(|l| l.starts_with(p));
        let (read, verdict, hub) =
            (pos("STREAM state/"), pos("PUT results/app/s-2/verdict"), pos("PUT results/app/s-2/hub"));
        assert!(read.is_some() && read < verdict && verdict < hub, "{log:?}");
        let v = Verdict::from_json(&base.get("results/app/s-2/verdict.json").await.expect("verdict")).expect("parses");
        assert_eq!((v.findings_imported, v.findings_archived), (1, 1), "V3 new, V4 gone");
        let state = base.state(&format!("registry.example/{}", base.bucket)).await;
        assert_eq!(state.entries.len(), 3);
        assert_eq!(state.applied.map(|a| a.key).as_deref(), Some(rescan));
    });
}

/// A state entry whose stub does not read as one (damaged, or written by something else)
/// cannot be archived: when its finding disappears, it is reported (`StateStubUnreadable`
/// in hub.json), left ACTIVE in Security Hub, and dropped from the state rather than
/// retried forever; the other findings of the state are unaffected.
#[test]
fn a_damaged_stub_is_reported_left_active_and_dropped_not_retried() {
    run(async {
        let e = env(Moto::shared()).await;
        let repo = format!("registry.example/{}", e.bucket);
        let image = format!("{repo}:1");
        e.upload(
            "scans/app/s-1/report.sarif",
            qscanner_sarif(&image, &[V1, V2, V3]),
            &meta(&image, "2026-11-23T08:00:00Z"),
        )
        .await;
        e.deliver("scans/app/s-1/report.sarif").await;
        let first = e.state(&repo).await;
        assert!(first.entries.values().all(|en| en.stub.typed().is_some()), "stubs are written typed");
        // Damage every stub; the next report drops V1 (V2 V3 unchanged keep theirs as found).
        e.upload(
            "scans/app/s-2/report.sarif",
            qscanner_sarif(&image, &[V2, V3]),
            &meta(&image, "2026-11-23T09:00:00Z"),
        )
        .await;
        let lk = common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, &repo));
        let state_key = format!("state/{}.json", lk.hash());
        let mut raw: Value = serde_json::from_slice(&e.get(&state_key).await.expect("state")).expect("JSON");
        let entries = raw["entries"].as_object_mut().expect("entries");
        assert_eq!(entries.len(), 3);
        for entry in entries.values_mut() {
            entry["stub"] = json!("damaged");
        }
        let opts = scangate_aws::s3::PutOptions { kms_key_id: Some(e.kms.clone()), ..Default::default() };
        let body = serde_json::to_vec(&raw).expect("JSON");
        scangate_aws::s3::ReportStore::put(&e.processor.store, &e.bucket, &state_key, body, &opts).await.expect("put");

        let out = e.deliver("scans/app/s-2/report.sarif").await;
        let report = &out["reports"][0];
        assert_eq!((report["archived"].as_u64(), report["failed"].as_u64()), (Some(0), Some(1)), "{out}");
        assert!(out.get("batchItemFailures").is_none_or(|f| f.as_array().is_some_and(Vec::is_empty)), "{out}");
        let hub: Value =
            serde_json::from_slice(&e.get("results/app/s-2/hub.json").await.expect("hub.json")).expect("JSON");
        assert_eq!(hub["status"], "failed", "{hub}");
        assert!(hub["warnings"][0].as_str().is_some_and(|w| w.contains("StateStubUnreadable")), "{hub}");
        let after = hub_findings(&e.clients, &repo).await;
        assert!(after.values().all(|s| s == "ACTIVE"), "nothing archived without a stub: {after:?}");
        let state = e.state(&repo).await;
        assert_eq!(state.entries.len(), 2, "the unarchivable entry is dropped, the others kept");
        assert!(state.entries.values().all(|en| en.stub == Stub::raw(json!("damaged"))), "kept as found");
        assert_eq!(state.applied.map(|a| a.key).as_deref(), Some("scans/app/s-2/report.sarif"));

        // Delivered again: nothing is retried, nothing changes.
        let calls = e.calls();
        e.deliver("scans/app/s-2/report.sarif").await;
        assert_eq!(e.calls(), calls, "no BatchImportFindings call for the dropped entry");
    });
}

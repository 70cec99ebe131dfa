//! Delta import (`IMPORT_ON`) through the real handler against moto: a rescan of a new
//! image tag with the same findings makes no BatchImportFindings call by default, every
//! finding is imported again with `IMPORT_ON=sighting`, a content change imports just that
//! finding, and a state object of the version with one hash upgrades with one import.

#[macro_use]
mod common;

use common::{hub_sink, identity, qscanner_sarif, run, s3_event, Counting, Vuln, V1, V2, V3};
use report_processor::config::Config;
use report_processor::process::Processor;
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink};
use scangate_core::lifecycle::state::{ImportOn, LifecycleState};
use scangate_core::lifecycle::{LifecycleKey, ScanType};
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::Value;
use std::sync::atomic::Ordering;

type TestProcessor = Processor<S3Store, Counting<Sink<SecurityHubImporter>>>;
type Env = common::Env<TestProcessor>;

/// V2 with a fixed version that appeared later and a higher severity: same finding id
/// (scanner, rule, package and installed version), new content.
const V2_CHANGED: Vuln = (375475, "CVE-2026-0002", "zlib", "1.2.11", "1.2.14", 5);

async fn env(moto: &Moto, import_on: ImportOn) -> Env {
    Env::new(moto, "sg-delta", |clients, kms| {
        let config = Config {
            uploader_principal_ids: common::uploaders(),
            kms_key_id: Some(kms.to_string()),
            import_on,
            ..Config::default()
        };
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(Counting::new(hub_sink(clients))))
    })
    .await
}

impl Env {
    fn repo(&self) -> String {
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{}", self.bucket)
    }

    fn state_key(&self) -> String {
        format!(
            "state/{}.json",
            common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, &self.repo())).hash()
        )
    }

    /// Uploads build `n` of the image (tag `1.<n>`, digest, build ARN of its own) with
    /// `vulns` and delivers it; answers (BatchImportFindings calls, findings sent, the
    /// handler's report summary).
    async fn build(&self, n: u32, vulns: &[Vuln]) -> (u64, u64, Value) {
        let image = format!("{}:1.{n}@sha256:{n:064x}", self.repo());
        let key = format!("scans/app/b-{n}/report.sarif");
        let at = format!("2026-11-23T{:02}:00:00Z", 8 + n);
        let arn = format!("arn:aws:codebuild:us-east-1:123456789012:build/app:b-{n}");
        let meta = [
            ("scangate-target", image.as_str()),
            ("scangate-scan-type", "image"),
            ("scangate-scanned-at", at.as_str()),
            ("scangate-build-arn", arn.as_str()),
        ];
        self.upload(&key, qscanner_sarif(&image, vulns), &meta).await;
        let sink = self.processor.sink.as_ref().expect("sink");
        let (calls, sent) = (sink.calls.load(Ordering::SeqCst), sink.findings.load(Ordering::SeqCst));
        let out = self.processor.handle(&s3_event(&self.bucket, &key), &identity()).await.expect("handler succeeds");
        assert!(self.get(&format!("results/app/b-{n}/verdict.json")).await.is_some(), "build {n}: verdict written");
        (
            sink.calls.load(Ordering::SeqCst) - calls,
            sink.findings.load(Ordering::SeqCst) - sent,
            out["reports"][0].clone(),
        )
    }

    async fn state(&self) -> LifecycleState {
        let bytes = self.get(&self.state_key()).await.expect("state object exists");
        LifecycleState::from_json(&bytes, "state").expect("state parses")
    }
}

#[test]
fn new_tag_same_findings_imports_nothing_by_default_and_a_content_change_imports_that_finding() {
    run(async {
        let e = env(Moto::shared(), ImportOn::Content).await;
        let (calls, sent, out) = e.build(0, &[V1, V2, V3]).await;
        assert_eq!((calls, sent), (1, 3), "first scan imports all three: {out}");
        let first = e.state().await;

        // New tag, digest, build and report; the same findings: nothing to send.
        let (calls, sent, out) = e.build(1, &[V1, V2, V3]).await;
        assert_eq!((calls, sent), (0, 0), "a rescan of a new tag makes no BatchImportFindings call: {out}");
        assert_eq!(out["unchanged"], 3, "{out}");
        assert_eq!(out["archived"], 0, "{out}");
        let second = e.state().await;
        assert_eq!(second.applied.as_ref().map(|a| a.key.as_str()), Some("scans/app/b-1/report.sarif"));
        // The entries still describe what Security Hub shows: the first sighting.
        assert_eq!(second.entries, first.entries);

        // V2's fixed version appears and its severity rises: exactly V2 is imported.
        let (calls, sent, out) = e.build(2, &[V1, V2_CHANGED, V3]).await;
        assert_eq!((calls, sent), (1, 1), "only the changed finding is imported: {out}");
        assert_eq!((out["imported"].as_u64(), out["archived"].as_u64()), (Some(1), Some(0)), "{out}");
        let third = e.state().await;
        let changed: Vec<&scangate_core::lifecycle::state::FindingKey> =
            third.entries.iter().filter(|(id, v)| second.entries[*id] != **v).map(|(id, _)| id).collect();
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(third.entries.keys().collect::<Vec<_>>(), second.entries.keys().collect::<Vec<_>>(), "same ids");
        // The re-imported finding carries its new sighting; the others keep the old one.
        let sightings: std::collections::HashSet<_> = third.entries.values().map(|v| v.sighting_hash.clone()).collect();
        assert_eq!(sightings.len(), 2, "{sightings:?}");
    });
}

#[test]
fn import_on_sighting_imports_every_finding_of_a_new_tag() {
    run(async {
        let e = env(Moto::shared(), ImportOn::Sighting).await;
        assert_eq!(e.build(0, &[V1, V2, V3]).await.0, 1);
        let (calls, sent, out) = e.build(1, &[V1, V2, V3]).await;
        assert_eq!((calls, sent), (1, 3), "IMPORT_ON=sighting imports every finding again: {out}");
        assert_eq!(out["archived"], 0, "{out}");
        // The same report delivered again is not a new sighting.
        let before = e.processor.sink.as_ref().map_or(0, |s| s.calls.load(Ordering::SeqCst));
        e.processor.handle(&s3_event(&e.bucket, "scans/app/b-1/report.sarif"), &identity()).await.expect("again");
        assert_eq!(e.processor.sink.as_ref().map_or(0, |s| s.calls.load(Ordering::SeqCst)), before);
    });
}

#[test]
fn state_of_the_one_hash_version_upgrades_with_one_import_and_no_archive() {
    run(async {
        let e = env(Moto::shared(), ImportOn::Content).await;
        assert_eq!(e.build(0, &[V1, V2, V3]).await.0, 1);
        // Rewrite the state as the version with one hash wrote it: a whole-finding hash, no sighting hash.
        let bytes = e.get(&e.state_key()).await.expect("state");
        let mut legacy: Value = serde_json::from_slice(&bytes).expect("json");
        for (id, entry) in legacy["entries"].as_object_mut().expect("entries") {
            let entry = entry.as_object_mut().expect("entry");
            entry.insert("content_hash".into(), Value::String(format!("whole-finding-hash-of-{id}")));
            assert!(entry.remove("sighting_hash").is_some(), "this version writes a sighting hash");
        }
        e.upload(&e.state_key(), serde_json::to_vec(&legacy).expect("json"), &[]).await;

        let (calls, sent, out) = e.build(1, &[V1, V2, V3]).await;
        assert_eq!((calls, sent), (1, 3), "one import of each finding to record both hashes: {out}");
        assert_eq!(out["archived"], 0, "nothing archived: {out}");
        assert!(e.state().await.entries.values().all(|v| v.sighting_hash.is_some()));
        let (calls, sent, out) = e.build(2, &[V1, V2, V3]).await;
        assert_eq!((calls, sent), (0, 0), "after the upgrade a new tag imports nothing: {out}");
    });
}

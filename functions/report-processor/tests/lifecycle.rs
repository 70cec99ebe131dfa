//! Lifecycle identity and incomplete scans through the real handler against moto: every repository scanned by one shared
//! CodeBuild project keeps its own lifecycle; a scan that did not complete changes nothing
//! in Security Hub; state objects of the old (project-wide) identity are left alone.

#[macro_use]
mod common;

use common::{hub_sink, identity, qscanner_sarif, run, s3_event, Counting, V1, V2, V3, V4};
use report_processor::config::Config;
use report_processor::process::{parse_meta, Processor};
use scangate_aws::clients::Clients;
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink};
use scangate_core::contract;
use scangate_core::lifecycle::{self, LifecycleKey, ScanType};
use scangate_core::policy::Thresholds;
use scangate_core::suppression::HonorSuppressions;
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

type TestProcessor = Processor<S3Store, Counting<Sink<SecurityHubImporter>>>;
type Env = common::Env<TestProcessor>;

const PROJECT: &str = "qualys-codebuild-repo-us-east-1";

async fn env(moto: &Moto) -> Env {
    Env::new(moto, "sg-life", |clients, kms| {
        let config = Config {
            uploader_principal_ids: common::uploaders(),
            kms_key_id: Some(kms.to_string()),
            ..Config::default()
        };
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(Counting::new(hub_sink(clients))))
    })
    .await
}

/// The lifecycle identity of repository `url` on branch main.
fn repo_identity(url: &str) -> String {
    let n = lifecycle::normalize_repo_url(url).expect("a URL");
    format!("git:{n}#main")
}

/// Security Hub findings of one repo lifecycle: finding → RecordState.
async fn hub_findings(clients: &Clients, identity: &str) -> BTreeMap<String, String> {
    common::hub_findings(clients, ScanType::Repo, identity).await
}

fn states(f: &BTreeMap<String, String>) -> Vec<&str> {
    f.values().map(String::as_str).collect()
}

impl Env {
    async fn deliver(&self, key: &str) -> Value {
        self.processor.handle(&s3_event(&self.bucket, key), &identity()).await.expect("handler succeeds")
    }

    /// Uploads a repo scan of `url` (branch main) by build `build` of the shared project.
    async fn upload_repo(&self, build: &str, url: &str, at: &str, sarif: Vec<u8>) -> String {
        let key = format!("{}{}", contract::scan_dir(PROJECT, build), contract::REPORT_OBJECT_NAME);
        let arn = format!("arn:aws:codebuild:us-east-1:123456789012:build/{PROJECT}:{build}");
        let checkout = format!("/codebuild/output/src{build}/src");
        let meta = [
            ("scangate-scan-type", "repo"),
            ("scangate-target", checkout.as_str()),
            ("scangate-source-repo-url", url),
            ("scangate-source-branch", "main"),
            ("scangate-build-arn", arn.as_str()),
            ("scangate-scanned-at", at),
        ];
        self.upload(&key, sarif, &meta).await;
        key
    }

    fn calls(&self) -> u64 {
        self.processor.sink.as_ref().map_or(0, |s| s.calls.load(Ordering::SeqCst))
    }
}

fn repo_sarif(vulns: &[common::Vuln]) -> Vec<u8> {
    qscanner_sarif("unused", vulns)
}

/// `sarif` with `invocations` added to its first run.
fn with_invocations(sarif: Vec<u8>, invocations: Value) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&sarif).expect("SARIF JSON");
    doc["runs"][0]["invocations"] = invocations;
    serde_json::to_vec(&doc).expect("serializes")
}

#[test]
fn two_repositories_of_one_project_one_after_the_other() {
    run(async {
        let e = env(Moto::shared()).await;
        let a = format!("https://github.com/acme/{}-a.git", e.bucket);
        let b = format!("https://github.com/acme/{}-b.git", e.bucket);
        let ka = e.upload_repo("a-1", &a, "2026-11-23T08:00:00Z", repo_sarif(&[V1, V2])).await;
        let kb = e.upload_repo("b-1", &b, "2026-11-23T08:10:00Z", repo_sarif(&[V3, V4])).await;
        e.deliver(&ka).await;
        let out = e.deliver(&kb).await;
        assert_eq!(out["reports"][0]["archived"], 0, "scanning B archives nothing of A: {out}");
        let (fa, fb) =
            (hub_findings(&e.clients, &repo_identity(&a)).await, hub_findings(&e.clients, &repo_identity(&b)).await);
        assert_eq!(states(&fa), ["ACTIVE", "ACTIVE"], "A keeps its findings");
        assert_eq!(states(&fb), ["ACTIVE", "ACTIVE"]);
        assert!(fa.keys().all(|k| !fb.contains_key(k)) || fa.is_empty(), "no shared ids");

        // A clean rescan of A archives A's findings, and only those.
        let ka2 = e.upload_repo("a-2", &a, "2026-11-23T09:00:00Z", repo_sarif(&[])).await;
        let out = e.deliver(&ka2).await;
        assert_eq!(out["reports"][0]["archived"], 2, "{out}");
        assert_eq!(states(&hub_findings(&e.clients, &repo_identity(&a)).await), ["ARCHIVED", "ARCHIVED"]);
        assert_eq!(states(&hub_findings(&e.clients, &repo_identity(&b)).await), ["ACTIVE", "ACTIVE"], "B untouched");
    });
}

#[test]
fn two_repositories_of_one_project_concurrently() {
    run(async {
        let e = env(Moto::shared()).await;
        let c = format!("https://github.com/acme/{}-c", e.bucket);
        let d = format!("git@github.com:acme/{}-d.git", e.bucket);
        let kc = e.upload_repo("c-1", &c, "2026-11-23T08:00:00Z", repo_sarif(&[V1, V2, V3])).await;
        let kd = e.upload_repo("d-1", &d, "2026-11-23T08:00:00Z", repo_sarif(&[V1, V4])).await;
        let (oc, od) = tokio::join!(e.deliver(&kc), e.deliver(&kd));
        assert_eq!((oc["reports"][0]["imported"].clone(), od["reports"][0]["imported"].clone()), (3.into(), 2.into()));
        let (fc, fd) =
            (hub_findings(&e.clients, &repo_identity(&c)).await, hub_findings(&e.clients, &repo_identity(&d)).await);
        assert_eq!(states(&fc), ["ACTIVE"; 3]);
        assert_eq!(states(&fd), ["ACTIVE"; 2], "the same CVE in two repositories is two findings");
        // Two state objects, one per repository.
        for id in [repo_identity(&c), repo_identity(&d)] {
            let key =
                contract::state_key(&common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Repo, &id)).hash());
            assert!(e.get(&key).await.is_some(), "{key}");
        }
    });
}

#[test]
fn an_incomplete_scan_fails_and_changes_nothing_in_security_hub() {
    run(async {
        let e = env(Moto::shared()).await;
        let url = format!("https://github.com/acme/{}-e.git", e.bucket);
        let k1 = e.upload_repo("e-1", &url, "2026-11-23T08:00:00Z", repo_sarif(&[V1, V2])).await;
        e.deliver(&k1).await;
        let state_key = contract::state_key(
            &common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Repo, &repo_identity(&url))).hash(),
        );
        let state_before = e.get(&state_key).await.expect("state written");
        let cases = [
            ("e-2", serde_json::json!([{"executionSuccessful": false}]), "executionSuccessful is false"),
            (
                "e-3",
                serde_json::json!([{"executionSuccessful": true,
                    "toolExecutionNotifications": [{"level": "error", "message": {"text": "engine missing"}}]}]),
                "engine missing",
            ),
        ];
        for (build, invocations, why) in cases {
            let calls = e.calls();
            // Few results (none): a complete scan like this would archive both findings.
            let key = e
                .upload_repo(build, &url, "2026-11-23T09:00:00Z", with_invocations(repo_sarif(&[]), invocations))
                .await;
            let out = e.deliver(&key).await;
            assert_eq!(out["reports"][0]["archived"], 0, "{out}");
            assert_eq!(e.calls(), calls, "no Security Hub call");
            let v = e.verdict(&contract::verdict_key(PROJECT, build)).await;
            assert!(!v.passed, "{build}");
            assert!(
                v.reasons[0].contains("the scan did not complete") && v.reasons[0].contains(why),
                "{:?}",
                v.reasons
            );
            assert!(!v.incomplete.is_empty());
            let junit =
                String::from_utf8(e.get(&contract::junit_key(PROJECT, build)).await.expect("junit")).expect("utf-8");
            assert!(junit.contains("the scan did not complete"), "{junit}");
            let summary = String::from_utf8(e.get(&contract::summary_key(PROJECT, build)).await.expect("summary"))
                .expect("utf-8");
            assert!(summary.contains("the scan did not complete"), "{summary}");
            assert_eq!(states(&hub_findings(&e.clients, &repo_identity(&url)).await), ["ACTIVE", "ACTIVE"]);
            assert_eq!(e.get(&state_key).await.as_deref(), Some(state_before.as_slice()), "state object unchanged");
        }
    });
}

#[test]
fn the_old_project_wide_state_is_left_alone_and_nothing_is_mass_archived() {
    run(async {
        let e = env(Moto::shared()).await;
        // Earlier builds of scangate gave every repo scan of the project `project:<name>`.
        let old = common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Repo, &format!("project:{PROJECT}")));
        let old_key = contract::state_key(&old.hash());
        let url = format!("https://github.com/acme/{}-f.git", e.bucket);
        // The old lifecycle's findings, applied as the old processor did (no URL metadata).
        let key0 = format!("{}{}", contract::scan_dir(PROJECT, "f-0"), contract::REPORT_OBJECT_NAME);
        let meta0 = [
            ("scangate-scan-type", "repo"),
            ("scangate-target", "/codebuild/output/src0/src"),
            ("scangate-scanned-at", "2026-11-23T07:00:00Z"),
            (
                "scangate-build-arn",
                "arn:aws:codebuild:us-east-1:123456789012:build/qualys-codebuild-repo-us-east-1:f-0",
            ),
        ];
        e.upload(&key0, repo_sarif(&[V1, V2, V3]), &meta0).await;
        e.deliver(&key0).await;
        let old_state = e.get(&old_key).await.expect("the old identity's state");
        // Now the runner records the repository: a new lifecycle, which starts empty.
        let k1 = e.upload_repo("f-1", &url, "2026-11-23T08:00:00Z", repo_sarif(&[V1])).await;
        let out = e.deliver(&k1).await;
        assert_eq!(out["reports"][0]["archived"], 0, "nothing it did not import is archived: {out}");
        assert_eq!(out["reports"][0]["imported"], 1, "{out}");
        assert_eq!(e.get(&old_key).await.as_deref(), Some(old_state.as_slice()), "the old state object is left alone");
        let old_prefix = format!("scangate/{}/", old.hash());
        let page = e.clients.securityhub.get_findings().max_results(100).send().await.expect("GetFindings");
        let old_active = page
            .findings()
            .iter()
            .filter(|f| f.id().unwrap_or_default().starts_with(&old_prefix))
            .filter(|f| f.record_state().map(|r| r.as_str()) == Some("ACTIVE"))
            .count();
        assert_eq!(old_active, 3, "the old lifecycle's findings are not archived by the upgrade");
    });
}

#[test]
fn pipeline_and_webhook_builds_of_one_branch_share_a_lifecycle() {
    let m = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let identity = |pairs: &[(&str, &str)]| {
        let meta = parse_meta(&m(pairs), &Thresholds::default()).expect("valid metadata");
        lifecycle::identity(&meta.target_inputs(meta.target.as_deref().unwrap_or(""), PROJECT))
    };
    // A webhook build: CodeBuild's CODEBUILD_SOURCE_REPO_URL and head ref, as the runner records them.
    let webhook = identity(&[
        ("scangate-scan-type", "repo"),
        ("scangate-target", "/codebuild/output/src1/src"),
        ("scangate-source-repo-url", "https://github.com/acme/shop.git"),
        ("scangate-source-branch", "main"),
    ]);
    // A pipeline build: CODEBUILD_SOURCE_REPO_URL is empty; the pipeline passes
    // SCANGATE_SOURCE_REPO_URL and SCANGATE_SOURCE_BRANCH from its source action's variables.
    let pipeline = |branch: &str| {
        identity(&[
            ("scangate-scan-type", "repo"),
            ("scangate-target", "/codebuild/output/src9/src"),
            ("scangate-initiator", "codepipeline/shop-pipeline"),
            ("scangate-pipeline", "shop-pipeline"),
            ("scangate-source-action", "Source"),
            ("scangate-source-repo-url", "https://github.com/Acme/Shop"),
            ("scangate-source-branch", branch),
        ])
    };
    assert_eq!(webhook, pipeline("main"));
    assert_ne!(webhook, pipeline("dev"), "different branches, different lifecycles");
    // A pipeline that passes no repository: its name and source action, never the checkout path.
    let bare = identity(&[
        ("scangate-scan-type", "repo"),
        ("scangate-target", "/codebuild/output/src9/src"),
        ("scangate-pipeline", "shop-pipeline"),
        ("scangate-source-action", "Source"),
    ]);
    assert_eq!(bare, "pipeline:shop-pipeline/Source");
}

/// Every Security Hub finding of repo lifecycle `identity`, sorted: what an import changes (id,
/// UpdatedAt, RecordState, severity, title, workflow, note, ProductFields and
/// UserDefinedFields in a fixed order), its RecordState and its ProductFields.
async fn hub_full(clients: &Clients, identity: &str) -> Vec<(String, String, BTreeMap<String, String>)> {
    let key = common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Repo, identity));
    let prefix = format!("scangate/{}/", key.hash());
    let page = clients.securityhub.get_findings().max_results(100).send().await.expect("GetFindings");
    let mut out: Vec<_> = page
        .findings()
        .iter()
        .filter(|f| f.id().unwrap_or_default().starts_with(&prefix))
        .map(|f| {
            let mut f = f.clone();
            let fields: BTreeMap<_, _> = f.product_fields.take().unwrap_or_default().into_iter().collect();
            let user: BTreeMap<_, _> = f.user_defined_fields.take().unwrap_or_default().into_iter().collect();
            let state = f.record_state().map(|r| r.as_str().to_string()).unwrap_or_default();
            // Resources' Details.Other is a HashMap, whose Debug order differs between reads.
            let seen = (f.id(), f.updated_at(), f.record_state(), f.severity(), f.title(), f.workflow(), f.note());
            (format!("{seen:?} {fields:?} {user:?}"), state, fields)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_finding_suppressed_in_a_rescan_is_updated_not_archived_once() {
    run(async {
        let e = Env::new(Moto::shared(), "sg-life", |clients, kms| {
            let mut config = Config {
                uploader_principal_ids: common::uploaders(),
                kms_key_id: Some(kms.to_string()),
                ..Config::default()
            };
            config.gate.suppressions = HonorSuppressions::External;
            Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(Counting::new(hub_sink(clients))))
        })
        .await;
        let url = format!("https://github.com/acme/{}-s.git", e.bucket);
        let id = repo_identity(&url);
        let k1 = e.upload_repo("s-1", &url, "2026-11-23T08:00:00Z", repo_sarif(&[V1])).await;
        let out = e.deliver(&k1).await;
        assert_eq!(out["reports"][0]["imported"], 1, "{out}");
        let before = hub_full(&e.clients, &id).await;
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].1, "ACTIVE");
        assert_eq!(before[0].2.get("scangate/Suppressed"), None, "not suppressed yet: {:?}", before[0].2);

        // The verified rescan reports the same finding, now with an external suppression.
        let mut doc: Value = serde_json::from_slice(&repo_sarif(&[V1])).expect("SARIF JSON");
        doc["runs"][0]["results"][0]["suppressions"] = serde_json::json!([{"kind": "external", "status": "accepted", "justification": "risk accepted: not reachable"}]);
        let k2 = e.upload_repo("s-2", &url, "2026-11-23T09:00:00Z", serde_json::to_vec(&doc).expect("JSON")).await;
        let out = e.deliver(&k2).await;
        assert_eq!(
            (out["reports"][0]["archived"].clone(), out["reports"][0]["imported"].clone()),
            (0.into(), 1.into()),
            "{out}"
        );
        let v = e.verdict(&contract::verdict_key(PROJECT, "s-2")).await;
        assert_eq!((v.suppressed, v.suppressions_ignored, v.passed), (1, 0, true), "{:?}", v.reasons);
        let after = hub_full(&e.clients, &id).await;
        assert_eq!(after.len(), 1, "the same finding, updated: {after:?}");
        assert_ne!(after[0].0, before[0].0, "updated in this one delivery");
        assert_eq!(after[0].1, "ACTIVE", "not archived for being suppressed");
        let fields = &after[0].2;
        assert_eq!(fields.get("scangate/Suppressed").map(String::as_str), Some("true"), "{fields:?}");
        assert_eq!(fields.get("scangate/SuppressionKinds").map(String::as_str), Some("external"));
        assert_eq!(
            fields.get("scangate/SuppressionJustification").map(String::as_str),
            Some("risk accepted: not reachable")
        );

        // A duplicate delivery of the rescan changes nothing: not Security Hub, not the state.
        let state_key =
            contract::state_key(&common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Repo, &id)).hash());
        let state = e.get(&state_key).await.expect("state written");
        let calls = e.calls();
        let out = e.deliver(&k2).await;
        assert_eq!(out["reports"][0]["archived"], 0, "{out}");
        assert_eq!(e.calls(), calls, "no Security Hub call: {out}");
        assert_eq!(hub_full(&e.clients, &id).await, after, "Security Hub unchanged");
        assert_eq!(e.get(&state_key).await, Some(state), "state object unchanged");
    });
}

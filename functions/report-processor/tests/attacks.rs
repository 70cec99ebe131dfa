//! docs/security.md, "An uploader decides too much" and "Keys": each test performs one attack
//! an uploader (anyone who can put an object under scans/) could try, through the real
//! handler against S3 and Security Hub on moto, and checks that it fails. CodeBuild is a fake
//! that knows the builds of the test (BatchGetBuilds is not what is under test).

#[macro_use]
mod common;

use common::{hub_sink, identity, lock, qscanner_sarif, run, s3_event, V1, V2, V3};
use report_processor::config::Config;
use report_processor::process::Processor;
use scangate_aws::codebuild::{BuildInfo, CodeBuildError, CodeBuildOps, Ensured, ReportExport, StartBuild};
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink};
use scangate_core::lifecycle::state::LifecycleState;
use scangate_core::lifecycle::{LifecycleKey, ScanType};
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// CodeBuild's BatchGetBuilds as the processor sees it: the builds this test started.
#[derive(Default)]
struct Builds {
    known: Mutex<HashMap<String, BuildInfo>>,
}

fn arn(project: &str, id: &str) -> String {
    format!("arn:aws:codebuild:{REGION}:{ACCOUNT_ID}:build/{project}:{id}")
}

impl Builds {
    /// A build of `project` started by `pipeline` (execution `execution`), or by hand.
    fn started(&self, project: &str, id: &str, pipeline: Option<(&str, &str)>) -> String {
        let arn = arn(project, id);
        let info = BuildInfo {
            arn: arn.clone(),
            project: Some(project.into()),
            initiator: Some(pipeline.map_or("someone".to_string(), |(p, _)| format!("codepipeline/{p}"))),
            pipeline_execution_id: pipeline.map(|(_, e)| e.to_string()),
            ..BuildInfo::default()
        };
        lock(&self.known).insert(format!("{project}:{id}"), info);
        arn
    }
}

impl CodeBuildOps for Builds {
    async fn build_info(&self, build_id: &str) -> Result<Option<BuildInfo>, CodeBuildError> {
        let id = scangate_core::contract::build_id(build_id);
        Ok(lock(&self.known).get(id).cloned())
    }

    async fn ensure_report_group(&self, _name: &str, _export: &ReportExport) -> Result<Ensured, CodeBuildError> {
        Ok(Ensured::AlreadyExists)
    }

    async fn start_build(&self, request: &StartBuild) -> Result<String, CodeBuildError> {
        Ok(format!("{}:never", request.project))
    }
}

type TestProcessor = Processor<S3Store, Sink<SecurityHubImporter>, Builds>;
type Env = common::Env<TestProcessor>;

async fn env_with(moto: &Moto, allow_relax: bool) -> Env {
    Env::new(moto, "sg-attack", move |clients, kms| {
        let config =
            Config { kms_key_id: Some(kms.to_string()), allow_metadata_relax: allow_relax, ..Config::default() };
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(hub_sink(clients)))
            .with_codebuild(Builds::default())
    })
    .await
}

impl Env {
    async fn deliver(&self, key: &str) -> Value {
        let out = self.processor.handle(&s3_event(&self.bucket, key), &identity()).await.expect("handled, not retried");
        out["reports"][0].clone()
    }

    fn builds(&self) -> &Builds {
        self.processor.codebuild.as_ref().expect("fake CodeBuild")
    }

    async fn reason(&self, quarantine_key: &str) -> Value {
        let body = self.get(&format!("{quarantine_key}.reason.json")).await.expect("reason beside the quarantine copy");
        serde_json::from_slice(&body).expect("reason is JSON")
    }

    async fn state(&self, repo: &str) -> LifecycleState {
        let lk = LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, repo);
        let bytes = self.get(&format!("state/{}.json", lk.hash())).await.expect("state object exists");
        LifecycleState::from_json(&bytes, "state").expect("state parses")
    }
}

fn meta<'a>(image: &'a str, at: &'a str, build_arn: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("scangate-target", image),
        ("scangate-scan-type", "image"),
        ("scangate-scanned-at", at),
        ("scangate-build-arn", build_arn),
    ]
}

#[test]
fn attack_relaxed_thresholds_in_metadata_are_ignored() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = format!("registry.example/{}:1", e.bucket);
        let build = e.builds().started("app", "b-1", None);
        let mut m = meta(&image, "2026-11-23T08:00:00Z", &build);
        m.extend([("scangate-max-critical", "-1"), ("scangate-max-high", "-1"), ("scangate-max-medium", "0")]);
        let key = "scans/app/b-1/report.sarif";
        e.upload(key, qscanner_sarif(&image, &[V1, V2]), &m).await;
        let out = e.deliver(key).await;
        assert_eq!(out["passed"], false, "one critical fails the stack's max_critical=0 whatever the metadata: {out}");
        let v = e.verdict("results/app/b-1/verdict.json").await;
        assert!(!v.passed);
        assert!(
            v.warnings.iter().any(|w| w.contains("scangate-max-critical=-1 would relax the stack's max_critical=0")),
            "{:?}",
            v.warnings
        );
        // Tightening is still the uploader's to ask: max_medium=0 applies.
        assert!(v.reasons.iter().any(|r| r.contains("medium")) || v.counts.medium == 0, "{:?}", v.reasons);

        // A stack that opted in (AllowMetadataRelax=true) takes the relaxed values.
        let e = env_with(Moto::shared(), true).await;
        let build = e.builds().started("app", "b-1", None);
        let mut m = meta(&image, "2026-11-23T08:00:00Z", &build);
        m.extend([("scangate-max-critical", "-1"), ("scangate-max-high", "-1")]);
        e.upload(key, qscanner_sarif(&image, &[V1, V2]), &m).await;
        assert_eq!(e.deliver(key).await["passed"], true);
    });
}

#[test]
fn attack_a_foreign_pipeline_execution_gets_no_verdict() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = format!("registry.example/{}:1", e.bucket);
        // The attacker's build runs in its own pipeline and execution, and claims the victim's.
        let build = e.builds().started("attacker", "a-1", Some(("attacker-pipeline", "a-exec")));
        let mut m = meta(&image, "2026-11-23T08:00:00Z", &build);
        m.extend([("scangate-pipeline", "victim-pipeline"), ("scangate-pipeline-execution-id", "v-exec")]);
        let key = "scans/attacker/a-1/report.sarif";
        e.upload(key, qscanner_sarif(&image, &[]), &m).await;
        let out = e.deliver(key).await;
        let reason = out["quarantined"].as_str().unwrap_or_else(|| panic!("refused: {out}"));
        assert!(reason.contains("claims pipeline \"victim-pipeline\""), "{reason}");
        assert!(e.get("results/by-execution/victim-pipeline/v-exec/verdict.json").await.is_none());
        assert!(e.get("results/attacker/a-1/verdict.json").await.is_none(), "no results for a refused report");
        assert_eq!(e.reason(&format!("quarantine/{key}")).await["results_written"], false);

        // The right pipeline with another execution id is refused too.
        let mut m = meta(&image, "2026-11-23T08:00:00Z", &build);
        m.extend([("scangate-pipeline", "attacker-pipeline"), ("scangate-pipeline-execution-id", "v-exec")]);
        e.upload(key, qscanner_sarif(&image, &[]), &m).await;
        let out = e.deliver(key).await;
        assert!(
            out["quarantined"].as_str().is_some_and(|r| r.contains("claims pipeline execution \"v-exec\"")),
            "{out}"
        );
        assert!(e.get("results/by-execution/attacker-pipeline/v-exec/verdict.json").await.is_none());

        // Its own execution, verified against the build, gets its by-execution verdict.
        let mut m = meta(&image, "2026-11-23T08:00:00Z", &build);
        m.extend([("scangate-pipeline", "attacker-pipeline"), ("scangate-pipeline-execution-id", "a-exec")]);
        e.upload(key, qscanner_sarif(&image, &[]), &m).await;
        assert_eq!(e.deliver(key).await["passed"], true);
        let own = e.verdict("results/by-execution/attacker-pipeline/a-exec/verdict.json").await;
        assert_eq!(own, e.verdict("results/attacker/a-1/verdict.json").await);
        // It names that (verified) execution, which a gate compares with its job's, and the SHA-256 of the
        // JUnit and summary written beside it, the only bytes the runner hands on.
        let named = own.pipeline_execution.as_ref().map(|p| (p.pipeline.as_str(), p.execution_id.as_str()));
        assert_eq!(named, Some(("attacker-pipeline", "a-exec")));
        for (file, sha) in [("junit.xml", &own.junit_sha256), ("summary.md", &own.summary_sha256)] {
            let body = e.get(&format!("results/attacker/a-1/{file}")).await.expect(file);
            assert_eq!(sha.as_deref(), Some(scangate_core::verdict::content_sha256(&body).as_str()), "{file}");
        }

        // A claim no build backs (no build ARN) is not written either.
        let key2 = "scans/attacker/a-2/report.sarif";
        let m = vec![
            ("scangate-target", image.as_str()),
            ("scangate-pipeline", "victim-pipeline"),
            ("scangate-pipeline-execution-id", "v-exec-2"),
        ];
        e.upload(key2, qscanner_sarif(&image, &[]), &m).await;
        assert_eq!(e.deliver(key2).await["passed"], true);
        assert!(e.get("results/by-execution/victim-pipeline/v-exec-2/verdict.json").await.is_none());
        let v = e.verdict("results/attacker/a-2/verdict.json").await;
        assert!(v.warnings.iter().any(|w| w.contains("could not be verified")), "{:?}", v.warnings);
        assert_eq!(v.pipeline_execution, None, "an unverified claim names no execution a gate would take");
    });
}

#[test]
fn attack_another_projects_prefix_leaves_its_results_alone() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = format!("registry.example/{}:1", e.bucket);
        let victim = e.builds().started("victim", "v-1", None);
        let key = "scans/victim/v-1/report.sarif";
        e.upload(key, qscanner_sarif(&image, &[V1]), &meta(&image, "2026-11-23T08:00:00Z", &victim)).await;
        e.deliver(key).await;
        let before = e.get("results/victim/v-1/verdict.json").await.expect("victim's verdict");

        // The attacker's build writes under the victim's prefix, a clean report.
        let attacker = e.builds().started("attacker", "a-1", None);
        e.upload(key, qscanner_sarif(&image, &[]), &meta(&image, "2026-11-23T09:00:00Z", &attacker)).await;
        let out = e.deliver(key).await;
        let reason = out["quarantined"].as_str().unwrap_or_else(|| panic!("refused: {out}"));
        assert!(reason.contains("names project \"victim\" but the build"), "{reason}");
        assert_eq!(e.get("results/victim/v-1/verdict.json").await, Some(before), "the victim's verdict is untouched");
        let repo = format!("registry.example/{}", e.bucket);
        assert_eq!(e.state(&repo).await.entries.len(), 1, "the victim's finding was not archived");
    });
}

#[test]
fn attack_a_2099_scan_date_neither_archives_nor_makes_real_reports_stale() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = format!("registry.example/{}:1", e.bucket);
        let repo = format!("registry.example/{}", e.bucket);
        let b1 = e.builds().started("app", "b-1", None);
        e.upload(
            "scans/app/b-1/report.sarif",
            qscanner_sarif(&image, &[V1, V2]),
            &meta(&image, "2026-11-23T08:00:00Z", &b1),
        )
        .await;
        assert_eq!(e.deliver("scans/app/b-1/report.sarif").await["imported"], 2);

        // An empty report of the victim's image claiming to be from 2099.
        let b2 = e.builds().started("app", "evil", None);
        let key = "scans/app/evil/report.sarif";
        e.upload(key, qscanner_sarif(&image, &[]), &meta(&image, "2099-01-01T00:00:00Z", &b2)).await;
        let out = e.deliver(key).await;
        let reason = out["quarantined"].as_str().unwrap_or_else(|| panic!("refused: {out}"));
        assert!(
            reason.contains("claims the scan ran at 2099-01-01T00:00:00Z, after the report was uploaded"),
            "{reason}"
        );
        let state = e.state(&repo).await;
        assert_eq!(state.entries.len(), 2, "nothing archived");
        assert_eq!(state.applied.as_ref().map(|a| a.key.as_str()), Some("scans/app/b-1/report.sarif"));

        // The next real report is applied, not stale.
        let b3 = e.builds().started("app", "b-3", None);
        e.upload(
            "scans/app/b-3/report.sarif",
            qscanner_sarif(&image, &[V1, V2, V3]),
            &meta(&image, "2026-11-23T09:00:00Z", &b3),
        )
        .await;
        let out = e.deliver("scans/app/b-3/report.sarif").await;
        assert_eq!((out["stale"].clone(), out["imported"].clone()), (Value::Bool(false), Value::from(1)), "{out}");
        assert_eq!(e.state(&repo).await.entries.len(), 3);
    });
}

#[test]
fn attack_an_over_long_key_is_quarantined_under_a_hashed_name() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = format!("registry.example/{}:1", e.bucket);
        // 1010 bytes: a valid S3 key, but results/<project>/… and quarantine/<key>.reason.json would not be.
        let project = "p".repeat(1010 - "scans//b-1/report.sarif".len());
        let key = format!("scans/{project}/b-1/report.sarif");
        assert_eq!(key.len(), 1010);
        e.upload(&key, qscanner_sarif(&image, &[V1]), &[("scangate-target", image.as_str())]).await;
        let out = e.deliver(&key).await;
        assert!(out["quarantined"].as_str().is_some_and(|r| r.contains("results keys")), "{out}");
        let hashed = scangate_core::contract::quarantine_copy_key(&key);
        assert!(hashed.starts_with("quarantine/_invalid-keys/"), "{hashed}");
        assert!(e.get(&hashed).await.is_some(), "the report is kept under the hashed name");
        assert_eq!(e.reason(&hashed).await["key"], key, "the reason names the original key");
        let listed = e.clients.s3.list_objects_v2().bucket(&e.bucket).prefix("results/").send().await.expect("list");
        assert_eq!(listed.contents().len(), 0, "nothing derived from the key was written");
    });
}

#[test]
fn attack_a_dot_dot_key_is_quarantined_without_results() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = format!("registry.example/{}:1", e.bucket);
        let key = "scans/app/..%2F..%2Fresults/../victim/b/report.sarif".replace("%2F", "/");
        e.upload(&key, qscanner_sarif(&image, &[]), &[("scangate-target", image.as_str())]).await;
        let out = e.deliver(&key).await;
        assert!(out["quarantined"].as_str().is_some_and(|r| r.contains("\"..\" segment")), "{out}");
        let reason = e.reason(&format!("quarantine/{key}")).await;
        assert_eq!((reason["key"].as_str(), reason["results_written"].as_bool()), (Some(key.as_str()), Some(false)));
        let listed = e.clients.s3.list_objects_v2().bucket(&e.bucket).prefix("results/").send().await.expect("list");
        assert_eq!(listed.contents().len(), 0, "nothing derived from the key was written: {:?}", listed.contents());
    });
}

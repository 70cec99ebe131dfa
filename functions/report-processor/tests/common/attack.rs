//! The stage of tests/attacks.rs: a processor whose CodeBuild is a fake that knows the builds
//! of the test (BatchGetBuilds is not what is under test), the victim's verified scan, and
//! what the victim and the security team rely on, read back byte for byte.

use super::{hub_sink, identity, lock, qscanner_sarif, s3_event, Env, V1, V2};
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

/// CodeBuild's BatchGetBuilds as the processor sees it: the builds this test started, each
/// a build of its project's own buildspec, running since an hour ago, unless a test changes
/// that (status, times, buildspec override, variables).
#[derive(Default)]
pub(crate) struct Builds {
    known: Mutex<HashMap<String, BuildInfo>>,
}

fn arn(project: &str, id: &str) -> String {
    format!("arn:aws:codebuild:{REGION}:{ACCOUNT_ID}:build/{project}:{id}")
}

impl Builds {
    /// A running build of `project` scanning `image`, started by `pipeline` (execution
    /// `execution`), or by hand.
    pub(crate) fn started(&self, project: &str, id: &str, pipeline: Option<(&str, &str)>, image: &str) -> String {
        self.started_with(project, id, pipeline, image, |_| {})
    }

    /// [`Self::started`], then changed by `change`.
    pub(crate) fn started_with(
        &self,
        project: &str,
        id: &str,
        pipeline: Option<(&str, &str)>,
        image: &str,
        change: impl FnOnce(&mut BuildInfo),
    ) -> String {
        let arn = arn(project, id);
        let mut env = vec![("IMAGE_ID".to_string(), image.to_string())];
        if let Some((_, e)) = pipeline {
            env.push(("SCANGATE_PIPELINE_EXECUTION_ID".into(), e.to_string()));
        }
        let mut info = BuildInfo {
            arn: arn.clone(),
            project: Some(project.into()),
            initiator: Some(pipeline.map_or("someone".to_string(), |(p, _)| format!("codepipeline/{p}"))),
            pipeline_execution_id: pipeline.map(|(_, e)| e.to_string()),
            start_time: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
            end_time: None,
            buildspec_overridden: Some(false),
            env,
            ..BuildInfo::default()
        };
        change(&mut info);
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

pub(crate) type AttackProcessor = Processor<S3Store, Sink<SecurityHubImporter>, Builds>;
pub(crate) type AttackEnv = Env<AttackProcessor>;

/// The stack of the attack tests: scan projects app, victim and attacker, the writer role
/// as the scan role, `allow_relax` as AllowMetadataRelax.
pub(crate) async fn env_with(moto: &Moto, allow_relax: bool) -> AttackEnv {
    env_configured(moto, |c| c.allow_metadata_relax = allow_relax).await
}

/// [`env_with`] (relaxing refused), then its configuration changed by `change`.
pub(crate) async fn env_configured(moto: &Moto, change: impl FnOnce(&mut Config)) -> AttackEnv {
    Env::new(moto, "sg-attack", move |clients, kms| {
        let mut config = Config {
            kms_key_id: Some(kms.to_string()),
            scan_projects: vec!["app".into(), "victim".into(), "attacker".into()],
            scan_role_ids: vec![super::WRITER_ROLE_ID.into()],
            ..Config::default()
        };
        change(&mut config);
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(hub_sink(clients)))
            .with_codebuild(Builds::default())
    })
    .await
}

/// The metadata of a report of `image` scanned at `at` by `build_arn`.
pub(crate) fn meta<'a>(image: &'a str, at: &'a str, build_arn: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("scangate-target", image),
        ("scangate-scan-type", "image"),
        ("scangate-scanned-at", at),
        ("scangate-build-arn", build_arn),
    ]
}

/// What a victim and the security team rely on, byte for byte: every Security Hub finding
/// of the image's lifecycle (as GetFindings returns it), the state object and the verdict.
#[derive(PartialEq)]
pub(crate) struct Victim {
    pub findings: Vec<String>,
    pub state: Option<Vec<u8>>,
    pub verdict: Option<Vec<u8>>,
}

impl std::fmt::Debug for Victim {
    /// What differs is what matters: a digest of each part (the parts are long).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use sha2::Digest;
        let d = |b: &[u8]| hex::encode(&sha2::Sha256::digest(b)[..6]);
        let findings: Vec<String> = self.findings.iter().map(|x| d(x.as_bytes())).collect();
        write!(
            f,
            "findings {findings:?}, state {:?}, verdict {:?}",
            self.state.as_deref().map(d),
            self.verdict.as_deref().map(d)
        )
    }
}

impl AttackEnv {
    /// The victim's image (unique to this test's bucket).
    pub(crate) fn image(&self) -> String {
        format!("registry.example/{}:1", self.bucket)
    }

    /// The repository of [`Self::image`], the identity of its lifecycle.
    pub(crate) fn repo(&self) -> String {
        format!("registry.example/{}", self.bucket)
    }

    /// Delivers `key` as its build's session wrote it; the report's outcome.
    pub(crate) async fn deliver(&self, key: &str) -> Value {
        let out = self.processor.handle(&s3_event(&self.bucket, key), &identity()).await.expect("handled, not retried");
        out["reports"][0].clone()
    }

    /// Delivers `key` as written by `principal_id` (S3's `userIdentity.principalId`).
    pub(crate) async fn deliver_as(&self, key: &str, principal_id: &str) -> Value {
        let mut ev = s3_event(&self.bucket, key);
        ev["Records"][0]["userIdentity"]["principalId"] = Value::from(principal_id);
        let out = self.processor.handle(&ev, &identity()).await.expect("handled, not retried");
        out["reports"][0].clone()
    }

    pub(crate) fn builds(&self) -> &Builds {
        self.processor.codebuild.as_ref().expect("fake CodeBuild")
    }

    /// The reason written beside a quarantine copy.
    pub(crate) async fn reason(&self, quarantine_key: &str) -> Value {
        let body = self.get(&format!("{quarantine_key}.reason.json")).await.expect("reason beside the quarantine copy");
        serde_json::from_slice(&body).expect("reason is JSON")
    }

    /// The (build-owned) lifecycle state of image repository `repo`.
    pub(crate) async fn state(&self, repo: &str) -> LifecycleState {
        let lk = LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, repo);
        let bytes = self.get(&format!("state/{}.json", lk.hash())).await.expect("state object exists");
        LifecycleState::from_json(&bytes, "state").expect("state parses")
    }

    /// Turns on the bucket's versioning.
    pub(crate) async fn enable_versioning(&self) {
        let on = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        let s3 = &self.clients.s3;
        s3.put_bucket_versioning().bucket(&self.bucket).versioning_configuration(on).send().await.expect("versioning");
    }

    /// Lists the keys under `prefix`.
    pub(crate) async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed = self.clients.s3.list_objects_v2().bucket(&self.bucket).prefix(prefix).send().await.expect("list");
        listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
    }

    /// The victim's findings of `repo` (the build-owned lifecycle), state and the verdict at
    /// `verdict_key`.
    pub(crate) async fn victim(&self, repo: &str, verdict_key: &str) -> Victim {
        self.victim_of(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, repo), verdict_key).await
    }

    /// [`Self::victim`] for any lifecycle `lk`.
    pub(crate) async fn victim_of(&self, lk: LifecycleKey, verdict_key: &str) -> Victim {
        let prefix = format!("scangate/{}/", lk.hash());
        let mut findings: Vec<String> = super::all_hub_findings(&self.clients)
            .await
            .into_iter()
            .filter(|f| f.id().unwrap_or_default().starts_with(&prefix))
            .map(|mut f| {
                // Every field as GetFindings returns it; the maps in a fixed order.
                let fields: std::collections::BTreeMap<_, _> =
                    f.product_fields.take().unwrap_or_default().into_iter().collect();
                let user: std::collections::BTreeMap<_, _> =
                    f.user_defined_fields.take().unwrap_or_default().into_iter().collect();
                format!("{f:?} {fields:?} {user:?}")
            })
            .collect();
        findings.sort();
        Victim {
            findings,
            state: self.get(&format!("state/{}.json", lk.hash())).await,
            verdict: self.get(verdict_key).await,
        }
    }

    /// The victim's verified scan of this test's image, processed; then what the victim
    /// relies on ([`Self::victim_now`]), to compare with after an attack.
    pub(crate) async fn victim_at_rest(&self) -> Victim {
        self.victim_scanned(&self.image()).await;
        self.victim_now().await
    }

    /// The victim's findings, state and verdict as they are now.
    pub(crate) async fn victim_now(&self) -> Victim {
        self.victim(&self.repo(), VICTIM_VERDICT).await
    }

    /// The victim's verified scan of `image` (V1 critical, V2 high), processed; the key of
    /// its verdict.
    pub(crate) async fn victim_scanned(&self, image: &str) -> &'static str {
        let key = "scans/victim/v-1/report.sarif";
        let build = self.builds().started("victim", "v-1", None, image);
        self.upload(key, qscanner_sarif(image, &[V1, V2]), &meta(image, "2026-11-23T08:00:00Z", &build)).await;
        let out = self.deliver(key).await;
        assert_eq!((out["imported"].clone(), out["passed"].clone()), (Value::from(2), Value::Bool(false)), "{out}");
        VICTIM_VERDICT
    }
}

/// Where the victim's verdict is ([`AttackEnv::victim_scanned`]).
pub(crate) const VICTIM_VERDICT: &str = "results/victim/v-1/verdict.json";

/// One forged report: what it is, its key, its metadata beyond target, type and time, and
/// the reason it is not verified.
pub(crate) type Forgery<'a> = (&'a str, String, Vec<(&'a str, String)>, &'a str);

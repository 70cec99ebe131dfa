//! Report-group publishing: the processor publishes the JUnit of reports no build waits for, through the
//! publisher CodeBuild project, only for verified builds of `PUBLISH_PROJECTS` and once per source build.
//! S3 and Security Hub are moto; CodeBuild is a counting fake of the adapter traits that knows the builds
//! of `known_builds` (BatchGetBuilds) and behaves like StartBuild's idempotency token (same token → same
//! build).

mod common;

use common::{hub_sink, identity, lock, run, s3_event, Counting};
use report_processor::config::Config;
use report_processor::process::Processor;
use scangate_aws::codebuild::{BuildInfo, CodeBuildError, CodeBuildOps, Ensured, ReportExport, StartBuild};
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink};
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const PUBLISHER: &str = "qualys-codebuild-publisher-us-east-1";
const BUILD_ARN: &str = "arn:aws:codebuild:us-east-1:123456789012:build/app:b-1";
const BUILD_PREFIX: &str = "arn:aws:codebuild:us-east-1:123456789012:build/";

/// The ARN of build `id` of `project`.
fn build_arn(project: &str, id: &str) -> String {
    format!("{BUILD_PREFIX}{project}:{id}")
}

/// CodeBuild as the processor sees it: records every call; StartBuild answers the same
/// build id for a token it has seen (as CodeBuild does for ~5 minutes) and can be told to
/// fail the next calls.
#[derive(Default)]
struct FakeCodeBuild {
    ensured: Mutex<Vec<(String, ReportExport)>>,
    starts: Mutex<Vec<StartBuild>>,
    fail_next_starts: AtomicU64,
    by_token: Mutex<HashMap<String, String>>,
    /// Build ARNs CodeBuild knows (BatchGetBuilds answers them; any other is unknown).
    known_builds: Mutex<Vec<String>>,
    /// The image the known builds scan (their IMAGE_ID).
    image: Mutex<String>,
    /// The build whose session wrote each key (the `scangate-build-arn` it was uploaded with).
    writers: Mutex<HashMap<String, String>>,
}

impl CodeBuildOps for FakeCodeBuild {
    async fn build_info(&self, build_id: &str) -> Result<Option<BuildInfo>, CodeBuildError> {
        if !lock(&self.known_builds).iter().any(|b| b == build_id) {
            return Ok(None);
        }
        let project =
            build_id.strip_prefix(BUILD_PREFIX).and_then(|id| id.rsplit_once(':')).map(|(p, _)| p.to_string());
        // A running build of its project's own buildspec, scanning the image of the test.
        Ok(Some(BuildInfo {
            arn: build_id.to_string(),
            project,
            start_time: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
            buildspec_overridden: Some(false),
            env: vec![("IMAGE_ID".into(), lock(&self.image).clone())],
            ..BuildInfo::default()
        }))
    }

    async fn ensure_report_group(&self, name: &str, export: &ReportExport) -> Result<Ensured, CodeBuildError> {
        let mut e = lock(&self.ensured);
        let seen = e.iter().any(|(n, _)| n == name);
        e.push((name.to_string(), export.clone()));
        Ok(if seen {
            Ensured::AlreadyExists
        } else {
            Ensured::Created { arn: format!("arn:aws:codebuild:{REGION}:{ACCOUNT_ID}:report-group/{name}") }
        })
    }

    async fn start_build(&self, request: &StartBuild) -> Result<String, CodeBuildError> {
        lock(&self.starts).push(request.clone());
        if self.fail_next_starts.load(Ordering::SeqCst) > 0 {
            self.fail_next_starts.fetch_sub(1, Ordering::SeqCst);
            return Err(CodeBuildError {
                operation: "StartBuild",
                code: "AccountLimitExceededException".into(),
                message: "Cannot have more than 1 builds in queue for the account".into(),
            });
        }
        let mut tokens = lock(&self.by_token);
        let n = tokens.len();
        Ok(tokens.entry(request.idempotency_token.clone()).or_insert_with(|| format!("{PUBLISHER}:build-{n}")).clone())
    }
}

impl FakeCodeBuild {
    fn starts(&self) -> Vec<StartBuild> {
        lock(&self.starts).clone()
    }

    fn ensured(&self) -> Vec<(String, ReportExport)> {
        lock(&self.ensured).clone()
    }

    fn knows(&self, arn: &str) {
        lock(&self.known_builds).push(arn.to_string());
    }
}

type TestProcessor = Processor<S3Store, Counting<Sink<SecurityHubImporter>>, FakeCodeBuild>;

type Env = common::Env<TestProcessor>;

async fn env(publisher_project: Option<&str>) -> Env {
    Env::new(Moto::shared(), "sg-pub", |clients, kms| {
        let config = Config {
            kms_key_id: Some(kms.to_string()),
            publisher_project: publisher_project.map(str::to_string),
            publish_projects: vec!["qualys-codebuild-image-us-east-1".into(), "app".into()],
            scan_projects: vec!["app".into()],
            scan_role_ids: vec![common::WRITER_ROLE_ID.into()],
            ..Config::default()
        };
        let codebuild = FakeCodeBuild::default();
        for id in ["b-1", "b-2", "f-1", "r-1", "w-1", "w-2", "w-3"] {
            codebuild.knows(&build_arn("app", id));
        }
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(Counting::new(hub_sink(clients))))
            .with_codebuild(codebuild)
    })
    .await
}

/// A small SARIF report with two findings (one critical: the default gate fails).
fn sarif(image: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "QScanner", "version": "4.6.0", "rules": [
                {"id": "qid-1", "shortDescription": {"text": "openssl"}, "properties": {"severity": 5, "cve-ids": ["CVE-2026-0001"]}},
                {"id": "qid-2", "shortDescription": {"text": "zlib"}, "properties": {"severity": 3}}
            ]}},
            "results": [
                {"ruleId": "qid-1", "message": {"text": "openssl 3.0.2"},
                 "properties": {"vulnerableSoftware": [{"name": "openssl", "installedVersion": "3.0.2", "fixedVersion": "3.0.13"}]}},
                {"ruleId": "qid-2", "message": {"text": "zlib 1.2.11"},
                 "properties": {"vulnerableSoftware": [{"name": "zlib", "installedVersion": "1.2.11", "fixedVersion": "1.2.13"}]}}
            ],
            "properties": {"imageName": image}
        }]
    }))
    .expect("serialize SARIF")
}

impl Env {
    fn codebuild(&self) -> &FakeCodeBuild {
        self.processor.codebuild.as_ref().expect("the test processor has a publisher")
    }

    fn imports(&self) -> (u64, u64) {
        let s = self.processor.sink.as_ref().expect("Security Hub enabled");
        (s.invocations.load(Ordering::SeqCst), s.findings.load(Ordering::SeqCst))
    }

    async fn upload_sarif(&self, key: &str, meta: &[(&str, &str)]) {
        self.upload_tag(key, "1", meta).await;
    }

    /// Uploads a report of `registry.example/<bucket>:<tag>` (another tag: other bytes).
    async fn upload_tag(&self, key: &str, tag: &str, meta: &[(&str, &str)]) {
        let image = format!("registry.example/{}:{tag}", self.bucket);
        image.clone_into(&mut lock(&self.codebuild().image));
        let mut all = vec![
            ("scangate-target", image.as_str()),
            ("scangate-scan-type", "image"),
            ("scangate-scanned-at", "2026-11-23T08:00:00Z"),
        ];
        all.extend_from_slice(meta);
        if let Some((_, arn)) = meta.iter().find(|(k, _)| *k == "scangate-build-arn") {
            lock(&self.codebuild().writers).insert(key.to_string(), arn.to_string());
        }
        self.upload(key, sarif(&image), &all).await;
    }

    /// The S3 event of `key`, written in the CodeBuild session of the build it was uploaded
    /// with (else of the key's build segment).
    fn event(&self, key: &str) -> Value {
        let mut ev = s3_event(&self.bucket, key);
        if let Some(arn) = lock(&self.codebuild().writers).get(key) {
            let uuid = arn.rsplit_once(':').map_or("", |(_, u)| u);
            ev["Records"][0]["userIdentity"]["principalId"] =
                json!(format!("AWS:{}:AWSCodeBuild-{uuid}", common::WRITER_ROLE_ID));
        }
        ev
    }

    async fn deliver(&self, key: &str) -> Result<Value, report_processor::HandlerError> {
        self.processor.handle(&self.event(key), &identity()).await
    }

    /// The report delivered as one SQS message; returns the batch answer.
    async fn deliver_sqs(&self, key: &str, message_id: &str) -> Value {
        let mut batch: Value =
            serde_json::from_str(include_str!("fixtures/sqs-s3.json")).expect("fixture sqs-s3.json parses");
        let mut record = batch["Records"][0].clone();
        record["messageId"] = json!(message_id);
        record["body"] = json!(self.event(key).to_string());
        batch["Records"] = json!([record]);
        self.processor.handle(&batch, &identity()).await.expect("SQS batches never fail as a whole")
    }
}

fn env_of(request: &StartBuild) -> HashMap<String, String> {
    request.env.iter().cloned().collect()
}

#[test]
fn a_report_no_build_waits_for_is_published_once_into_its_report_group() {
    run(async {
        let e = env(Some(PUBLISHER)).await;
        let key = "scans/app/b-1/report.sarif";
        // A build that uploads and exits: build ARN, no wait.
        e.upload_sarif(key, &[("scangate-build-arn", BUILD_ARN)]).await;
        let out = e.deliver(key).await.expect("handled");
        assert_eq!(out["reports"][0]["imported"], 2, "{out}");

        let ensured = e.codebuild().ensured();
        assert_eq!(ensured.len(), 1);
        assert_eq!(ensured[0].0, "qualys-app-image");
        assert_eq!(
            ensured[0].1,
            ReportExport {
                bucket: e.bucket.clone(),
                path: "report-groups/qualys-app-image".into(),
                kms_key_arn: Some(e.kms.clone())
            }
        );
        let starts = e.codebuild().starts();
        assert_eq!(starts.len(), 1, "{starts:?}");
        assert_eq!(starts[0].project, PUBLISHER);
        assert!(starts[0].idempotency_token.starts_with("scangate-"), "{:?}", starts[0]);
        let vars = env_of(&starts[0]);
        assert_eq!(vars["SCANGATE_JUNIT_KEY"], "results/app/b-1/junit.xml");
        assert_eq!(
            vars["SCANGATE_REPORT_GROUP"],
            "arn:aws:codebuild:us-east-1:123456789012:report-group/qualys-app-image"
        );
        assert_eq!(vars["SCANGATE_SOURCE_BUILD"], BUILD_ARN);
        assert!(e.get(&vars["SCANGATE_JUNIT_KEY"]).await.is_some_and(|j| j.starts_with(b"<?xml")), "the JUnit exists");

        let v = e.verdict("results/app/b-1/verdict.json").await;
        assert_eq!(v.publisher_build.as_deref(), Some("qualys-codebuild-publisher-us-east-1:build-0"));
        assert_eq!(v.findings_imported, 2);

        // A report of another build of the same project and scan type: the group is not created again.
        let key2 = "scans/app/b-2/report.sarif";
        e.upload_sarif(key2, &[("scangate-build-arn", &build_arn("app", "b-2"))]).await;
        e.deliver(key2).await.expect("handled");
        assert_eq!(e.codebuild().ensured().len(), 1, "report groups are ensured once per process");
        let starts = e.codebuild().starts();
        assert_eq!(starts.len(), 2);
        assert_ne!(starts[0].idempotency_token, starts[1].idempotency_token, "another report, another token");
        assert_eq!(env_of(&starts[1])["SCANGATE_SOURCE_BUILD"], build_arn("app", "b-2"));
        assert_eq!(
            e.verdict("results/app/b-2/verdict.json").await.publisher_build.as_deref(),
            Some("qualys-codebuild-publisher-us-east-1:build-1")
        );
    });
}

#[test]
fn a_report_whose_build_waits_is_never_published_unless_metadata_asks() {
    run(async {
        let e = env(Some(PUBLISHER)).await;
        let waiting = "scans/app/w-1/report.sarif";
        e.upload_sarif(waiting, &[("scangate-build-arn", BUILD_ARN), ("scangate-wait", "900")]).await;
        e.deliver(waiting).await.expect("handled");
        e.deliver(waiting).await.expect("redelivered");
        assert!(e.codebuild().starts().is_empty(), "the waiting build reports its JUnit itself");
        assert!(e.codebuild().ensured().is_empty());
        assert_eq!(e.verdict("results/app/w-1/verdict.json").await.publisher_build, None);

        // scangate-publish wins over the wait.
        let forced = "scans/app/w-2/report.sarif";
        e.upload_sarif(
            forced,
            &[("scangate-build-arn", BUILD_ARN), ("scangate-wait", "900"), ("scangate-publish", "true")],
        )
        .await;
        e.deliver(forced).await.expect("handled");
        assert_eq!(e.codebuild().starts().len(), 1);

        // ...and can turn publishing off for a report nobody waits for.
        let off = "scans/app/w-3/report.sarif";
        e.upload_sarif(off, &[("scangate-build-arn", &build_arn("app", "w-3")), ("scangate-publish", "false")]).await;
        e.deliver(off).await.expect("handled");
        // A wait without a build ARN is nobody's build: not verified, so not published either.
        let orphan = "scans/app/w-4/report.sarif";
        e.upload_sarif(orphan, &[("scangate-wait", "900"), ("scangate-publish", "true")]).await;
        e.deliver(orphan).await.expect("handled");
        let keys: Vec<String> =
            e.codebuild().starts().iter().map(|s| env_of(s)["SCANGATE_JUNIT_KEY"].clone()).collect();
        assert_eq!(keys, ["results/app/w-2/junit.xml"]);
        let warnings = e.verdict("results/_unverified/app/w-4/verdict.json").await.warnings;
        assert!(warnings.iter().any(|w| w.contains("not published") && w.contains("names no build")), "{warnings:?}");
    });
}

#[test]
fn three_redeliveries_publish_once() {
    run(async {
        let e = env(Some(PUBLISHER)).await;
        let key = "scans/app/r-1/report.sarif";
        e.upload_sarif(key, &[("scangate-build-arn", BUILD_ARN)]).await;
        e.deliver(key).await.expect("first delivery");
        let first = e.verdict("results/app/r-1/verdict.json").await.publisher_build;
        assert!(first.is_some());
        for n in 0..3 {
            e.deliver(key).await.unwrap_or_else(|err| panic!("redelivery {n}: {err}"));
            assert_eq!(e.verdict("results/app/r-1/verdict.json").await.publisher_build, first, "redelivery {n}");
        }
        assert_eq!(e.codebuild().starts().len(), 1, "the publish marker stops redeliveries");
        assert_eq!(e.imports().0, 1, "and nothing is imported again");

        // Without the marker (lost write), a redelivery repeats StartBuild with the same
        // token, which CodeBuild answers with the same build.
        let markers = e
            .clients
            .s3
            .list_objects_v2()
            .bucket(&e.bucket)
            .prefix("results/app/r-1/publish/")
            .send()
            .await
            .expect("list markers");
        let marker_keys: Vec<String> = markers.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
        assert_eq!(marker_keys, ["results/app/r-1/publish/source-build.json"], "one marker per source build");
        e.clients.s3.delete_object().bucket(&e.bucket).key(&marker_keys[0]).send().await.expect("delete marker");
        e.deliver(key).await.expect("redelivery without marker");
        let starts = e.codebuild().starts();
        assert_eq!(starts.len(), 2);
        assert_eq!(starts[1].idempotency_token, starts[0].idempotency_token, "same report version, same token");
        assert_eq!(starts[1], starts[0], "identical parameters (CodeBuild refuses a token reused with others)");
        assert_eq!(e.verdict("results/app/r-1/verdict.json").await.publisher_build, first);

        // A new upload to the same key is another version, but of the same source build: the
        // marker of that build stops it (publishing is bounded by real builds, not by uploads).
        e.upload_tag(key, "2", &[("scangate-build-arn", BUILD_ARN), ("scangate-scanned-at", "2026-11-23T09:00:00Z")])
            .await;
        e.deliver(key).await.expect("new version");
        assert_eq!(e.codebuild().starts().len(), 2, "once per source build");
        assert_eq!(e.verdict("results/app/r-1/verdict.json").await.publisher_build, first);
    });
}

#[test]
fn start_build_failure_retries_the_event_without_reimporting_findings() {
    run(async {
        let e = env(Some(PUBLISHER)).await;
        e.codebuild().fail_next_starts.store(1, Ordering::SeqCst);
        let key = "scans/app/f-1/report.sarif";
        e.upload_sarif(key, &[("scangate-build-arn", BUILD_ARN)]).await;

        let out = e.deliver_sqs(key, "m-1").await;
        assert_eq!(out, json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]}), "the message is retried");
        assert_eq!(e.imports(), (1, 2), "findings were imported once");
        let v = e.verdict("results/app/f-1/verdict.json").await;
        assert_eq!(v.publisher_build, None, "the verdict is there for the gate, without a publisher build");
        assert_eq!(v.findings_imported, 2);
        // Direct invocations fail as a whole, naming the cause.
        e.codebuild().fail_next_starts.store(1, Ordering::SeqCst);
        let err = e.deliver(key).await.expect_err("a direct invocation fails");
        assert!(err.to_string().contains("AccountLimitExceededException"), "{err}");

        let out = e.deliver_sqs(key, "m-1").await;
        assert_eq!(out, json!({"batchItemFailures": []}));
        assert_eq!(e.imports(), (1, 2), "the retry imports nothing: the state already holds the report");
        let starts = e.codebuild().starts();
        assert_eq!(starts.len(), 3, "failed, failed, started");
        assert!(starts.iter().all(|s| s == &starts[0]), "every attempt sends the same request and token");
        let v = e.verdict("results/app/f-1/verdict.json").await;
        assert_eq!(v.publisher_build.as_deref(), Some("qualys-codebuild-publisher-us-east-1:build-0"));

        e.deliver_sqs(key, "m-1").await;
        assert_eq!(e.codebuild().starts().len(), 3, "published: no further StartBuild");
    });
}

#[test]
fn no_publisher_project_means_no_codebuild_calls() {
    run(async {
        let e = env(None).await;
        let key = "scans/app/n-1/report.sarif";
        e.upload_sarif(key, &[]).await;
        e.deliver(key).await.expect("handled");
        assert!(e.codebuild().starts().is_empty());
        assert!(e.codebuild().ensured().is_empty());
        // It names no build: unverified, its verdict where no gate reads.
        assert_eq!(e.verdict("results/_unverified/app/n-1/verdict.json").await.publisher_build, None);
        // The environment variable empty is the same as unset.
        let c = Config::from_lookup(|k| (k == "PUBLISHER_PROJECT").then(String::new)).expect("config");
        assert_eq!(c.publisher_project, None);
    });
}

#[test]
fn attack_a_flood_of_unverified_reports_starts_no_publisher_build() {
    run(async {
        let e = env(Some(PUBLISHER)).await;
        // Every kind of upload that is not a verified build of a listed project, each asking to be published.
        let mut keys = Vec::new();
        for i in 0..4 {
            // No build at all: a made-up project segment per upload (one report group each, before the fix).
            let key = format!("scans/flood-{i}/x-{i}/report.sarif");
            e.upload_sarif(&key, &[("scangate-publish", "true")]).await;
            keys.push(key);
            // A build ARN CodeBuild does not know.
            let key = format!("scans/app/forged-{i}/report.sarif");
            e.upload_sarif(
                &key,
                &[("scangate-build-arn", &build_arn("app", &format!("forged-{i}"))), ("scangate-publish", "true")],
            )
            .await;
            keys.push(key);
            // A real build of a project that is not one of PUBLISH_PROJECTS.
            let arn = build_arn("other", &format!("o-{i}"));
            e.codebuild().knows(&arn);
            let key = format!("scans/other/o-{i}/report.sarif");
            e.upload_sarif(&key, &[("scangate-build-arn", &arn), ("scangate-publish", "true")]).await;
            keys.push(key);
        }
        for key in &keys {
            e.deliver(key).await.unwrap_or_else(|err| panic!("{key}: {err}"));
        }
        assert!(e.codebuild().starts().is_empty(), "{:?}", e.codebuild().starts());
        assert!(e.codebuild().ensured().is_empty(), "no report group is created for an unverified report");
        for key in &keys {
            let verdict_key = key.replacen("scans/", "results/_unverified/", 1).replace("report.sarif", "verdict.json");
            let v = e.verdict(&verdict_key).await;
            assert_eq!(v.publisher_build, None, "{key}: the report itself is processed, with a verdict no gate reads");
            if !key.starts_with("scans/other/") {
                assert!(v.warnings.iter().any(|w| w.contains("not published")), "{key}: {:?}", v.warnings);
            }
        }
        assert_eq!(e.imports().1, 0, "an unverified report changes nothing in Security Hub");
    });
}

#[test]
fn attack_many_reports_of_one_verified_build_publish_once() {
    run(async {
        let e = env(Some(PUBLISHER)).await;
        let arn = build_arn("app", "b-9");
        e.codebuild().knows(&arn);
        // A hostile checkout in a real build uploads ten reports (and re-uploads one) under its own build dir.
        for i in 0..10 {
            let key = format!("scans/app/b-9/r-{i}.sarif");
            e.upload_tag(&key, &i.to_string(), &[("scangate-build-arn", &arn), ("scangate-publish", "true")]).await;
            e.deliver(&key).await.expect("handled");
        }
        e.upload_tag("scans/app/b-9/r-0.sarif", "again", &[("scangate-build-arn", &arn)]).await;
        e.deliver("scans/app/b-9/r-0.sarif").await.expect("handled");
        assert_eq!(e.codebuild().starts().len(), 1, "one publisher build for the one source build");
        assert_eq!(e.codebuild().ensured().len(), 1);
        assert_eq!(
            e.verdict("results/app/b-9/verdict.json").await.publisher_build.as_deref(),
            Some("qualys-codebuild-publisher-us-east-1:build-0")
        );
    });
}

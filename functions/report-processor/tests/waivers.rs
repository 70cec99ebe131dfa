//! docs/waivers.md, "The trusted place": the security team's waivers and VEX documents under
//! the report bucket's `policy/` prefix, read by the report-processor at every report, on
//! moto (S3, Security Hub). CodeBuild is a fake that knows the test's builds (the image each
//! scans is its `IMAGE_ID`): provenance is not what is under test, the facts it proves are.

#[macro_use]
mod common;

use common::{hub_sink, identity, lock, qscanner_sarif, run, s3_event, V1, V3};
use report_processor::config::Config;
use report_processor::process::Processor;
use scangate_aws::codebuild::{BuildInfo, CodeBuildError, CodeBuildOps, Ensured, ReportExport, StartBuild};
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink};
use scangate_core::verdict::{content_sha256, Verdict};
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// BatchGetBuilds: the builds this test started, each running its project's own buildspec.
#[derive(Default)]
struct Builds(Mutex<HashMap<String, BuildInfo>>);

impl CodeBuildOps for Builds {
    async fn build_info(&self, build_id: &str) -> Result<Option<BuildInfo>, CodeBuildError> {
        Ok(lock(&self.0).get(scangate_core::contract::build_id(build_id)).cloned())
    }

    async fn ensure_report_group(&self, _name: &str, _export: &ReportExport) -> Result<Ensured, CodeBuildError> {
        Ok(Ensured::AlreadyExists)
    }

    async fn start_build(&self, request: &StartBuild) -> Result<String, CodeBuildError> {
        Ok(format!("{}:never", request.project))
    }
}

type Env = common::Env<Processor<S3Store, Sink<SecurityHubImporter>, Builds>>;

async fn env(moto: &Moto) -> Env {
    Env::new(moto, "sg-waivers", |clients, kms| {
        let config = Config {
            kms_key_id: Some(kms.to_string()),
            scan_projects: vec!["app".into()],
            scan_role_ids: vec![common::WRITER_ROLE_ID.into()],
            ..Config::default()
        };
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(hub_sink(clients)))
            .with_codebuild(Builds::default())
    })
    .await
}

const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER_DIGEST: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn day(offset: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(offset);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl Env {
    /// The repository every build of this test scans (unique to the test's bucket).
    fn repository(&self) -> String {
        format!("registry.example/{}/web", self.bucket)
    }

    /// Starts build `app:<id>` scanning `<repository>:1`, uploads its report (V1 critical,
    /// V3 medium; the image's repo digest [`DIGEST`]) as the build's session, processes it
    /// and returns the verdict.
    async fn scan(&self, id: &str) -> Verdict {
        let image = format!("{}:1", self.repository());
        let arn = format!("arn:aws:codebuild:{REGION}:{ACCOUNT_ID}:build/app:{id}");
        let build = BuildInfo {
            arn: arn.clone(),
            project: Some("app".into()),
            initiator: Some("someone".into()),
            start_time: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
            buildspec_overridden: Some(false),
            env: vec![("IMAGE_ID".into(), image.clone())],
            ..BuildInfo::default()
        };
        lock(&self.processor.codebuild.as_ref().expect("fake CodeBuild").0).insert(format!("app:{id}"), build);
        let key = format!("scans/app/{id}/report.sarif");
        let mut sarif: Value = serde_json::from_slice(&qscanner_sarif(&image, &[V1, V3])).expect("SARIF");
        sarif["runs"][0]["properties"]["repoDigests"] = json!([format!("{}@{DIGEST}", self.repository())]);
        let meta = [
            ("scangate-target", image.as_str()),
            ("scangate-scan-type", "image"),
            ("scangate-scanned-at", "2026-11-23T08:00:00Z"),
            ("scangate-build-arn", arn.as_str()),
        ];
        self.upload(&key, serde_json::to_vec(&sarif).expect("JSON"), &meta).await;
        let out = self.processor.handle(&s3_event(&self.bucket, &key), &identity()).await.expect("handled");
        assert!(out["reports"][0]["quarantined"].is_null(), "{out}");
        self.verdict(&format!("results/app/{id}/verdict.json")).await
    }

    /// Writes a document as the security team does (any key: the bucket policy, not moto,
    /// decides who may; cfn/tests/test_templates.py).
    async fn put_document(&self, key: &str, body: &str) {
        self.upload(key, body.as_bytes().to_vec(), &[]).await;
    }

    async fn delete(&self, key: &str) {
        self.clients.s3.delete_object().bucket(&self.bucket).key(key).send().await.expect("delete");
    }

    /// This test's findings in Security Hub (its bucket names the image).
    async fn hub(&self) -> Vec<HubFinding> {
        common::all_hub_findings(&self.clients)
            .await
            .iter()
            .filter(|f| f.resources().iter().any(|r| r.id().unwrap_or_default().contains(&self.bucket)))
            .map(|f| HubFinding {
                title: f.title().unwrap_or_default().to_string(),
                state: f.record_state().map(|r| r.as_str().to_string()).unwrap_or_default(),
                fields: f.product_fields().cloned().unwrap_or_default(),
            })
            .collect()
    }
}

/// What a test checks of a Security Hub finding.
struct HubFinding {
    title: String,
    state: String,
    fields: HashMap<String, String>,
}

fn waivers(scope_image: &str, expires: &str) -> String {
    format!(
        "schema: scangate.waivers.v1\nwaivers:\n  - id: CVE-2026-0001\n    scope:\n      image: {scope_image}\n    \
         reason: OpenSSL is not reachable from the web tier\n    owner: appsec@example.com\n    expires: {expires}\n"
    )
}

fn vex(digest: &str) -> String {
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "author": "appsec@example.com",
        "timestamp": "2026-11-01T00:00:00Z",
        "statements": [{
            "vulnerability": {"name": "CVE-2026-0001"},
            "products": [{"@id": digest}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path"
        }]
    })
    .to_string()
}

#[test]
fn a_waiver_for_the_image_passes_the_build_and_the_finding_stays_active_with_it() {
    run(async {
        let e = env(Moto::shared()).await;
        let before = e.scan("b-0").await;
        assert!(!before.passed, "one critical fails max_critical=0 without a waiver");
        assert!(before.exceptions.is_none(), "no document, no exceptions: {:?}", before.exceptions);

        let doc = waivers(&e.repository(), &day(30));
        e.put_document("policy/waivers.yaml", &doc).await;
        let v = e.scan("b-1").await;
        assert!(v.passed, "the waived critical no longer counts: {:?}", v.reasons);
        assert_eq!((v.counts.critical, v.waived.critical, v.counts.medium), (0, 1, 1));
        let audit = v.exceptions.expect("the verdict says which exceptions it used");
        assert_eq!(audit.documents.len(), 1);
        assert_eq!(audit.documents[0].sha256, content_sha256(doc.as_bytes()));
        assert!(audit.documents[0].source.starts_with(&format!("s3://{}/policy/waivers.yaml", e.bucket)));
        assert_eq!((audit.applied.len(), audit.applied[0].id.as_str()), (1, "CVE-2026-0001"));
        assert_eq!(audit.applied[0].expires.as_deref(), Some(day(30).as_str()));

        // Still in Security Hub, ACTIVE, with the waiver; never archived because of it.
        let hub = e.hub().await;
        let waived = hub.iter().find(|f| f.title.contains("CVE-2026-0001")).expect("imported");
        assert_eq!(waived.state, "ACTIVE");
        let fields = &waived.fields;
        assert_eq!(fields.get("scangate/ExceptionId").map(String::as_str), Some("CVE-2026-0001"));
        assert_eq!(fields.get("scangate/ExceptionOwner").map(String::as_str), Some("appsec@example.com"));
        assert_eq!(fields.get("scangate/ExceptionExpires").map(String::as_str), Some(day(30).as_str()));
        assert!(fields.get("scangate/ExceptionReason").is_some_and(|r| r.contains("not reachable")), "{fields:?}");
        assert!(hub.len() >= 2 && hub.iter().all(|f| f.state == "ACTIVE"), "nothing archived");

        // A new version of the document applies from the next report on (no process-long cache).
        e.put_document("policy/waivers.yaml", &waivers(&e.repository(), &day(-1))).await;
        let expired = e.scan("b-2").await;
        assert!(!expired.passed, "an expired waiver counts again at the next report");
        assert_eq!((expired.counts.critical, expired.waived.critical), (1, 0));
        let audit = expired.exceptions.expect("audit");
        assert!(audit.applied.is_empty() && audit.expired.len() == 1, "{audit:?}");
        assert!(
            expired.warnings.iter().any(|w| w.contains("expired on") && w.contains("count again")),
            "{:?}",
            expired.warnings
        );
        e.delete("policy/waivers.yaml").await;
        assert!(!e.scan("b-3").await.passed);
    });
}

#[test]
fn a_waiver_scoped_to_another_image_or_placed_outside_policy_does_not_apply() {
    run(async {
        let e = env(Moto::shared()).await;
        let other = format!("registry.example/{}/admin", e.bucket);
        e.put_document("policy/waivers.yaml", &waivers(&other, &day(30))).await;
        let v = e.scan("b-1").await;
        assert!(!v.passed, "a waiver for another image does not apply");
        assert_eq!((v.counts.critical, v.waived.critical), (1, 0));
        let audit = v.exceptions.expect("the document was read");
        assert!(audit.applied.is_empty() && audit.refused.is_empty(), "{audit:?}");

        // The right waiver anywhere but the trusted place is never read: under scans/ (an
        // uploader can write there), beside the report, in a checkout's conventional places.
        e.delete("policy/waivers.yaml").await;
        let good = waivers(&e.repository(), &day(30));
        for key in [
            "scans/app/b-2/waivers.yaml",
            "scans/app/b-2/.scangate/waivers.yaml",
            "scans/policy/waivers.yaml",
            "waivers.yaml",
            "results/policy/waivers.yaml",
            "policy-waivers.yaml",
        ] {
            e.put_document(key, &good).await;
        }
        e.put_document("scans/app/b-2/vex.json", &vex(DIGEST)).await;
        let v = e.scan("b-2").await;
        assert!(!v.passed, "no planted waiver applies: {:?}", v.exceptions);
        assert!(v.exceptions.is_none(), "{:?}", v.exceptions);
    });
}

#[test]
fn a_vex_statement_applies_only_to_its_own_digest() {
    run(async {
        let e = env(Moto::shared()).await;
        e.put_document("policy/vex.json", &vex(&format!("pkg:oci/web@{}", OTHER_DIGEST.replace(':', "%3A")))).await;
        let v = e.scan("b-1").await;
        assert!(!v.passed, "not_affected for another digest does not apply");
        assert_eq!(v.waived.critical, 0);
        // The same statement for the scanned image's digest does (the test can fail).
        e.put_document("policy/vex.json", &vex(DIGEST)).await;
        let v = e.scan("b-2").await;
        assert!(v.passed, "{:?}", v.reasons);
        let audit = v.exceptions.expect("audit");
        assert_eq!(audit.applied[0].status.map(|s| s.as_str()), Some("not_affected"));
    });
}

#[test]
fn a_broken_document_is_refused_alone_and_the_verdict_says_so() {
    run(async {
        let e = env(Moto::shared()).await;
        // An unscoped waiver refuses the whole waivers document; the VEX document still applies.
        e.put_document(
            "policy/waivers.yaml",
            &format!(
                "schema: scangate.waivers.v1\nwaivers:\n  - id: CVE-2026-0003\n    reason: r\n    owner: o\n    \
                 expires: {}\n",
                day(10)
            ),
        )
        .await;
        e.put_document("policy/vex.json", &vex(DIGEST)).await;
        let v = e.scan("b-1").await;
        let audit = v.exceptions.clone().expect("audit");
        assert_eq!(audit.refused.len(), 1, "{audit:?}");
        assert!(
            audit.refused[0].contains("policy/waivers.yaml") && audit.refused[0].contains("$.waivers[0]"),
            "{audit:?}"
        );
        assert!(v.warnings.iter().any(|w| w.contains("policy/waivers.yaml")), "{:?}", v.warnings);
        assert_eq!(v.waived.critical, 1, "the VEX document is not refused with it");
        assert_eq!(v.counts.medium, 1, "CVE-2026-0003 (the broken waiver's) still counts");
        assert!(v.passed, "a broken waivers document does not block a build it has nothing to do with");
        // Not valid YAML or JSON at all, and larger than the cap: refused, named.
        e.put_document("policy/vex.json", "{not json").await;
        let v = e.scan("b-2").await;
        let audit = v.exceptions.expect("audit");
        assert_eq!(audit.refused.len(), 2, "{audit:?}");
        assert!(!v.passed, "nothing of a refused document applies: the critical counts");
        let big = format!("{}\n", "#".repeat(scangate_core::waivers::MAX_DOCUMENT_BYTES + 1));
        e.delete("policy/vex.json").await;
        e.put_document("policy/waivers.json", &big).await;
        let v = e.scan("b-3").await;
        let refused = v.exceptions.expect("audit").refused;
        assert!(refused.iter().any(|r| r.contains("policy/waivers.json") && r.contains("bytes")), "{refused:?}");
    });
}

#[test]
fn an_unverified_report_gets_no_exceptions_and_says_so() {
    run(async {
        let e = env(Moto::shared()).await;
        e.put_document("policy/waivers.yaml", &waivers(&e.repository(), &day(30))).await;
        // No build vouches for this report: whatever it claims, no waiver is matched to it.
        let image = format!("{}:1", e.repository());
        let key = "scans/elsewhere/x-1/report.sarif";
        e.upload(key, qscanner_sarif(&image, &[V1]), &[("scangate-target", &image), ("scangate-scan-type", "image")])
            .await;
        let out = e.processor.handle(&s3_event(&e.bucket, key), &identity()).await.expect("handled");
        assert!(out["reports"][0]["quarantined"].is_null(), "{out}");
        let v = e.verdict("results/_unverified/elsewhere/x-1/verdict.json").await;
        assert_eq!((v.counts.critical, v.waived.critical), (1, 0));
        assert!(v.exceptions.is_none(), "{:?}", v.exceptions);
        assert!(
            v.warnings.iter().any(|w| w.contains("no waiver or VEX statement was applied: the report is unverified")),
            "{:?}",
            v.warnings
        );
    });
}

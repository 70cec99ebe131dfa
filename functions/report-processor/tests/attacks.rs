//! docs/security.md, "An uploader decides too much" and "Keys": each test performs one attack
//! an uploader (anyone who can put an object under scans/) could try, through the real
//! handler against S3 and Security Hub on moto, and checks that it fails. CodeBuild is a fake
//! that knows the builds of the test (BatchGetBuilds is not what is under test).

#[macro_use]
mod common;

use common::attack::{env_configured, env_with, meta, Forgery};
use common::{identity, qscanner_sarif, run, s3_event, V1, V2, V3};
use scangate_core::lifecycle::{LifecycleKey, ScanType};
use scangate_core::suppression::HonorSuppressions;
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::Value;
use std::collections::BTreeMap;

#[test]
fn attack_relaxed_thresholds_in_metadata_are_ignored() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = e.image();
        let build = e.builds().started("app", "b-1", None, &image);
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
        let build = e.builds().started("app", "b-1", None, &image);
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
        let image = e.image();
        // The attacker's build runs in its own pipeline and execution, and claims the victim's.
        let build = e.builds().started("attacker", "a-1", Some(("attacker-pipeline", "a-exec")), &image);
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
        assert!(
            e.get("results/attacker/a-2/verdict.json").await.is_none(),
            "an unverified report gets no build's folder"
        );
        let v = e.verdict("results/_unverified/attacker/a-2/verdict.json").await;
        assert!(v.warnings.iter().any(|w| w.contains("could not be verified")), "{:?}", v.warnings);
        assert_eq!(v.pipeline_execution, None, "an unverified claim names no execution a gate would take");
    });
}

#[test]
fn attack_another_projects_prefix_leaves_its_results_alone() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = e.image();
        let before = e.victim_at_rest().await;
        // The attacker's build writes under the victim's prefix, a clean report.
        let key = "scans/victim/v-1/report.sarif";
        let attacker = e.builds().started("attacker", "a-1", None, &image);
        e.upload(key, qscanner_sarif(&image, &[]), &meta(&image, "2026-11-23T09:00:00Z", &attacker)).await;
        let out = e.deliver(key).await;
        let reason = out["quarantined"].as_str().unwrap_or_else(|| panic!("refused: {out}"));
        assert!(reason.contains("names project \"victim\" but the build"), "{reason}");
        assert_eq!(e.victim_now().await, before, "the victim's findings, state and verdict are untouched");
    });
}

#[test]
fn attack_a_2099_scan_date_neither_archives_nor_makes_real_reports_stale() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = e.image();
        let repo = e.repo();
        let b1 = e.builds().started("app", "b-1", None, &image);
        e.upload(
            "scans/app/b-1/report.sarif",
            qscanner_sarif(&image, &[V1, V2]),
            &meta(&image, "2026-11-23T08:00:00Z", &b1),
        )
        .await;
        assert_eq!(e.deliver("scans/app/b-1/report.sarif").await["imported"], 2);

        // An empty report of the victim's image claiming to be from 2099.
        let b2 = e.builds().started("app", "evil", None, &image);
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
        let b3 = e.builds().started("app", "b-3", None, &image);
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
        let image = e.image();
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
        assert_eq!(e.keys("results/").await, Vec::<String>::new(), "nothing derived from the key was written");
    });
}

#[test]
fn attack_a_dot_dot_key_is_quarantined_without_results() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = e.image();
        let key = "scans/app/..%2F..%2Fresults/../victim/b/report.sarif".replace("%2F", "/");
        e.upload(&key, qscanner_sarif(&image, &[]), &[("scangate-target", image.as_str())]).await;
        let out = e.deliver(&key).await;
        assert!(out["quarantined"].as_str().is_some_and(|r| r.contains("\"..\" segment")), "{out}");
        let reason = e.reason(&format!("quarantine/{key}")).await;
        assert_eq!((reason["key"].as_str(), reason["results_written"].as_bool()), (Some(key.as_str()), Some(false)));
        assert_eq!(e.keys("results/").await, Vec::<String>::new(), "nothing derived from the key was written");
    });
}

/// Each forged, empty report of the victim's image: written by the scan role, at the
/// current time, and still changing nothing the victim, a gate or the security team reads.
#[test]
fn attack_forged_empty_reports_of_the_victims_image_change_nothing() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = e.image();
        let before = e.victim_at_rest().await;
        assert_eq!(before.findings.len(), 2);
        let empty = qscanner_sarif(&image, &[]);
        let at = "2026-11-23T09:00:00Z";
        let b = e.builds();
        let other = format!("registry.example/{}-other:1", e.bucket);
        let cases: Vec<Forgery> = vec![
            // (what, key, metadata beyond target/type/time, expected reason)
            ("no build ARN", "scans/attacker/x-1/report.sarif".into(), vec![], "names no build"),
            (
                "a build of a project that is not a scan project",
                "scans/other/o-1/report.sarif".into(),
                vec![("scangate-build-arn", b.started("other", "o-1", None, &image))],
                "not one of the stack's scan projects",
            ),
            (
                "a finished build",
                "scans/app/done-1/report.sarif".into(),
                vec![(
                    "scangate-build-arn",
                    b.started_with("app", "done-1", None, &image, |i| {
                        i.end_time = Some(time::OffsetDateTime::now_utc() - time::Duration::minutes(30));
                    }),
                )],
                "after the build",
            ),
            (
                "a build with an overridden buildspec",
                "scans/app/ovr-1/report.sarif".into(),
                vec![(
                    "scangate-build-arn",
                    b.started_with("app", "ovr-1", None, &image, |i| i.buildspec_overridden = Some(true)),
                )],
                "overridden buildspec",
            ),
            (
                "a build whose IMAGE_ID is another image",
                "scans/app/img-1/report.sarif".into(),
                vec![("scangate-build-arn", b.started("app", "img-1", None, &other))],
                "but the build",
            ),
        ];
        for (what, key, extra, reason) in cases {
            let mut m =
                vec![("scangate-target", image.as_str()), ("scangate-scan-type", "image"), ("scangate-scanned-at", at)];
            m.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            e.upload(&key, empty.clone(), &m).await;
            let out = e.deliver(&key).await;
            assert_eq!(out["archived"], 0, "{what}: {out}");
            let (project, build) = scangate_core::contract::results_dir(&key, "scans/");
            assert!(
                e.get(&format!("results/{project}/{build}/verdict.json")).await.is_none(),
                "{what}: no build's folder"
            );
            let v = e.verdict(&format!("results/_unverified/{project}/{build}/verdict.json")).await;
            assert!(
                v.warnings.iter().any(|w| w.contains("unverified") && w.contains(reason)),
                "{what}: {:?}",
                v.warnings
            );
            assert_eq!(e.victim_now().await, before, "{what}: the victim's findings, state and verdict");
        }
        // Repeating one changes nothing either, and the victim's next real scan still applies.
        e.upload("scans/attacker/x-1/report.sarif", empty.clone(), &[("scangate-target", image.as_str())]).await;
        e.deliver("scans/attacker/x-1/report.sarif").await;
        assert_eq!(e.victim_now().await, before);
    });
}

/// A report written by another principal than the build's own session is not the build's.
#[test]
fn attack_another_principal_claiming_a_running_build_changes_nothing() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = e.image();
        let before = e.victim_at_rest().await;
        // A genuine build of the victim's image is running; the attacker writes in its name.
        let build = e.builds().started("app", "run-1", None, &image);
        let key = "scans/app/run-1/report.sarif";
        e.upload(key, qscanner_sarif(&image, &[]), &meta(&image, "2026-11-23T09:00:00Z", &build)).await;
        for principal in ["AWS:AROAATTACKERROLEID:AWSCodeBuild-run-1", "AWS:AROAEXAMPLEROLEID:AWSCodeBuild-other-1"] {
            let out = e.deliver_as(key, principal).await;
            assert_eq!(out["archived"], 0, "{principal}: {out}");
            assert_eq!(e.victim_now().await, before, "{principal}");
        }
        assert!(e.get("results/app/run-1/verdict.json").await.is_none());
    });
}

/// A forged queue message names the version the build wrote while an attacker's object is
/// current: the processor reads the version it checked, so nothing is archived.
#[test]
fn attack_a_forged_message_with_the_current_version_swapped_changes_nothing() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        e.enable_versioning().await;
        let image = e.image();
        let before = e.victim_at_rest().await;
        let key = "scans/victim/v-1/report.sarif";
        let head = e.clients.s3.head_object().bucket(&e.bucket).key(key).send().await.expect("head");
        let checked = head.version_id().expect("versioned").to_string();
        // The attacker's empty object becomes the current version of the same key.
        e.upload(key, qscanner_sarif(&image, &[]), &[("scangate-target", image.as_str())]).await;
        // A message naming the build's version (and the build's session) arrives.
        let mut ev = s3_event(&e.bucket, key);
        ev["Records"][0]["s3"]["object"]["versionId"] = Value::from(checked);
        let out = e.processor.handle(&ev, &identity()).await.expect("handled");
        assert_eq!(out["reports"][0]["archived"], 0, "{out}");
        assert_eq!(e.victim_now().await, before, "read exactly the version HEAD checked");
    });
}

/// The verified path still works: a rescan with one CVE fixed archives exactly that one, in
/// one delivery.
#[test]
fn a_verified_rescan_with_one_cve_fixed_archives_exactly_that_finding() {
    run(async {
        let e = env_with(Moto::shared(), false).await;
        let image = e.image();
        e.victim_scanned(&image).await;
        let build = e.builds().started("victim", "v-2", None, &image);
        let key = "scans/victim/v-2/report.sarif";
        e.upload(key, qscanner_sarif(&image, &[V1]), &meta(&image, "2026-11-23T09:00:00Z", &build)).await;
        let out = e.deliver(key).await;
        assert_eq!((out["archived"].clone(), out["imported"].clone()), (Value::from(1), Value::from(0)), "{out}");
        let states: Vec<String> = e.victim_now().await.findings;
        assert_eq!(states.len(), 2);
        assert_eq!(states.iter().filter(|f| f.contains("Archived")).count(), 1, "{states:#?}");
        assert_eq!(states.iter().filter(|f| f.contains("Archived") && f.contains("CVE-2026-0002")).count(), 1);
    });
}

/// A generic uploader (an `UPLOADER_PRINCIPAL_IDS` entry without a prefix) writes an empty
/// report of the image a CI role scans, under that CI role's prefix, where its waiting
/// runner reads the verdict: the report is unverified, and the CI role's findings, state
/// and verdicts are unchanged.
#[test]
fn attack_a_generic_uploader_under_a_ci_roles_prefix_changes_nothing() {
    const GENERIC: &str = "AIDAGENERICUPLOADER01";
    const GITHUB: &str = "AROAGITHUBROLE000001";
    run(async {
        let e = env_configured(Moto::shared(), |c| {
            c.uploader_principal_ids = vec![GENERIC.into(), format!("{GITHUB}=github~acme~web")];
        })
        .await;
        let image = e.image();
        let m = [("scangate-target", image.as_str()), ("scangate-scan-type", "image")];
        // The CI role's own scan: verified, in its lifecycle.
        let own = "scans/github~acme~web/run-1/report.sarif";
        e.upload(own, qscanner_sarif(&image, &[V1, V2]), &m).await;
        let out = e.deliver_as(own, &format!("AWS:{GITHUB}:GitHubActions")).await;
        assert_eq!(out["imported"], 2, "{out}");
        let lifecycle = LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, &e.repo())
            .owned_by(Some(&format!("uploader:{GITHUB}")));
        let verdict = "results/github~acme~web/run-1/verdict.json";
        let before = e.victim_of(lifecycle.clone(), verdict).await;
        assert_eq!(before.findings.len(), 2);

        // The generic uploader: an empty report under the CI role's prefix, a run its runner waits for
        // and the run it already has.
        for key in ["scans/github~acme~web/run-2/report.sarif", own] {
            e.upload(key, qscanner_sarif(&image, &[]), &m).await;
            let out = e.deliver_as(key, &format!("AWS:{GENERIC}")).await;
            assert_eq!(out["archived"], 0, "{key}: {out}");
            assert_eq!(
                e.victim_of(lifecycle.clone(), verdict).await,
                before,
                "{key}: the CI role's findings, state, verdict"
            );
        }
        assert!(
            e.get("results/github~acme~web/run-2/verdict.json").await.is_none(),
            "no verdict where the runner reads"
        );
        let v = e.verdict("results/_unverified/github~acme~web/run-2/verdict.json").await;
        assert!(v.warnings.iter().any(|w| w.contains("belongs to the uploader paired with it")), "{:?}", v.warnings);

        // The CI role under another CI prefix is not verified either; the generic uploader under its own is.
        let other = "scans/github~acme~other/run-1/report.sarif";
        e.upload(other, qscanner_sarif(&image, &[]), &m).await;
        e.deliver_as(other, &format!("AWS:{GITHUB}:GitHubActions")).await;
        assert!(e.get("results/github~acme~other/run-1/verdict.json").await.is_none());
        let team = "scans/team-a/up-1/report.sarif";
        e.upload(team, qscanner_sarif(&image, &[V1]), &m).await;
        assert_eq!(e.deliver_as(team, &format!("AWS:{GENERIC}")).await["imported"], 1);
        assert!(!e.verdict("results/team-a/up-1/verdict.json").await.passed, "verified, in its own folder");
        assert_eq!(e.victim_of(lifecycle, verdict).await, before);
    });
}

/// `sarif` with `suppressions` set on its result number `index`.
fn suppressed(sarif: Vec<u8>, index: usize, suppressions: Value) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&sarif).expect("SARIF JSON");
    doc["runs"][0]["results"][index]["suppressions"] = suppressions;
    serde_json::to_vec(&doc).expect("serializes")
}

/// Every Security Hub finding of image repository `repo`: RecordState, Workflow status and
/// ProductFields.
async fn hub_of(e: &common::attack::AttackEnv, repo: &str) -> Vec<(String, String, BTreeMap<String, String>)> {
    let prefix = format!("scangate/{}/", LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, repo).hash());
    let page = e.clients.securityhub.get_findings().max_results(100).send().await.expect("GetFindings");
    let mut out: Vec<_> = page
        .findings()
        .iter()
        .filter(|f| f.id().unwrap_or_default().starts_with(&prefix))
        .map(|f| {
            let state = f.record_state().map(|r| r.as_str().to_string()).unwrap_or_default();
            let workflow = f.workflow().and_then(|w| w.status()).map(|s| s.as_str().to_string()).unwrap_or_default();
            let fields: BTreeMap<_, _> = f.product_fields().cloned().unwrap_or_default().into_iter().collect();
            (state, workflow, fields)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn attack_an_in_source_suppression_neither_passes_the_gate_nor_hides_the_finding() {
    run(async {
        let key = "scans/app/b-1/report.sarif";
        let nosec = serde_json::json!([{"kind": "inSource", "justification": "nosec"}]);
        // The same critical finding, once as the scanner reported it, once with the repository's
        // own suppression, each in a stack of its own; and once more where the stack honours all.
        let plain = env_with(Moto::shared(), false).await;
        let default = env_with(Moto::shared(), false).await;
        let all = env_configured(Moto::shared(), |c| c.gate.suppressions = HonorSuppressions::All).await;
        let mut verdicts = Vec::new();
        for (e, body) in [
            (&plain, qscanner_sarif(&plain.image(), &[V1])),
            (&default, suppressed(qscanner_sarif(&default.image(), &[V1]), 0, nosec.clone())),
            (&all, suppressed(qscanner_sarif(&all.image(), &[V1]), 0, nosec.clone())),
        ] {
            let image = e.image();
            let build = e.builds().started("app", "b-1", None, &image);
            e.upload(key, body, &meta(&image, "2026-11-23T08:00:00Z", &build)).await;
            let out = e.deliver(key).await;
            assert_eq!(out["imported"], 1, "a suppressed finding is imported like any other: {out}");
            verdicts.push(e.verdict("results/app/b-1/verdict.json").await);
        }
        let [plain_v, default_v, all_v] = &verdicts[..] else { unreachable!("three deliveries") };

        // Under the default the gate fails exactly as without the suppression.
        assert!(!plain_v.passed);
        assert_eq!(
            (default_v.passed, &default_v.reasons, &default_v.counts),
            (plain_v.passed, &plain_v.reasons, &plain_v.counts),
            "an inSource suppression changes nothing under HONOR_SUPPRESSIONS=external"
        );
        assert_eq!((default_v.suppressed, default_v.suppressions_ignored), (0, 1));
        assert_eq!(default_v.honor_suppressions, HonorSuppressions::External);
        assert_visible(&hub_of(&default, &default.repo()).await, false);

        // Where the stack honours all suppressions: counted suppressed, the gate passes for it,
        // and the finding is still in Security Hub, ACTIVE, with its justification.
        assert!(all_v.passed, "{:?}", all_v.reasons);
        assert_eq!((all_v.suppressed, all_v.suppressions_ignored), (1, 0));
        assert_eq!(all_v.honor_suppressions, HonorSuppressions::All);
        let fields = assert_visible(&hub_of(&all, &all.repo()).await, true);
        assert_eq!(fields.get("scangate/SuppressionJustification").map(String::as_str), Some("nosec"));
    });
}

/// The one finding of `hub` is ACTIVE, not hidden from the console's default view, and
/// says whether its inSource suppression was honoured (`suppressed`); returns its fields.
fn assert_visible(hub: &[(String, String, BTreeMap<String, String>)], suppressed: bool) -> BTreeMap<String, String> {
    assert_eq!(hub.len(), 1, "{hub:?}");
    let (state, workflow, fields) = &hub[0];
    assert_eq!(state, "ACTIVE", "not archived");
    assert_ne!(workflow, "SUPPRESSED", "not hidden from the console's default view");
    let honoured = if suppressed { "true" } else { "false" };
    assert_eq!(fields.get("scangate/Suppressed").map(String::as_str), Some(honoured), "{fields:?}");
    assert_eq!(fields.get("scangate/SuppressionKinds").map(String::as_str), Some("inSource"));
    fields.clone()
}

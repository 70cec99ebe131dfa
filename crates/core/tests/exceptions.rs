//! Waivers, VEX and fixable-only gating end to end through the core: on our QScanner image
//! fixture and the corpus's Trivy report, with the ASFF of a waived finding snapshotted.

use scangate_core::asff::{self, AsffContext};
use scangate_core::evaluate::{apply_exceptions, evaluate};
use scangate_core::lifecycle::{target_identity, LifecycleKey, ScanType};
use scangate_core::policy::{GatePolicy, Thresholds};
use scangate_core::waivers::{Exceptions, Subject, VexDocument, WaiversDocument};
use scangate_core::{junit, read_sarif_file, summary, Report};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 12 - 01);

fn fixture(name: &str) -> Report {
    read_sarif_file(&scangate_testkit::fixtures::path(name)).expect("fixture reads")
}

fn corpus(name: &str) -> Report {
    read_sarif_file(&scangate_testkit::fixtures::corpus_dir().join(name)).expect("corpus file reads")
}

/// Counted from the findings' raw fields, independently of `fix_available`.
fn without_fix(r: &Report) -> usize {
    r.findings
        .iter()
        .filter(|f| {
            f.package.as_ref().is_some_and(|p| {
                !p.name.trim().is_empty() && p.fixed_version.as_deref().is_none_or(|v| v.trim().is_empty())
            })
        })
        .count()
}

#[test]
fn fixable_only_counts_only_findings_with_a_fix_on_qscanner_and_trivy() {
    for (name, report) in [
        ("qscanner-image.sarif", fixture("qscanner-image.sarif")),
        ("trivy-image-ghas-test.sarif", corpus("trivy-image-ghas-test.sarif")),
        ("trivy-debug-results-2021.sarif", corpus("trivy-debug-results-2021.sarif")),
    ] {
        let open = GatePolicy {
            thresholds: Thresholds { max_critical: -1, ..Default::default() },
            fail_on_policy_deny: false,
            ..Default::default()
        };
        let all = evaluate(&mut report.clone(), &open, None, Default::default());
        let fixable =
            evaluate(&mut report.clone(), &GatePolicy { fixable_only: true, ..open }, None, Default::default());
        let n = without_fix(&report) as u64;
        assert!(n > 0, "{name}: the file has findings without a fix");
        assert_eq!(all.verdict.not_fixable.total, n, "{name}");
        assert_eq!(all.verdict.counts.total, report.findings.len() as u64, "{name}: without the flag all count");
        assert_eq!(fixable.verdict.counts.total + n, all.verdict.counts.total, "{name}");
        assert_eq!(fixable.verdict.not_fixable, all.verdict.not_fixable, "{name}");
        assert!(fixable.verdict.fixable_only && !all.verdict.fixable_only);
        assert!(fixable.verdict.warnings.iter().any(|w| w.contains("FAIL_ONLY_FIXABLE=true")), "{name}");
        // The severity whose every finding lacks a fix, or the worst one with some: a threshold at
        // the fixable count passes only with the flag.
        let sev = scangate_core::Severity::ALL_DESC
            .into_iter()
            .find(|s| all.verdict.not_fixable.get(*s) > 0)
            .expect("a severity with unfixable findings");
        let mut t = Thresholds { max_critical: -1, max_high: -1, max_medium: -1, max_low: -1 };
        let max = fixable.verdict.counts.get(sev) as i64;
        match sev {
            scangate_core::Severity::Critical => t.max_critical = max,
            scangate_core::Severity::High => t.max_high = max,
            scangate_core::Severity::Medium => t.max_medium = max,
            scangate_core::Severity::Low => t.max_low = max,
            scangate_core::Severity::Informational => continue,
        }
        let strict = GatePolicy { thresholds: t, ..open };
        assert!(!evaluate(&mut report.clone(), &strict, None, Default::default()).verdict.passed, "{name} {sev:?}");
        let strict_fixable = GatePolicy { fixable_only: true, ..strict };
        assert!(
            evaluate(&mut report.clone(), &strict_fixable, None, Default::default()).verdict.passed,
            "{name} {sev:?}"
        );
    }
}

#[test]
fn fixable_only_numbers_are_pinned() {
    // Pinned; the test above derives the same numbers from the raw package fields.
    for (report, total, unfixable) in [
        (fixture("qscanner-image.sarif"), 13, without_fix(&fixture("qscanner-image.sarif")) as u64),
        (corpus("trivy-image-ghas-test.sarif"), 21, 5),
        (corpus("trivy-debug-results-2021.sarif"), 124, 4),
    ] {
        let e = evaluate(
            &mut report.clone(),
            &GatePolicy { fixable_only: true, ..Default::default() },
            None,
            Default::default(),
        );
        assert_eq!([e.verdict.counts.total, e.verdict.not_fixable.total], [total - unfixable, unfixable]);
    }
}

const WAIVERS: &str = "\
schema: scangate.waivers.v1
waivers:
  - id: CVE-2021-44228
    scope:
      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web
    reason: JndiLookup class removed from the jar at build time
    owner: appsec@example.com
    created: 2026-11-20
    expires: 2026-12-10
  - id: CVE-2021-44228
    scope:
      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api
    reason: another image
    owner: appsec@example.com
    expires: 2026-12-31
";

fn ctx(target: &str) -> AsffContext {
    let account = "123456789012";
    AsffContext {
        account_id: account.into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        scan_type: ScanType::Image,
        target: target.into(),
        lifecycle: LifecycleKey::new(
            account,
            "us-east-1",
            ScanType::Image,
            &target_identity(ScanType::Image, Some(target), None, None, None),
        ),
        codebuild_project: None,
        build_arn: None,
        updated_at: "2026-12-01T08:00:00.000Z".into(),
        created_at: Some("2026-11-01T08:00:00.000Z".into()),
        report_uri: Some("s3://reports/scans/web/1/report.sarif".into()),
        host: None,
    }
}

#[test]
fn a_waived_finding_passes_the_gate_stays_active_in_security_hub_and_is_audited() {
    let mut report = fixture("qscanner-image.sarif");
    let doc = WaiversDocument::parse(WAIVERS.as_bytes(), "s3://reports/policy/waivers.yaml", TODAY, 90).expect("valid");
    let sha = doc.sha256.clone();
    let exceptions = Exceptions { waivers: vec![doc], ..Default::default() };
    let subject = Subject::from_target(&report.target);
    // Two log4j findings (CVE-2021-44228) are critical; the third critical (zlib) is not waived.
    let gate = GatePolicy {
        thresholds: Thresholds { max_critical: 1, ..Default::default() },
        fail_on_policy_deny: false,
        ..Default::default()
    };
    let before = evaluate(&mut report.clone(), &gate, None, Default::default());
    assert!(!before.verdict.passed);
    apply_exceptions(&mut report, &gate, &exceptions, &subject, TODAY);
    let after = evaluate(&mut report.clone(), &gate, None, Default::default());
    assert!(after.verdict.passed, "{:?}", after.verdict.reasons);
    assert_eq!((after.verdict.counts.critical, after.verdict.waived.critical), (1, 2));
    let audit = after.verdict.exceptions.as_ref().expect("audit");
    assert_eq!(audit.documents[0].sha256, sha);
    assert_eq!(audit.applied.len(), 1, "only the waiver for this image applied: {audit:?}");
    assert_eq!((audit.applied[0].reference.as_str(), audit.applied[0].findings), ("waivers[0]", 2));
    assert!(
        after.verdict.warnings.iter().any(|w| w.contains("expires on 2026-12-10 (in 9 days)")),
        "{:?}",
        after.verdict.warnings
    );

    // In Security Hub: ACTIVE, with the waiver in ProductFields.
    let waived = report.findings.iter().find(|f| f.exception.is_some()).expect("a waived finding");
    let waived_ctx = ctx("123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.4.2");
    let rendered = asff::render(waived, &waived_ctx);
    assert_eq!(rendered.record_state(), asff::RecordState::Active);
    let json = serde_json::to_value(&rendered).expect("serializes");
    insta::assert_json_snapshot!("asff_waived_finding", json["ProductFields"]);
    assert_eq!(json["ProductFields"]["scangate/ExceptionExpires"], "2026-12-10");

    let md = summary::markdown(&after.verdict, &report.findings, 5);
    assert!(md.contains("Waived: 2 waived findings (2 critical)"), "{md}");
    assert!(md.contains("expires on 2026-12-10"), "{md}");
    let xml = junit::to_junit(&after.verdict, &after.evaluation, &report.findings, &gate);
    assert!(xml.contains("waived findings") && xml.contains(&sha), "{xml}");

    // The day after it expires the findings count again.
    apply_exceptions(&mut report, &gate, &exceptions, &subject, date!(2026 - 12 - 11));
    let expired = evaluate(&mut report.clone(), &gate, None, Default::default());
    assert!(!expired.verdict.passed);
    assert_eq!(expired.verdict.waived.total, 0);
    assert!(report.findings.iter().all(|f| f.exception.is_none()));
}

#[test]
fn vex_not_affected_for_another_digest_does_not_apply() {
    let mut report = fixture("qscanner-image.sarif");
    let ours = report.target.repo_digests.first().cloned();
    let other = format!("sha256:{}", "0".repeat(64));
    let vex = |digest: &str| {
        let text = format!(
            r#"{{"@context":"https://openvex.dev/ns/v0.2.0","author":"appsec","timestamp":"2026-11-01T00:00:00Z",
            "statements":[{{"vulnerability":{{"name":"CVE-2021-44228"}},"products":[{{"@id":"{digest}"}}],
            "status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}}]}}"#
        );
        VexDocument::parse(text.as_bytes(), "vex.json").expect("valid")
    };
    let mut subject = Subject::from_target(&report.target);
    subject.digests.push(format!("sha256:{}", "1".repeat(64)));
    let ex = Exceptions { vex: vec![vex(&other)], ..Default::default() };
    apply_exceptions(&mut report, &GatePolicy::default(), &ex, &subject, TODAY);
    assert!(report.findings.iter().all(|f| f.exception.is_none()), "another digest: nothing waived");
    let ex = Exceptions { vex: vec![vex(&format!("sha256:{}", "1".repeat(64)))], ..Default::default() };
    apply_exceptions(&mut report, &GatePolicy::default(), &ex, &subject, TODAY);
    assert_eq!(report.findings.iter().filter(|f| f.exception.is_some()).count(), 2, "this digest: both log4j findings");
    let _ = ours;
}

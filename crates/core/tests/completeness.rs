//! Suppressions and incomplete scans in the core evaluation (shared by `scangate process`, the runner's `--local` and
//! the report-processor): SARIF suppressions are honoured, and a scan that did not complete
//! fails the gate unless incomplete scans are accepted.

use scangate_core::evaluate::{evaluate, merge_reports};
use scangate_core::junit::to_junit;
use scangate_core::policy::{GatePolicy, Thresholds};
use scangate_core::summary::markdown;
use scangate_core::verdict::VerdictInput;
use scangate_core::{read_sarif, Report};

fn read(doc: &str) -> Report {
    read_sarif(doc.as_bytes(), "test.sarif").expect("readable SARIF")
}

/// One run with two critical results (rules A and B); `suppressions_b` is the JSON of
/// result B's `suppressions` property (or nothing), `invocations` of the run's.
fn doc(suppressions_b: Option<&str>, invocations: Option<&str>) -> String {
    let supp = suppressions_b.map(|s| format!(r#","suppressions":{s}"#)).unwrap_or_default();
    let inv = invocations.map(|s| format!(r#","invocations":{s}"#)).unwrap_or_default();
    format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"checkov","rules":[
            {{"id":"A","properties":{{"security-severity":"9.5"}}}},
            {{"id":"B","properties":{{"security-severity":"9.5"}}}}]}}}},
          "results":[
            {{"ruleId":"A","level":"error","message":{{"text":"a"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"main.tf"}},"region":{{"startLine":1}}}}}}]}},
            {{"ruleId":"B","level":"error","message":{{"text":"b"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"main.tf"}},"region":{{"startLine":2}}}}}}]{supp}}}
          ]{inv}}}]}}"#
    )
}

fn gate(max_critical: i64, accept_incomplete: bool) -> GatePolicy {
    GatePolicy {
        thresholds: Thresholds { max_critical, ..Thresholds::default() },
        accept_incomplete,
        suppressions: scangate_core::suppression::HonorSuppressions::All,
        ..GatePolicy::default()
    }
}

#[test]
fn suppression_statuses() {
    // (suppressions of result B, suppressed?, reader warnings expected?), evaluated with
    // HONOR_SUPPRESSIONS=all: the statuses alone decide (tests/suppressions.rs: the kinds).
    let table: &[(Option<&str>, bool, bool)] = &[
        (None, false, false),
        (Some("null"), false, false),
        (Some("[]"), false, false),
        (Some(r#"[{"kind":"inSource"}]"#), true, false),
        (Some(r#"[{"kind":"external","status":"accepted","justification":"false positive"}]"#), true, false),
        (Some(r#"[{"kind":"external","status":"underReview"}]"#), false, false),
        (Some(r#"[{"kind":"external","status":"rejected"}]"#), false, false),
        (Some(r#"[{"kind":"external","status":"accepted"},{"kind":"external","status":"rejected"}]"#), false, false),
        (Some(r#"[{"status":"accepted"},{"kind":"inSource"}]"#), true, true),
        (Some(r#"[{"status":"Accepted"}]"#), false, true),
        (Some(r#"[{"status":"bogus"}]"#), false, true),
        (Some(r#"[5]"#), false, true),
        (Some(r#"{"status":"accepted"}"#), false, true),
    ];
    for (supp, suppressed, warned) in table {
        let report = read(&doc(*supp, None));
        let name = format!("{supp:?}");
        assert_eq!(report.suppressed.len(), usize::from(*suppressed), "{name}");
        assert_eq!(report.findings.len(), 2 - usize::from(*suppressed), "{name}");
        assert_eq!(report.warning_count > 0, *warned, "{name}: {:?}", report.warnings);
        // One critical is allowed: the gate passes exactly when B is suppressed.
        let e = evaluate(&mut report.clone(), &gate(1, false), None, VerdictInput::default());
        assert_eq!(e.verdict.passed, *suppressed, "{name}: {:?}", e.verdict.reasons);
        assert_eq!(e.verdict.counts.critical, 2 - u64::from(*suppressed), "{name}");
        assert_eq!(e.verdict.suppressed, u64::from(*suppressed), "{name}");
        let json = serde_json::to_value(&e.verdict).expect("serializes");
        assert_eq!(json["suppressed"], u64::from(*suppressed), "{name}: verdict.json says how many");
        if *suppressed {
            let junit = to_junit(&e.verdict, &e.evaluation, &report.findings, &gate(1, false));
            assert!(junit.contains("1 suppressed finding"), "{name}: {junit}");
            assert!(markdown(&e.verdict, &report.findings, 20).contains("1 suppressed finding"), "{name}");
        }
    }
}

#[test]
fn a_finding_also_reported_unsuppressed_counts() {
    // The same rule, location and message twice: once suppressed, once not.
    let d = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"codeql","rules":[{"id":"X"}]}},"results":[
        {"ruleId":"X","level":"error","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.js"},"region":{"startLine":3}}}],"suppressions":[{"kind":"inSource"}]},
        {"ruleId":"X","level":"error","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.js"},"region":{"startLine":3}}}]}]}]}"#;
    let report = read(d);
    assert_eq!((report.findings.len(), report.suppressed.len()), (1, 0));
    // Across files too.
    let only_suppressed = read(&doc(Some(r#"[{"kind":"inSource"}]"#), None));
    let unsuppressed = read(&doc(None, None));
    let merged = merge_reports(vec![only_suppressed, unsuppressed]);
    assert_eq!((merged.findings.len(), merged.suppressed.len()), (2, 0));
}

#[test]
fn incomplete_runs_fail_closed() {
    // (invocations, incomplete?)
    let table: &[(&str, bool)] = &[
        (r#"[{"executionSuccessful":true}]"#, false),
        (r#"[{"executionSuccessful":false}]"#, true),
        (r#"[{"executionSuccessful":true},{"executionSuccessful":false}]"#, true),
        (
            r#"[{"executionSuccessful":true,"toolExecutionNotifications":[{"level":"error","message":{"text":"engine missing"}}]}]"#,
            true,
        ),
        (
            r#"[{"executionSuccessful":true,"toolExecutionNotifications":[{"level":"warning","message":{"text":"slow"}},{"message":{"text":"default level is warning"}}]}]"#,
            false,
        ),
        (
            r#"[{"executionSuccessful":true,"toolConfigurationNotifications":[{"level":"error","message":{"text":"x"}}]}]"#,
            false,
        ),
        ("[]", false),
        ("null", false),
    ];
    for (inv, incomplete) in table {
        let report = read(&doc(None, Some(inv)));
        assert_eq!(!report.incomplete.is_empty(), *incomplete, "{inv}: {:?}", report.incomplete);
        // Thresholds unlimited: only completeness can fail the gate.
        let strict = evaluate(&mut report.clone(), &gate(-1, false), None, VerdictInput::default());
        assert_eq!(strict.verdict.passed, !incomplete, "{inv}: {:?}", strict.verdict.reasons);
        if *incomplete {
            let reason = &strict.verdict.reasons[0];
            assert!(reason.contains("the scan did not complete") && reason.contains("checkov"), "{reason}");
            assert!(reason.contains("ACCEPT_INCOMPLETE_SCAN"), "{reason}: says how to accept");
            assert_eq!(strict.verdict.incomplete, report.incomplete);
            let junit = to_junit(&strict.verdict, &strict.evaluation, &report.findings, &gate(-1, false));
            assert!(junit.contains("the scan did not complete"), "{junit}");
            assert!(markdown(&strict.verdict, &report.findings, 20).contains("the scan did not complete"));
            let accepted = evaluate(&mut report.clone(), &gate(-1, true), None, VerdictInput::default());
            assert!(accepted.verdict.passed, "{inv}: accepted");
            assert!(accepted.verdict.warnings.iter().any(|w| w.contains("did not complete")), "{inv}");
            let json = serde_json::to_value(&accepted.verdict).expect("serializes");
            assert_eq!(json["accept_incomplete_scan"], true);
            assert!(json["incomplete"].as_array().is_some_and(|a| !a.is_empty()));
        } else {
            let json = serde_json::to_value(&strict.verdict).expect("serializes");
            assert!(json.get("incomplete").is_none(), "absent when complete");
        }
    }
}

#[test]
fn njsscan_style_failed_run_with_no_results_fails() {
    // njsscan writes this when its engine is missing: no results, executionSuccessful false.
    let d = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"nodejsscan","rules":[]}},"results":[],
        "invocations":[{"executionSuccessful":false,"endTimeUtc":"2026-11-23T08:00:00Z"}]}]}"#;
    let report = read(d);
    let e = evaluate(&mut report.clone(), &GatePolicy::default(), None, VerdictInput::default());
    assert!(!e.verdict.passed, "an empty result list from a failed run is no clean scan");
    assert_eq!(e.verdict.counts.total, 0);
}

#[test]
fn unreadable_invocations_warn_and_do_not_fail() {
    let report = read(&doc(None, Some(r#"[{"executionSuccessful":"no"}]"#)));
    assert!(report.incomplete.is_empty());
    assert!(report.warnings.iter().any(|w| w.path.ends_with("invocations")), "{:?}", report.warnings);
}

#[test]
fn gate_overrides_never_pass_an_incomplete_verdict() {
    let report = read(&doc(None, Some(r#"[{"executionSuccessful":false}]"#)));
    let e = evaluate(&mut report.clone(), &gate(-1, false), None, VerdictInput::default());
    let reason = scangate_core::evaluate::incomplete_reason(&e.verdict.incomplete, &gate(5, false));
    assert!(reason.is_some());
    assert!(scangate_core::evaluate::incomplete_reason(&e.verdict.incomplete, &gate(5, true)).is_none());
}

/// Real reports in the corpus (tests/corpus/sarif, SOURCES.md) that use suppressions and
/// invocations.
mod corpus {
    use super::*;
    use scangate_core::read_sarif_file;

    fn corpus(name: &str) -> Report {
        read_sarif_file(&scangate_testkit::fixtures::corpus(name)).expect("corpus file reads")
    }

    #[test]
    fn codeql_extraction_errors_make_the_run_incomplete() {
        // CodeQL 2.x on juice-shop: executionSuccessful true, 64 error-level
        // js/diagnostics/extraction-errors notifications (files it could not analyse).
        let r = corpus("codeql-javascript-juice-shop-3mb.sarif");
        assert_eq!(r.incomplete.len(), 1, "{:?}", r.incomplete);
        assert!(r.incomplete[0].contains("toolExecutionNotifications") && r.incomplete[0].contains("63 more"));
        let e = evaluate(&mut r.clone(), &gate(-1, false), None, VerdictInput::default());
        assert!(!e.verdict.passed);
        assert!(evaluate(&mut r.clone(), &gate(-1, true), None, VerdictInput::default()).verdict.passed);
        // Only level "none" notifications: complete.
        assert!(corpus("codeql-javascript-tag-sarif-large.sarif").incomplete.is_empty());
    }

    #[test]
    fn suppressions_in_real_reports() {
        let anchore = corpus("anchore-scan-action-2020-large.sarif");
        assert_eq!((anchore.findings.len(), anchore.suppressed.len()), (0, 429));
        let e = evaluate(&mut anchore.clone(), &GatePolicy::default(), None, VerdictInput::default());
        assert_eq!(e.verdict.suppressed, 429);
        assert!(e.verdict.warnings.iter().any(|w| w.contains("429 suppressed findings")), "visible in the verdict");
        let snyk = corpus("snyk-code-acceptance-large.sarif");
        assert_eq!((snyk.findings.len(), snyk.suppressed.len()), (9, 2));
    }
}

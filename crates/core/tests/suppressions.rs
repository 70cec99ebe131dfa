//! HONOR_SUPPRESSIONS end to end in core: a SARIF result's `suppressions` as written, read,
//! evaluated under each setting: which findings count, which are suppressed, what the
//! verdict says.

use scangate_core::evaluate::evaluate;
use scangate_core::policy::{GatePolicy, Thresholds};
use scangate_core::suppression::{HonorSuppressions, SuppressionKind};
use scangate_core::{read_sarif, Severity};

/// A document of one critical result per `suppressions` value (`None`: no array), each on its own line.
fn sarif(results: &[Option<&str>]) -> String {
    let results: Vec<String> = results
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let supp = s.map(|s| format!(r#","suppressions":{s}"#)).unwrap_or_default();
            format!(
                r#"{{"ruleId":"R","level":"error","properties":{{"security-severity":"9.8"}},"message":{{"text":"m"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"src/a.py"}},"region":{{"startLine":{}}}}}}}]{supp}}}"#,
                i + 1
            )
        })
        .collect();
    format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"semgrep","rules":[{{"id":"R"}}]}}}},"results":[{}]}}]}}"#,
        results.join(",")
    )
}

const IN_SOURCE: &str = r#"[{"kind":"inSource","justification":"nosemgrep: trust me"}]"#;
const EXTERNAL: &str = r#"[{"kind":"external","status":"accepted","justification":"SEC-42 accepted risk"}]"#;
const MIXED: &str = r#"[{"kind":"external"},{"kind":"inSource"}]"#;
const NO_KIND: &str = r#"[{"justification":"no kind"}]"#;
const UNDER_REVIEW: &str = r#"[{"kind":"external","status":"underReview"}]"#;

/// (suppressions, setting, counted against the thresholds?, in verdict `suppressed`?)
#[test]
fn which_results_count_under_each_setting() {
    use HonorSuppressions::{All, External, None as Nothing};
    let cases: &[(&str, HonorSuppressions, bool)] = &[
        (IN_SOURCE, Nothing, true),
        (IN_SOURCE, External, true),
        (IN_SOURCE, All, false),
        (EXTERNAL, Nothing, true),
        (EXTERNAL, External, false),
        (EXTERNAL, All, false),
        (MIXED, External, true),
        (MIXED, All, false),
        (NO_KIND, External, true),
        (NO_KIND, All, false),
        (UNDER_REVIEW, All, true),
    ];
    for (supp, mode, counted) in cases {
        let ctx = format!("{supp} under {mode}");
        let mut report = read_sarif(sarif(&[Some(supp)]).as_bytes(), "t.sarif").expect("reads");
        let gate = GatePolicy { thresholds: Thresholds::default(), suppressions: *mode, ..Default::default() };
        let e = evaluate(&mut report, &gate, None, Default::default());
        let v = &e.verdict;
        assert_eq!(v.counts.critical, u64::from(*counted), "{ctx}");
        assert_eq!(v.passed, !counted, "{ctx}: a counted critical fails the default gate");
        assert_eq!(v.suppressed, u64::from(!counted), "{ctx}");
        assert_eq!(v.honor_suppressions, *mode, "{ctx}");
        // Either way the finding is there, with its severity, for Security Hub.
        let all: Vec<_> = report.findings.iter().chain(&report.suppressed).collect();
        assert_eq!(all.len(), 1, "{ctx}");
        assert_eq!(all[0].severity, Severity::Critical, "{ctx}");
        let claimed = *supp != UNDER_REVIEW;
        assert_eq!(all[0].suppression.is_some(), claimed, "{ctx}");
        if let Some(s) = &all[0].suppression {
            assert_eq!(s.honoured, !counted, "{ctx}");
            assert_eq!(v.suppressions_ignored, u64::from(*counted), "{ctx}");
        }
    }
}

/// The default ignores the repository's own suppressions and says so.
#[test]
fn the_default_counts_in_source_suppressions_and_keeps_the_justification() {
    let mut report = read_sarif(sarif(&[Some(IN_SOURCE), Some(EXTERNAL), None]).as_bytes(), "t.sarif").expect("reads");
    let e = evaluate(&mut report, &GatePolicy::default(), None, Default::default());
    assert_eq!((e.verdict.counts.critical, e.verdict.suppressed, e.verdict.suppressions_ignored), (2, 1, 1));
    assert!(!e.verdict.passed);
    assert!(
        e.verdict.warnings.iter().any(|w| w.contains("HONOR_SUPPRESSIONS=external does not honour")),
        "{:?}",
        e.verdict.warnings
    );
    let counted = report.findings.iter().find(|f| f.suppression.is_some()).expect("the inSource one counts");
    let s = counted.suppression.as_ref().expect("kept");
    assert_eq!(
        (s.kinds.as_slice(), s.justification.as_deref()),
        (&[SuppressionKind::InSource][..], Some("nosemgrep: trust me"))
    );
    assert_eq!(
        report.suppressed[0].suppression.as_ref().and_then(|s| s.justification.as_deref()),
        Some("SEC-42 accepted risk")
    );
}

/// Two results that collapse into one finding: one external, one inSource suppression. The
/// finding holds both kinds, so `external` does not honour it.
#[test]
fn occurrences_of_one_finding_pool_their_suppressions() {
    let one = |s: &str| {
        format!(
            r#"{{"ruleId":"R","level":"error","properties":{{"security-severity":"9.8"}},"message":{{"text":"m"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"a"}},"region":{{"startLine":1}}}}}}],"suppressions":{s}}}"#
        )
    };
    let doc = format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"semgrep"}}}},"results":[{},{}]}}]}}"#,
        one(EXTERNAL),
        one(IN_SOURCE)
    );
    let mut report = read_sarif(doc.as_bytes(), "t.sarif").expect("reads");
    let e = evaluate(&mut report, &GatePolicy::default(), None, Default::default());
    assert_eq!((report.findings.len(), e.verdict.suppressed), (1, 0));
    let s = report.findings[0].suppression.as_ref().expect("claimed");
    assert_eq!(s.kinds, vec![SuppressionKind::InSource, SuppressionKind::External]);
    assert_eq!(s.justification.as_deref(), Some("SEC-42 accepted risk"), "the first occurrence's");
}

/// A reader warning names the entry without a kind.
#[test]
fn a_suppression_without_a_kind_is_warned() {
    let report = read_sarif(sarif(&[Some(NO_KIND)]).as_bytes(), "t.sarif").expect("reads");
    assert!(
        report.warnings.iter().any(
            |w| w.path == "runs[0].results[0].suppressions[0].kind" && w.message.contains("HONOR_SUPPRESSIONS=all")
        ),
        "{:?}",
        report.warnings
    );
}

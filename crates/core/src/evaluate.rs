//! The one evaluation path shared by `scangate process`, the runner's `--local` and
//! the report-processor Lambda: report → counts → policy → verdict ([`evaluate`]), and
//! the merge of several reports into the one report evaluated ([`merge_reports`]).

use crate::finding::{Finding, FindingClass};
use crate::policy::{evaluate as evaluate_gate, Counts, Evaluation, GatePolicy, PolicyResult, QualityFindings};
use crate::sarif::Report;
use crate::verdict::{Verdict, VerdictInput};

/// A report's evaluation.
#[derive(Clone, Debug)]
pub struct Evaluated {
    pub verdict: Verdict,
    pub evaluation: Evaluation,
    pub counts: Counts,
    /// The policy result the gate used (report properties combined with the scanner's exit code).
    pub policy_result: PolicyResult,
}

/// Evaluates a read report against the gate policy.
///
/// First it takes the quality findings out of `report.findings` unless `QUALITY_FINDINGS=gate`
/// ([`apply_quality`]), so what stays in `findings` is what the gate counted and what the
/// outputs (ASFF, JUnit, the summary, Security Hub) receive: no entry point can skip it.
///
/// `scanner_policy` is what the scanner's exit code said (42 DENY, 43 AUDIT), if
/// anything; it is combined with the report's own `policyResult` (the stronger wins).
/// When `input.scanner` is empty, the first run's tool is used; when `input.target`
/// is empty, the report's image name or first repo tag.
pub fn evaluate(
    report: &mut Report,
    gate: &GatePolicy,
    scanner_policy: Option<PolicyResult>,
    input: VerdictInput,
) -> Evaluated {
    let unhonoured = crate::suppression::apply(report, gate.suppressions);
    apply_quality(report, gate.quality);
    // Quality findings count against the thresholds only with QUALITY_FINDINGS=gate.
    let report = &*report;
    let gated = gate.quality == QualityFindings::Gate;
    let considered = || report.findings.iter().filter(|f| gated || f.class == FindingClass::Security);
    // A waived finding (waiver, VEX not_affected/fixed) is counted apart; so is one without a
    // fix under FAIL_ONLY_FIXABLE (docs/waivers.md, "How exceptions are counted").
    let waived = Counts::of(considered().filter(|f| f.exception.is_some()));
    let not_fixable = Counts::of(considered().filter(|f| f.exception.is_none() && f.fix_available() == Some(false)));
    let counts = Counts::of(
        considered()
            .filter(|f| f.exception.is_none())
            .filter(|f| !gate.fixable_only || f.fix_available() != Some(false)),
    );
    // Those the reader counted without keeping them (ReadLimits::count_quality) too.
    let quality_counts =
        Counts::of(report.findings.iter().chain(&report.quality).filter(|f| f.class == FindingClass::Quality))
            .plus(&report.quality_counted);
    let policy_result = scanner_policy.map_or(report.policy_result, |p| report.policy_result.combine(p));
    let mut evaluation = evaluate_gate(&counts, policy_result, gate);
    match incomplete_reason(&report.incomplete, gate) {
        Some(reason) => {
            evaluation.reasons.insert(0, reason);
            evaluation.passed = false;
        }
        None if !report.incomplete.is_empty() => evaluation.warnings.push(format!(
            "the scan did not complete ({}); accepted (ACCEPT_INCOMPLETE_SCAN=true): its findings are \
             incomplete and Security Hub is left unchanged",
            report.incomplete.join("; ")
        )),
        None => {}
    }
    if !report.suppressed.is_empty() {
        evaluation.warnings.push(format!(
            "{} suppressed finding{} (SARIF suppressions honoured with HONOR_SUPPRESSIONS={}) not counted against \
             the thresholds; still in Security Hub with the justification",
            report.suppressed.len(),
            if report.suppressed.len() == 1 { "" } else { "s" },
            gate.suppressions
        ));
    }
    if unhonoured > 0 {
        evaluation.warnings.push(format!(
            "{unhonoured} finding{} with SARIF suppressions of a kind HONOR_SUPPRESSIONS={} does not honour \
             counted like any other",
            if unhonoured == 1 { "" } else { "s" },
            gate.suppressions
        ));
    }
    if quality_counts.total > 0 && !gated {
        evaluation.warnings.push(format!(
            "{} quality finding{} (no security-severity, not from a security scanner) not counted against the \
             thresholds (QUALITY_FINDINGS={})",
            quality_counts.total,
            if quality_counts.total == 1 { "" } else { "s" },
            gate.quality
        ));
    }
    if waived.total > 0 {
        evaluation.warnings.push(format!(
            "{} waived finding{} (a waiver or a VEX statement in the trusted policy documents) not counted \
             against the thresholds; still in Security Hub with the exception",
            waived.total,
            if waived.total == 1 { "" } else { "s" }
        ));
    }
    if gate.fixable_only && not_fixable.total > 0 {
        evaluation.warnings.push(format!(
            "{} finding{} without a fixed version not counted against the thresholds (FAIL_ONLY_FIXABLE=true)",
            not_fixable.total,
            if not_fixable.total == 1 { "" } else { "s" }
        ));
    }
    evaluation.warnings.extend(report.exception_warnings.iter().cloned());
    if report.warning_count > 0 {
        evaluation.warnings.push(format!(
            "the report had {} problem{} the reader worked around (see the reader warnings)",
            report.warning_count,
            if report.warning_count == 1 { "" } else { "s" }
        ));
    }
    let mut input = input;
    if input.scanner.is_none() {
        input.scanner = report.runs.first().map(|r| r.scanner.clone());
    }
    if input.target.is_none() {
        input.target = report.target.repo_tags.first().cloned().or_else(|| report.target.image_name.clone());
    }
    let mut verdict = Verdict::new(input, counts, policy_result, gate, &evaluation);
    verdict.suppressed = report.suppressed.len() as u64;
    verdict.suppressions_ignored = unhonoured as u64;
    verdict.incomplete = crate::verdict::lines(&report.incomplete);
    verdict.quality_counts = quality_counts;
    verdict.waived = waived;
    verdict.not_fixable = not_fixable;
    verdict.exceptions = report.exceptions.clone();
    Evaluated { verdict, evaluation, counts, policy_result }
}

/// Takes the quality findings out of `report.findings` into `report.quality` unless
/// `QUALITY_FINDINGS=gate`, so that what stays in `findings` is what the gate counts and
/// what Security Hub receives. [`evaluate`] calls it first; dedup keys and finding ids are
/// unchanged.
fn apply_quality(report: &mut Report, mode: QualityFindings) {
    if mode == QualityFindings::Gate || report.findings.iter().all(|f| f.class == FindingClass::Security) {
        return;
    }
    let (security, quality): (Vec<Finding>, Vec<Finding>) =
        std::mem::take(&mut report.findings).into_iter().partition(|f| f.class == FindingClass::Security);
    report.findings = security;
    report.quality.extend(quality);
}

/// Applies the security team's exceptions (waivers, VEX) to the report's findings: marks the
/// covered ones (`finding.exception`) and keeps the audit and warnings for [`evaluate`].
/// `today` is the evaluation's date (UTC), injected. Call it after [`apply_quality`] and
/// before [`evaluate`] and the outputs (ASFF shows the exception).
pub fn apply_exceptions(
    report: &mut Report,
    exceptions: &crate::waivers::Exceptions,
    subject: &crate::waivers::Subject,
    today: time::Date,
) {
    if exceptions.is_empty() {
        for f in &mut report.findings {
            f.exception = None;
        }
        report.exceptions = None;
        report.exception_warnings.clear();
        return;
    }
    let (audit, warnings) = exceptions.apply(&mut report.findings, subject, today);
    report.exceptions = Some(audit);
    report.exception_warnings = warnings;
}

/// The gate's failure reason for a scan that did not complete (`incomplete` non-empty),
/// unless the policy accepts incomplete scans.
pub fn incomplete_reason(incomplete: &[String], gate: &GatePolicy) -> Option<String> {
    if incomplete.is_empty() || gate.accept_incomplete {
        return None;
    }
    Some(format!(
        "the scan did not complete: {} (its findings cannot be trusted; set ACCEPT_INCOMPLETE_SCAN=true to \
         accept incomplete scans)",
        incomplete.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::severity::Severity;

    fn finding(id: &str, severity: Severity) -> Finding {
        Finding::plain(id, severity)
    }

    #[test]
    fn exit_code_policy_combines_with_report_policy() {
        let mut report = Report {
            findings: vec![finding("a", Severity::High)],
            policy_result: PolicyResult::Allow,
            ..Default::default()
        };
        let e = evaluate(&mut report, &GatePolicy::default(), Some(PolicyResult::Deny), VerdictInput::default());
        assert_eq!(e.policy_result, PolicyResult::Deny);
        assert!(!e.verdict.passed);
        let e = evaluate(&mut report, &GatePolicy::default(), None, VerdictInput::default());
        assert_eq!(e.policy_result, PolicyResult::Allow);
        assert!(e.verdict.passed);
        assert_eq!(e.counts.high, 1);
    }

    #[test]
    fn evaluating_takes_quality_findings_out_of_what_the_outputs_receive() {
        let mut lint = finding("lint", Severity::High);
        lint.class = FindingClass::Quality;
        let report = Report { findings: vec![finding("sast", Severity::Low), lint], ..Default::default() };
        for (quality, findings, kept_apart) in [
            (QualityFindings::Report, vec!["sast"], vec!["lint"]),
            (QualityFindings::Ignore, vec!["sast"], vec!["lint"]),
            (QualityFindings::Gate, vec!["sast", "lint"], vec![]),
        ] {
            let mut r = report.clone();
            let gate = GatePolicy { quality, ..GatePolicy::default() };
            let e = evaluate(&mut r, &gate, None, VerdictInput::default());
            let ids = |f: &[Finding]| f.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&r.findings), findings, "{quality}: what the outputs receive");
            assert_eq!(ids(&r.quality), kept_apart, "{quality}");
            assert_eq!(e.verdict.quality_counts.total, 1, "{quality}");
            assert_eq!(e.counts.total, findings.len() as u64, "{quality}");
            // A second evaluation (a caller that also split them first) changes nothing.
            let again = evaluate(&mut r, &gate, None, VerdictInput::default());
            assert_eq!((again.counts, again.verdict.quality_counts), (e.counts, e.verdict.quality_counts));
            assert_eq!(ids(&r.findings), findings, "{quality}");
        }
    }

    #[test]
    fn reader_warnings_surface_in_verdict() {
        let mut report = Report { warning_count: 3, ..Default::default() };
        let e = evaluate(&mut report, &GatePolicy::default(), None, VerdictInput::default());
        assert!(e.verdict.passed);
        assert!(e.verdict.warnings.iter().any(|w| w.contains("3 problems")), "{:?}", e.verdict.warnings);
    }
}

/// Merges the reports of several files into one, as if they were one document:
/// findings with the same id collapse (occurrences add up), policy results combine.
pub fn merge_reports(reports: Vec<Report>) -> Report {
    let mut reports = reports.into_iter();
    let Some(mut merged) = reports.next() else {
        return Report::default();
    };
    if reports.as_slice().is_empty() {
        // One file (the usual case): nothing to collapse, so no index of every id.
        if !merged.suppressed.is_empty() {
            let ids: std::collections::HashSet<&str> = merged.findings.iter().map(|f| f.id.as_str()).collect();
            merged.suppressed.retain(|s| !ids.contains(s.id.as_str()));
        }
        return merged;
    }
    let mut index: std::collections::HashMap<String, usize> =
        merged.findings.iter().enumerate().map(|(i, f)| (f.id.clone(), i)).collect();
    for report in reports {
        for finding in report.findings {
            match index.get(&finding.id) {
                Some(&i) => merged.findings[i].occurrences += finding.occurrences,
                None => {
                    index.insert(finding.id.clone(), merged.findings.len());
                    merged.findings.push(finding);
                }
            }
        }
        merged.runs.extend(report.runs);
        merged.policy_result = merged.policy_result.combine(report.policy_result);
        if merged.target == Default::default() {
            merged.target = report.target;
        }
        let room = crate::sarif::MAX_KEPT_WARNINGS.saturating_sub(merged.warnings.len());
        merged.warnings.extend(report.warnings.into_iter().take(room));
        merged.warning_count += report.warning_count;
        merged.results_read += report.results_read;
        merged.incomplete.extend(report.incomplete);
        merged.quality.extend(report.quality);
        // Counted apart by the reader (ReadLimits::count_quality), so not deduplicated across
        // reports; the CLI, which merges, keeps its quality findings.
        merged.quality_counted = merged.quality_counted.plus(&report.quality_counted);
        for s in report.suppressed {
            match merged.suppressed.iter_mut().find(|m| m.id == s.id) {
                // Every occurrence's suppression entries count (crate::suppression's rule).
                Some(m) => {
                    if let (Some(have), Some(more)) = (m.suppression.as_mut(), s.suppression.as_ref()) {
                        have.merge(more);
                    }
                }
                None => merged.suppressed.push(s),
            }
        }
    }
    // A finding that also occurs unsuppressed is a finding.
    merged.suppressed.retain(|s| !index.contains_key(&s.id));
    merged
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn merge_collapses_same_ids() {
        let a = Report { results_read: 2, policy_result: PolicyResult::Allow, ..Default::default() };
        let b = Report { results_read: 3, policy_result: PolicyResult::Audit, warning_count: 1, ..Default::default() };
        let m = merge_reports(vec![a, b]);
        assert_eq!(m.results_read, 5);
        assert_eq!(m.policy_result, PolicyResult::Audit);
        assert_eq!(m.warning_count, 1);
        assert_eq!(merge_reports(vec![]), Report::default());
    }
}

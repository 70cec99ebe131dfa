//! The one evaluation path shared by `scangate process`, the runner's `--local` and
//! the report-processor Lambda: report → counts → policy → verdict, one finding at a time,
//! over findings in memory ([`evaluate`]) or read from a source such as a spill file
//! ([`evaluate_from`]); and the merge of several reports into the one report evaluated
//! ([`merge_reports`]).

use crate::finding::{Finding, FindingClass};
use crate::policy::{evaluate as evaluate_gate, Counts, Evaluation, GatePolicy, PolicyResult, QualityFindings};
use crate::sarif::Report;
use crate::source::{FindingSource, SourceError};
use crate::verdict::{Verdict, VerdictInput};
use crate::waivers::{Applier, Exception, Exceptions, ExceptionsAudit, Subject};
use std::borrow::Cow;

/// A report's evaluation.
#[derive(Clone, Debug)]
pub struct Evaluated {
    pub verdict: Verdict,
    pub evaluation: Evaluation,
    pub counts: Counts,
    /// The policy result the gate used (report properties combined with the scanner's exit code).
    pub policy_result: PolicyResult,
}

/// Which of a report's lists an evaluated finding ends in: what the gate counted and the
/// outputs receive (`report.findings`), the suppressions it honoured (`report.suppressed`), or
/// the quality findings kept apart (`report.quality`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    Findings,
    Suppressed,
    Quality,
}

/// Where [`evaluate_from`] reads a report's findings (or its suppressed ones) from: a
/// [`FindingSource`] (memory or a spill file; each finding reaches the sink borrowed, copied
/// only when the evaluation changes it), or a list it may consume (each finding is moved to the
/// sink).
pub enum Input<'a> {
    Source(&'a dyn FindingSource),
    Owned(Vec<Finding>),
}

impl<'a> From<&'a dyn FindingSource> for Input<'a> {
    fn from(source: &'a dyn FindingSource) -> Self {
        Input::Source(source)
    }
}

impl From<Vec<Finding>> for Input<'_> {
    fn from(findings: Vec<Finding>) -> Self {
        Input::Owned(findings)
    }
}

/// Why [`evaluate_from`] stopped: a finding could not be read, or the sink refused one.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError<E> {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{0}")]
    Sink(E),
}

/// Where [`evaluate_from`] hands each evaluated finding, with its group; an error stops it.
pub type Sink<'s, E> = dyn FnMut(Group, Cow<'_, Finding>) -> Result<(), E> + 's;

/// The exceptions an evaluation applies: those the findings carry ([`apply_exceptions`] ran
/// before), or these documents, matched with these facts on this day (UTC).
pub type ExceptionsIn<'a> = Option<(&'a Exceptions, &'a Subject, time::Date)>;

/// Evaluates a report whose findings are read one at a time (they need not all be in memory):
/// the same evaluation as [`apply_exceptions`] (when `exceptions` is given) then [`evaluate`],
/// with identical counts, verdict, warnings and exceptions audit.
///
/// Each finalized finding (its exception, its suppression's `honoured`) is handed to `sink`
/// with its [`Group`], in report order; per group, the order is exactly the one [`evaluate`]
/// leaves in `report.findings`, `report.suppressed` and `report.quality` (groups interleave).
/// As there, exceptions apply to what the gate counts: `findings` and the suppressed findings
/// whose suppression the setting does not honour, not to the honoured ones. A finding is borrowed when it was read from a source and the evaluation
/// did not change it (a sink writing to a file needs no copy), owned otherwise.
///
/// `report` gives everything but its findings: its runs, policy result, target,
/// completeness, reader warnings and `quality_counted`; its `quality` (empty as read) is
/// counted as quality findings kept apart before, and not handed to `sink`. Its `findings`
/// and `suppressed` are not read: pass them (or the files they were spilled to) as
/// `findings` and `suppressed`. Without `exceptions`, its `exceptions` and
/// `exception_warnings` are taken as they are.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_from<E>(
    findings: Input<'_>,
    suppressed: Input<'_>,
    report: &Report,
    gate: &GatePolicy,
    exceptions: ExceptionsIn<'_>,
    scanner_policy: Option<PolicyResult>,
    input: VerdictInput,
    sink: &mut Sink<'_, E>,
) -> Result<Evaluated, EvaluateError<E>> {
    let mut tally = Tally::new(gate, exceptions, &report.quality);
    for (from, read_suppressed) in [(findings, false), (suppressed, true)] {
        // A finding is copied only when the evaluation changes it (an exception, a
        // suppression honoured) and it is borrowed.
        let mut step = |mut f: Cow<'_, Finding>| {
            let (group, change) = if read_suppressed { tally.suppressed(&f) } else { tally.finding(&f) };
            if change.changes(&f) {
                change.apply(f.to_mut());
            }
            sink(group, f)
        };
        match from {
            Input::Owned(list) => {
                for f in list {
                    step(Cow::Owned(f)).map_err(EvaluateError::Sink)?;
                }
            }
            Input::Source(source) => {
                // The visitor cannot stop the read: the first refusal is kept, the rest skipped.
                let mut refused = None;
                source.for_each_finding(&mut |_, f| {
                    if refused.is_none() {
                        refused = step(Cow::Borrowed(f)).err();
                    }
                })?;
                if let Some(e) = refused {
                    return Err(EvaluateError::Sink(e));
                }
            }
        }
    }
    Ok(tally.finish(report, scanner_policy, input))
}

/// Evaluates a read report against the gate policy.
///
/// First it takes the quality findings out of `report.findings` unless `QUALITY_FINDINGS=gate`
/// (into `report.quality`), so what stays in `findings` is what the gate counted and what the
/// outputs (ASFF, JUnit, the summary, Security Hub) receive: no entry point can skip it.
///
/// `scanner_policy` is what the scanner's exit code said (42 DENY, 43 AUDIT), if
/// anything; it is combined with the report's own `policyResult` (the stronger wins).
/// When `input.scanner` is empty, the first run's tool is used; when `input.target`
/// is empty, the report's image name or first repo tag.
///
/// The in-memory form of [`evaluate_from`] (the same per-finding evaluation), in place:
/// the findings move only when some go to another list.
pub fn evaluate(
    report: &mut Report,
    gate: &GatePolicy,
    scanner_policy: Option<PolicyResult>,
    input: VerdictInput,
) -> Evaluated {
    let mut tally = Tally::new(gate, None, &report.quality);
    let mut moved = false;
    for f in &mut report.findings {
        let (group, change) = tally.finding(f);
        change.apply(f);
        moved |= group != Group::Findings;
    }
    // Honoured suppressions stay; the others count, after the findings (crate::suppression).
    let mut kept = Vec::with_capacity(report.suppressed.len());
    for mut f in std::mem::take(&mut report.suppressed) {
        let (group, change) = tally.suppressed(&f);
        change.apply(&mut f);
        match group {
            Group::Suppressed => kept.push(f),
            group => {
                moved |= group != Group::Findings;
                report.findings.push(f);
            }
        }
    }
    report.suppressed = kept;
    if moved {
        let (findings, quality): (Vec<Finding>, Vec<Finding>) =
            std::mem::take(&mut report.findings).into_iter().partition(|f| tally.group(f) == Group::Findings);
        report.findings = findings;
        report.quality.extend(quality);
    }
    tally.finish(report, scanner_policy, input)
}

/// Applies the security team's exceptions (waivers, VEX) to the findings the gate counts:
/// marks the covered ones (`finding.exception`) and keeps the audit and warnings for
/// [`evaluate`]. Those are the report's findings and its suppressed findings whose suppression
/// `gate.suppressions` does not honour (they count like any other, so an exception covers them
/// like any other); a suppression the setting honours keeps its finding out of the counts, and
/// its mark as it came. `gate` is the policy [`evaluate`] is then given; `today` is the
/// evaluation's date (UTC), injected. Call it before [`evaluate`] and the outputs (ASFF shows
/// the exception). [`evaluate_from`] does both in one pass.
pub fn apply_exceptions(
    report: &mut Report,
    gate: &GatePolicy,
    exceptions: &Exceptions,
    subject: &Subject,
    today: time::Date,
) {
    let mut marks = Marks::new(Some((exceptions, subject, today)));
    for f in &mut report.findings {
        marks.apply(f);
    }
    for f in report.suppressed.iter_mut().filter(|f| !crate::suppression::honoured(f, gate.suppressions)) {
        marks.apply(f);
    }
    (report.exceptions, report.exception_warnings) = marks.finish().unwrap_or_default();
}

/// What an evaluation does with the findings' exception marks.
enum Marks<'a> {
    /// Keeps them, and the report's audit ([`apply_exceptions`] ran before).
    AsGiven,
    /// No exceptions documents: clears them; no audit.
    Clear,
    /// Applies these.
    Apply(Applier<'a>),
}

impl<'a> Marks<'a> {
    fn new(exceptions: ExceptionsIn<'a>) -> Marks<'a> {
        match exceptions {
            None => Marks::AsGiven,
            Some((e, _, _)) if e.is_empty() => Marks::Clear,
            Some((e, subject, today)) => Marks::Apply(e.applier(subject, today)),
        }
    }

    /// The finding's mark from now on; None: the one it has.
    fn exception(&mut self, f: &Finding) -> Option<Option<Box<Exception>>> {
        match self {
            Marks::AsGiven => None,
            Marks::Clear => Some(None),
            Marks::Apply(applier) => Some(applier.exception(f)),
        }
    }

    fn apply(&mut self, f: &mut Finding) {
        if let Some(exception) = self.exception(f) {
            f.exception = exception;
        }
    }

    /// The audit and warnings, unless they are the report's (`AsGiven`: None).
    fn finish(self) -> Option<(Option<ExceptionsAudit>, Vec<String>)> {
        match self {
            Marks::AsGiven => None,
            Marks::Clear => Some((None, Vec::new())),
            Marks::Apply(applier) => {
                let (audit, warnings) = applier.finish();
                Some((Some(audit), warnings))
            }
        }
    }
}

/// What the evaluation changes in a finding: its exception mark, whether its suppression
/// was honoured (None: unchanged).
#[derive(Debug, Default)]
struct Change {
    exception: Option<Option<Box<Exception>>>,
    honoured: Option<bool>,
}

impl Change {
    /// Whether `f` is not already so.
    fn changes(&self, f: &Finding) -> bool {
        self.exception.as_ref().is_some_and(|e| *e != f.exception)
            || self.honoured.is_some_and(|h| f.suppression.as_ref().is_some_and(|s| s.honoured != h))
    }

    fn apply(self, f: &mut Finding) {
        if let Some(exception) = self.exception {
            f.exception = exception;
        }
        if let (Some(h), Some(s)) = (self.honoured, f.suppression.as_mut()) {
            s.honoured = h;
        }
    }
}

/// The evaluation, one finding at a time: exceptions, suppressions honoured, the quality
/// split, and every count. [`evaluate`] and [`evaluate_from`] drive it; each finding is
/// counted as it will be once its [`Change`] is applied.
struct Tally<'a> {
    gate: &'a GatePolicy,
    marks: Marks<'a>,
    gated: bool,
    counts: Counts,
    waived: Counts,
    not_fixable: Counts,
    quality: Counts,
    suppressed: u64,
    unhonoured: u64,
}

impl<'a> Tally<'a> {
    /// `quality`: findings kept apart earlier (counted, when of the quality class).
    fn new(gate: &'a GatePolicy, exceptions: ExceptionsIn<'a>, quality: &[Finding]) -> Tally<'a> {
        Tally {
            gate,
            marks: Marks::new(exceptions),
            // Quality findings count against the thresholds only with QUALITY_FINDINGS=gate.
            gated: gate.quality == QualityFindings::Gate,
            counts: Counts::default(),
            waived: Counts::default(),
            not_fixable: Counts::default(),
            quality: Counts::of(quality.iter().filter(|f| f.class == FindingClass::Quality)),
            suppressed: 0,
            unhonoured: 0,
        }
    }

    /// Where a counted finding goes: apart when it is a quality finding and
    /// `QUALITY_FINDINGS` is not `gate`.
    fn group(&self, f: &Finding) -> Group {
        if self.gated || f.class == FindingClass::Security {
            Group::Findings
        } else {
            Group::Quality
        }
    }

    /// One of the report's findings (not suppressed as read).
    fn finding(&mut self, f: &Finding) -> (Group, Change) {
        let exception = self.marks.exception(f);
        let waived = exception.as_ref().map_or(f.exception.is_some(), Option::is_some);
        (self.count(f, waived), Change { exception, honoured: None })
    }

    /// One of the report's suppressed findings: kept apart when the setting honours its
    /// suppression (its exception mark as it came), else counted exactly like the same finding
    /// without the suppression, exceptions included.
    fn suppressed(&mut self, f: &Finding) -> (Group, Change) {
        let honoured = crate::suppression::honoured(f, self.gate.suppressions);
        if honoured {
            self.suppressed += 1;
            return (Group::Suppressed, Change { exception: None, honoured: Some(true) });
        }
        self.unhonoured += 1;
        let (group, change) = self.finding(f);
        (group, Change { honoured: Some(false), ..change })
    }

    fn count(&mut self, f: &Finding, waived: bool) -> Group {
        let group = self.group(f);
        if f.class == FindingClass::Quality {
            self.quality.add(f.severity);
        }
        if group == Group::Findings && (self.gated || f.class == FindingClass::Security) {
            // A waived finding (waiver, VEX not_affected/fixed) is counted apart; so is one
            // without a fix under FAIL_ONLY_FIXABLE (docs/waivers.md, "How exceptions are counted").
            let no_fix = f.fix_available() == Some(false);
            if waived {
                self.waived.add(f.severity);
            } else {
                if no_fix {
                    self.not_fixable.add(f.severity);
                }
                if !self.gate.fixable_only || !no_fix {
                    self.counts.add(f.severity);
                }
            }
        }
        group
    }

    /// The counts against the policy: the verdict, with every warning.
    fn finish(self, report: &Report, scanner_policy: Option<PolicyResult>, input: VerdictInput) -> Evaluated {
        let Tally { gate, marks, gated, counts, waived, not_fixable, quality, suppressed, unhonoured } = self;
        let (exceptions, exception_warnings) =
            marks.finish().unwrap_or_else(|| (report.exceptions.clone(), report.exception_warnings.clone()));
        // Those the reader counted without keeping them (ReadLimits::count_quality) too.
        let quality_counts = quality.plus(&report.quality_counted);
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
        if suppressed > 0 {
            evaluation.warnings.push(format!(
                "{suppressed} suppressed finding{} (SARIF suppressions honoured with HONOR_SUPPRESSIONS={}) not \
                 counted against the thresholds; still in Security Hub with the justification",
                if suppressed == 1 { "" } else { "s" },
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
        evaluation.warnings.extend(exception_warnings);
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
        verdict.suppressed = suppressed;
        verdict.suppressions_ignored = unhonoured;
        verdict.incomplete = crate::verdict::lines(&report.incomplete);
        verdict.quality_counts = quality_counts;
        verdict.waived = waived;
        verdict.not_fixable = not_fixable;
        verdict.exceptions = exceptions;
        Evaluated { verdict, evaluation, counts, policy_result }
    }
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
mod stream_tests;

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

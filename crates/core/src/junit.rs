//! JUnit XML for CodeBuild report groups (report type JUNITXML).
//!
//! Two test suites: "scangate thresholds" (one case per threshold, one for the cloud
//! policy result, and one each for a report that could not be processed, a scan that
//! did not complete and suppressed findings, when there are any) and "findings" (one
//! failed case per finding that breaks the gate, worst first). CodeBuild keeps at most
//! [`MAX_CASES`] cases per report and [`MAX_MESSAGE_CHARS`] characters per message, so
//! the findings are cut with a final case that says how many were left out, and every
//! text is truncated with the marker. All text goes through the sanitizer
//! ([`text::display_text`], names and properties [`text::display_line`]) and
//! [`text::xml_safe`], so any input gives valid XML 1.0 with no control character, terminal
//! escape or bidi control. The output is deterministic: the verdict's `processed_at`
//! is the only timestamp, and there is no UUID or host name.

use crate::finding::Finding;
use crate::policy::{Evaluation, GatePolicy, PolicyResult};
use crate::severity::Severity;
use crate::source::{FindingSource, SourceError};
use crate::text::{display_line, display_text, truncate_chars, xml_safe};
use crate::verdict::Verdict;
use crate::worst::{self, Selected};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::convert::Infallible;

/// CodeBuild's limit on test cases in one report.
pub const MAX_CASES: usize = 500;
/// CodeBuild's limit on one test case message.
pub const MAX_MESSAGE_CHARS: usize = 5000;
/// Test case names, class names and property values are kept shorter than messages.
const MAX_NAME_CHARS: usize = 1000;

/// The name of the suite holding the threshold and policy cases.
pub const THRESHOLDS_SUITE: &str = "scangate thresholds";
/// The name of the suite holding one case per gate-breaking finding.
pub const FINDINGS_SUITE: &str = "findings";

/// Renders the verdict as JUnit XML: one case per threshold, one per finding that breaks the gate.
pub fn to_junit(verdict: &Verdict, evaluation: &Evaluation, findings: &[Finding], gate: &GatePolicy) -> String {
    // Findings in memory are always read: no error to handle.
    let Ok(xml) =
        render(verdict, evaluation, gate, |room, breaks| Ok::<_, Infallible>(worst::in_slice(findings, room, breaks)));
    xml
}

/// [`to_junit`] over findings read one at a time (a report whose findings are not all in
/// memory): the same bytes; at most [`MAX_CASES`] findings are held.
pub fn to_junit_from(
    verdict: &Verdict,
    evaluation: &Evaluation,
    findings: &dyn FindingSource,
    gate: &GatePolicy,
) -> Result<String, SourceError> {
    render(verdict, evaluation, gate, |room, breaks| worst::in_source(findings, room, breaks))
}

/// The JUnit of the verdict, with the `room` worst findings that break the gate from `select`
/// (given how many cases are left and which findings break it), or `select`'s error.
fn render<'a, E>(
    verdict: &Verdict,
    evaluation: &Evaluation,
    gate: &GatePolicy,
    select: impl FnOnce(usize, &dyn Fn(&Finding) -> bool) -> Result<Selected<'a>, E>,
) -> Result<String, E> {
    let cases = Cases::new(verdict, evaluation, gate);
    let breaking = select(cases.room(), &|f| cases.breaks(f))?;
    Ok(cases.finish(breaking))
}

/// A JUnit report before its findings: the thresholds suite, and what the findings suite
/// lists (the [`Cases::room`] worst findings that [`Cases::breaks`]), for a selection made
/// elsewhere (one read of the findings for JUnit and the summary: `crate::results`).
pub(crate) struct Cases<'v> {
    verdict: &'v Verdict,
    timestamp: Option<chrono::DateTime<chrono::FixedOffset>>,
    gate_suite: TestSuite,
    failing: Vec<Severity>,
    fixable_only: bool,
}

impl<'v> Cases<'v> {
    pub(crate) fn new(verdict: &'v Verdict, evaluation: &Evaluation, gate: &GatePolicy) -> Cases<'v> {
        let timestamp = chrono::DateTime::parse_from_rfc3339(verdict.processed_at.trim()).ok();
        let gate_suite = gate_suite(verdict, evaluation, gate, timestamp);
        let failing = evaluation.checks.iter().filter(|c| !c.passed).map(|c| c.severity).collect();
        Cases { verdict, timestamp, gate_suite, failing, fixable_only: gate.fixable_only }
    }

    /// How many findings the findings suite can list: the cases left.
    pub(crate) fn room(&self) -> usize {
        MAX_CASES.saturating_sub(self.gate_suite.test_cases.len())
    }

    /// Whether `f` breaks the gate: of a failing severity, not waived, and, with
    /// FAIL_ONLY_FIXABLE, not without a fix.
    pub(crate) fn breaks(&self, f: &Finding) -> bool {
        self.failing.contains(&f.severity)
            && f.exception.is_none()
            && (!self.fixable_only || f.fix_available() != Some(false))
    }

    /// The XML, with `breaking`: the [`Cases::room`] worst findings that break the gate and
    /// how many do.
    pub(crate) fn finish(self, breaking: Selected<'_>) -> String {
        let room = self.room();
        let Cases { verdict, timestamp, gate_suite, .. } = self;
        let mut report = Report::new("scangate");
        if let Some(t) = timestamp {
            report.set_timestamp(t);
        }
        let mut findings_suite = TestSuite::new(FINDINGS_SUITE);
        if let Some(t) = timestamp {
            findings_suite.set_timestamp(t);
        }
        // The `room` worst are enough: with more, one case says how many were left out.
        let shown = if breaking.matched > room { room.saturating_sub(1) } else { breaking.matched };
        for f in breaking.worst.iter().take(shown) {
            findings_suite.add_test_case(finding_case(f));
        }
        let left_out = breaking.matched - shown;
        if left_out > 0 {
            let text = format!(
                "{left_out} more finding{} that break the gate are not listed: a CodeBuild report holds at most {MAX_CASES} test cases",
                if left_out == 1 { "" } else { "s" }
            );
            let mut case = TestCase::new(format!("{left_out} more findings"), failure(text, "truncated"));
            case.set_classname("scangate.findings");
            findings_suite.add_test_case(case);
        }

        report.add_test_suite(gate_suite);
        report.add_test_suite(findings_suite);
        report.to_string().unwrap_or_else(|_| fallback(verdict))
    }
}

/// The thresholds suite: one case per threshold, one for the cloud policy result, and one each
/// for a report that could not be processed, a scan that did not complete, suppressed,
/// quality, waived findings and findings without a fix, when there are any.
fn gate_suite(
    verdict: &Verdict,
    evaluation: &Evaluation,
    gate: &GatePolicy,
    timestamp: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> TestSuite {
    let mut gate_suite = TestSuite::new(THRESHOLDS_SUITE);
    if let Some(t) = timestamp {
        gate_suite.set_timestamp(t);
    }
    for (name, value) in suite_properties(verdict) {
        gate_suite.add_property(Property::new(name, clean_name(&value)));
    }
    if let Some(error) = &verdict.error {
        let message = clean(&format!("the report could not be processed: {error}"), MAX_MESSAGE_CHARS);
        let status = failure(message, "unprocessable");
        let mut case = TestCase::new("report processed", status);
        case.set_classname("scangate.report");
        gate_suite.add_test_case(case);
    }
    if !verdict.incomplete.is_empty() {
        // A scan that did not complete: failed unless incomplete scans are accepted.
        let text = format!("the scan did not complete: {}", verdict.incomplete.join("; "));
        let status = if verdict.accept_incomplete_scan {
            TestCaseStatus::success()
        } else {
            failure(clean(&text, MAX_MESSAGE_CHARS), "incomplete")
        };
        let mut case = TestCase::new("scan completed", status);
        case.set_classname("scangate.scan");
        case.set_system_out(clean(&text, MAX_MESSAGE_CHARS));
        gate_suite.add_test_case(case);
    }
    if verdict.suppressed > 0 {
        let text = format!(
            "{} suppressed finding{} (SARIF suppressions honoured with HONOR_SUPPRESSIONS={}): not counted against \
             thresholds, still in Security Hub with the justification",
            verdict.suppressed,
            if verdict.suppressed == 1 { "" } else { "s" },
            verdict.honor_suppressions
        );
        let mut case = TestCase::new("suppressed findings", TestCaseStatus::success());
        case.set_classname("scangate.suppressions");
        case.set_system_out(clean(&text, MAX_MESSAGE_CHARS));
        gate_suite.add_test_case(case);
    }
    if let Some(text) = verdict.quality_note() {
        // Counted apart; with QUALITY_FINDINGS=gate they are in the threshold cases too.
        let mut case = TestCase::new("quality findings", TestCaseStatus::success());
        case.set_classname("scangate.quality");
        case.set_system_out(clean(&text, MAX_MESSAGE_CHARS));
        gate_suite.add_test_case(case);
    }
    for (name, class, text) in [
        ("waived findings", "scangate.waivers", verdict.waived_note()),
        ("findings without a fix", "scangate.fixable", verdict.not_fixable_note()),
    ] {
        if let Some(text) = text {
            let mut case = TestCase::new(name, TestCaseStatus::success());
            case.set_classname(class);
            case.set_system_out(clean(&text, MAX_MESSAGE_CHARS));
            gate_suite.add_test_case(case);
        }
    }
    for check in &evaluation.checks {
        let label = check.severity.label().to_ascii_lowercase();
        let plural = if check.count == 1 { "" } else { "s" };
        let text = if check.max < 0 {
            format!("{} {label} finding{plural}, no limit ({}=-1)", check.count, check.name)
        } else {
            format!("{} {label} finding{plural}, max {}", check.count, check.max)
        };
        let status = if check.passed {
            TestCaseStatus::success()
        } else {
            failure(clean(&text, MAX_MESSAGE_CHARS), "threshold")
        };
        let mut case = TestCase::new(clean_name(&check.name), status);
        case.set_classname("scangate.thresholds");
        case.set_system_out(clean(&text, MAX_MESSAGE_CHARS));
        gate_suite.add_test_case(case);
    }
    gate_suite.add_test_case(policy_case(verdict.policy_result, gate));
    gate_suite
}

fn suite_properties(verdict: &Verdict) -> Vec<(&'static str, String)> {
    let mut props = vec![("passed", verdict.passed.to_string()), ("policy_result", verdict.policy_result.to_string())];
    if let Some(t) = &verdict.target {
        props.push(("target", t.clone()));
    }
    if let Some(s) = &verdict.scanner {
        let name = match &s.version {
            Some(v) => format!("{} {v}", s.name),
            None => s.name.clone(),
        };
        props.push(("scanner", name));
    }
    let report = match &verdict.report.bucket {
        Some(b) => format!("s3://{b}/{}", verdict.report.key),
        None => verdict.report.key.clone(),
    };
    if !report.is_empty() {
        props.push(("report", report));
    }
    if let Some(arn) = verdict.build.as_ref().and_then(|b| b.arn.as_ref()) {
        props.push(("build_arn", arn.clone()));
    }
    props
}

fn policy_case(result: PolicyResult, gate: &GatePolicy) -> TestCase {
    let flags =
        format!("FAIL_ON_POLICY_DENY={}, FAIL_ON_POLICY_AUDIT={}", gate.fail_on_policy_deny, gate.fail_on_policy_audit);
    let text = format!("cloud policy result {result} ({flags})");
    let fails = match result {
        PolicyResult::Deny => gate.fail_on_policy_deny,
        PolicyResult::Audit => gate.fail_on_policy_audit,
        PolicyResult::Allow | PolicyResult::None => false,
    };
    let status = if fails { failure(text.clone(), "policy") } else { TestCaseStatus::success() };
    let mut case = TestCase::new("cloud policy", status);
    case.set_classname("scangate.policy");
    case.set_system_out(text);
    case
}

/// The status of a failed case: its message and failure type.
fn failure(message: String, kind: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(message);
    status.set_type(kind);
    status
}

fn finding_case(f: &Finding) -> TestCase {
    let affected = f.affected();
    let name = if affected.trim().is_empty() { f.rule_id.to_string() } else { format!("{} {affected}", f.rule_id) };
    let mut status = failure(clean(&format!("{}: {}", f.severity, f.title), MAX_MESSAGE_CHARS), f.severity.label());
    status.set_description(clean(&details(f), MAX_MESSAGE_CHARS));
    let mut case = TestCase::new(clean_name(&name), status);
    case.set_classname(clean_name(&format!("{}/{}", f.scanner.name, f.severity)));
    case
}

/// The body of a finding's failure: what, where, how to fix.
fn details(f: &Finding) -> String {
    let mut lines = vec![format!("rule: {}", f.rule_id), format!("severity: {} ({})", f.severity, f.severity_original)];
    if !f.cves.is_empty() {
        const SHOWN: usize = 20;
        let mut cves = f.cves.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if f.cves.len() > SHOWN {
            cves.push_str(&format!(" and {} more", f.cves.len() - SHOWN));
        }
        lines.push(format!("cves: {cves}"));
    }
    if let Some(score) = f.cvss_score {
        lines.push(format!("cvss: {}", crate::severity::format_score(score)));
    }
    if let Some(p) = &f.package {
        let installed = p.installed_version.as_deref().unwrap_or("?");
        match &p.fixed_version {
            Some(fixed) => lines.push(format!("package: {} {installed} -> {fixed}", p.name)),
            None => lines.push(format!("package: {} {installed} (no fix known)", p.name)),
        }
    }
    if let Some(l) = &f.location {
        match l.start_line {
            Some(n) => lines.push(format!("location: {}:{n}", l.uri)),
            None => lines.push(format!("location: {}", l.uri)),
        }
    }
    if let Some(layer) = &f.layer {
        lines.push(format!("layer: {layer}"));
    }
    if let Some(uri) = &f.help_uri {
        lines.push(format!("help: {uri}"));
    }
    if !f.description.trim().is_empty() {
        lines.push(String::new());
        // Descriptions can be megabytes; cut before joining so the work stays bounded.
        lines.push(truncate_chars(&f.description, MAX_MESSAGE_CHARS).into_owned());
    }
    lines.join("\n")
}

/// Bounded, through the one sanitizer ([`display_text`]: no control characters but line
/// breaks and tabs, no terminal escapes or bidi controls), and XML-safe.
fn clean(s: &str, max_chars: usize) -> String {
    xml_safe(&display_text(&truncate_chars(s, max_chars))).into_owned()
}

/// A test case name, class name or property value: [`clean`] on one line ([`display_line`]).
fn clean_name(s: &str) -> String {
    xml_safe(&display_line(&truncate_chars(s, MAX_NAME_CHARS))).into_owned()
}

/// A minimal report if the serializer ever fails (it writes to memory, so it should not).
fn fallback(verdict: &Verdict) -> String {
    let failure =
        if verdict.passed { String::new() } else { "<failure message=\"gate failed\" type=\"verdict\"/>".to_string() };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"scangate\" tests=\"1\" failures=\"{}\" errors=\"0\">\n<testsuite name=\"{THRESHOLDS_SUITE}\" tests=\"1\" failures=\"{}\" errors=\"0\" disabled=\"0\">\n<testcase name=\"verdict\" classname=\"scangate\">{failure}</testcase>\n</testsuite>\n</testsuites>\n",
        u8::from(!verdict.passed),
        u8::from(!verdict.passed)
    )
}

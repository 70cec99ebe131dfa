//! Thresholds, the scanner's cloud policy result, and the pass/fail decision.

use crate::finding::Finding;
use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The Qualys cloud policy result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PolicyResult {
    Allow,
    Deny,
    Audit,
    /// No policy was evaluated.
    #[default]
    None,
}

impl PolicyResult {
    /// The policy result implied by a QScanner exit code (42 DENY, 43 AUDIT).
    pub fn from_exit_code(code: i32) -> Option<PolicyResult> {
        match code {
            42 => Some(PolicyResult::Deny),
            43 => Some(PolicyResult::Audit),
            _ => None,
        }
    }

    /// Parses `ALLOW`, `deny`, `Audit`, `NONE` (case-insensitive).
    pub fn parse(s: &str) -> Option<PolicyResult> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ALLOW" | "PASS" | "PASSED" => Some(PolicyResult::Allow),
            "DENY" | "FAIL" | "FAILED" => Some(PolicyResult::Deny),
            "AUDIT" => Some(PolicyResult::Audit),
            "NONE" | "" => Some(PolicyResult::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyResult::Allow => "ALLOW",
            PolicyResult::Deny => "DENY",
            PolicyResult::Audit => "AUDIT",
            PolicyResult::None => "NONE",
        }
    }

    /// Combines two results: DENY beats AUDIT beats ALLOW beats NONE.
    pub fn combine(self, other: PolicyResult) -> PolicyResult {
        fn rank(p: PolicyResult) -> u8 {
            match p {
                PolicyResult::None => 0,
                PolicyResult::Allow => 1,
                PolicyResult::Audit => 2,
                PolicyResult::Deny => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for PolicyResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Maximum allowed findings per severity; −1 means unlimited; the gate fails when count > max.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    pub max_critical: i64,
    pub max_high: i64,
    pub max_medium: i64,
    pub max_low: i64,
}

impl Default for Thresholds {
    /// docs/design.md defaults: no critical finding allowed, everything else unlimited.
    fn default() -> Self {
        Thresholds { max_critical: 0, max_high: -1, max_medium: -1, max_low: -1 }
    }
}

impl Thresholds {
    /// The threshold for a severity; informational findings are never limited.
    pub fn max_for(&self, severity: Severity) -> i64 {
        match severity {
            Severity::Critical => self.max_critical,
            Severity::High => self.max_high,
            Severity::Medium => self.max_medium,
            Severity::Low => self.max_low,
            Severity::Informational => -1,
        }
    }

    /// The severities a threshold applies to, most severe first, with the variable name users set.
    pub const LIMITED: [(Severity, &'static str); 4] = [
        (Severity::Critical, "max_critical"),
        (Severity::High, "max_high"),
        (Severity::Medium, "max_medium"),
        (Severity::Low, "max_low"),
    ];

    /// Parses a threshold value: an integer ≥ −1.
    pub fn parse_value(s: &str) -> Result<i64, String> {
        let v: i64 = s.trim().parse().map_err(|_| format!("expected an integer (-1 for unlimited), got {s:?}"))?;
        if v < -1 {
            return Err(format!("expected -1 (unlimited) or a count of 0 or more, got {v}"));
        }
        Ok(v)
    }
}

/// Per-severity thresholds asked for: by the uploader (`scangate-max-*` metadata), by the
/// pipeline gate's `UserParameters` (`max_*` overrides) or by a command line; `None`: not set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThresholdRequest {
    pub max_critical: Option<i64>,
    pub max_high: Option<i64>,
    pub max_medium: Option<i64>,
    pub max_low: Option<i64>,
}

impl ThresholdRequest {
    /// `base` with the requested values in place of its own.
    pub fn over(&self, base: &Thresholds) -> Thresholds {
        Thresholds {
            max_critical: self.max_critical.unwrap_or(base.max_critical),
            max_high: self.max_high.unwrap_or(base.max_high),
            max_medium: self.max_medium.unwrap_or(base.max_medium),
            max_low: self.max_low.unwrap_or(base.max_low),
        }
    }
}

impl From<Thresholds> for ThresholdRequest {
    /// Every threshold set.
    fn from(t: Thresholds) -> Self {
        ThresholdRequest {
            max_critical: Some(t.max_critical),
            max_high: Some(t.max_high),
            max_medium: Some(t.max_medium),
            max_low: Some(t.max_low),
        }
    }
}

/// Counts of deduplicated findings per severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub informational: u64,
    pub total: u64,
}

impl Counts {
    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Informational => self.informational += 1,
        }
        self.total += 1;
    }

    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            c.add(f.severity);
        }
        c
    }

    /// No finding counted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// These counts and `other`'s, severity by severity.
    pub fn plus(&self, other: &Counts) -> Counts {
        Counts {
            critical: self.critical + other.critical,
            high: self.high + other.high,
            medium: self.medium + other.medium,
            low: self.low + other.low,
            informational: self.informational + other.informational,
            total: self.total + other.total,
        }
    }

    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Informational => self.informational,
        }
    }
}

/// What happens to quality findings (`QUALITY_FINDINGS`, `--quality-findings`, stack parameter
/// `QualityFindings`; README, "How findings are counted").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QualityFindings {
    /// Counted with the security findings against the thresholds, and imported into
    /// Security Hub (types `Software and Configuration Checks/Code Quality`, LOW or
    /// INFORMATIONAL).
    Gate,
    /// Counted under their own heading (verdict `quality_counts`, a JUnit case, the
    /// summary), not against the thresholds, not imported into Security Hub.
    #[default]
    Report,
    /// Only counted in verdict `quality_counts`; not in JUnit or the summary, not gated, not imported.
    Ignore,
}

impl QualityFindings {
    /// Parses `gate`, `report` or `ignore` (case-insensitive).
    pub fn parse(s: &str) -> Result<QualityFindings, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gate" => Ok(QualityFindings::Gate),
            "report" => Ok(QualityFindings::Report),
            "ignore" => Ok(QualityFindings::Ignore),
            _ => Err(format!("expected gate, report or ignore, got {s:?}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QualityFindings::Gate => "gate",
            QualityFindings::Report => "report",
            QualityFindings::Ignore => "ignore",
        }
    }
}

impl fmt::Display for QualityFindings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the gate decides on besides the findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatePolicy {
    pub thresholds: Thresholds,
    /// Fail when the cloud policy says DENY (default true).
    pub fail_on_policy_deny: bool,
    /// Fail when the cloud policy says AUDIT (default false).
    pub fail_on_policy_audit: bool,
    /// Let a scan that did not complete (`executionSuccessful: false`, an error-level tool
    /// notification) pass on its findings (default false: it fails the gate).
    /// `ACCEPT_INCOMPLETE_SCAN` / `--accept-incomplete-scan`. Security Hub is never changed
    /// by an incomplete scan either way.
    #[serde(default)]
    pub accept_incomplete: bool,
    /// What happens to quality findings (default `report`: counted apart, not gated).
    #[serde(default)]
    pub quality: QualityFindings,
    /// Count only findings a fix exists for (`FAIL_ONLY_FIXABLE` / `--fixable-only`, stack
    /// parameter `FailOnlyFixable`; default false): a vulnerable package without a fixed
    /// version (ASFF `FixAvailable` NO) is counted apart (verdict `not_fixable`), not against
    /// the thresholds. Findings not about a package (secrets, misconfigurations) still count.
    #[serde(default)]
    pub fixable_only: bool,
    /// Which SARIF suppressions take a finding out of the counts (`HONOR_SUPPRESSIONS` /
    /// `--honor-suppressions`; default `external`: the
    /// scanned repository's own `inSource` suppressions are ignored). [`crate::suppression`].
    #[serde(default)]
    pub suppressions: crate::suppression::HonorSuppressions,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            thresholds: Thresholds::default(),
            fail_on_policy_deny: true,
            fail_on_policy_audit: false,
            accept_incomplete: false,
            quality: QualityFindings::Report,
            fixable_only: false,
            suppressions: crate::suppression::HonorSuppressions::External,
        }
    }
}

/// The gate settings an entry point was given (command-line options, the processor's
/// environment, a verdict's stored policy, the pipeline gate's overrides); `None`: not given.
/// [`GateSettings::over`] is the one place a [`GatePolicy`] is built from them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GateSettings {
    pub thresholds: ThresholdRequest,
    pub fail_on_policy_deny: Option<bool>,
    pub fail_on_policy_audit: Option<bool>,
    pub accept_incomplete: Option<bool>,
    pub quality: Option<QualityFindings>,
    pub fixable_only: Option<bool>,
    pub suppressions: Option<crate::suppression::HonorSuppressions>,
}

impl GateSettings {
    /// `base` with every setting given in place of its own.
    pub fn over(&self, base: &GatePolicy) -> GatePolicy {
        GatePolicy {
            thresholds: self.thresholds.over(&base.thresholds),
            fail_on_policy_deny: self.fail_on_policy_deny.unwrap_or(base.fail_on_policy_deny),
            fail_on_policy_audit: self.fail_on_policy_audit.unwrap_or(base.fail_on_policy_audit),
            accept_incomplete: self.accept_incomplete.unwrap_or(base.accept_incomplete),
            quality: self.quality.unwrap_or(base.quality),
            fixable_only: self.fixable_only.unwrap_or(base.fixable_only),
            suppressions: self.suppressions.unwrap_or(base.suppressions),
        }
    }

    /// The default policy with every setting given in place of its own.
    pub fn policy(&self) -> GatePolicy {
        self.over(&GatePolicy::default())
    }

    /// Only the thresholds set, each of them.
    pub fn thresholds(t: Thresholds) -> GateSettings {
        GateSettings { thresholds: t.into(), ..GateSettings::default() }
    }
}

/// One threshold's outcome, for reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdCheck {
    pub severity: Severity,
    pub name: String,
    pub count: u64,
    pub max: i64,
    pub passed: bool,
}

/// The gate's decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub passed: bool,
    /// Why the gate failed; empty when it passed.
    pub reasons: Vec<String>,
    /// What a person should know though the gate passed (an AUDIT result that does not fail).
    pub warnings: Vec<String>,
    pub checks: Vec<ThresholdCheck>,
}

/// Decides pass/fail: every threshold with count > max fails, DENY fails when
/// `fail_on_policy_deny`, AUDIT fails only when `fail_on_policy_audit`.
pub fn evaluate(counts: &Counts, policy_result: PolicyResult, gate: &GatePolicy) -> Evaluation {
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    let mut checks = Vec::with_capacity(4);
    for (severity, name) in Thresholds::LIMITED {
        let count = counts.get(severity);
        let max = gate.thresholds.max_for(severity);
        let passed = max < 0 || count <= max as u64;
        if !passed {
            reasons.push(format!(
                "{count} {} finding{} exceed{} {name}={max}",
                severity.label().to_ascii_lowercase(),
                if count == 1 { "" } else { "s" },
                if count == 1 { "s" } else { "" },
            ));
        }
        checks.push(ThresholdCheck { severity, name: name.to_string(), count, max, passed });
    }
    match policy_result {
        PolicyResult::Deny if gate.fail_on_policy_deny => {
            reasons.push("cloud policy result is DENY (FAIL_ON_POLICY_DENY=true)".to_string())
        }
        PolicyResult::Deny => {
            warnings.push("cloud policy result is DENY, ignored (FAIL_ON_POLICY_DENY=false)".to_string())
        }
        PolicyResult::Audit if gate.fail_on_policy_audit => {
            reasons.push("cloud policy result is AUDIT (FAIL_ON_POLICY_AUDIT=true)".to_string())
        }
        PolicyResult::Audit => warnings.push("cloud policy result is AUDIT: passing with a warning".to_string()),
        PolicyResult::Allow | PolicyResult::None => {}
    }
    Evaluation { passed: reasons.is_empty(), reasons, warnings, checks }
}

/// Parses `true/false/1/0/yes/no/on/off` (case-insensitive), as environment variables are written.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(c: u64, h: u64, m: u64, l: u64) -> Counts {
        Counts { critical: c, high: h, medium: m, low: l, informational: 0, total: c + h + m + l }
    }

    fn th(c: i64, h: i64, m: i64, l: i64) -> Thresholds {
        Thresholds { max_critical: c, max_high: h, max_medium: m, max_low: l }
    }

    #[test]
    fn policy_table() {
        // (counts, thresholds, policy, deny, audit) -> (passed, number of reasons)
        let table: &[(Counts, Thresholds, PolicyResult, bool, bool, bool, usize)] = &[
            (counts(0, 0, 0, 0), Thresholds::default(), PolicyResult::None, true, false, true, 0),
            (counts(1, 0, 0, 0), Thresholds::default(), PolicyResult::None, true, false, false, 1),
            (counts(0, 100, 100, 100), Thresholds::default(), PolicyResult::None, true, false, true, 0),
            (counts(0, 5, 0, 0), th(0, 5, -1, -1), PolicyResult::None, true, false, true, 0),
            (counts(0, 6, 0, 0), th(0, 5, -1, -1), PolicyResult::None, true, false, false, 1),
            (counts(2, 6, 11, 0), th(0, 5, 10, -1), PolicyResult::None, true, false, false, 3),
            (counts(0, 0, 0, 1), th(-1, -1, -1, 0), PolicyResult::None, true, false, false, 1),
            (counts(9, 9, 9, 9), th(-1, -1, -1, -1), PolicyResult::None, true, false, true, 0),
            (counts(0, 0, 0, 0), Thresholds::default(), PolicyResult::Deny, true, false, false, 1),
            (counts(0, 0, 0, 0), Thresholds::default(), PolicyResult::Deny, false, false, true, 0),
            (counts(0, 0, 0, 0), Thresholds::default(), PolicyResult::Audit, true, false, true, 0),
            (counts(0, 0, 0, 0), Thresholds::default(), PolicyResult::Audit, true, true, false, 1),
            (counts(0, 0, 0, 0), Thresholds::default(), PolicyResult::Allow, true, true, true, 0),
            (counts(1, 0, 0, 0), Thresholds::default(), PolicyResult::Deny, true, false, false, 2),
        ];
        for (i, (c, t, p, deny, audit, want, nreasons)) in table.iter().enumerate() {
            let gate = GatePolicy {
                thresholds: *t,
                fail_on_policy_deny: *deny,
                fail_on_policy_audit: *audit,
                ..Default::default()
            };
            let e = evaluate(c, *p, &gate);
            assert_eq!(e.passed, *want, "row {i}: {e:?}");
            assert_eq!(e.reasons.len(), *nreasons, "row {i}: {e:?}");
        }
    }

    #[test]
    fn settings_replace_only_what_is_given() {
        let base = GatePolicy {
            thresholds: th(1, 2, 3, 4),
            fail_on_policy_deny: false,
            fail_on_policy_audit: true,
            accept_incomplete: true,
            quality: QualityFindings::Ignore,
            fixable_only: false,
            suppressions: crate::suppression::HonorSuppressions::All,
        };
        assert_eq!(GateSettings::default().over(&base), base, "nothing given: the base");
        assert_eq!(GateSettings::default().policy(), GatePolicy::default());
        let given = GateSettings {
            thresholds: ThresholdRequest { max_high: Some(-1), ..ThresholdRequest::default() },
            fail_on_policy_audit: Some(false),
            quality: Some(QualityFindings::Gate),
            ..GateSettings::default()
        };
        let want = GatePolicy {
            thresholds: th(1, -1, 3, 4),
            fail_on_policy_audit: false,
            quality: QualityFindings::Gate,
            ..base
        };
        assert_eq!(given.over(&base), want);
        let all = GateSettings {
            thresholds: th(5, 6, 7, 8).into(),
            fail_on_policy_deny: Some(true),
            fail_on_policy_audit: Some(false),
            accept_incomplete: Some(false),
            quality: Some(QualityFindings::Report),
            fixable_only: Some(true),
            suppressions: Some(crate::suppression::HonorSuppressions::None),
        };
        assert_eq!(all.over(&base), all.policy(), "everything given: the base does not matter");
        assert_eq!(
            GateSettings::thresholds(th(5, 6, 7, 8)).over(&base),
            GatePolicy { thresholds: th(5, 6, 7, 8), ..base }
        );
    }

    #[test]
    fn audit_warns_when_not_failing() {
        let e = evaluate(&Counts::default(), PolicyResult::Audit, &GatePolicy::default());
        assert!(e.passed);
        assert_eq!(e.warnings.len(), 1);
    }

    #[test]
    fn reason_text() {
        let e = evaluate(&counts(2, 0, 0, 0), PolicyResult::None, &GatePolicy::default());
        assert_eq!(e.reasons, vec!["2 critical findings exceed max_critical=0".to_string()]);
    }

    #[test]
    fn parse_values() {
        assert_eq!(Thresholds::parse_value("-1"), Ok(-1));
        assert_eq!(Thresholds::parse_value(" 5 "), Ok(5));
        assert!(Thresholds::parse_value("-2").is_err());
        assert!(Thresholds::parse_value("many").is_err());
        assert_eq!(PolicyResult::parse("deny"), Some(PolicyResult::Deny));
        assert_eq!(PolicyResult::parse("maybe"), None);
        assert_eq!(PolicyResult::from_exit_code(42), Some(PolicyResult::Deny));
        assert_eq!(PolicyResult::from_exit_code(43), Some(PolicyResult::Audit));
        assert_eq!(PolicyResult::from_exit_code(0), None);
        assert_eq!(parse_bool("FALSE"), Ok(false));
        assert!(parse_bool("nope").is_err());
        assert_eq!(PolicyResult::Audit.combine(PolicyResult::Deny), PolicyResult::Deny);
        assert_eq!(PolicyResult::Allow.combine(PolicyResult::None), PolicyResult::Allow);
    }
}

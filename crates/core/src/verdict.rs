//! `verdict.json`: the contract the runner, the gate and users' scripts read.
//!
//! Field names are fixed by docs/design.md ("verdict.json"); new
//! fields may be added, none renamed or removed.

use crate::finding::Scanner;
use crate::policy::{Counts, Evaluation, PolicyResult, QualityFindings, Thresholds};
use crate::text::display_line;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The schema id written into every verdict; readers refuse other schemas.
pub const SCHEMA: &str = "scangate.verdict.v1";

/// Where the evaluated report is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRef {
    #[serde(default)]
    pub bucket: Option<String>,
    pub key: String,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
}

/// The CodeBuild build that produced the report, when known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRef {
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub initiator: Option<String>,
    #[serde(default)]
    pub source_version: Option<String>,
}

/// The pipeline execution a verdict belongs to: written only when the processor verified the
/// report's claimed pipeline and execution against the build that uploaded it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineExecution {
    pub pipeline: String,
    pub execution_id: String,
}

/// The verdict on one report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub schema: String,
    pub passed: bool,
    pub reasons: Vec<String>,
    pub counts: Counts,
    pub thresholds: Thresholds,
    pub policy_result: PolicyResult,
    pub report: ReportRef,
    pub target: Option<String>,
    pub scanner: Option<Scanner>,
    pub build: Option<BuildRef>,
    /// Findings the report sends to Security Hub as ACTIVE (new, changed or due for
    /// refresh), as planned when it was evaluated; what Security Hub accepted is in the
    /// processor's `hub.json` (docs/report-processor.md, "Verdict first").
    pub findings_imported: u64,
    /// Findings it archives (gone since the lifecycle's applied report), as planned.
    pub findings_archived: u64,
    /// RFC 3339.
    pub processed_at: String,
    // The fields below have defaults: a verdict written without them still parses.
    /// Notes that did not fail the gate (AUDIT passing, reader warnings).
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default = "default_true")]
    pub fail_on_policy_deny: bool,
    #[serde(default)]
    pub fail_on_policy_audit: bool,
    /// Set when the report could not be processed (it was quarantined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The CodeBuild build (id) the report-processor started to publish this report's
    /// JUnit into a report group; absent when nothing was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_build: Option<String>,
    /// Distinct findings of SARIF results whose suppressions `honor_suppressions` honours: not
    /// in `counts`, not against thresholds; still imported into Security Hub (ACTIVE, with the
    /// justification in ProductFields).
    #[serde(default)]
    pub suppressed: u64,
    /// Distinct findings whose accepted SARIF suppressions `honor_suppressions` does not
    /// honour (by default the scanned repository's own `inSource` ones): counted like any other.
    #[serde(default)]
    pub suppressions_ignored: u64,
    /// HONOR_SUPPRESSIONS for this evaluation: `none`, `external` or `all`.
    #[serde(default)]
    pub honor_suppressions: crate::suppression::HonorSuppressions,
    /// Why the scan did not complete (`executionSuccessful: false`, error-level tool
    /// notifications); absent when it completed. An incomplete scan fails the gate unless
    /// `accept_incomplete_scan`, and never changes Security Hub.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
    /// ACCEPT_INCOMPLETE_SCAN was set for this evaluation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_incomplete_scan: bool,
    /// The node and operating system of a host scan (`scan running|vm-disk`: the report's
    /// `scangate-host`, `-kernel`, `-machine`, `-os` metadata); absent for other scans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::host::HostFacts>,
    /// Quality findings (no `security-severity`, not from a security scanner; README, "How
    /// findings are counted") per severity of their SARIF level, whatever `quality_findings`
    /// says. With `quality_findings` `gate` they are also in `counts`; otherwise not.
    #[serde(default)]
    pub quality_counts: Counts,
    /// QUALITY_FINDINGS for this evaluation: `gate`, `report` or `ignore`.
    #[serde(default)]
    pub quality_findings: QualityFindings,
    /// The verified pipeline execution of the uploading build; absent when the report named
    /// none or its claim could not be verified. A gate refuses a verdict of another execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_execution: Option<PipelineExecution>,
    /// SHA-256 (hex) of the `junit.xml` the processor wrote beside this verdict: a reader takes
    /// only those bytes as this report's JUnit (a later or rewritten object is not it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junit_sha256: Option<String>,
    /// SHA-256 (hex) of the `summary.md` written beside this verdict, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_sha256: Option<String>,
    /// Findings a waiver or a VEX statement (`not_affected`, `fixed`) takes out of `counts`,
    /// per severity; they stay in Security Hub with the exception (docs/waivers.md).
    #[serde(default)]
    pub waived: Counts,
    /// Findings about a vulnerable package without a fixed version (ASFF `FixAvailable` NO),
    /// not waived, per severity. With `fixable_only` they are not in `counts`; otherwise they are.
    #[serde(default)]
    pub not_fixable: Counts,
    /// FAIL_ONLY_FIXABLE for this evaluation: only findings with a fix count against the thresholds.
    #[serde(default)]
    pub fixable_only: bool,
    /// The exceptions documents read (source, SHA-256) and which waivers and VEX statements
    /// this verdict applied; absent when none was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<crate::waivers::ExceptionsAudit>,
}

/// SHA-256 of `bytes`, lower-case hex: how `junit_sha256` and `summary_sha256` are computed.
pub fn content_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A human-facing text of the verdict taken from the report or its metadata (reasons,
/// warnings, target, scanner, error, why a scan was incomplete), on one line through the one
/// sanitizer ([`display_line`]): the gate, the runner and users' scripts print them as they are.
/// The report's key, version and ETag stay as written: they locate the object.
pub(crate) fn line(s: String) -> String {
    match display_line(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(clean) => clean,
    }
}

/// [`line`] over a list.
pub(crate) fn lines(items: &[String]) -> Vec<String> {
    items.iter().map(|s| line(s.clone())).collect()
}

fn default_true() -> bool {
    true
}

/// The inputs of a verdict besides the evaluation.
#[derive(Clone, Debug, Default)]
pub struct VerdictInput {
    pub report: ReportRef,
    pub target: Option<String>,
    pub scanner: Option<Scanner>,
    pub build: Option<BuildRef>,
    pub processed_at: String,
}

impl Verdict {
    pub fn new(
        input: VerdictInput,
        counts: Counts,
        policy_result: PolicyResult,
        gate: &crate::policy::GatePolicy,
        evaluation: &Evaluation,
    ) -> Verdict {
        Verdict {
            schema: SCHEMA.to_string(),
            passed: evaluation.passed,
            reasons: lines(&evaluation.reasons),
            counts,
            thresholds: gate.thresholds,
            policy_result,
            report: input.report,
            target: input.target.map(line),
            scanner: input.scanner.map(|sc| Scanner { name: line(sc.name), version: sc.version.map(line) }),
            build: input.build,
            findings_imported: 0,
            findings_archived: 0,
            processed_at: input.processed_at,
            warnings: lines(&evaluation.warnings),
            fail_on_policy_deny: gate.fail_on_policy_deny,
            fail_on_policy_audit: gate.fail_on_policy_audit,
            error: None,
            publisher_build: None,
            suppressed: 0,
            suppressions_ignored: 0,
            honor_suppressions: gate.suppressions,
            incomplete: Vec::new(),
            accept_incomplete_scan: gate.accept_incomplete,
            host: None,
            quality_counts: Counts::default(),
            quality_findings: gate.quality,
            pipeline_execution: None,
            junit_sha256: None,
            summary_sha256: None,
            waived: Counts::default(),
            not_fixable: Counts::default(),
            fixable_only: gate.fixable_only,
            exceptions: None,
        }
    }

    /// The gate policy this verdict was decided under (what [`Verdict::new`] stored).
    pub fn gate_policy(&self) -> crate::policy::GatePolicy {
        crate::policy::GateSettings {
            thresholds: self.thresholds.into(),
            fail_on_policy_deny: Some(self.fail_on_policy_deny),
            fail_on_policy_audit: Some(self.fail_on_policy_audit),
            accept_incomplete: Some(self.accept_incomplete_scan),
            quality: Some(self.quality_findings),
            fixable_only: Some(self.fixable_only),
            suppressions: Some(self.honor_suppressions),
        }
        .policy()
    }

    /// A failed verdict for a report that could not be processed, so nobody waits forever.
    pub fn unprocessable(input: VerdictInput, gate: &crate::policy::GatePolicy, reason: String) -> Verdict {
        let evaluation = Evaluation {
            passed: false,
            reasons: vec![format!("the report could not be processed: {reason}")],
            warnings: Vec::new(),
            checks: Vec::new(),
        };
        let mut verdict = Verdict::new(input, Counts::default(), PolicyResult::None, gate, &evaluation);
        verdict.error = Some(line(reason));
        verdict
    }

    /// Parses a verdict, refusing an unknown schema with a message that names it.
    pub fn from_json(bytes: &[u8]) -> Result<Verdict, VerdictError> {
        let probe: SchemaProbe = serde_json::from_slice(bytes).map_err(|e| VerdictError::Json(e.to_string()))?;
        match probe.schema.as_deref() {
            Some(SCHEMA) => {}
            Some(other) => return Err(VerdictError::UnknownSchema(other.to_string())),
            None => return Err(VerdictError::UnknownSchema("(missing)".to_string())),
        }
        serde_json::from_slice(bytes).map_err(|e| VerdictError::Json(e.to_string()))
    }

    /// One line about the quality findings for JUnit and the summary, by SARIF level (a quality
    /// finding's severity comes from its level: error HIGH, warning MEDIUM, note LOW, none
    /// INFORMATIONAL); None when there are none or QUALITY_FINDINGS=ignore.
    pub fn quality_note(&self) -> Option<String> {
        let q = &self.quality_counts;
        if q.total == 0 || self.quality_findings == QualityFindings::Ignore {
            return None;
        }
        let mut levels = Vec::new();
        for (n, level) in
            [(q.critical + q.high, "error"), (q.medium, "warning"), (q.low, "note"), (q.informational, "none")]
        {
            if n > 0 {
                levels.push(format!("{n} {level}"));
            }
        }
        let plural = if q.total == 1 { "" } else { "s" };
        let how = match self.quality_findings {
            QualityFindings::Gate => {
                "counted against the thresholds (QUALITY_FINDINGS=gate) and imported into Security Hub as \
                 Code Quality, LOW or INFORMATIONAL"
            }
            _ => "not counted against the thresholds (QUALITY_FINDINGS=report), not imported into Security Hub",
        };
        Some(format!("{} quality finding{plural} ({}): {how}", q.total, levels.join(", ")))
    }

    /// One line about the waived findings (waivers, VEX) and the exceptions applied, for JUnit
    /// and the summary; None when nothing was waived and no exception was configured.
    pub fn waived_note(&self) -> Option<String> {
        let audit = self.exceptions.as_ref();
        if self.waived.total == 0 && audit.is_none_or(|a| a.applied.is_empty() && a.expired.is_empty()) {
            return None;
        }
        let w = &self.waived;
        let mut text = format!(
            "{} waived finding{} ({}): not counted against the thresholds, still in Security Hub with the exception",
            w.total,
            if w.total == 1 { "" } else { "s" },
            by_severity(w)
        );
        if let Some(a) = audit {
            let applied: Vec<String> = a
                .applied
                .iter()
                .map(|e| {
                    let detail = match (&e.expires, e.status) {
                        (Some(d), _) => format!("until {d}"),
                        (None, Some(s)) => s.as_str().to_string(),
                        (None, None) => String::new(),
                    };
                    format!(
                        "{} {} {} ({detail}, {} finding{})",
                        e.kind.as_str(),
                        e.reference,
                        e.id,
                        e.findings,
                        if e.findings == 1 { "" } else { "s" }
                    )
                })
                .collect();
            if !applied.is_empty() {
                text.push_str(&format!("; applied: {}", applied.join(", ")));
            }
            let expired: Vec<String> = a
                .expired
                .iter()
                .map(|e| format!("{} {} (expired {})", e.reference, e.id, e.expires.as_deref().unwrap_or("?")))
                .collect();
            if !expired.is_empty() {
                text.push_str(&format!("; expired, counted again: {}", expired.join(", ")));
            }
            let docs: Vec<String> = a.documents.iter().map(|d| format!("{} sha256:{}", d.source, d.sha256)).collect();
            if !docs.is_empty() {
                text.push_str(&format!("; documents: {}", docs.join(", ")));
            }
        }
        Some(text)
    }

    /// One line about the findings without a fix; None when there are none.
    pub fn not_fixable_note(&self) -> Option<String> {
        let n = &self.not_fixable;
        if n.total == 0 {
            return None;
        }
        let how = if self.fixable_only {
            "not counted against the thresholds (FAIL_ONLY_FIXABLE=true)"
        } else {
            "counted against the thresholds (FAIL_ONLY_FIXABLE=false)"
        };
        Some(format!(
            "{} finding{} without a fixed version ({}): {how}",
            n.total,
            if n.total == 1 { "" } else { "s" },
            by_severity(n)
        ))
    }

    /// The process exit code for this verdict: 0 passed, 42 gate failed.
    pub fn exit_code(&self) -> i32 {
        if self.passed {
            0
        } else {
            42
        }
    }
}

/// `1 critical, 2 high` (only the severities with findings).
fn by_severity(c: &Counts) -> String {
    let parts: Vec<String> = crate::severity::Severity::ALL_DESC
        .iter()
        .filter(|s| c.get(**s) > 0)
        .map(|s| format!("{} {}", c.get(*s), s.label().to_ascii_lowercase()))
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

#[derive(Deserialize)]
struct SchemaProbe {
    schema: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerdictError {
    #[error("verdict is not valid JSON: {0}")]
    Json(String),
    #[error("verdict has schema {0:?}, expected {SCHEMA:?}")]
    UnknownSchema(String),
}

/// Current time as RFC 3339 (UTC, millisecond precision), as [`rfc3339`] writes it.
pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// Formats a timestamp as RFC 3339 in UTC with millisecond precision, as ASFF expects.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt).unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{evaluate, GatePolicy};

    #[test]
    fn roundtrip_and_schema_check() {
        let gate = GatePolicy::default();
        let counts = Counts { critical: 1, total: 1, ..Default::default() };
        let e = evaluate(&counts, PolicyResult::None, &gate);
        let v = Verdict::new(VerdictInput::default(), counts, PolicyResult::None, &gate, &e);
        let json = serde_json::to_vec(&v).expect("serialize");
        assert_eq!(Verdict::from_json(&json), Ok(v.clone()));
        assert_eq!(v.exit_code(), 42);
        let other = String::from_utf8(json).expect("utf8").replace(SCHEMA, "other.v9");
        assert_eq!(Verdict::from_json(other.as_bytes()), Err(VerdictError::UnknownSchema("other.v9".into())));
    }

    #[test]
    fn contract_field_names() {
        let gate = GatePolicy::default();
        let e = evaluate(&Counts::default(), PolicyResult::None, &gate);
        let v = Verdict::new(VerdictInput::default(), Counts::default(), PolicyResult::None, &gate, &e);
        let value = serde_json::to_value(&v).expect("serialize");
        for key in [
            "schema",
            "passed",
            "reasons",
            "counts",
            "thresholds",
            "policy_result",
            "report",
            "target",
            "scanner",
            "build",
            "findings_imported",
            "findings_archived",
            "processed_at",
            "quality_counts",
            "quality_findings",
            "waived",
            "not_fixable",
            "fixable_only",
            "suppressed",
            "suppressions_ignored",
            "honor_suppressions",
        ] {
            assert!(value.get(key).is_some(), "verdict.json lacks {key}");
        }
        for key in ["critical", "high", "medium", "low", "informational", "total"] {
            assert!(value["counts"].get(key).is_some(), "counts lacks {key}");
        }
        for key in ["bucket", "key", "version_id", "etag"] {
            assert!(value["report"].get(key).is_some(), "report lacks {key}");
        }
    }

    #[test]
    fn unprocessable_fails_with_the_reason() {
        let v = Verdict::unprocessable(VerdictInput::default(), &GatePolicy::default(), "not JSON".into());
        assert!(!v.passed);
        assert_eq!(v.error.as_deref(), Some("not JSON"));
        assert_eq!(v.reasons, vec!["the report could not be processed: not JSON".to_string()]);
        assert_eq!(v.counts, Counts::default());
        assert_eq!(v.exit_code(), 42);
    }

    #[test]
    fn publisher_build_is_optional_and_omitted_when_none() {
        let gate = GatePolicy::default();
        let e = evaluate(&Counts::default(), PolicyResult::None, &gate);
        let mut v = Verdict::new(VerdictInput::default(), Counts::default(), PolicyResult::None, &gate, &e);
        let value = serde_json::to_value(&v).expect("serialize");
        assert!(value.get("publisher_build").is_none(), "no publisher_build key when nothing was published");
        v.publisher_build = Some("qualys-codebuild-publisher-us-east-1:0b1c".into());
        let json = serde_json::to_vec(&v).expect("serialize");
        let back = Verdict::from_json(&json).expect("parses");
        assert_eq!(back.publisher_build.as_deref(), Some("qualys-codebuild-publisher-us-east-1:0b1c"));
        // A verdict written before the field existed still parses.
        let mut old = serde_json::to_value(&v).expect("serialize");
        old.as_object_mut().expect("object").remove("publisher_build");
        let old = Verdict::from_json(&serde_json::to_vec(&old).expect("bytes")).expect("old verdict parses");
        assert_eq!(old.publisher_build, None);
    }

    #[test]
    fn timestamps() {
        let t = time::macros::datetime!(2026-11-23 08:00:01.5 UTC);
        assert_eq!(rfc3339(t), "2026-11-23T08:00:01.500Z");
    }
}

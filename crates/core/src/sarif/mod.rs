//! Streaming SARIF 2.1.0 reader.
//!
//! The document is read once, front to back: a small streaming scanner ([`driver`]) walks the
//! outer structure (log → runs → run → results) and cuts out one value at a time (a result,
//! the tool, the artifacts, the run properties), which serde_json parses from the slice with
//! hand-written visitors ([`lenient`], [`parse`]). No `serde_json::Value` or other tree of the
//! document is built, unknown fields are skipped with `IgnoredAny`, and each result is turned
//! into findings and merged into a map keyed by [`crate::finding::DedupKey`] as soon as it is
//! parsed. Memory grows with the number of rules, artifacts and distinct findings (and the
//! largest single value), not with the file size. Results that come before their run's `tool`
//! (or whose artifact index cannot be resolved yet) wait in a compact form until the run
//! object closes.
//!
//! Leniency: a field of the wrong type inside a rule or result becomes a [`ReadWarning`] with
//! its JSON path and the result is kept with what can be known; only a document that is not
//! JSON ([`SarifError::Json`]) or cannot be a SARIF log ([`SarifError::NotSarif`]: no `runs`
//! array, a run that is not an object, `results` that is not an array, a version other than
//! 2.1.0) is rejected.
//!
//! Suppressions: a result whose `suppressions` array is non-empty and whose every entry has
//! status `accepted` (or none) is suppressed (SARIF 2.1.0 §3.35.3); its findings go to
//! [`Report::suppressed`], apart from [`Report::findings`], and are neither counted against
//! thresholds nor imported into Security Hub (README, "Counting"). A finding that also occurs
//! unsuppressed counts as unsuppressed.
//!
//! Completeness: a run whose `invocations[].executionSuccessful` is false, or that carries an
//! error-level `toolExecutionNotifications` entry, did not finish; [`Report::incomplete`]
//! says why, and the evaluation fails the gate on it unless incomplete runs are accepted.
//!
//! Not interpreted (documented choices): `baselineState` (a gate counts what the scanner
//! found), result `kind` (`pass` results are rare in
//! security scanners' output and are read as findings), `uriBaseId` (the relative uri is what
//! identifies a file across builds; the base is build-specific), locations after the first.

mod build;
mod driver;
mod held;
#[cfg(test)]
mod held_tests;
mod index;
mod kept;
mod lenient;
mod message;
mod parse;
#[cfg(test)]
mod tests;

use crate::finding::{Finding, Scanner};
use crate::policy::{Counts, PolicyResult};
use crate::source::FindingSource;
use crate::spill::{Spill, SpillWriter};
use build::Output;
use driver::Stop;
use kept::Kept;
use std::path::Path;

/// What a report's run properties say about the scanned target (QScanner, Trivy and others write these).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetInfo {
    pub image_id: Option<String>,
    pub image_name: Option<String>,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

/// One SARIF run, summarized.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    pub scanner: Scanner,
    pub rules: usize,
    pub results: usize,
}

/// A result the reader kept with what could be known, or a field it ignored; never silent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadWarning {
    /// JSON path, e.g. `runs[0].results[12].level`.
    pub path: String,
    pub message: String,
}

/// The reader's output.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// Deduplicated findings, in order of first appearance.
    pub findings: Vec<Finding>,
    pub runs: Vec<RunSummary>,
    /// The strongest policy result any run's properties carry (`policyResult`), else NONE.
    pub policy_result: PolicyResult,
    pub target: TargetInfo,
    /// The first warnings (at most [`MAX_KEPT_WARNINGS`]); `warning_count` counts all.
    pub warnings: Vec<ReadWarning>,
    pub warning_count: usize,
    /// SARIF results read (before dedup).
    pub results_read: usize,
    /// Deduplicated findings of suppressed results (never also in `findings`).
    #[serde(default)]
    pub suppressed: Vec<Finding>,
    /// Why the scan did not complete, one entry per run that says so (empty: complete).
    #[serde(default)]
    pub incomplete: Vec<String>,
    /// Quality findings taken out of `findings` by [`crate::evaluate::evaluate`]
    /// (`QUALITY_FINDINGS` `report` or `ignore`): counted apart, not gated, not imported.
    /// The reader leaves it empty: every finding it reads is in `findings` with its class.
    #[serde(default)]
    pub quality: Vec<Finding>,
    /// Distinct quality findings the reader counted without keeping them
    /// ([`ReadLimits::count_quality`]), by severity; in neither `findings` nor `quality`.
    /// [`crate::evaluate::evaluate`] adds them to the verdict's quality counts.
    #[serde(default, skip_serializing_if = "Counts::is_empty")]
    pub quality_counted: Counts,
    /// What [`crate::evaluate::apply_exceptions`] applied (waivers, VEX), for the verdict's
    /// audit; None when the evaluation had no exceptions documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<crate::waivers::ExceptionsAudit>,
    /// The warnings applying them gave (expiring and expired waivers, refused documents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exception_warnings: Vec<String>,
}

/// How many warnings a report keeps verbatim; the rest are only counted.
pub const MAX_KEPT_WARNINGS: usize = 100;

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SarifError {
    #[error("{source_name}: cannot read: {error}")]
    Io { source_name: String, error: std::io::Error },
    #[error("{source_name}: not valid JSON at line {line}, column {column}: {message}")]
    Json { source_name: String, line: usize, column: usize, message: String },
    #[error("{source_name}: not a SARIF 2.1.0 log: at {path}: {message}")]
    NotSarif { source_name: String, path: String, message: String },
    /// More distinct findings than the reader was allowed to keep ([`read_sarif_capped`]).
    #[error("{source_name}: more than {limit} distinct findings (suppressed ones included)")]
    TooManyFindings { source_name: String, limit: usize },
    /// More distinct quality findings than the reader was allowed to count
    /// ([`ReadLimits::count_quality`]).
    #[error("{source_name}: more than {limit} distinct quality findings")]
    TooManyQualityFindings { source_name: String, limit: usize },
    /// The kept findings would hold more text than allowed ([`ReadLimits::max_text_bytes`]).
    #[error(
        "{source_name}: its findings hold more than {limit} bytes of text (a rule's texts are copied into each of \
         its findings)"
    )]
    TooMuchText { source_name: String, limit: u64 },
    /// What the reader would hold besides the kept findings is over
    /// [`ReadLimits::max_held_bytes`]: `what` names it (a single value and its byte offset, a
    /// run's rules, artifacts or waiting results, the runs' summaries) and how much.
    #[error("{source_name}: {what}: more than the reader may hold ({limit} bytes)")]
    TooLarge { source_name: String, what: String, limit: u64 },
    /// Writing the findings to the temp dir failed ([`read_sarif_spilled`]); transient, like
    /// [`SarifError::Io`] (a full disk, say).
    #[error("{source_name}: cannot write its findings to the temp dir: {error}")]
    Spill { source_name: String, error: std::io::Error },
    /// The findings would take more than [`ReadLimits::max_spill_bytes`] of the temp dir
    /// ([`read_sarif_spilled`]).
    #[error("{source_name}: its findings take more than {limit} bytes of the temp dir")]
    TooMuchSpill { source_name: String, limit: u64 },
}

/// What the reader may hold ([`read_sarif_limited`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadLimits {
    /// At most this many distinct findings are kept (suppressed ones included; quality findings
    /// counted apart are not): a document with more is read to its end, holding no finding
    /// beyond the cap, and answered [`SarifError::TooManyFindings`]. `None`: no cap.
    pub max_findings: Option<usize>,
    /// `Some(n)`: the unsuppressed quality findings are counted by severity into
    /// [`Report::quality_counted`] and not kept (16 bytes each, a digest of the dedup key, for
    /// the deduplication), at most `n` distinct ones ([`SarifError::TooManyQualityFindings`]
    /// beyond). For a caller that neither gates nor outputs them (`QUALITY_FINDINGS` other than
    /// `gate`: evaluating would only count them). `None`: kept in `findings` like the others.
    pub count_quality: Option<usize>,
    /// At most this many bytes of text in the kept findings (their strings: titles,
    /// descriptions, the rule's help copied into each, …): a document whose findings would hold
    /// more is read to its end, keeping none beyond, and answered [`SarifError::TooMuchText`].
    /// Bounds what a report can make the reader hold, whatever its size: a rule's long help
    /// text referenced by many results is held once per finding. `None`: no cap.
    pub max_text_bytes: Option<u64>,
    /// At most this many bytes held besides the kept findings, whatever the document's size:
    /// no single value the reader cuts out (a result, the tool with its rules, the artifacts,
    /// an unknown member's value, one string) may be longer, and a run's tables (its rules with
    /// their texts, its artifacts, the results that wait for its tool) together with the runs'
    /// summaries and completeness reasons may not hold more (estimated heap bytes, the
    /// structures' own size included). Beyond: [`SarifError::TooLarge`], naming what, as soon
    /// as it is met. Spilled ([`read_sarif_spilled`]), this also bounds the justifications that
    /// later results add to suppressed findings written without one (held in memory: the file
    /// is not changed in place). `None`: no cap.
    pub max_held_bytes: Option<u64>,
    /// [`read_sarif_spilled`] only: at most this many bytes in its spill files together (the
    /// findings' own text is there, not in memory, so `max_text_bytes` does not apply; a rule's
    /// texts are written once, not into each of its findings, while the spill's table of shared
    /// values has room: [`crate::spill::MAX_TABLE_BYTES`]): a document whose findings would
    /// take more is read to its end, keeping none beyond, and answered
    /// [`SarifError::TooMuchSpill`]. `None`: no cap.
    pub max_spill_bytes: Option<u64>,
}

/// Warnings: the first [`MAX_KEPT_WARNINGS`] kept, all counted. The path is only formatted
/// for kept warnings.
#[derive(Default)]
pub(crate) struct Warnings {
    kept: Vec<ReadWarning>,
    count: usize,
}

impl Warnings {
    pub(crate) fn push(&mut self, path: impl FnOnce() -> String, message: String) {
        self.push_lazy(path, || message);
    }

    /// Like [`Warnings::push`], formatting the message only when it is kept.
    pub(crate) fn push_lazy(&mut self, path: impl FnOnce() -> String, message: impl FnOnce() -> String) {
        self.count += 1;
        if self.kept.len() < MAX_KEPT_WARNINGS {
            self.kept.push(ReadWarning { path: path(), message: message() });
        }
    }
}

/// Shortens a document string quoted in a message.
pub(crate) fn short(s: &str) -> std::borrow::Cow<'_, str> {
    crate::text::truncate_chars(s, 80)
}

/// The whole-document state while reading.
#[derive(Default)]
pub(crate) struct Ctx {
    out: Output,
    version: Option<String>,
    saw_runs: bool,
    runs: Vec<RunSummary>,
    policy: PolicyResult,
    target: TargetInfo,
    incomplete: Vec<String>,
}

const SUPPORTED_VERSION: &str = "2.1.0";

/// Reads a SARIF document from any reader (it is buffered inside; a `BufReader` is not
/// needed). `source_name` names it in errors and warnings.
pub fn read_sarif<R: std::io::Read>(reader: R, source_name: &str) -> Result<Report, SarifError> {
    read_sarif_with(reader, source_name, None)
}

/// [`read_sarif`] keeping at most `max_findings` distinct findings (suppressed ones
/// included): a document with more is read to its end, holding no finding beyond the cap,
/// and answered [`SarifError::TooManyFindings`]. What the reader holds is bounded by the
/// cap, not by the document.
pub fn read_sarif_capped<R: std::io::Read>(
    reader: R,
    source_name: &str,
    max_findings: usize,
) -> Result<Report, SarifError> {
    read_sarif_with(reader, source_name, Some(max_findings))
}

fn read_sarif_with<R: std::io::Read>(reader: R, source_name: &str, cap: Option<usize>) -> Result<Report, SarifError> {
    read_sarif_limited(reader, source_name, ReadLimits { max_findings: cap, ..ReadLimits::default() })
}

/// [`read_sarif`] within `limits` (see [`ReadLimits`]).
pub fn read_sarif_limited<R: std::io::Read>(
    reader: R,
    source_name: &str,
    limits: ReadLimits,
) -> Result<Report, SarifError> {
    let (mut report, out) = read_into(reader, source_name, limits, Kept::default(), Kept::default())?;
    let (findings, index) = in_memory(out.findings);
    let (mut suppressed, _) = in_memory(out.suppressed);
    // A finding that also occurs unsuppressed is a finding.
    if !suppressed.is_empty() {
        let quality = &out.quality_seen;
        suppressed.retain(|s| {
            let unsuppressed = index.find(&findings, s.id.as_bytes()).is_some();
            let counted = !quality.is_empty() && build::id_digest(&s.id).is_some_and(|d| quality.contains(&d));
            !(unsuppressed || counted)
        });
    }
    report.findings = findings;
    report.suppressed = suppressed;
    Ok(report)
}

/// The findings kept in memory (what [`read_sarif_limited`] gives [`read_into`]).
fn in_memory(kept: Kept) -> (Vec<Finding>, index::DedupIndex) {
    match kept {
        Kept::Memory { findings, index } => (findings, index),
        // Not reached: the reader keeps findings where it is told.
        Kept::Spill(_) => Default::default(),
    }
}

/// What [`read_sarif_spilled`] reads: the report without its findings, and its findings and
/// suppressed findings in spill files (in the order [`Report::findings`] and
/// [`Report::suppressed`] would have them).
#[derive(Debug)]
pub struct Spilled {
    /// As [`read_sarif_limited`] gives it, but `findings` and `suppressed` empty.
    pub report: Report,
    pub findings: Spill,
    pub suppressed: Spill,
}

impl Spilled {
    /// The temp dir's bytes the two spills take.
    pub fn bytes(&self) -> u64 {
        self.findings.bytes() + self.suppressed.bytes()
    }
}

/// [`read_sarif_limited`], writing each distinct finding to a spill file in `dir` as it is
/// first met instead of holding it: memory holds about 50 bytes per distinct finding (its
/// digest for the dedup, its place in the file, its occurrences: [`kept`]) whatever its text.
/// The caps are as in memory, except that the findings' text is bounded by
/// [`ReadLimits::max_spill_bytes`] rather than [`ReadLimits::max_text_bytes`]. The files are
/// gone when the [`Spill`]s are dropped (or the read fails).
pub fn read_sarif_spilled<R: std::io::Read>(
    reader: R,
    source_name: &str,
    limits: ReadLimits,
    dir: &Path,
) -> Result<Spilled, SarifError> {
    let failed = |error| SarifError::Spill { source_name: source_name.to_string(), error };
    let writer = |what: &str| {
        SpillWriter::new(dir).map(|w| w.named(format!("{source_name}: {what} spilled to {}", dir.display())))
    };
    let findings = Kept::spilling(writer("findings").map_err(failed)?);
    let suppressed = Kept::spilling(writer("suppressed findings").map_err(failed)?);
    let (report, out) = read_into(reader, source_name, limits, findings, suppressed)?;
    let (Kept::Spill(findings), Kept::Spill(suppressed)) = (out.findings, out.suppressed) else {
        // Not reached: the reader keeps findings where it is told.
        return Err(failed(std::io::Error::other("the findings were not spilled")));
    };
    let (findings, digests, index) = findings.finish().map_err(failed)?;
    let (suppressed, suppressed_digests, _) = suppressed.finish().map_err(failed)?;
    // A finding that also occurs unsuppressed is a finding: the suppressed spill is written
    // again without those (rare: a finding suppressed in one result and not in another).
    let quality = &out.quality_seen;
    let keep: Vec<bool> = suppressed_digests
        .iter()
        .map(|d| {
            let unsuppressed = index.find(&digests, d).is_some();
            let counted = !quality.is_empty() && quality.contains(&build::prefix_digest(d));
            !(unsuppressed || counted)
        })
        .collect();
    drop((index, digests, suppressed_digests));
    let suppressed = if keep.iter().all(|&k| k) {
        suppressed
    } else {
        let mut w = writer("suppressed findings").map_err(failed)?;
        let mut written = Ok(());
        suppressed
            .for_each_finding(&mut |i, f| {
                if keep[i] && written.is_ok() {
                    written = w.push(f);
                }
            })
            .map_err(|e| failed(std::io::Error::other(e.to_string())))?;
        written.map_err(failed)?;
        w.finish().map_err(failed)?
    };
    Ok(Spilled { report, findings, suppressed })
}

/// Reads the document into `findings` and `suppressed`: the report without them, and the
/// reader's output (the findings, the suppressed ones, the quality findings counted apart).
fn read_into<R: std::io::Read>(
    reader: R,
    source_name: &str,
    limits: ReadLimits,
    findings: Kept,
    suppressed: Kept,
) -> Result<(Report, Output), SarifError> {
    let cap = limits.max_findings;
    let mut ctx = Ctx::default();
    ctx.out.findings = findings;
    ctx.out.suppressed = suppressed;
    ctx.out.cap = cap;
    ctx.out.quality_cap = limits.count_quality;
    ctx.out.text_cap = limits.max_text_bytes;
    ctx.out.spill_cap = limits.max_spill_bytes;
    ctx.out.held.cap = limits.max_held_bytes;
    let source_name = source_name.to_string();
    match driver::drive(reader, &mut ctx, limits.max_held_bytes) {
        Ok(()) => {}
        Err(Stop::Io(error)) => return Err(SarifError::Io { source_name, error }),
        Err(Stop::Spill(error)) => return Err(SarifError::Spill { source_name, error }),
        Err(Stop::Json { line, column, message }) => {
            return Err(SarifError::Json { source_name, line, column, message })
        }
        Err(Stop::NotSarif { path, message }) => return Err(SarifError::NotSarif { source_name, path, message }),
        Err(Stop::TooLarge { what, limit }) => return Err(SarifError::TooLarge { source_name, what, limit }),
    }
    match ctx.version.as_deref() {
        Some(_) => {}
        None => ctx.out.w.push(|| "version".into(), format!("missing; read as SARIF {SUPPORTED_VERSION}")),
    }
    if !ctx.saw_runs {
        return Err(SarifError::NotSarif {
            source_name,
            path: "runs".into(),
            message: "missing: a SARIF log has a \"runs\" array".into(),
        });
    }
    let mut out = ctx.out;
    if out.over_cap {
        let limit = cap.map_or(index::MAX_INDEXED, |cap| cap.min(index::MAX_INDEXED));
        return Err(SarifError::TooManyFindings { source_name, limit });
    }
    if let (true, Some(limit)) = (out.over_text_cap, limits.max_text_bytes) {
        return Err(SarifError::TooMuchText { source_name, limit });
    }
    if let (true, Some(limit)) = (out.over_spill_cap, limits.max_spill_bytes) {
        return Err(SarifError::TooMuchSpill { source_name, limit });
    }
    if let (true, Some(limit)) = (out.over_quality_cap, limits.count_quality) {
        return Err(SarifError::TooManyQualityFindings { source_name, limit });
    }
    let report = Report {
        suppressed: Vec::new(),
        incomplete: ctx.incomplete,
        findings: Vec::new(),
        runs: ctx.runs,
        policy_result: ctx.policy,
        target: ctx.target,
        warnings: std::mem::take(&mut out.w.kept),
        warning_count: out.w.count,
        results_read: out.results_read,
        quality: Vec::new(),
        quality_counted: out.quality_counts,
        exceptions: None,
        exception_warnings: Vec::new(),
    };
    Ok((report, out))
}

/// Reads a SARIF file.
pub fn read_sarif_file(path: &Path) -> Result<Report, SarifError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| SarifError::Io { source_name: name.clone(), error })?;
    read_sarif(file, &name)
}

/// One `toolExecutionNotifications` entry, as far as completeness needs.
#[derive(serde::Deserialize)]
struct Notification {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    message: Option<NotificationMessage>,
}

#[derive(serde::Deserialize)]
struct NotificationMessage {
    #[serde(default)]
    text: Option<String>,
}

/// How many reasons one run's `invocations` give verbatim; the rest are counted in one more.
pub const MAX_REASONS_PER_RUN: usize = 10;

/// Reasons a run did not complete, from its `invocations` array (`bytes`): an invocation
/// with `executionSuccessful: false`, and error-level `toolExecutionNotifications`
/// (first message quoted, the rest counted). An unreadable array is a warning, not a reason.
/// The array is walked element by element (an invocation, a notification at a time, each
/// dropped once looked at), and at most [`MAX_REASONS_PER_RUN`] reasons are kept: what this
/// holds does not grow with the array.
pub(crate) fn invocation_problems(bytes: &[u8], path: &str, w: &mut Warnings) -> Vec<String> {
    use serde::de::DeserializeSeed;
    let mut out = Vec::new();
    let mut more = 0usize;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = invocations::Invocations { path, out: &mut out, more: &mut more };
    if let Err(e) = seed.deserialize(&mut de).and_then(|()| de.end()) {
        w.push(|| path.to_string(), format!("unreadable ({e}); the run's completion is not checked"));
        return Vec::new();
    }
    if more > 0 {
        out.push(format!("{path}: {more} more reason(s) the run did not complete"));
    }
    out
}

mod invocations {
    use super::{short, Notification, MAX_REASONS_PER_RUN};
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    /// `invocations`: an array of invocation objects (or nulls).
    pub(super) struct Invocations<'a> {
        pub path: &'a str,
        pub out: &'a mut Vec<String>,
        pub more: &'a mut usize,
    }

    impl<'de> DeserializeSeed<'de> for Invocations<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Invocations<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of invocations")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0usize;
            while let Some(found) = seq.next_element_seed(Invocation)? {
                let (failed, errors) = found;
                let mut push = |reason: String| {
                    if self.out.len() < MAX_REASONS_PER_RUN {
                        self.out.push(reason);
                    } else {
                        *self.more += 1;
                    }
                };
                if failed {
                    push(format!("{}[{i}].executionSuccessful is false", self.path));
                }
                if let Some((first, n)) = errors {
                    let more = if n == 1 { String::new() } else { format!(" (and {} more)", n - 1) };
                    push(format!(
                        "{}[{i}].toolExecutionNotifications has an error: {}{more}",
                        self.path,
                        short(first.lines().next().unwrap_or(""))
                    ));
                }
                i += 1;
            }
            Ok(())
        }
    }

    /// One invocation (or null): whether `executionSuccessful` is false, and the first
    /// error-level notification's text with how many there are.
    struct Invocation;

    type Found = (bool, Option<(String, usize)>);

    impl<'de> DeserializeSeed<'de> for Invocation {
        type Value = Found;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Found, D::Error> {
            d.deserialize_option(self)
        }
    }

    impl<'de> Visitor<'de> for Invocation {
        type Value = Found;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an invocation object or null")
        }
        fn visit_none<E>(self) -> Result<Found, E> {
            Ok((false, None))
        }
        fn visit_unit<E>(self) -> Result<Found, E> {
            Ok((false, None))
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Found, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
            let (mut failed, mut errors) = (false, None);
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match key.as_ref() {
                    "executionSuccessful" => failed = map.next_value::<Option<bool>>()? == Some(false),
                    "toolExecutionNotifications" => errors = map.next_value_seed(Notifications)?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok((failed, errors))
        }
    }

    /// `toolExecutionNotifications` (or null): the first error's text and the error count.
    struct Notifications;

    impl<'de> DeserializeSeed<'de> for Notifications {
        type Value = Option<(String, usize)>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_option(self)
        }
    }

    impl<'de> Visitor<'de> for Notifications {
        type Value = Option<(String, usize)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of notifications or null")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut first: Option<String> = None;
            let mut n = 0usize;
            while let Some(note) = seq.next_element::<Notification>()? {
                if note.level.as_deref().is_some_and(|l| l.eq_ignore_ascii_case("error")) {
                    n += 1;
                    if first.is_none() {
                        let text = note.message.and_then(|m| m.text);
                        first = Some(text.unwrap_or_else(|| "(no message)".to_string()));
                    }
                }
            }
            Ok(first.map(|f| (f, n)))
        }
    }
}

fn apply_run_props(ctx: &mut Ctx, path: &str, p: parse::RunProps) {
    if let Some(s) = p.policy_result {
        match PolicyResult::parse(&s) {
            Some(r) => ctx.policy = ctx.policy.combine(r),
            None => ctx.out.w.push(
                || format!("{path}.policyResult"),
                format!("unknown policy result {:?} (expected ALLOW, DENY, AUDIT or NONE); ignored", short(&s)),
            ),
        }
    }
    let t = &mut ctx.target;
    if t.image_id.is_none() {
        t.image_id = p.image_id.filter(|s| !s.is_empty());
    }
    if t.image_name.is_none() {
        t.image_name = p.image_name.filter(|s| !s.is_empty());
    }
    let budget = &mut ctx.out.held;
    let w = &mut ctx.out.w;
    for (list, new, name) in
        [(&mut t.repo_tags, p.repo_tags, "repoTags"), (&mut t.repo_digests, p.repo_digests, "repoDigests")]
    {
        let mut dropped = 0usize;
        for item in new {
            if list.contains(&item) {
                continue;
            }
            if list.len() >= MAX_TARGET_NAMES {
                dropped += 1;
                continue;
            }
            if budget.charge(held::strings(std::slice::from_ref(&item)), || format!("{path}.{name}")) {
                list.push(item);
            }
        }
        if dropped > 0 {
            w.push(
                || format!("{path}.{name}"),
                format!("{dropped} more beyond the first {MAX_TARGET_NAMES} of the report; ignored"),
            );
        }
    }
}

/// How many image tags (and digests) a report's target keeps: an image has a handful; a
/// document with more is not describing one image.
pub const MAX_TARGET_NAMES: usize = 256;

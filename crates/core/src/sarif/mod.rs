//! Streaming SARIF 2.1.0 reader.
//!
//! The document is read once, front to back, through `serde_json::Deserializer::from_reader`
//! with hand-written visitors ([`lenient`], [`parse`]): no `serde_json::Value` or other tree of
//! the document is built, unknown fields are skipped with `IgnoredAny`, and each result is
//! turned into findings and merged into a map keyed by [`crate::finding::DedupKey`] as soon as
//! it is parsed. Memory grows with the number of rules, artifacts and distinct findings, not
//! with the file size. Results that come before their run's `tool` (or whose artifact index
//! cannot be resolved yet) wait in a compact form until the run object closes.
//!
//! Leniency: a field of the wrong type inside a rule or result becomes a [`ReadWarning`] with
//! its JSON path and the result is kept with what can be known; only a document that is not
//! JSON ([`SarifError::Json`]) or cannot be a SARIF log ([`SarifError::NotSarif`]: no `runs`
//! array, a run that is not an object, `results` that is not an array, a version other than
//! 2.1.0) is rejected.
//!
//! Not interpreted (documented choices): `suppressions` and `baselineState` (a gate counts
//! what the scanner found; suppression is policy), result `kind` (`pass` results are rare in
//! security scanners' output and are read as findings), `uriBaseId` (the relative uri is what
//! identifies a file across builds; the base is build-specific), locations after the first.

mod build;
mod lenient;
mod parse;
#[cfg(test)]
mod tests;

use crate::finding::{Finding, Scanner};
use crate::policy::PolicyResult;
use build::{Output, RunState};
use lenient::{Arr, ArrBody, Keys, Obj, ObjBody, Scalar, Shape};
use parse::{ArtifactsBody, ResultBody, RunPropsBody, ToolBody};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess};
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
        self.count += 1;
        if self.kept.len() < MAX_KEPT_WARNINGS {
            self.kept.push(ReadWarning { path: path(), message });
        }
    }
}

/// Shortens a document string quoted in a message.
pub(crate) fn short(s: &str) -> std::borrow::Cow<'_, str> {
    crate::text::truncate_chars(s, 80)
}

/// The whole-document state while reading.
#[derive(Default)]
struct Ctx {
    out: Output,
    /// Set when the document is structurally not SARIF; the serde error only unwinds.
    fatal: Option<(String, String)>,
    version: Option<String>,
    saw_runs: bool,
    runs: Vec<RunSummary>,
    policy: PolicyResult,
    target: TargetInfo,
}

impl Ctx {
    fn fatal<E: de::Error>(&mut self, path: String, message: String) -> E {
        let e = E::custom(&message);
        self.fatal = Some((path, message));
        e
    }
}

const SUPPORTED_VERSION: &str = "2.1.0";

/// Reads a SARIF document from any reader. `source_name` names it in errors and warnings.
pub fn read_sarif<R: std::io::Read>(reader: R, source_name: &str) -> Result<Report, SarifError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut ctx = Ctx::default();
    let result = Obj(LogBody { ctx: &mut ctx }).deserialize(&mut de).and_then(|shape| {
        de.end()?;
        Ok(shape)
    });
    let not_sarif = |path: &str, message: String| SarifError::NotSarif {
        source_name: source_name.to_string(),
        path: path.to_string(),
        message,
    };
    match result {
        Err(e) => {
            if let Some((path, message)) = ctx.fatal.take() {
                return Err(not_sarif(&path, message));
            }
            if e.is_io() {
                return Err(SarifError::Io { source_name: source_name.to_string(), error: e.into() });
            }
            let full = e.to_string();
            let message = match full.rfind(" at line ") {
                Some(i) => full[..i].to_string(),
                None => full,
            };
            return Err(SarifError::Json {
                source_name: source_name.to_string(),
                line: e.line(),
                column: e.column(),
                message,
            });
        }
        Ok(Shape::Got(())) => {}
        Ok(Shape::Null) => return Err(not_sarif("$", "expected a SARIF log object, got null".into())),
        Ok(Shape::Wrong(got)) => return Err(not_sarif("$", format!("expected a SARIF log object, got {got}"))),
    }
    match ctx.version.as_deref() {
        Some(SUPPORTED_VERSION) => {}
        Some(v) => {
            return Err(not_sarif("version", format!("version {:?} is not {SUPPORTED_VERSION}", short(v))));
        }
        None => ctx.out.w.push(|| "version".into(), format!("missing; read as SARIF {SUPPORTED_VERSION}")),
    }
    if !ctx.saw_runs {
        return Err(not_sarif("runs", "missing: a SARIF log has a \"runs\" array".into()));
    }
    let out = ctx.out;
    Ok(Report {
        findings: out.findings,
        runs: ctx.runs,
        policy_result: ctx.policy,
        target: ctx.target,
        warnings: out.w.kept,
        warning_count: out.w.count,
        results_read: out.results_read,
    })
}

/// Reads a SARIF file through a buffered reader.
pub fn read_sarif_file(path: &Path) -> Result<Report, SarifError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| SarifError::Io { source_name: name.clone(), error })?;
    read_sarif(std::io::BufReader::with_capacity(256 * 1024, file), &name)
}

// ---------------------------------------------------------------- the log and its runs

struct LogBody<'a> {
    ctx: &'a mut Ctx,
}

impl<'de> ObjBody<'de> for LogBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        while let Some(k) = map.next_key_seed(Keys(&["version", "runs"]))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()? {
                    Scalar::Str(v) => {
                        if v != SUPPORTED_VERSION {
                            // Reject early: nothing after this can make the document readable.
                            let msg = format!("version {:?} is not {SUPPORTED_VERSION}", short(&v));
                            return Err(ctx.fatal("version".into(), msg));
                        }
                        ctx.version = Some(v);
                    }
                    other => {
                        let msg = format!("expected the string \"{SUPPORTED_VERSION}\", got {}", other.kind());
                        return Err(ctx.fatal("version".into(), msg));
                    }
                },
                Some(1) => {
                    if ctx.saw_runs {
                        return Err(ctx.fatal("runs".into(), "appears twice".into()));
                    }
                    ctx.saw_runs = true;
                    match map.next_value_seed(Arr(RunsBody { ctx: &mut *ctx }))? {
                        Shape::Got(()) => {}
                        Shape::Null => {
                            return Err(ctx.fatal("runs".into(), "expected an array of runs, got null".into()))
                        }
                        Shape::Wrong(got) => {
                            return Err(ctx.fatal("runs".into(), format!("expected an array of runs, got {got}")))
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct RunsBody<'a> {
    ctx: &'a mut Ctx,
}

impl<'de> ArrBody<'de> for RunsBody<'_> {
    type Out = ();
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut index = 0usize;
        loop {
            match seq.next_element_seed(Obj(RunBody { ctx: &mut *ctx, index }))? {
                None => return Ok(()),
                Some(Shape::Got(())) => {}
                Some(Shape::Null) => {
                    return Err(ctx.fatal(format!("runs[{index}]"), "expected a run object, got null".into()))
                }
                Some(Shape::Wrong(got)) => {
                    return Err(ctx.fatal(format!("runs[{index}]"), format!("expected a run object, got {got}")))
                }
            }
            index += 1;
        }
    }
}

struct RunBody<'a> {
    ctx: &'a mut Ctx,
    index: usize,
}

impl<'de> ObjBody<'de> for RunBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let ri = self.index;
        let mut run = RunState { index: ri, ..Default::default() };
        let mut saw_tool = false;
        while let Some(k) = map.next_key_seed(Keys(&["tool", "results", "artifacts", "properties"]))? {
            match k {
                Some(0) => {
                    saw_tool = true;
                    let path = format!("runs[{ri}].tool");
                    match map.next_value_seed(Obj(ToolBody { path: &path, w: &mut ctx.out.w }))? {
                        Shape::Got(tool) => run.set_tool(tool),
                        Shape::Null => {
                            ctx.out.w.push(|| path.clone(), "tool is null; the scanner is unknown".into());
                            run.set_tool(Default::default());
                        }
                        Shape::Wrong(got) => {
                            ctx.out.w.push(
                                || path.clone(),
                                format!("expected an object, got {got}; the scanner is unknown"),
                            );
                            run.set_tool(Default::default());
                        }
                    }
                }
                Some(1) => match map.next_value_seed(Arr(ResultsBody { out: &mut ctx.out, run: &mut run }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => {
                        let msg = format!("expected an array of results (or null), got {got}");
                        return Err(ctx.fatal(format!("runs[{ri}].results"), msg));
                    }
                },
                Some(2) => match map.next_value_seed(Arr(ArtifactsBody))? {
                    Shape::Got(a) => run.artifacts = Some(a),
                    Shape::Null => {}
                    Shape::Wrong(got) => ctx
                        .out
                        .w
                        .push(|| format!("runs[{ri}].artifacts"), format!("expected an array, got {got}; ignored")),
                },
                Some(3) => {
                    let path = format!("runs[{ri}].properties");
                    match map.next_value_seed(Obj(RunPropsBody { path: &path, w: &mut ctx.out.w }))? {
                        Shape::Got(p) => apply_run_props(ctx, &path, p),
                        Shape::Null => {}
                        Shape::Wrong(got) => {
                            ctx.out.w.push(|| path.clone(), format!("expected an object, got {got}; ignored"))
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_tool {
            ctx.out.w.push(|| format!("runs[{ri}].tool"), "missing; the scanner is unknown".into());
            run.set_tool(Default::default());
        }
        if run.artifacts.is_none() {
            run.artifacts = Some(Vec::new());
        }
        for raw in std::mem::take(&mut run.pending) {
            build::process(&mut ctx.out, &run, raw);
        }
        ctx.runs.push(RunSummary { scanner: run.scanner.clone(), rules: run.rule_count, results: run.results });
        Ok(())
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
    for tag in p.repo_tags {
        if !t.repo_tags.contains(&tag) {
            t.repo_tags.push(tag);
        }
    }
    for d in p.repo_digests {
        if !t.repo_digests.contains(&d) {
            t.repo_digests.push(d);
        }
    }
}

struct ResultsBody<'a> {
    out: &'a mut Output,
    run: &'a mut RunState,
}

impl<'de> ArrBody<'de> for ResultsBody<'_> {
    type Out = ();
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (out, run) = (self.out, self.run);
        // Results may appear in several "results" keys only in broken documents; keep counting.
        let mut index = run.results;
        loop {
            match seq.next_element_seed(Obj(ResultBody { index }))? {
                None => return Ok(()),
                Some(Shape::Got(raw)) => {
                    out.results_read += 1;
                    if run.ready(&raw) {
                        build::process(out, run, raw);
                    } else {
                        run.pending.push(raw);
                    }
                }
                Some(Shape::Null) => {
                    let ri = run.index;
                    out.w.push(|| format!("runs[{ri}].results[{index}]"), "result is null; no finding".into());
                }
                Some(Shape::Wrong(got)) => {
                    let ri = run.index;
                    out.w.push(
                        || format!("runs[{ri}].results[{index}]"),
                        format!("expected a result object, got {got}; no finding"),
                    );
                }
            }
            index += 1;
            run.results = index;
        }
    }
}

//! The decision: from what looking the verdict up gave, what to tell CodePipeline (succeed
//! with output variables, fail with a message, or come back later with a continuation token).

use super::{console_url, summary_key, Continuation, GateParams, VerdictLocation};
use crate::policy::{evaluate, GatePolicy};
use crate::text::{display_line, truncate_chars};
use crate::verdict::{Verdict, VerdictError};
use std::collections::BTreeMap;

/// PutJobFailureResult's `failureDetails.message` limit.
pub const MAX_FAILURE_MESSAGE_CHARS: usize = 5000;
/// PutJobSuccessResult's `executionDetails.summary` limit.
pub const MAX_EXECUTION_SUMMARY_CHARS: usize = 2048;

/// What looking the verdict up in S3 gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The object's bytes.
    Found(Vec<u8>),
    /// No such object (yet).
    Missing,
    /// The gate's role may not read it (or decrypt it).
    AccessDenied(String),
    /// Anything else (throttling, network, 5xx): worth another look while there is time.
    Transient(String),
    /// A permanent error (no such bucket, object too large, a bad request): fails at once.
    Failed(String),
}

/// Where the gate runs: its region, for the console links in messages and output variables, and
/// the pipeline execution of the job it answers (as CodePipeline's GetJobDetails names them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The function's region, for console links.
    pub region: Option<String>,
    /// The job's pipeline (`pipelineContext.pipelineName`).
    pub pipeline: Option<String>,
    /// The job's pipeline execution (`pipelineContext.pipelineExecutionId`).
    pub execution_id: Option<String>,
}

/// What to tell CodePipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GateDecision {
    /// PutJobSuccessResult with these output variables.
    Succeed { outputs: BTreeMap<String, String>, summary: String },
    /// PutJobFailureResult (JobFailed) with this message (≤ 5000 characters).
    Fail { message: String },
    /// PutJobSuccessResult with this continuation token: CodePipeline invokes the gate again.
    Continue { token: String, summary: String },
}

fn fail(message: String) -> GateDecision {
    GateDecision::Fail { message: line(&message, MAX_FAILURE_MESSAGE_CHARS) }
}

/// What the gate hands CodePipeline (failure message, summary, output variable): cut to
/// `max_chars` and on one line through the one sanitizer ([`display_line`]), whatever the
/// verdict read from S3 holds: the console and the pipeline's later actions show it as is.
fn line(s: &str, max_chars: usize) -> String {
    display_line(&truncate_chars(s, max_chars)).into_owned()
}

/// RFC 3339 (seconds) of a unix time, for messages.
fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("unix time {unix}"))
}

/// Decides what to tell CodePipeline.
///
/// `state` is the decoded continuation token of an earlier invocation, `None` on the first.
/// The verdict is read from `state.key` when there is a state (the key resolved first), else
/// from `params.key()`; the caller looks that key up and passes the result as `lookup`.
pub fn decide(
    params: &GateParams,
    state: Option<&Continuation>,
    lookup: Lookup,
    now: i64,
    ctx: &Context,
) -> GateDecision {
    let mut state = state.cloned().unwrap_or_else(|| Continuation::start(params, now));
    state.attempts = state.attempts.saturating_add(1);
    let uri = format!("s3://{}/{}", state.bucket, state.key);
    let bytes = match lookup {
        Lookup::Found(bytes) => bytes,
        Lookup::AccessDenied(detail) => {
            return fail(format!(
                "scangate gate: access denied reading the verdict {uri} ({detail}). The gate's execution role needs \
                 s3:GetObject on that object and kms:Decrypt on the bucket's KMS key."
            ))
        }
        Lookup::Failed(detail) => return fail(format!("scangate gate: reading the verdict {uri} failed: {detail}")),
        Lookup::Missing => return wait_or_give_up(state, now, &uri, "no verdict yet"),
        Lookup::Transient(detail) => {
            return wait_or_give_up(state, now, &uri, &format!("reading the verdict failed: {detail}"))
        }
    };
    let verdict = match Verdict::from_json(&bytes) {
        Ok(v) => v,
        Err(VerdictError::UnknownSchema(schema)) => {
            return fail(format!(
                "scangate gate: the verdict {uri} has schema {schema:?}, this gate reads {:?}. Deploy matching \
                 versions of the report-processor and the pipeline gate.",
                crate::verdict::SCHEMA
            ))
        }
        Err(e) => return fail(format!("scangate gate: the verdict {uri} could not be read: {e}")),
    };
    if let Some(expected) = params.expected_project() {
        let actual = verdict.build.as_ref().and_then(|b| b.project.as_deref());
        if let Some(actual) = actual.filter(|a| *a != expected) {
            let note = format!("the verdict there is for project {actual:?}, not {expected:?}");
            return wait_or_give_up(state, now, &uri, &note);
        }
    }
    if let Some(message) = foreign_verdict(params, &verdict, ctx, &uri) {
        return fail(message);
    }
    verdict_decision(params, &verdict, &state, ctx)
}

/// A verdict that does not belong to the pipeline execution the gate is gating: a by-execution
/// verdict must name its execution (the processor writes one only for a verified claim), and
/// any verdict that names an execution must name the job's.
fn foreign_verdict(params: &GateParams, verdict: &Verdict, ctx: &Context, uri: &str) -> Option<String> {
    let named = verdict.pipeline_execution.as_ref();
    if let VerdictLocation::Execution { pipeline, execution_id, .. } = &params.location {
        let matches = named.is_some_and(|n| &n.pipeline == pipeline && &n.execution_id == execution_id);
        if !matches {
            return Some(format!(
                "scangate gate: the verdict {uri} does not belong to execution {execution_id:?} of pipeline \
                 {pipeline:?} ({}): the gate passes only on the verdict of the execution it gates",
                named.map_or("it names no verified pipeline execution".to_string(), |n| format!(
                    "it names execution {:?} of pipeline {:?}",
                    n.execution_id, n.pipeline
                ))
            ));
        }
    }
    let named = named?;
    let other_pipeline = ctx.pipeline.as_deref().is_some_and(|p| p != named.pipeline);
    let other_execution = ctx.execution_id.as_deref().is_some_and(|e| e != named.execution_id);
    if other_pipeline || other_execution {
        return Some(format!(
            "scangate gate: the verdict {uri} belongs to execution {:?} of pipeline {:?}, but this job runs in \
             execution {:?} of pipeline {:?}: the gate passes only on the verdict of the execution it gates",
            named.execution_id,
            named.pipeline,
            ctx.execution_id.as_deref().unwrap_or("(unknown)"),
            ctx.pipeline.as_deref().unwrap_or("(unknown)")
        ));
    }
    None
}

fn wait_or_give_up(state: Continuation, now: i64, uri: &str, why: &str) -> GateDecision {
    let waited = now.saturating_sub(state.first_seen).max(0);
    if now < state.deadline {
        let summary = line(
            &format!(
                "waiting for the scan verdict {uri}: {why} (check {}, waited {waited} s, giving up at {})",
                state.attempts,
                when(state.deadline)
            ),
            MAX_EXECUTION_SUMMARY_CHARS,
        );
        let token = state.encode().or_else(|| {
            // Too long for CodePipeline: drop the key and let the next call resolve it from the parameters.
            let mut short = state.clone();
            short.key = String::new();
            short.encode()
        });
        if let Some(token) = token {
            return GateDecision::Continue { token, summary };
        }
    }
    fail(format!(
        "scangate gate: the scan report's verdict never arrived: {why} at {uri} after waiting {waited} s \
         (since {}, {} check{}). Check that the scan uploaded its report (REPORT_BUCKET in the build), that the \
         report-processor ran (its logs and dead-letter queue) and whether the report was quarantined \
         (quarantine/ in the bucket); raise wait_seconds if processing is just slow.",
        when(state.first_seen),
        state.attempts,
        if state.attempts == 1 { "" } else { "s" }
    ))
}

fn verdict_decision(params: &GateParams, verdict: &Verdict, state: &Continuation, ctx: &Context) -> GateDecision {
    let stored = verdict.gate_policy();
    let (passed, reasons, gate) = if let Some(error) = &verdict.error {
        // An unprocessable report has no counts to re-evaluate: it fails whatever the overrides say.
        let mut reasons = verdict.reasons.clone();
        if reasons.is_empty() {
            reasons.push(format!("the report could not be processed: {error}"));
        }
        (false, reasons, stored)
    } else if params.overrides.is_empty() {
        (verdict.passed, verdict.reasons.clone(), stored)
    } else {
        let gate = params.overrides.apply(&stored);
        let mut e = evaluate(&verdict.counts, verdict.policy_result, &gate);
        // Overrides change thresholds and policy switches, never the completeness rule.
        if let Some(reason) = crate::evaluate::incomplete_reason(&verdict.incomplete, &gate) {
            e.reasons.insert(0, reason);
            e.passed = false;
        }
        (e.passed, e.reasons, gate)
    };
    let c = &verdict.counts;
    let counts = format!(
        "critical {}, high {}, medium {}, low {}, informational {} (total {})",
        c.critical, c.high, c.medium, c.low, c.informational, c.total
    );
    let summary_key = summary_key(&state.key, verdict);
    let summary_url = summary_key.as_deref().map(|k| console_url(&state.bucket, k, ctx.region.as_deref()));
    let target = verdict.target.as_deref().unwrap_or("the scanned target");
    if !passed {
        let mut message = format!(
            "scangate gate failed for {target}: {}. Findings: {counts}; cloud policy {}.",
            if reasons.is_empty() { "the verdict says failed".to_string() } else { reasons.join("; ") },
            verdict.policy_result
        );
        if !params.overrides.is_empty() {
            message.push_str(&format!(" Thresholds (with the gate's overrides): {}.", thresholds_text(&gate)));
        }
        message.push_str(&format!(" Verdict: s3://{}/{}", state.bucket, state.key));
        if let Some(url) = &summary_url {
            message.push_str(&format!(" Summary: {url}"));
        }
        return fail(message);
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("vulnerability_count".to_string(), c.total.to_string());
    outputs.insert("critical_count".to_string(), c.critical.to_string());
    outputs.insert("high_count".to_string(), c.high.to_string());
    outputs.insert("medium_count".to_string(), c.medium.to_string());
    outputs.insert("low_count".to_string(), c.low.to_string());
    outputs.insert("informational_count".to_string(), c.informational.to_string());
    // Counted apart, not against the thresholds (docs/waivers.md): a waiver or VEX statement
    // covered them, or (FAIL_ONLY_FIXABLE) no fixed version exists.
    outputs.insert("waived_count".to_string(), verdict.waived.total.to_string());
    outputs.insert("not_fixable_count".to_string(), verdict.not_fixable.total.to_string());
    outputs.insert("policy_result".to_string(), verdict.policy_result.to_string());
    outputs.insert("scan_passed".to_string(), "true".to_string());
    outputs.insert("verdict_key".to_string(), state.key.clone());
    if let Some(url) = summary_url {
        outputs.insert("summary_url".to_string(), url);
    }
    if let Some(key) = summary_key {
        outputs.insert("summary_s3_uri".to_string(), format!("s3://{}/{key}", state.bucket));
    }
    let mut summary = format!("scan passed for {target}: {counts}; cloud policy {}", verdict.policy_result);
    if !verdict.warnings.is_empty() {
        summary.push_str(&format!("; warnings: {}", verdict.warnings.join("; ")));
    }
    for value in outputs.values_mut() {
        *value = line(value, usize::MAX);
    }
    GateDecision::Succeed { outputs, summary: line(&summary, MAX_EXECUTION_SUMMARY_CHARS) }
}

fn thresholds_text(g: &GatePolicy) -> String {
    let t = &g.thresholds;
    format!(
        "max_critical={}, max_high={}, max_medium={}, max_low={}, fail_on_policy_deny={}, fail_on_policy_audit={}",
        t.max_critical, t.max_high, t.max_medium, t.max_low, g.fail_on_policy_deny, g.fail_on_policy_audit
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::testing::{params, verdict, NOW};
    use crate::policy::{Counts, PolicyResult};
    use crate::verdict::{ReportRef, VerdictInput};

    fn bytes(v: &Verdict) -> Vec<u8> {
        serde_json::to_vec(v).expect("serialize verdict")
    }

    fn counts(c: u64, h: u64) -> Counts {
        Counts { critical: c, high: h, total: c + h, ..Default::default() }
    }

    fn ctx() -> Context {
        Context { region: Some("us-east-1".into()), ..Context::default() }
    }

    #[test]
    fn decide_table() {
        let default_gate = GatePolicy::default();
        let pass = bytes(&verdict(counts(0, 3), PolicyResult::Allow, &default_gate));
        let crit = bytes(&verdict(counts(2, 0), PolicyResult::None, &default_gate));
        let deny = bytes(&verdict(counts(2, 0), PolicyResult::Deny, &default_gate));
        let p_key = params(r#"{"verdict_key": "results/web/b-1/verdict.json", "wait_seconds": 600}"#);
        let p_five = params(r#"{"verdict_key": "results/web/b-1/verdict.json", "max_critical": 5}"#);
        let p_zero_wait = params(r#"{"verdict_key": "results/web/b-1/verdict.json", "wait_seconds": 0}"#);
        let first = Continuation::start(&p_key, NOW - 100);
        let late = Continuation { attempts: 7, ..Continuation::start(&p_key, NOW - 700) };

        enum Want {
            Succeed(&'static str),
            Fail(&'static str),
            Continue,
        }
        let found = |b: &[u8]| Lookup::Found(b.to_vec());
        let throttled = || Lookup::Transient("throttled".into());
        let table: Vec<(&str, &GateParams, Option<&Continuation>, Lookup, Want)> = vec![
            ("pass", &p_key, None, found(&pass), Want::Succeed("scan passed")),
            ("fail", &p_key, None, found(&crit), Want::Fail("2 critical findings exceed max_critical=0")),
            ("override passes", &p_five, None, found(&crit), Want::Succeed("critical 2")),
            ("override, deny still fails", &p_five, None, found(&deny), Want::Fail("cloud policy result is DENY")),
            ("missing first", &p_key, None, Lookup::Missing, Want::Continue),
            ("missing again", &p_key, Some(&first), Lookup::Missing, Want::Continue),
            (
                "missing late",
                &p_key,
                Some(&late),
                Lookup::Missing,
                Want::Fail("the scan report's verdict never arrived"),
            ),
            ("no wait", &p_zero_wait, None, Lookup::Missing, Want::Fail("after waiting 0 s")),
            ("transient", &p_key, Some(&first), throttled(), Want::Continue),
            ("transient late", &p_key, Some(&late), throttled(), Want::Fail("reading the verdict failed: throttled")),
            (
                "failed",
                &p_key,
                Some(&first),
                Lookup::Failed("NoSuchBucket".into()),
                Want::Fail("reading the verdict s3://reports-bucket/results/web/b-1/verdict.json failed: NoSuchBucket"),
            ),
            (
                "denied",
                &p_key,
                None,
                Lookup::AccessDenied("AccessDenied".into()),
                Want::Fail("access denied reading the verdict s3://reports-bucket/results/web/b-1/verdict.json"),
            ),
            ("garbage", &p_key, None, found(b"<html>"), Want::Fail("could not be read: verdict is not valid JSON")),
            (
                "schema",
                &p_key,
                None,
                found(br#"{"schema":"scangate.verdict.v9"}"#),
                Want::Fail("has schema \"scangate.verdict.v9\", this gate reads \"scangate.verdict.v1\""),
            ),
        ];
        for (name, p, state, lookup, want) in table {
            let d = decide(p, state, lookup, NOW, &ctx());
            match (want, &d) {
                (Want::Succeed(s), GateDecision::Succeed { summary, outputs }) => {
                    assert!(summary.contains(s), "{name}: {summary}");
                    assert_eq!(outputs["scan_passed"], "true", "{name}");
                }
                (Want::Fail(s), GateDecision::Fail { message }) => {
                    assert!(message.contains(s), "{name}: {message}");
                    assert!(message.chars().count() <= MAX_FAILURE_MESSAGE_CHARS, "{name}");
                }
                (Want::Continue, GateDecision::Continue { token, .. }) => {
                    let c = Continuation::decode(token).expect("own token decodes");
                    assert_eq!(c.key, "results/web/b-1/verdict.json", "{name}");
                    assert_eq!(c.deadline, state.map_or(NOW + 600, |s| s.deadline), "{name}: deadline carried");
                    assert_eq!(c.attempts, state.map_or(1, |s| s.attempts + 1), "{name}");
                }
                (_, d) => panic!("{name}: unexpected {d:?}"),
            }
        }
    }

    #[test]
    fn waived_and_not_fixable_counts_are_outputs() {
        let mut v = verdict(
            Counts { critical: 0, high: 1, medium: 0, low: 0, informational: 0, total: 1 },
            PolicyResult::Allow,
            &GatePolicy::default(),
        );
        v.waived = Counts { critical: 2, total: 2, ..Counts::default() };
        v.not_fixable = Counts { high: 1, total: 1, ..Counts::default() };
        let p = params(r#"{"verdict_key": "results/web/b1/verdict.json"}"#);
        let GateDecision::Succeed { outputs, .. } = decide(&p, None, Lookup::Found(bytes(&v)), NOW, &ctx()) else {
            panic!("must pass")
        };
        assert_eq!((outputs["waived_count"].as_str(), outputs["not_fixable_count"].as_str()), ("2", "1"));
        assert_eq!(outputs["critical_count"], "0", "waived findings are not in the counts");
    }

    #[test]
    fn success_outputs() {
        let v = verdict(
            Counts { critical: 0, high: 3, medium: 4, low: 5, informational: 6, total: 18 },
            PolicyResult::Allow,
            &GatePolicy::default(),
        );
        let p = params(r#"{"verdict_key": "results/web/b 1/verdict.json"}"#);
        let GateDecision::Succeed { outputs, .. } = decide(&p, None, Lookup::Found(bytes(&v)), NOW, &ctx()) else {
            panic!("must pass")
        };
        let got: Vec<(&str, &str)> = outputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("critical_count", "0"),
                ("high_count", "3"),
                ("informational_count", "6"),
                ("low_count", "5"),
                ("medium_count", "4"),
                ("not_fixable_count", "0"),
                ("policy_result", "ALLOW"),
                ("scan_passed", "true"),
                ("summary_s3_uri", "s3://reports-bucket/results/web/b 1/summary.md"),
                (
                    "summary_url",
                    "https://us-east-1.console.aws.amazon.com/s3/object/reports-bucket?region=us-east-1&prefix=results/web/b%201/summary.md"
                ),
                ("verdict_key", "results/web/b 1/verdict.json"),
                ("vulnerability_count", "18"),
                ("waived_count", "0"),
            ]
        );
        for k in outputs.keys() {
            assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "output variable name {k}");
        }
    }

    #[test]
    fn project_mismatch_waits_then_fails() {
        let v = bytes(&verdict(Counts::default(), PolicyResult::None, &GatePolicy::default()));
        let p = params(r#"{"pipeline": "app", "execution_id": "e-1", "project": "api", "wait_seconds": 60}"#);
        assert!(matches!(decide(&p, None, Lookup::Found(v.clone()), NOW, &ctx()), GateDecision::Continue { .. }));
        let late = Continuation::start(&p, NOW - 61);
        let GateDecision::Fail { message } = decide(&p, Some(&late), Lookup::Found(v), NOW, &ctx()) else {
            panic!("must fail after the deadline")
        };
        assert!(message.contains("the verdict there is for project \"web\", not \"api\""), "{message}");
    }

    #[test]
    fn a_verdict_of_another_execution_fails() {
        use crate::verdict::PipelineExecution;
        let of = |pipeline: &str, execution: &str| {
            let mut v = verdict(Counts::default(), PolicyResult::None, &GatePolicy::default());
            if !pipeline.is_empty() {
                v.pipeline_execution =
                    Some(PipelineExecution { pipeline: pipeline.into(), execution_id: execution.into() });
            }
            bytes(&v)
        };
        let job = Context { region: None, pipeline: Some("app".into()), execution_id: Some("e-1".into()) };
        let by_execution = params(r#"{"pipeline": "app", "execution_id": "e-1"}"#);
        let by_key = params(r#"{"verdict_key": "results/web/b-1/verdict.json"}"#);
        let passes = |p: &GateParams, v: Vec<u8>, c: &Context| {
            let decision = decide(p, None, Lookup::Found(v), NOW, c);
            match decision {
                GateDecision::Succeed { .. } => Ok(()),
                GateDecision::Fail { message } => Err(message),
                other => panic!("{other:?}"),
            }
        };
        // (parameters, the verdict's execution, passes)
        let table: [(&GateParams, (&str, &str), bool); 7] = [
            (&by_execution, ("app", "e-1"), true),
            (&by_execution, ("app", "e-0"), false),
            (&by_execution, ("other", "e-1"), false),
            (&by_execution, ("", ""), false), // a by-execution verdict must name its (verified) execution
            (&by_key, ("app", "e-1"), true),
            (&by_key, ("app", "e-0"), false), // an earlier execution's verdict at a fixed key
            (&by_key, ("", ""), true),        // a build outside any pipeline
        ];
        for (p, (pipeline, execution), expected) in table {
            let got = passes(p, of(pipeline, execution), &job);
            assert_eq!(got.is_ok(), expected, "{p:?} {pipeline} {execution}: {got:?}");
            if let Err(message) = got {
                assert!(message.contains("the gate passes only on the verdict of the execution it gates"), "{message}");
            }
        }
        // Without the job's context (not a pipeline job as CodePipeline names it), only the parameters bind.
        assert!(passes(&by_key, of("app", "e-0"), &Context::default()).is_ok());
    }

    #[test]
    fn unprocessable_verdict_fails_whatever_the_overrides() {
        let gate = GatePolicy::default();
        let input = VerdictInput {
            report: ReportRef { key: "scans/web/b-1/r.sarif".into(), ..Default::default() },
            ..Default::default()
        };
        let v = Verdict::unprocessable(input, &gate, "not SARIF".into());
        let p = params(r#"{"verdict_key": "results/web/b-1/verdict.json", "max_critical": -1}"#);
        let GateDecision::Fail { message } = decide(&p, None, Lookup::Found(bytes(&v)), NOW, &ctx()) else {
            panic!("must fail")
        };
        assert!(message.contains("the report could not be processed: not SARIF"), "{message}");
    }

    #[test]
    fn failure_message_is_capped() {
        let mut v = verdict(counts(1, 0), PolicyResult::None, &GatePolicy::default());
        v.reasons = (0..2000).map(|i| format!("reason number {i}")).collect();
        let p = params(r#"{"verdict_key": "results/web/b-1/verdict.json"}"#);
        let GateDecision::Fail { message } = decide(&p, None, Lookup::Found(bytes(&v)), NOW, &ctx()) else {
            panic!("must fail")
        };
        assert_eq!(message.chars().count(), MAX_FAILURE_MESSAGE_CHARS);
        assert!(message.ends_with(crate::text::TRUNCATION_MARKER));
    }

    /// A verdict.json whose text carries terminal escapes, a carriage return and bidi controls
    /// (written by an older processor, or by anyone who could put the object): what the gate
    /// hands CodePipeline (failure message, summary, output variables) is clean and on one line.
    #[test]
    fn hostile_verdict_text_reaches_codepipeline_clean() {
        let clean = |what: &str, s: &str| {
            assert!(!s.chars().any(|c| crate::text::is_unsafe_char(c) || c == '\n'), "{what}: {s:?}");
            assert!(s.contains('\u{FFFD}'), "{what}: the reader sees something was removed: {s:?}");
        };
        let p = params(r#"{"verdict_key": "results/web/b-1/verdict.json"}"#);
        let mut failing = verdict(counts(1, 0), PolicyResult::None, &GatePolicy::default());
        failing.target = Some("shop/web\u{1b}[2J\u{202e}".into());
        failing.reasons =
            vec!["1 critical \u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}\r\nPASSED \u{9b}32m".into()];
        let GateDecision::Fail { message } = decide(&p, None, Lookup::Found(bytes(&failing)), NOW, &ctx()) else {
            panic!("must fail")
        };
        clean("failure message", &message);
        assert!(message.contains("click") && message.contains("PASSED"), "the text stays: {message}");

        let mut passing = verdict(counts(0, 0), PolicyResult::Allow, &GatePolicy::default());
        passing.target = failing.target.clone();
        passing.warnings = vec!["note \u{1b}[1A\u{1b}[2K\u{2066}hidden\u{2069}\u{7}".into()];
        let GateDecision::Succeed { outputs, summary } = decide(&p, None, Lookup::Found(bytes(&passing)), NOW, &ctx())
        else {
            panic!("must pass")
        };
        clean("summary", &summary);
        for (name, value) in &outputs {
            assert!(!value.chars().any(|c| crate::text::is_unsafe_char(c) || c == '\n'), "{name}: {value:?}");
        }
    }
}

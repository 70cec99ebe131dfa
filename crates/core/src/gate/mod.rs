//! The pipeline gate's decisions, with no AWS and no clock of its own.
//!
//! The pipeline-gate Lambda is a CodePipeline "Invoke" action. Each invocation it
//! parses the action's `UserParameters` ([`parse_params`]), reads the continuation
//! token of an earlier invocation if any ([`Continuation::decode`]), looks the verdict
//! up in S3 and hands what it found to [`decide`], which says what to tell
//! CodePipeline: succeed with output variables, fail with a message, or come back
//! later with a continuation token.

use crate::policy::{evaluate, parse_bool, GatePolicy, Thresholds};
use crate::text::truncate_chars;
use crate::verdict::{Verdict, VerdictError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long the gate waits for a verdict unless `wait_seconds` says otherwise.
pub const DEFAULT_WAIT_SECONDS: u64 = 900;
/// The longest wait accepted (one day); CodePipeline's own action timeout may end it sooner.
pub const MAX_WAIT_SECONDS: u64 = 86_400;
/// PutJobFailureResult's `failureDetails.message` limit.
pub const MAX_FAILURE_MESSAGE_CHARS: usize = 5000;
/// PutJobSuccessResult's `continuationToken` limit.
pub const MAX_CONTINUATION_TOKEN_CHARS: usize = 2048;
/// PutJobSuccessResult's `executionDetails.summary` limit.
pub const MAX_EXECUTION_SUMMARY_CHARS: usize = 2048;
/// The prefix of the verdicts the report-processor writes per pipeline execution.
pub use crate::contract::BY_EXECUTION_PREFIX;

/// The keys `UserParameters` may contain.
pub const KNOWN_KEYS: [&str; 12] = [
    "verdict_key",
    "bucket",
    "project",
    "pipeline",
    "execution_id",
    "wait_seconds",
    "max_critical",
    "max_high",
    "max_medium",
    "max_low",
    "fail_on_policy_deny",
    "fail_on_policy_audit",
];

/// The verdict object `results/by-execution/<pipeline>/<execution-id>/verdict.json`.
pub fn by_execution_key(pipeline: &str, execution_id: &str) -> String {
    crate::contract::by_execution_verdict_key(pipeline, execution_id)
}

/// Threshold and policy settings that replace the stored ones; `None` keeps the stored value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub max_critical: Option<i64>,
    pub max_high: Option<i64>,
    pub max_medium: Option<i64>,
    pub max_low: Option<i64>,
    pub fail_on_policy_deny: Option<bool>,
    pub fail_on_policy_audit: Option<bool>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// The stored policy with these overrides applied.
    pub fn apply(&self, stored: &GatePolicy) -> GatePolicy {
        GatePolicy {
            thresholds: Thresholds {
                max_critical: self.max_critical.unwrap_or(stored.thresholds.max_critical),
                max_high: self.max_high.unwrap_or(stored.thresholds.max_high),
                max_medium: self.max_medium.unwrap_or(stored.thresholds.max_medium),
                max_low: self.max_low.unwrap_or(stored.thresholds.max_low),
            },
            fail_on_policy_deny: self.fail_on_policy_deny.unwrap_or(stored.fail_on_policy_deny),
            fail_on_policy_audit: self.fail_on_policy_audit.unwrap_or(stored.fail_on_policy_audit),
            accept_incomplete: stored.accept_incomplete,
        }
    }
}

/// Where the verdict is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerdictLocation {
    /// An explicit key, usually the runner's exported `verdict_key`.
    Key(String),
    /// The by-execution verdict of one pipeline execution.
    Execution { pipeline: String, execution_id: String, project: Option<String> },
}

/// Validated `UserParameters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateParams {
    pub bucket: String,
    pub location: VerdictLocation,
    pub wait_seconds: u64,
    pub overrides: Overrides,
}

impl GateParams {
    /// The S3 key of the verdict.
    pub fn key(&self) -> String {
        match &self.location {
            VerdictLocation::Key(k) => k.clone(),
            VerdictLocation::Execution { pipeline, execution_id, .. } => by_execution_key(pipeline, execution_id),
        }
    }

    /// The CodeBuild project the verdict must come from, when the parameters name one.
    pub fn expected_project(&self) -> Option<&str> {
        match &self.location {
            VerdictLocation::Execution { project: Some(p), .. } => Some(p),
            _ => None,
        }
    }
}

/// Why `UserParameters` were refused. Every message says what was expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamsError {
    #[error(
        "UserParameters is empty: expected a JSON object such as {{\"verdict_key\": \"#{{ScanVars.verdict_key}}\"}} \
         or {{\"pipeline\": \"...\", \"execution_id\": \"#{{codepipeline.PipelineExecutionId}}\"}}"
    )]
    Missing,
    #[error("UserParameters is not valid JSON: {message} at line {line}, column {column}")]
    NotJson { message: String, line: usize, column: usize },
    #[error("UserParameters must be a JSON object, found {0}")]
    NotObject(&'static str),
    #[error("UserParameters has unknown key{} {}; known keys: {}", if .0.len() == 1 { "" } else { "s" }, quoted(.0), KNOWN_KEYS.join(", "))]
    UnknownKeys(Vec<String>),
    #[error("UserParameters.{key}: expected {expected}, found {found}")]
    WrongType { key: &'static str, expected: &'static str, found: String },
    #[error("UserParameters.{key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error(
        "UserParameters names no verdict: give \"verdict_key\" (the runner's exported variable, e.g. \
         \"#{{ScanVars.verdict_key}}\") or \"pipeline\" and \"execution_id\" (\"#{{codepipeline.PipelineExecutionId}}\")"
    )]
    NoLocation,
    #[error("UserParameters has both \"verdict_key\" and \"execution_id\": give one of them")]
    Conflicting,
    #[error(
        "UserParameters.execution_id needs \"pipeline\" (the pipeline's name) too: CodePipeline does not pass \
         the pipeline name to the function, and the by-execution verdict is results/by-execution/<pipeline>/<execution-id>/verdict.json"
    )]
    MissingPipeline,
    #[error("no bucket: set UserParameters.bucket or the function's REPORT_BUCKET environment variable")]
    NoBucket,
}

fn quoted(keys: &[String]) -> String {
    keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
}

fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn found(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("the string {:?}", truncate_chars(s, 80)),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::Bool(b) => format!("{b}"),
        other => type_name(other).to_string(),
    }
}

/// A non-empty string without an unresolved CodePipeline variable.
fn string_param(key: &'static str, v: &serde_json::Value) -> Result<String, ParamsError> {
    let s = v.as_str().ok_or_else(|| ParamsError::WrongType { key, expected: "a string", found: found(v) })?;
    let s = s.trim();
    if s.is_empty() {
        return Err(ParamsError::Invalid { key, message: "is empty".into() });
    }
    if s.contains("#{") {
        return Err(ParamsError::Invalid {
            key,
            message: format!(
                "{:?} contains an unresolved CodePipeline variable: check the namespace and variable name, \
                 and that the producing action ran before this one",
                truncate_chars(s, 200)
            ),
        });
    }
    Ok(s.to_string())
}

/// A threshold: an integer ≥ −1, as a number or a string (variables resolve to strings).
fn threshold_param(key: &'static str, v: &serde_json::Value) -> Result<i64, ParamsError> {
    let parsed = match v {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Thresholds::parse_value(&i.to_string()),
            None => Err(format!("expected an integer (-1 for unlimited), got {n}")),
        },
        serde_json::Value::String(s) => Thresholds::parse_value(s),
        other => {
            return Err(ParamsError::WrongType { key, expected: "an integer (-1 for unlimited)", found: found(other) })
        }
    };
    parsed.map_err(|message| ParamsError::Invalid { key, message })
}

fn bool_param(key: &'static str, v: &serde_json::Value) -> Result<bool, ParamsError> {
    match v {
        serde_json::Value::Bool(b) => Ok(*b),
        serde_json::Value::String(s) => parse_bool(s).map_err(|message| ParamsError::Invalid { key, message }),
        other => Err(ParamsError::WrongType { key, expected: "true or false", found: found(other) }),
    }
}

fn wait_param(v: &serde_json::Value) -> Result<u64, ParamsError> {
    const KEY: &str = "wait_seconds";
    let n = match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        other => {
            return Err(ParamsError::WrongType { key: KEY, expected: "a whole number of seconds", found: found(other) })
        }
    };
    match n {
        Some(n) if n <= MAX_WAIT_SECONDS => Ok(n),
        Some(n) => Err(ParamsError::Invalid { key: KEY, message: format!("{n} is more than {MAX_WAIT_SECONDS}") }),
        None => Err(ParamsError::Invalid {
            key: KEY,
            message: format!("expected a whole number of seconds from 0 to {MAX_WAIT_SECONDS}, found {}", found(v)),
        }),
    }
}

/// Parses and validates `UserParameters`; `default_bucket` is the function's REPORT_BUCKET.
pub fn parse_params(user_parameters: Option<&str>, default_bucket: Option<&str>) -> Result<GateParams, ParamsError> {
    let text = user_parameters.map(str::trim).filter(|s| !s.is_empty()).ok_or(ParamsError::Missing)?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ParamsError::NotJson {
        message: strip_position(&e.to_string()),
        line: e.line(),
        column: e.column(),
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(ParamsError::NotObject(type_name(&value)));
    };
    let mut unknown: Vec<String> = map.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ParamsError::UnknownKeys(unknown));
    }
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());

    let mut bucket = get("bucket").map(|v| string_param("bucket", v)).transpose()?;
    let verdict_key = get("verdict_key").map(|v| string_param("verdict_key", v)).transpose()?;
    let execution_id = get("execution_id").map(|v| string_param("execution_id", v)).transpose()?;
    let pipeline = get("pipeline").map(|v| string_param("pipeline", v)).transpose()?;
    let project = get("project").map(|v| string_param("project", v)).transpose()?;

    let location = match (verdict_key, execution_id) {
        (Some(_), Some(_)) => return Err(ParamsError::Conflicting),
        (Some(key), None) => {
            let key = match key.strip_prefix("s3://") {
                Some(rest) => {
                    let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
                    // A bucket name never holds whitespace (and " b" would not be the bucket "b").
                    if b.is_empty() || b.contains(char::is_whitespace) || k.is_empty() {
                        return Err(ParamsError::Invalid {
                            key: "verdict_key",
                            message: format!("{key:?} is not s3://<bucket>/<key>"),
                        });
                    }
                    if let Some(given) = &bucket {
                        if given != b {
                            return Err(ParamsError::Invalid {
                                key: "verdict_key",
                                message: format!("names bucket {b:?} but UserParameters.bucket is {given:?}"),
                            });
                        }
                    }
                    bucket = Some(b.to_string());
                    k.to_string()
                }
                None => {
                    let k = key.trim_start_matches('/');
                    if k.is_empty() {
                        return Err(ParamsError::Invalid {
                            key: "verdict_key",
                            message: format!("{key:?} names no object: expected an S3 key such as results/<project>/<build-id>/verdict.json"),
                        });
                    }
                    k.to_string()
                }
            };
            VerdictLocation::Key(key)
        }
        (None, Some(execution_id)) => {
            let pipeline = pipeline.ok_or(ParamsError::MissingPipeline)?;
            for (key, v) in [("pipeline", &pipeline), ("execution_id", &execution_id)] {
                if v.contains('/') {
                    return Err(ParamsError::Invalid { key, message: format!("{v:?} must not contain '/'") });
                }
            }
            VerdictLocation::Execution { pipeline, execution_id, project }
        }
        (None, None) => return Err(ParamsError::NoLocation),
    };

    let bucket = bucket
        .or_else(|| default_bucket.map(str::trim).filter(|b| !b.is_empty()).map(str::to_string))
        .ok_or(ParamsError::NoBucket)?;
    let wait_seconds = get("wait_seconds").map(wait_param).transpose()?.unwrap_or(DEFAULT_WAIT_SECONDS);
    let t = |k: &'static str| get(k).map(|v| threshold_param(k, v)).transpose();
    let b = |k: &'static str| get(k).map(|v| bool_param(k, v)).transpose();
    let overrides = Overrides {
        max_critical: t("max_critical")?,
        max_high: t("max_high")?,
        max_medium: t("max_medium")?,
        max_low: t("max_low")?,
        fail_on_policy_deny: b("fail_on_policy_deny")?,
        fail_on_policy_audit: b("fail_on_policy_audit")?,
    };
    Ok(GateParams { bucket, location, wait_seconds, overrides })
}

/// serde_json appends " at line L column C"; the error reports those separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// What the gate carries from one invocation to the next in the continuation token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Continuation {
    /// Token format version.
    pub v: u32,
    /// Unix seconds of the first invocation.
    pub first_seen: i64,
    /// Unix seconds after which a missing verdict fails the gate.
    pub deadline: i64,
    /// How many times the verdict was looked for.
    pub attempts: u32,
    pub bucket: String,
    /// The key resolved at the first invocation.
    pub key: String,
}

/// Why a continuation token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("continuation token is not a scangate gate token ({0}); was the action's function changed mid-execution?")]
    Invalid(String),
    #[error("continuation token has version {0}, this gate understands version 1")]
    Version(u32),
}

impl Continuation {
    /// The state at the first invocation.
    pub fn start(params: &GateParams, now: i64) -> Continuation {
        Continuation {
            v: 1,
            first_seen: now,
            deadline: now.saturating_add(params.wait_seconds as i64),
            attempts: 0,
            bucket: params.bucket.clone(),
            key: params.key(),
        }
    }

    /// The token text, or `None` when it would exceed CodePipeline's 2048 characters.
    pub fn encode(&self) -> Option<String> {
        let s = serde_json::to_string(self).ok()?;
        (s.chars().count() <= MAX_CONTINUATION_TOKEN_CHARS).then_some(s)
    }

    pub fn decode(token: &str) -> Result<Continuation, TokenError> {
        #[derive(Deserialize)]
        struct Probe {
            v: Option<u32>,
        }
        let probe: Probe = serde_json::from_str(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        match probe.v {
            Some(1) => serde_json::from_str(token).map_err(|e| TokenError::Invalid(e.to_string())),
            Some(v) => Err(TokenError::Version(v)),
            None => Err(TokenError::Invalid("no version field".into())),
        }
    }
}

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

/// Where the report is and how to read it, for messages and output variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The function's region, for console links.
    pub region: Option<String>,
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
    GateDecision::Fail { message: truncate_chars(&message, MAX_FAILURE_MESSAGE_CHARS).into_owned() }
}

/// RFC 3339 (seconds) of a unix time, for messages.
fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("unix time {unix}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The key of the human summary that goes with a verdict: `results/<project>/<build-id>/summary.md`,
/// next to a per-build verdict, or derived from the report key for a by-execution verdict.
pub fn summary_key(verdict_key: &str, verdict: &Verdict) -> Option<String> {
    if let Some(beside) = crate::contract::summary_beside(verdict_key) {
        return Some(beside);
    }
    let parts: Vec<&str> = verdict.report.key.split('/').collect();
    if parts.len() >= 3 {
        let n = parts.len();
        return Some(crate::contract::summary_key(parts[n - 3], parts[n - 2]));
    }
    None
}

/// An S3 console link to an object.
pub fn console_url(bucket: &str, key: &str, region: Option<&str>) -> String {
    match region {
        Some(r) => format!(
            "https://{r}.console.aws.amazon.com/s3/object/{}?region={r}&prefix={}",
            url_encode(bucket),
            url_encode(key)
        ),
        None => format!("https://console.aws.amazon.com/s3/object/{}?prefix={}", url_encode(bucket), url_encode(key)),
    }
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
    verdict_decision(params, &verdict, &state, ctx)
}

fn wait_or_give_up(state: Continuation, now: i64, uri: &str, why: &str) -> GateDecision {
    let waited = now.saturating_sub(state.first_seen).max(0);
    if now < state.deadline {
        let summary = truncate_chars(
            &format!(
                "waiting for the scan verdict {uri}: {why} (check {}, waited {waited} s, giving up at {})",
                state.attempts,
                when(state.deadline)
            ),
            MAX_EXECUTION_SUMMARY_CHARS,
        )
        .into_owned();
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
    let stored = GatePolicy {
        thresholds: verdict.thresholds,
        fail_on_policy_deny: verdict.fail_on_policy_deny,
        fail_on_policy_audit: verdict.fail_on_policy_audit,
        accept_incomplete: verdict.accept_incomplete_scan,
    };
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
    GateDecision::Succeed { outputs, summary: truncate_chars(&summary, MAX_EXECUTION_SUMMARY_CHARS).into_owned() }
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
    use crate::policy::{Counts, PolicyResult};
    use crate::verdict::{BuildRef, ReportRef, VerdictInput};

    const NOW: i64 = 1_763_884_800; // 2025-11-23T08:00:00Z

    fn params(json: &str) -> GateParams {
        parse_params(Some(json), Some("reports-bucket")).expect("valid parameters")
    }

    fn verdict(counts: Counts, policy: PolicyResult, gate: &GatePolicy) -> Verdict {
        let e = evaluate(&counts, policy, gate);
        let input = VerdictInput {
            report: ReportRef {
                bucket: Some("reports-bucket".into()),
                key: "scans/web/b-1/report.sarif".into(),
                ..Default::default()
            },
            target: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.2".into()),
            build: Some(BuildRef { project: Some("web".into()), ..Default::default() }),
            processed_at: "2025-11-23T07:59:00.000Z".into(),
            ..Default::default()
        };
        Verdict::new(input, counts, policy, gate, &e)
    }

    fn bytes(v: &Verdict) -> Vec<u8> {
        serde_json::to_vec(v).expect("serialize verdict")
    }

    fn counts(c: u64, h: u64) -> Counts {
        Counts { critical: c, high: h, total: c + h, ..Default::default() }
    }

    fn ctx() -> Context {
        Context { region: Some("us-east-1".into()) }
    }

    #[test]
    fn params_table() {
        let ok: &[(&str, GateParams)] = &[
            (
                r#"{"verdict_key": "results/web/b-1/verdict.json"}"#,
                GateParams {
                    bucket: "reports-bucket".into(),
                    location: VerdictLocation::Key("results/web/b-1/verdict.json".into()),
                    wait_seconds: DEFAULT_WAIT_SECONDS,
                    overrides: Overrides::default(),
                },
            ),
            (
                r#"{"verdict_key": "s3://other/results/x/y/verdict.json", "wait_seconds": "60", "max_critical": "5", "fail_on_policy_deny": "false"}"#,
                GateParams {
                    bucket: "other".into(),
                    location: VerdictLocation::Key("results/x/y/verdict.json".into()),
                    wait_seconds: 60,
                    overrides: Overrides {
                        max_critical: Some(5),
                        fail_on_policy_deny: Some(false),
                        ..Default::default()
                    },
                },
            ),
            (
                r#"{"pipeline": "app", "execution_id": "e-1", "project": "web", "bucket": "b", "wait_seconds": 0, "max_high": -1, "fail_on_policy_audit": true}"#,
                GateParams {
                    bucket: "b".into(),
                    location: VerdictLocation::Execution {
                        pipeline: "app".into(),
                        execution_id: "e-1".into(),
                        project: Some("web".into()),
                    },
                    wait_seconds: 0,
                    overrides: Overrides { max_high: Some(-1), fail_on_policy_audit: Some(true), ..Default::default() },
                },
            ),
        ];
        for (i, (json, want)) in ok.iter().enumerate() {
            assert_eq!(&params(json), want, "row {i}");
        }
        assert_eq!(params(ok[2].0).key(), "results/by-execution/app/e-1/verdict.json");
    }

    #[test]
    fn params_errors_name_the_problem() {
        let table: &[(Option<&str>, Option<&str>, &str)] = &[
            (None, Some("b"), "UserParameters is empty"),
            (Some("  "), Some("b"), "UserParameters is empty"),
            (
                Some("{\"verdict_key\": "),
                Some("b"),
                "UserParameters is not valid JSON: EOF while parsing a value at line 1, column 15",
            ),
            (Some("[1]"), Some("b"), "UserParameters must be a JSON object, found an array"),
            (
                Some(r#"{"verdict_key": "k", "max_crit": 1, "Bucket": "x"}"#),
                Some("b"),
                "UserParameters has unknown keys \"Bucket\", \"max_crit\"; known keys: verdict_key, bucket",
            ),
            (
                Some(r#"{"verdict_key": 7}"#),
                Some("b"),
                "UserParameters.verdict_key: expected a string, found the number 7",
            ),
            (Some(r#"{"verdict_key": ""}"#), Some("b"), "UserParameters.verdict_key: is empty"),
            (
                Some(r##"{"verdict_key": "#{ScanVars.verdict_key}"}"##),
                Some("b"),
                "UserParameters.verdict_key: \"#{ScanVars.verdict_key}\" contains an unresolved CodePipeline variable",
            ),
            (
                Some(r#"{"verdict_key": "k", "max_critical": -2}"#),
                Some("b"),
                "UserParameters.max_critical: expected -1 (unlimited)",
            ),
            (
                Some(r#"{"verdict_key": "k", "max_high": "lots"}"#),
                Some("b"),
                "UserParameters.max_high: expected an integer",
            ),
            (
                Some(r#"{"verdict_key": "k", "max_low": 1.5}"#),
                Some("b"),
                "UserParameters.max_low: expected an integer (-1 for unlimited), got 1.5",
            ),
            (
                Some(r#"{"verdict_key": "k", "max_low": [1]}"#),
                Some("b"),
                "UserParameters.max_low: expected an integer (-1 for unlimited), found an array",
            ),
            (
                Some(r#"{"verdict_key": "k", "fail_on_policy_deny": "perhaps"}"#),
                Some("b"),
                "UserParameters.fail_on_policy_deny: expected true or false",
            ),
            (
                Some(r#"{"verdict_key": "k", "fail_on_policy_deny": 1}"#),
                Some("b"),
                "UserParameters.fail_on_policy_deny: expected true or false, found the number 1",
            ),
            (
                Some(r#"{"verdict_key": "k", "wait_seconds": -5}"#),
                Some("b"),
                "UserParameters.wait_seconds: expected a whole number of seconds from 0 to 86400",
            ),
            (
                Some(r#"{"verdict_key": "k", "wait_seconds": 100000}"#),
                Some("b"),
                "UserParameters.wait_seconds: 100000 is more than 86400",
            ),
            (Some(r#"{"wait_seconds": 10}"#), Some("b"), "UserParameters names no verdict"),
            (Some(r#"{"verdict_key": "k", "execution_id": "e"}"#), Some("b"), "UserParameters has both"),
            (
                Some(r#"{"project": "web", "execution_id": "e"}"#),
                Some("b"),
                "UserParameters.execution_id needs \"pipeline\"",
            ),
            (
                Some(r#"{"pipeline": "a/b", "execution_id": "e"}"#),
                Some("b"),
                "UserParameters.pipeline: \"a/b\" must not contain '/'",
            ),
            (Some(r#"{"verdict_key": "k"}"#), None, "no bucket: set UserParameters.bucket"),
            (Some(r#"{"verdict_key": "k"}"#), Some(" "), "no bucket"),
            (
                Some(r#"{"verdict_key": "s3://bucket-only"}"#),
                Some("b"),
                "UserParameters.verdict_key: \"s3://bucket-only\" is not s3://<bucket>/<key>",
            ),
            (
                Some(r#"{"verdict_key": "s3://x/k", "bucket": "y"}"#),
                Some("b"),
                "names bucket \"x\" but UserParameters.bucket is \"y\"",
            ),
        ];
        for (i, (input, bucket, want)) in table.iter().enumerate() {
            let err = parse_params(*input, *bucket).expect_err(&format!("row {i} must fail")).to_string();
            assert!(err.contains(want), "row {i}: {err:?} lacks {want:?}");
        }
    }

    #[test]
    fn null_values_mean_absent() {
        let p = params(r#"{"verdict_key": "k", "max_critical": null, "bucket": null}"#);
        assert_eq!(p.bucket, "reports-bucket");
        assert!(p.overrides.is_empty());
    }

    #[test]
    fn token_round_trip_and_refusals() {
        let p = params(r#"{"verdict_key": "results/web/b-1/verdict.json", "wait_seconds": 300}"#);
        let c = Continuation::start(&p, NOW);
        assert_eq!(c.deadline, NOW + 300);
        assert_eq!(c.key, "results/web/b-1/verdict.json");
        let token = c.encode().expect("short token");
        assert_eq!(Continuation::decode(&token), Ok(c));
        assert!(matches!(Continuation::decode("A continuation token if continuing job"), Err(TokenError::Invalid(_))));
        assert_eq!(
            Continuation::decode(r#"{"v":2,"first_seen":0,"deadline":0,"attempts":0,"bucket":"b","key":"k"}"#),
            Err(TokenError::Version(2))
        );
        assert!(matches!(
            Continuation::decode(r#"{"v":1,"first_seen":0,"deadline":0,"attempts":0,"bucket":"b","key":"k","x":1}"#),
            Err(TokenError::Invalid(_))
        ));
        let long = Continuation { key: "\u{1}".repeat(1000), ..Continuation::start(&p, NOW) };
        assert_eq!(long.encode(), None, "6000 escaped characters exceed 2048");
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
        let table: Vec<(&str, &GateParams, Option<&Continuation>, Lookup, Want)> = vec![
            ("pass", &p_key, None, Lookup::Found(pass.clone()), Want::Succeed("scan passed")),
            (
                "fail",
                &p_key,
                None,
                Lookup::Found(crit.clone()),
                Want::Fail("2 critical findings exceed max_critical=0"),
            ),
            ("override passes", &p_five, None, Lookup::Found(crit.clone()), Want::Succeed("critical 2")),
            (
                "override, deny still fails",
                &p_five,
                None,
                Lookup::Found(deny.clone()),
                Want::Fail("cloud policy result is DENY"),
            ),
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
            ("transient", &p_key, Some(&first), Lookup::Transient("throttled".into()), Want::Continue),
            (
                "transient late",
                &p_key,
                Some(&late),
                Lookup::Transient("throttled".into()),
                Want::Fail("reading the verdict failed: throttled"),
            ),
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
            (
                "garbage",
                &p_key,
                None,
                Lookup::Found(b"<html>".to_vec()),
                Want::Fail("could not be read: verdict is not valid JSON"),
            ),
            (
                "schema",
                &p_key,
                None,
                Lookup::Found(br#"{"schema":"scangate.verdict.v9"}"#.to_vec()),
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
                ("policy_result", "ALLOW"),
                ("scan_passed", "true"),
                ("summary_s3_uri", "s3://reports-bucket/results/web/b 1/summary.md"),
                (
                    "summary_url",
                    "https://us-east-1.console.aws.amazon.com/s3/object/reports-bucket?region=us-east-1&prefix=results/web/b%201/summary.md"
                ),
                ("verdict_key", "results/web/b 1/verdict.json"),
                ("vulnerability_count", "18"),
            ]
        );
        for k in outputs.keys() {
            assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "output variable name {k}");
        }
    }

    #[test]
    fn by_execution_summary_comes_from_the_report_key() {
        let v = verdict(Counts::default(), PolicyResult::None, &GatePolicy::default());
        assert_eq!(
            summary_key("results/by-execution/app/e-1/verdict.json", &v).as_deref(),
            Some("results/web/b-1/summary.md")
        );
        assert_eq!(summary_key("results/web/b-9/verdict.json", &v).as_deref(), Some("results/web/b-9/summary.md"));
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
}

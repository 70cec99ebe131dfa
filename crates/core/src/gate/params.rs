//! `UserParameters`: the JSON object the pipeline's Invoke action hands the gate, parsed and
//! validated into [`GateParams`] (where the verdict is, how long to wait, which thresholds to
//! override), or refused with a [`ParamsError`] that says what was expected.

use crate::contract::{by_execution_verdict_key, ThresholdRequest};
use crate::policy::{parse_bool, GatePolicy, GateSettings, Thresholds};
use crate::text::truncate_chars;

/// How long the gate waits for a verdict unless `wait_seconds` says otherwise.
pub const DEFAULT_WAIT_SECONDS: u64 = 900;
/// The longest wait accepted (one day); CodePipeline's own action timeout may end it sooner.
pub const MAX_WAIT_SECONDS: u64 = 86_400;

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

/// Threshold and policy settings that replace the stored ones; `None` keeps the stored value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `max_critical` … `max_low`.
    pub thresholds: ThresholdRequest,
    pub fail_on_policy_deny: Option<bool>,
    pub fail_on_policy_audit: Option<bool>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// The stored policy with these overrides applied (never its completeness rule or quality mode).
    pub fn apply(&self, stored: &GatePolicy) -> GatePolicy {
        GateSettings {
            thresholds: self.thresholds,
            fail_on_policy_deny: self.fail_on_policy_deny,
            fail_on_policy_audit: self.fail_on_policy_audit,
            ..GateSettings::default()
        }
        .over(stored)
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
            VerdictLocation::Execution { pipeline, execution_id, .. } => {
                by_execution_verdict_key(pipeline, execution_id)
            }
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
        thresholds: ThresholdRequest {
            max_critical: t("max_critical")?,
            max_high: t("max_high")?,
            max_medium: t("max_medium")?,
            max_low: t("max_low")?,
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::testing::params;

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
                        thresholds: ThresholdRequest { max_critical: Some(5), ..Default::default() },
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
                    overrides: Overrides {
                        thresholds: ThresholdRequest { max_high: Some(-1), ..Default::default() },
                        fail_on_policy_audit: Some(true),
                        ..Default::default()
                    },
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
        let refused = |input: Option<&str>, bucket: Option<&str>, want: &str| {
            let err = parse_params(input, bucket).expect_err(&format!("{input:?} must fail")).to_string();
            assert!(err.contains(want), "{input:?}: {err:?} lacks {want:?}");
        };
        refused(None, Some("b"), "UserParameters is empty");
        refused(Some(r#"{"verdict_key": "k"}"#), None, "no bucket: set UserParameters.bucket");
        refused(Some(r#"{"verdict_key": "k"}"#), Some(" "), "no bucket");
        let table: &[(&str, &str)] = &[
            ("  ", "UserParameters is empty"),
            (r#"{"verdict_key": "#, "UserParameters is not valid JSON: EOF while parsing a value at line 1, column 15"),
            ("[1]", "UserParameters must be a JSON object, found an array"),
            (
                r#"{"verdict_key": "k", "max_crit": 1, "Bucket": "x"}"#,
                "UserParameters has unknown keys \"Bucket\", \"max_crit\"; known keys: verdict_key, bucket",
            ),
            (r#"{"verdict_key": 7}"#, "UserParameters.verdict_key: expected a string, found the number 7"),
            (r#"{"verdict_key": ""}"#, "UserParameters.verdict_key: is empty"),
            (
                r##"{"verdict_key": "#{ScanVars.verdict_key}"}"##,
                "UserParameters.verdict_key: \"#{ScanVars.verdict_key}\" contains an unresolved CodePipeline variable",
            ),
            (r#"{"wait_seconds": 10}"#, "UserParameters names no verdict"),
            (r#"{"verdict_key": "k", "execution_id": "e"}"#, "UserParameters has both"),
            (r#"{"project": "web", "execution_id": "e"}"#, "UserParameters.execution_id needs \"pipeline\""),
            (r#"{"pipeline": "a/b", "execution_id": "e"}"#, "UserParameters.pipeline: \"a/b\" must not contain '/'"),
            (
                r#"{"verdict_key": "s3://bucket-only"}"#,
                "UserParameters.verdict_key: \"s3://bucket-only\" is not s3://<bucket>/<key>",
            ),
            (r#"{"verdict_key": "s3://x/k", "bucket": "y"}"#, "names bucket \"x\" but UserParameters.bucket is \"y\""),
        ];
        for (input, want) in table {
            refused(Some(input), Some("b"), want);
        }
        // One bad value beside a valid verdict_key: the message names its key.
        let values: &[(&str, &str, &str)] = &[
            ("max_critical", "-2", "expected -1 (unlimited)"),
            ("max_high", r#""lots""#, "expected an integer"),
            ("max_low", "1.5", "expected an integer (-1 for unlimited), got 1.5"),
            ("max_low", "[1]", "expected an integer (-1 for unlimited), found an array"),
            ("fail_on_policy_deny", r#""perhaps""#, "expected true or false"),
            ("fail_on_policy_deny", "1", "expected true or false, found the number 1"),
            ("wait_seconds", "-5", "expected a whole number of seconds from 0 to 86400"),
            ("wait_seconds", "100000", "100000 is more than 86400"),
        ];
        for (key, value, want) in values {
            let input = format!(r#"{{"verdict_key": "k", "{key}": {value}}}"#);
            refused(Some(&input), Some("b"), &format!("UserParameters.{key}: {want}"));
        }
    }

    #[test]
    fn null_values_mean_absent() {
        let p = params(r#"{"verdict_key": "k", "max_critical": null, "bucket": null}"#);
        assert_eq!(p.bucket, "reports-bucket");
        assert!(p.overrides.is_empty());
    }
}

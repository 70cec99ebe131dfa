//! What the `gate_params` fuzz target checks, shared with crates/core/tests/fuzz_regressions.rs.
//!
//! The pipeline gate's parsing and decision on any input, never a panic:
//! `UserParameters` ([`parse_params`]), the continuation token ([`Continuation::decode`]) and the
//! verdict object read from S3 ([`decide`]).
//!
//! Input: up to three parts separated by a 0xFF byte (never part of UTF-8 text):
//! `UserParameters` or a whole CodePipeline job event, the continuation token, the verdict's bytes.
//! A job event (`{"CodePipeline.job": …}`) supplies UserParameters and the token the way the
//! Lambda reads them. Invariants: every refusal names `UserParameters` or the token; accepted
//! parameters name a non-empty bucket and key; a token re-encodes to itself; decisions respect
//! CodePipeline's limits (failure message ≤ 5000 characters, token and summary ≤ 2048) and a
//! token the gate hands out decodes again.

use scangate_core::gate::{
    decide, parse_params, Context, Continuation, GateDecision, GateParams, Lookup, VerdictLocation,
    MAX_CONTINUATION_TOKEN_CHARS, MAX_EXECUTION_SUMMARY_CHARS, MAX_FAILURE_MESSAGE_CHARS, MAX_WAIT_SECONDS,
};
use serde_json::Value;

const NOW: i64 = 1_763_884_800;

/// Runs the gate's parsing and decisions on `data` and checks them. Returns the parameters' key
/// (with the default bucket) and the first decision, or why the parameters were refused.
pub(crate) fn check(data: &[u8]) -> Result<String, String> {
    let mut parts = data.splitn(3, |b| *b == 0xFF);
    let first = parts.next().unwrap_or_default();
    let token_part = parts.next().map(String::from_utf8_lossy);
    let verdict = parts.next();

    let job: Option<Value> =
        serde_json::from_slice::<Value>(first).ok().filter(|v| v.get("CodePipeline.job").is_some());
    let (user_parameters, token) = match &job {
        Some(job) => {
            let data = job.pointer("/CodePipeline.job/data");
            let up = data.and_then(|d| d.pointer("/actionConfiguration/configuration/UserParameters"));
            let tok = data.and_then(|d| d.get("continuationToken")).and_then(Value::as_str);
            (
                up.and_then(Value::as_str).map(str::to_string),
                tok.map(str::to_string).or(token_part.map(|t| t.into_owned())),
            )
        }
        None => (Some(String::from_utf8_lossy(first).into_owned()), token_part.map(|t| t.into_owned())),
    };

    let mut accepted = None;
    let mut refused = None;
    for default_bucket in [Some("reports-bucket"), None, Some("  ")] {
        match parse_params(user_parameters.as_deref(), default_bucket) {
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains("UserParameters"), "refusal does not name UserParameters: {text}");
                refused.get_or_insert(text);
            }
            Ok(p) => {
                check_params(&p);
                accepted.get_or_insert(p);
            }
        }
    }

    let state = token.as_deref().and_then(|t| match Continuation::decode(t) {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("continuation token"), "token refusal does not say so: {text}");
            None
        }
        Ok(c) => {
            if let Some(again) = c.encode() {
                assert!(again.chars().count() <= MAX_CONTINUATION_TOKEN_CHARS);
                assert_eq!(Continuation::decode(&again).as_ref(), Ok(&c), "token does not round-trip");
            }
            Some(c)
        }
    });

    let Some(params) = accepted else { return Err(refused.unwrap_or_default()) };
    let lookups = match verdict {
        Some(bytes) => vec![Lookup::Found(bytes.to_vec())],
        None => vec![Lookup::Missing, Lookup::Transient("throttled".into())],
    };
    let ctx = Context { region: Some("us-east-1".into()), ..Context::default() };
    let mut first = None;
    for lookup in lookups {
        for st in [None, state.as_ref()] {
            for now in [NOW, i64::MAX, i64::MIN] {
                let decision = decide(&params, st, lookup.clone(), now, &ctx);
                check_decision(&decision);
                first.get_or_insert(decision);
            }
        }
    }
    let decided = match first {
        Some(GateDecision::Fail { message }) => format!("fail: {message}"),
        Some(GateDecision::Continue { summary, .. }) => format!("continue: {summary}"),
        Some(GateDecision::Succeed { summary, .. }) => format!("succeed: {summary}"),
        None => String::new(),
    };
    Ok(format!("bucket {:?} key {:?}; {decided}", params.bucket, params.key()))
}

fn check_params(p: &GateParams) {
    assert!(!p.bucket.is_empty() && p.bucket.trim() == p.bucket, "bucket {:?}", p.bucket);
    assert!(!p.key().is_empty(), "accepted parameters with an empty key: {p:?}");
    assert!(!p.key().contains("#{") && !p.bucket.contains("#{"), "unresolved variable accepted: {p:?}");
    assert!(p.wait_seconds <= MAX_WAIT_SECONDS);
    if let VerdictLocation::Execution { pipeline, execution_id, .. } = &p.location {
        assert!(!pipeline.contains('/') && !execution_id.contains('/'), "{p:?}");
    }
}

fn check_decision(d: &GateDecision) {
    match d {
        GateDecision::Fail { message } => {
            assert!(!message.is_empty());
            assert!(message.chars().count() <= MAX_FAILURE_MESSAGE_CHARS, "failure message too long");
        }
        GateDecision::Continue { token, summary } => {
            assert!(token.chars().count() <= MAX_CONTINUATION_TOKEN_CHARS, "token too long");
            assert!(summary.chars().count() <= MAX_EXECUTION_SUMMARY_CHARS, "summary too long");
            assert!(Continuation::decode(token).is_ok(), "the gate's own token does not decode: {token}");
        }
        GateDecision::Succeed { outputs, summary } => {
            assert!(summary.chars().count() <= MAX_EXECUTION_SUMMARY_CHARS, "summary too long");
            assert_eq!(outputs.get("scan_passed").map(String::as_str), Some("true"));
        }
    }
}

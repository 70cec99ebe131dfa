//! The pipeline gate's decisions, with no AWS and no clock of its own.
//!
//! The pipeline-gate Lambda is a CodePipeline "Invoke" action. Each invocation it
//! parses the action's `UserParameters` ([`parse_params`]), reads the continuation
//! token of an earlier invocation if any ([`Continuation::decode`]), looks the verdict
//! up in S3 and hands what it found to [`decide`], which says what to tell
//! CodePipeline: succeed with output variables, fail with a message, or come back
//! later with a continuation token.
//!
//! One file per part:
//!
//! - `params`: `UserParameters` parsed and validated into [`GateParams`];
//! - `continuation`: the [`Continuation`] token carried from one invocation to the next;
//! - `decision`: [`decide`], from the verdict lookup to a [`GateDecision`];
//! - `links`: the summary key beside a verdict and S3 console links, for messages and outputs.

mod continuation;
mod decision;
mod links;
mod params;

pub use continuation::{Continuation, TokenError, MAX_CONTINUATION_TOKEN_CHARS};
pub use decision::{decide, Context, GateDecision, Lookup, MAX_EXECUTION_SUMMARY_CHARS, MAX_FAILURE_MESSAGE_CHARS};
pub use links::{console_url, summary_key};
pub use params::{
    parse_params, GateParams, Overrides, ParamsError, VerdictLocation, DEFAULT_WAIT_SECONDS, KNOWN_KEYS,
    MAX_WAIT_SECONDS,
};

/// What the tests of the gate's parts share.
#[cfg(test)]
mod testing {
    use super::{parse_params, GateParams};
    use crate::policy::{evaluate, Counts, GatePolicy, PolicyResult};
    use crate::verdict::{BuildRef, ReportRef, Verdict, VerdictInput};

    pub(super) const NOW: i64 = 1_763_884_800; // 2025-11-23T08:00:00Z

    /// Valid parameters, with `reports-bucket` as the function's REPORT_BUCKET.
    pub(super) fn params(json: &str) -> GateParams {
        parse_params(Some(json), Some("reports-bucket")).expect("valid parameters")
    }

    /// A verdict of project `web`'s build `b-1` on `counts` and `policy`, evaluated with `gate`.
    pub(super) fn verdict(counts: Counts, policy: PolicyResult, gate: &GatePolicy) -> Verdict {
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
}

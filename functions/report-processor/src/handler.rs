//! The invocation handler: one Lambda payload (direct S3 notification, EventBridge event
//! or SQS batch) → each report processed ([`Processor::process_until`]) → the [`Response`]
//! Lambda gets. A new event source starts in `scangate_core::events` (the parser) and is
//! answered here.
//!
//! The payload is parsed by `scangate_core::events` (tolerant, fuzzed), not into
//! `aws_lambda_events`' `SqsEvent`/`S3Event`: one function takes several shapes (S3
//! notification, EventBridge event, SQS batch whose bodies are S3 notifications or SNS
//! envelopes of them, `s3:TestEvent`), and those types are strict (an S3 record without
//! `eventTime`, `userIdentity` or `requestParameters` does not deserialize), where one bad
//! SQS message must fail alone, as its own `batchItemFailures` entry. Only the response
//! uses the crate's type ([`SqsBatchResponse`]).

use crate::metrics;
use crate::process::deadline::Deadline;
use crate::process::{Outcome, Processor, Transient};
use aws_lambda_events::event::sqs::SqsBatchResponse;
use scangate_aws::codebuild::CodeBuildOps;
use scangate_aws::identity::AwsIdentity;
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;
use scangate_core::events::{parse_event_value, Event, ObjectRef, Parsed};
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;
use tracing::Instrument;

/// Time an SQS message's import leaves, per message after it in the batch, for their
/// verdicts (a message whose import does not fit stops at a checkpoint and comes again).
pub const MESSAGE_RESERVE: Duration = Duration::from_secs(5);

/// The name the metrics carry as their `Function` dimension.
pub const FUNCTION_NAME: &str = "report-processor";

/// An invocation that must fail as a whole (a direct event with a transient error, or
/// a payload that is no event at all).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    Event(#[from] scangate_core::events::EventError),
    #[error("{failed} of {total} report(s) failed and will be retried: {first}")]
    Transient { failed: usize, total: usize, first: String },
}

/// What an invocation answers Lambda (serialized as each variant's own JSON).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// An SQS batch: `{"batchItemFailures": [{"itemIdentifier": …}]}`, the messages to
    /// deliver again.
    Batch(SqsBatchResponse),
    /// A direct event: `{"reports": […]}`, one entry per announced object (`key` and its
    /// outcome, or `error`).
    Reports { reports: Vec<Value> },
    /// `s3:TestEvent`: `{"test_event": true}`.
    TestEvent { test_event: bool },
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Handles one invocation payload, with no deadline; the response as JSON.
    pub async fn handle(&self, payload: &Value, identity: &AwsIdentity) -> Result<Value, HandlerError> {
        self.handle_until(payload, identity, None).await
    }

    /// [`Self::respond`], the response as JSON.
    pub async fn handle_until(
        &self,
        payload: &Value,
        identity: &AwsIdentity,
        deadline: Option<Deadline>,
    ) -> Result<Value, HandlerError> {
        self.respond(payload, identity, deadline).await.map(|response| json!(response))
    }

    /// Handles one invocation payload against the invocation's deadline. SQS: a message is
    /// not started once the deadline is near, and each message's import keeps
    /// [`MESSAGE_RESERVE`] per message after it, so one large report stops at a checkpoint
    /// instead of running the others into the timeout; unstarted and checkpointed messages
    /// are answered as `batchItemFailures` and delivered again.
    pub async fn respond(
        &self,
        payload: &Value,
        identity: &AwsIdentity,
        deadline: Option<Deadline>,
    ) -> Result<Response, HandlerError> {
        match parse_event_value(payload)? {
            Event::Direct(parsed) => {
                let (summary, errors) = self.process_parsed(&parsed, identity, deadline.as_ref()).await;
                match errors.first() {
                    None => Ok(summary),
                    Some(first) => Err(HandlerError::Transient {
                        failed: errors.len(),
                        total: parsed.objects.len(),
                        first: first.to_string(),
                    }),
                }
            }
            Event::Sqs(messages) => {
                let mut response = SqsBatchResponse::default();
                let total = messages.len();
                for (i, m) in messages.iter().enumerate() {
                    let span = tracing::info_span!("sqs_message", message_id = %m.message_id);
                    let after = u32::try_from(total - i - 1).unwrap_or(u32::MAX);
                    let mine = deadline.map(|d| d.earlier_by(MESSAGE_RESERVE.saturating_mul(after)));
                    let failed = async {
                        if deadline.is_some_and(|d| d.near()) {
                            tracing::warn!("deadline near: message not started, delivered again later");
                            return true;
                        }
                        match &m.body {
                            Err(e) => {
                                tracing::error!(error = %e, "SQS message is not an S3 event: reported failed");
                                true
                            }
                            Ok(parsed) => !self.process_parsed(parsed, identity, mine.as_ref()).await.1.is_empty(),
                        }
                    }
                    .instrument(span)
                    .await;
                    if failed {
                        response.add_failure(m.message_id.as_str());
                    }
                }
                Ok(Response::Batch(response))
            }
        }
    }

    /// Processes every object of one notification; returns a summary and the transient errors.
    async fn process_parsed(
        &self,
        parsed: &Parsed,
        identity: &AwsIdentity,
        deadline: Option<&Deadline>,
    ) -> (Response, Vec<Transient>) {
        if parsed.test_event {
            tracing::info!(outcome = "test_event", "s3:TestEvent ignored");
            return (Response::TestEvent { test_event: true }, Vec::new());
        }
        for name in &parsed.ignored {
            tracing::debug!(event_name = %name, "event is not an object creation: ignored");
        }
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for obj in &parsed.objects {
            match self.process_one(obj, identity, deadline).await {
                Ok(o @ Outcome::Processed { pending: true, .. }) => {
                    results.push(outcome_json(obj, &o));
                    errors.push(Transient(format!(
                        "s3://{}/{}: the Security Hub import stopped at a checkpoint before the deadline; \
                         the next delivery continues it",
                        obj.bucket, obj.key
                    )));
                }
                Ok(o) => results.push(outcome_json(obj, &o)),
                Err(e) => {
                    results.push(json!({ "key": obj.key, "error": e.to_string() }));
                    errors.push(e);
                }
            }
        }
        (Response::Reports { reports: results }, errors)
    }

    async fn process_one(
        &self,
        obj: &ObjectRef,
        identity: &AwsIdentity,
        deadline: Option<&Deadline>,
    ) -> Result<Outcome, Transient> {
        // Each report ends in one log line whose `outcome` field (processed, skipped,
        // quarantined, failed) says which; `make demo` narrates from it.
        let span = tracing::info_span!("report", bucket = %obj.bucket, key = %obj.key);
        async {
            let started = std::time::Instant::now();
            // Boxed once per report: the whole processing future would otherwise be laid out
            // inline in the runtime's (and overflow the compiler's default query depth).
            let result = Box::pin(self.process_until(obj, identity, time::OffsetDateTime::now_utc(), deadline)).await;
            let duration_ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(Outcome::Processed { passed, metrics: m, stale, pending }) => {
                    tracing::info!(
                        outcome = "processed",
                        passed,
                        stale,
                        import_pending = pending,
                        findings = m.findings,
                        imported = m.imported,
                        archived = m.archived,
                        unchanged = m.unchanged,
                        failed = m.failed,
                        throttled_retries = m.throttled_retries,
                        duration_ms,
                        "report processed"
                    );
                    metrics::emit(m, FUNCTION_NAME);
                }
                Ok(Outcome::Skipped(reason)) => {
                    tracing::info!(outcome = "skipped", %reason, duration_ms, "object skipped")
                }
                Ok(Outcome::Quarantined { reason }) => {
                    tracing::warn!(outcome = "quarantined", %reason, duration_ms, "report quarantined");
                }
                Err(e) => {
                    tracing::error!(outcome = "failed", error = %e, duration_ms, "report failed; will be retried")
                }
            }
            result
        }
        .instrument(span)
        .await
    }
}

fn outcome_json(obj: &ObjectRef, o: &Outcome) -> Value {
    match o {
        Outcome::Skipped(reason) => json!({ "key": obj.key, "skipped": reason }),
        Outcome::Processed { passed, metrics, stale, pending } => json!({
            "key": obj.key, "passed": passed, "stale": stale, "import_pending": pending,
            "imported": metrics.imported, "archived": metrics.archived, "unchanged": metrics.unchanged,
            "failed": metrics.failed,
        }),
        Outcome::Quarantined { reason } => json!({ "key": obj.key, "quarantined": reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_the_json_lambda_gets() {
        let mut batch = SqsBatchResponse::default();
        batch.add_failure("m-1");
        let json = |r: &Response| serde_json::to_string(r).expect("serializes");
        assert_eq!(json(&Response::Batch(batch)), r#"{"batchItemFailures":[{"itemIdentifier":"m-1"}]}"#);
        assert_eq!(json(&Response::Batch(SqsBatchResponse::default())), r#"{"batchItemFailures":[]}"#);
        let reports = Response::Reports { reports: vec![json!({ "key": "scans/a.sarif", "skipped": "why" })] };
        assert_eq!(json(&reports), r#"{"reports":[{"key":"scans/a.sarif","skipped":"why"}]}"#);
        assert_eq!(json(&Response::TestEvent { test_event: true }), r#"{"test_event":true}"#);
    }
}

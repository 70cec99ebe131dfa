//! Security Hub finding sink: BatchImportFindings in batches of ≤ 100 findings and
//! ≤ 6 MB, through one process-wide token bucket, with jittered exponential backoff on
//! throttling and server errors, and every `FailedFindings` entry retried alone. What
//! still fails is returned with its id, code and message: nothing is dropped silently.
//!
//! Findings are sent as the ASFF JSON the core renders (the request body is written
//! from it directly), so nothing is lost converting to the SDK's typed structures.

use crate::ratelimit::{Backoff, TokenBucket};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Security Hub's limit on findings per BatchImportFindings call.
pub const MAX_FINDINGS_PER_CALL: usize = 100;
/// Security Hub's request size limit (6 MB); batches are packed below it.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// A finding Security Hub did not accept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FailedFinding {
    pub id: String,
    pub code: String,
    pub message: String,
}

impl FailedFinding {
    /// True when the failure is worth another delivery of the event (throttling, service or
    /// network errors); the rest are reported and kept.
    pub fn is_retryable(&self) -> bool {
        crate::retry::is_retryable_code(&self.code, &["=networkerror"])
    }
}

/// What one BatchImportFindings call answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportResponse {
    /// Entries of `FailedFindings`.
    pub failed: Vec<FailedFinding>,
}

/// Why a whole call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// ThrottlingException, TooManyRequestsException or HTTP 429: retried after backoff.
    #[error("throttled: {0}")]
    Throttled(String),
    /// 5xx, timeouts, connection errors: retried after backoff.
    #[error("transient error: {code}: {message}")]
    Transient { code: String, message: String },
    /// Anything else (access denied, invalid input): not retried.
    #[error("{code}: {message}")]
    Fatal { code: String, message: String },
}

/// One BatchImportFindings call. `body` is the complete request body,
/// `{"Findings":[…]}`, at most [`MAX_REQUEST_BYTES`].
pub trait BatchImporter: Send + Sync {
    fn import(&self, body: Bytes, count: usize) -> impl Future<Output = Result<ImportResponse, CallError>> + Send;
}

/// How the sink batches, paces and retries.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub max_findings_per_call: usize,
    pub max_request_bytes: usize,
    /// Calls in flight at once (the token bucket still bounds the rate).
    pub concurrency: usize,
    /// Attempts per batch, the first included.
    pub max_attempts: u32,
    /// No retry starts after this much time since the import began.
    pub max_elapsed: Duration,
    pub backoff: Backoff,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            max_findings_per_call: MAX_FINDINGS_PER_CALL,
            max_request_bytes: MAX_REQUEST_BYTES,
            concurrency: 4,
            max_attempts: 10,
            max_elapsed: Duration::from_secs(300),
            backoff: Backoff::default(),
        }
    }
}

/// The result of importing a set of findings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Findings Security Hub accepted.
    pub imported: usize,
    /// Findings it did not accept after every retry (or that could never be sent).
    pub failed: Vec<FailedFinding>,
    /// BatchImportFindings calls made.
    pub calls: u64,
    /// Retries after throttling (the metric `ThrottledRetries`).
    pub throttled_retries: u64,
    /// Retries after server errors or of `FailedFindings` entries.
    pub other_retries: u64,
}

impl ImportOutcome {
    fn merge(&mut self, other: ImportOutcome) {
        self.imported += other.imported;
        self.failed.extend(other.failed);
        self.calls += other.calls;
        self.throttled_retries += other.throttled_retries;
        self.other_retries += other.other_retries;
    }
}

/// Anything that imports findings; the processor is generic over it.
pub trait FindingSink: Send + Sync {
    /// Imports findings, each given as its ASFF JSON. Never fails as a whole: what could
    /// not be imported is in [`ImportOutcome::failed`].
    fn import(&self, findings: Vec<serde_json::Value>) -> impl Future<Output = ImportOutcome> + Send;
}

/// A finding serialized once: its id and bytes.
struct Encoded {
    id: String,
    json: Vec<u8>,
}

const BODY_PREFIX: &[u8] = br#"{"Findings":["#;
const BODY_SUFFIX: &[u8] = b"]}";

fn body_of(batch: &[Encoded]) -> Bytes {
    let len = BODY_PREFIX.len() + BODY_SUFFIX.len() + batch.iter().map(|e| e.json.len() + 1).sum::<usize>();
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(BODY_PREFIX);
    for (i, e) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&e.json);
    }
    body.extend_from_slice(BODY_SUFFIX);
    Bytes::from(body)
}

/// Packs findings into batches of ≤ `max_count` findings and ≤ `max_bytes` of request
/// body; a finding too big for any request is returned apart.
fn pack(findings: Vec<Encoded>, max_count: usize, max_bytes: usize) -> (Vec<Vec<Encoded>>, Vec<Encoded>) {
    let overhead = BODY_PREFIX.len() + BODY_SUFFIX.len();
    let max_count = max_count.max(1);
    let mut batches = Vec::new();
    let mut too_big = Vec::new();
    let mut current: Vec<Encoded> = Vec::new();
    let mut size = overhead;
    for e in findings {
        if overhead + e.json.len() > max_bytes {
            too_big.push(e);
            continue;
        }
        let added = e.json.len() + usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() >= max_count || size + added > max_bytes) {
            batches.push(std::mem::take(&mut current));
            size = overhead;
        }
        size += e.json.len() + usize::from(!current.is_empty());
        current.push(e);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, too_big)
}

/// The Security Hub sink: batching, pacing and retries over a [`BatchImporter`].
#[derive(Debug)]
pub struct Sink<I> {
    importer: I,
    bucket: Arc<TokenBucket>,
    config: SinkConfig,
}

impl<I: BatchImporter> Sink<I> {
    /// `bucket` is shared by every sink of the process (BatchImportFindings' limit is per account and region).
    pub fn new(importer: I, bucket: Arc<TokenBucket>, config: SinkConfig) -> Sink<I> {
        Sink { importer, bucket, config }
    }

    pub fn importer(&self) -> &I {
        &self.importer
    }

    /// Imports the findings (ASFF JSON objects with an `Id`).
    pub async fn import_findings(&self, findings: Vec<serde_json::Value>) -> ImportOutcome {
        let mut outcome = ImportOutcome::default();
        let mut encoded = Vec::with_capacity(findings.len());
        for f in findings {
            let id = f.get("Id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
            match serde_json::to_vec(&f) {
                Ok(json) => encoded.push(Encoded { id, json }),
                Err(e) => outcome.failed.push(FailedFinding {
                    id,
                    code: "SerializationFailed".into(),
                    message: e.to_string(),
                }),
            }
        }
        let (batches, too_big) = pack(encoded, self.config.max_findings_per_call, self.config.max_request_bytes);
        for e in too_big {
            outcome.failed.push(FailedFinding {
                message: format!(
                    "the finding is {} bytes serialized, more than a {}-byte request can carry",
                    e.json.len(),
                    self.config.max_request_bytes
                ),
                id: e.id,
                code: "FindingTooLarge".into(),
            });
        }
        let started = Instant::now();
        let queue = Mutex::new(VecDeque::from(batches));
        let workers = (0..self.config.concurrency.max(1)).map(|_| self.worker(&queue, started));
        for o in futures_util::future::join_all(workers).await {
            outcome.merge(o);
        }
        outcome
    }

    async fn worker(&self, queue: &Mutex<VecDeque<Vec<Encoded>>>, started: Instant) -> ImportOutcome {
        let mut outcome = ImportOutcome::default();
        loop {
            let Some(batch) = queue.lock().await.pop_front() else {
                return outcome;
            };
            outcome.merge(self.send_batch(batch, started).await);
        }
    }

    /// Sends one batch until every finding is accepted or its attempts run out.
    async fn send_batch(&self, mut batch: Vec<Encoded>, started: Instant) -> ImportOutcome {
        let mut outcome = ImportOutcome::default();
        let mut attempt: u32 = 0;
        loop {
            self.bucket.acquire().await;
            outcome.calls += 1;
            attempt += 1;
            let can_retry = attempt < self.config.max_attempts && started.elapsed() < self.config.max_elapsed;
            let result = self.importer.import(body_of(&batch), batch.len()).await;
            let (retry_all_code, retry_all_message) = match result {
                Ok(resp) => {
                    if resp.failed.is_empty() {
                        outcome.imported += batch.len();
                        return outcome;
                    }
                    let failed_ids: std::collections::HashMap<&str, &FailedFinding> =
                        resp.failed.iter().map(|f| (f.id.as_str(), f)).collect();
                    let (failed, accepted): (Vec<Encoded>, Vec<Encoded>) =
                        batch.into_iter().partition(|e| failed_ids.contains_key(e.id.as_str()));
                    outcome.imported += accepted.len();
                    if !can_retry || failed.is_empty() {
                        for e in &failed {
                            if let Some(f) = failed_ids.get(e.id.as_str()) {
                                outcome.failed.push((*f).clone());
                            }
                        }
                        return outcome;
                    }
                    tracing::debug!(count = failed.len(), attempt, "retrying FailedFindings entries");
                    outcome.other_retries += 1;
                    batch = failed;
                    tokio::time::sleep(self.config.backoff.delay(attempt - 1)).await;
                    continue;
                }
                Err(CallError::Throttled(message)) => {
                    if can_retry {
                        outcome.throttled_retries += 1;
                        tokio::time::sleep(self.config.backoff.delay(attempt - 1)).await;
                        continue;
                    }
                    ("ThrottlingException".to_string(), message)
                }
                Err(CallError::Transient { code, message }) => {
                    if can_retry {
                        outcome.other_retries += 1;
                        tokio::time::sleep(self.config.backoff.delay(attempt - 1)).await;
                        continue;
                    }
                    (code, message)
                }
                Err(CallError::Fatal { code, message }) => (code, message),
            };
            tracing::warn!(count = batch.len(), attempt, code = %retry_all_code, "BatchImportFindings failed");
            for e in batch {
                outcome.failed.push(FailedFinding {
                    id: e.id,
                    code: retry_all_code.clone(),
                    message: retry_all_message.clone(),
                });
            }
            return outcome;
        }
    }
}

impl<I: BatchImporter> FindingSink for Sink<I> {
    fn import(&self, findings: Vec<serde_json::Value>) -> impl Future<Output = ImportOutcome> + Send {
        self.import_findings(findings)
    }
}

/// The real BatchImportFindings through the SDK client.
#[derive(Clone, Debug)]
pub struct SecurityHubImporter {
    client: aws_sdk_securityhub::Client,
}

impl SecurityHubImporter {
    /// Use a client built with retries disabled ([`crate::clients::Clients`] does): the sink retries.
    pub fn new(client: aws_sdk_securityhub::Client) -> SecurityHubImporter {
        SecurityHubImporter { client }
    }
}

impl BatchImporter for SecurityHubImporter {
    fn import(&self, body: Bytes, _count: usize) -> impl Future<Output = Result<ImportResponse, CallError>> + Send {
        let client = self.client.clone();
        async move {
            let len = body.len().to_string();
            let result = client
                .batch_import_findings()
                .set_findings(Some(Vec::new()))
                .customize()
                .mutate_request(move |req| {
                    *req.body_mut() = aws_smithy_types::body::SdkBody::from(body.clone());
                    req.headers_mut().insert("content-length", len.clone());
                })
                .send()
                .await;
            match result {
                Ok(out) => Ok(ImportResponse {
                    failed: out
                        .failed_findings()
                        .iter()
                        .map(|f| FailedFinding {
                            id: f.id().unwrap_or_default().to_string(),
                            code: f.error_code().unwrap_or("Unknown").to_string(),
                            message: f.error_message().unwrap_or_default().to_string(),
                        })
                        .collect(),
                }),
                Err(err) => Err(classify(&err)),
            }
        }
    }
}

/// Sorts an SDK error into throttled, transient or fatal.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = DisplayErrorContext(err).to_string();
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_string();
            let status = service.raw().status().as_u16();
            if matches!(code.as_str(), "ThrottlingException" | "TooManyRequestsException" | "Throttling")
                || status == 429
            {
                CallError::Throttled(message)
            } else if status >= 500 {
                CallError::Transient { code, message }
            } else {
                CallError::Fatal { code, message }
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            CallError::Transient { code: "NetworkError".into(), message }
        }
        _ => CallError::Fatal { code: "ClientError".into(), message },
    }
}

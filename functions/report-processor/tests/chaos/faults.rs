//! Test-only fault injection around the real adapters (moto behind them).
//!
//! * [`FaultyImporter`] wraps a Security Hub [`BatchImporter`]: it can answer whole calls
//!   with throttling (the [`Sink`](scangate_aws::securityhub::Sink) retries them) and
//!   answer chosen findings with `FailedFindings` entries (those findings are removed
//!   from the request before it reaches moto, so Security Hub really does not get them).
//! * [`FaultyStore`] wraps a [`ReportStore`]: it can answer the state object's
//!   conditional PUTs (the write-ahead one before the import, the final one after it)
//!   with 412 (nothing written), and "crash" at the final one: the PUT fails as a 5xx
//!   would, after the Security Hub import already happened, so the event is retried.
//!
//! The plans are shared (`Arc<Mutex<…>>`) so a scenario can change them between steps.

use crate::common::lock;
use bytes::Bytes;
use report_processor::process::IN_FLIGHT;
use scangate_aws::s3::{PutOptions, PutResult, ReportStore, StoreError};
use scangate_aws::securityhub::{BatchImporter, CallError, FailedFinding, ImportResponse};
use scangate_core::lifecycle::state::LifecycleState;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Findings to answer with a `FailedFindings` entry: every finding whose ASFF JSON
/// contains all `markers`, the next `remaining` times it is sent.
#[derive(Clone, Debug)]
pub(crate) struct FailRule {
    pub markers: Vec<String>,
    pub code: String,
    pub remaining: u32,
}

impl FailRule {
    pub(crate) fn new(markers: &[&str], code: &str, remaining: u32) -> FailRule {
        FailRule { markers: markers.iter().map(|s| s.to_string()).collect(), code: code.into(), remaining }
    }
}

/// What the importer does wrong, and what it did.
#[derive(Debug, Default)]
pub(crate) struct HubPlan {
    /// The next this-many calls answer ThrottlingException (nothing imported).
    pub throttle_next: u32,
    /// Every call whose body contains this marker answers ThrottlingException, this many times.
    pub throttle_marked: Option<(String, u32)>,
    pub fail: Vec<FailRule>,
    // Counters.
    pub calls: u64,
    pub throttled: u64,
    pub failed_entries: u64,
}

/// A [`BatchImporter`] that misbehaves as its plan says, else forwards to `inner`.
pub(crate) struct FaultyImporter<I> {
    pub inner: I,
    pub plan: Arc<Mutex<HubPlan>>,
}

impl<I: BatchImporter> BatchImporter for FaultyImporter<I> {
    async fn import(&self, body: Bytes, count: usize) -> Result<ImportResponse, CallError> {
        let mut injected = Vec::new();
        let forward = {
            let mut plan = lock(&self.plan);
            plan.calls += 1;
            if plan.throttle_next > 0 {
                plan.throttle_next -= 1;
                plan.throttled += 1;
                return Err(CallError::Throttled("ThrottlingException: Rate exceeded (injected)".into()));
            }
            if let Some((marker, left)) = plan.throttle_marked.as_mut() {
                if *left > 0 && memmem(&body, marker.as_bytes()) {
                    *left -= 1;
                    plan.throttled += 1;
                    return Err(CallError::Throttled("ThrottlingException: Rate exceeded (injected)".into()));
                }
            }
            if plan.fail.iter().all(|r| r.remaining == 0) {
                None
            } else {
                // The sink writes `{"Findings":[…]}`; a body that is not that goes through untouched.
                let parsed: Option<Vec<Value>> = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|mut v| v.get_mut("Findings").map(Value::take))
                    .and_then(|f| serde_json::from_value(f).ok());
                match parsed {
                    None => None,
                    Some(findings) => {
                        let mut kept = Vec::with_capacity(findings.len());
                        for f in findings {
                            let text = f.to_string();
                            let rule = plan
                                .fail
                                .iter_mut()
                                .find(|r| r.remaining > 0 && r.markers.iter().all(|m| text.contains(m.as_str())));
                            match rule {
                                Some(r) => {
                                    r.remaining -= 1;
                                    injected.push(FailedFinding {
                                        id: f.get("Id").and_then(Value::as_str).unwrap_or_default().to_string(),
                                        code: r.code.clone(),
                                        message: format!("{} (injected)", r.code),
                                    });
                                }
                                None => kept.push(f),
                            }
                        }
                        plan.failed_entries += injected.len() as u64;
                        Some(kept)
                    }
                }
            }
        };
        match forward {
            None => self.inner.import(body, count).await,
            Some(kept) if kept.is_empty() => Ok(ImportResponse { failed: injected }),
            Some(kept) => {
                let n = kept.len();
                let body = serde_json::to_vec(&serde_json::json!({ "Findings": kept }))
                    .map_err(|e| CallError::Fatal { code: "Test".into(), message: e.to_string() })?;
                let mut resp = self.inner.import(Bytes::from(body), n).await?;
                resp.failed.extend(injected);
                Ok(resp)
            }
        }
    }
}

fn memmem(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// What the store does wrong with state objects, and what it did.
#[derive(Debug, Default)]
pub(crate) struct StorePlan {
    /// The report being processed (the test sets it before each delivery).
    pub current: String,
    /// For each report, its first this-many state PUTs (write-ahead or final) answer 412.
    pub precondition_failures_per_report: u32,
    /// The final state PUT (after the import) of this report fails as a 5xx would, this
    /// many times: Security Hub already changed, the state is not written.
    pub crash_on: HashMap<String, u32>,
    // Counters.
    pub state_puts: u64,
    pub preconditions: u64,
    pub crashes: u64,
    seen: HashMap<String, u32>,
}

/// A [`ReportStore`] that misbehaves on state PUTs as its plan says.
pub(crate) struct FaultyStore<S> {
    pub inner: S,
    pub plan: Arc<Mutex<StorePlan>>,
}

impl<S: ReportStore> ReportStore for FaultyStore<S> {
    forward_report_store!(head, get_bytes, read_with, copy);

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, options: &PutOptions) -> Result<PutResult, StoreError> {
        if key.starts_with("state/") {
            let mut plan = lock(&self.plan);
            let current = plan.current.clone();
            // The final write records the current report as applied and nothing in flight.
            let is_final = LifecycleState::from_json(&body, key).is_ok_and(|s| {
                s.applied.is_some_and(|a| a.key == current) && s.entries.values().all(|e| e.content_hash != IN_FLIGHT)
            });
            plan.state_puts += 1;
            let limit = plan.precondition_failures_per_report;
            let seen = plan.seen.entry(current.clone()).or_insert(0);
            if *seen < limit {
                *seen += 1;
                plan.preconditions += 1;
                return Err(StoreError::PreconditionFailed {
                    bucket: bucket.into(),
                    key: key.into(),
                    operation: "PutObject",
                });
            }
            if let Some(left) = plan.crash_on.get_mut(&current).filter(|n| is_final && **n > 0) {
                *left -= 1;
                plan.crashes += 1;
                return Err(StoreError::Service {
                    bucket: bucket.into(),
                    key: key.into(),
                    operation: "PutObject",
                    code: "InternalError".into(),
                    message: "the function crashed before the state write (injected)".into(),
                    transient: true,
                });
            }
        }
        self.inner.put(bucket, key, body, options).await
    }
}

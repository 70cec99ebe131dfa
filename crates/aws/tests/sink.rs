//! The Security Hub sink against fake importers: throttling, FailedFindings, batch limits.

use bytes::Bytes;
use scangate_aws::ratelimit::{Backoff, TokenBucket};
use scangate_aws::securityhub::{
    BatchImporter, CallError, FailedFinding, ImportResponse, Sink, SinkConfig, MAX_FINDINGS_PER_CALL, MAX_REQUEST_BYTES,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records what it received; throttles every other call and fails some entries once.
#[derive(Default)]
struct Flaky {
    calls: Mutex<u64>,
    /// Accepted ids → times accepted.
    accepted: Mutex<HashMap<String, u32>>,
    /// Ids already failed once.
    failed_once: Mutex<std::collections::HashSet<String>>,
    body_sizes: Mutex<Vec<(usize, usize)>>,
    /// Ids that always fail.
    always_fail: Vec<String>,
}

fn ids_of(body: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(body).expect("request body is JSON");
    v["Findings"]
        .as_array()
        .expect("Findings array")
        .iter()
        .map(|f| f["Id"].as_str().expect("Id").to_string())
        .collect()
}

impl BatchImporter for Flaky {
    async fn import(&self, body: Bytes, count: usize) -> Result<ImportResponse, CallError> {
        let n = {
            let mut c = self.calls.lock().expect("lock");
            *c += 1;
            *c
        };
        self.body_sizes.lock().expect("lock").push((body.len(), count));
        let ids = ids_of(&body);
        assert_eq!(ids.len(), count, "count matches the body");
        if n % 2 == 0 {
            return Err(CallError::Throttled("Rate exceeded".into()));
        }
        let mut failed = Vec::new();
        for id in ids {
            let hash = id.bytes().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
            let fail_now = self.always_fail.contains(&id)
                || (hash % 4 == 0 && self.failed_once.lock().expect("lock").insert(id.clone()));
            if fail_now {
                failed.push(FailedFinding { id, code: "InternalException".into(), message: "try again".into() });
            } else {
                *self.accepted.lock().expect("lock").entry(id).or_default() += 1;
            }
        }
        Ok(ImportResponse { failed })
    }
}

fn finding(i: usize, pad: usize) -> Value {
    json!({ "Id": format!("scangate/test/{i:05}"), "Title": "t", "Description": "x".repeat(pad) })
}

fn fast_config() -> SinkConfig {
    SinkConfig {
        backoff: Backoff { base: Duration::from_millis(1), cap: Duration::from_millis(20) },
        max_attempts: 12,
        ..SinkConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn half_throttled_and_failed_entries_lose_nothing() {
    let importer = Flaky::default();
    let sink = Sink::new(importer, Arc::new(TokenBucket::new(10.0, 30)), fast_config());
    let findings: Vec<Value> = (0..1000).map(|i| finding(i, 10)).collect();
    let outcome = sink.import_findings(findings).await;
    assert_eq!(outcome.imported, 1000, "{outcome:?}");
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert!(outcome.throttled_retries >= 5, "every other call was throttled: {outcome:?}");
    assert!(outcome.other_retries > 0, "FailedFindings entries were retried: {outcome:?}");
    let accepted = sink.importer().accepted.lock().expect("lock");
    assert_eq!(accepted.len(), 1000, "every finding reached Security Hub");
    assert!(accepted.values().all(|n| *n == 1), "accepted findings are not sent again");
    for (_, count) in sink.importer().body_sizes.lock().expect("lock").iter() {
        assert!(*count <= MAX_FINDINGS_PER_CALL);
    }
}

#[tokio::test(start_paused = true)]
async fn findings_that_keep_failing_are_reported_with_id_and_error() {
    let importer = Flaky { always_fail: vec!["scangate/test/00007".into()], ..Flaky::default() };
    let config = SinkConfig { max_attempts: 4, ..fast_config() };
    let sink = Sink::new(importer, Arc::new(TokenBucket::new(10.0, 30)), config);
    let outcome = sink.import_findings((0..50).map(|i| finding(i, 0)).collect()).await;
    assert_eq!(outcome.imported + outcome.failed.len(), 50, "{outcome:?}");
    // The last attempt for it may have been the entry failing or the call being throttled.
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    let f = &outcome.failed[0];
    assert_eq!(f.id, "scangate/test/00007");
    assert!(f.code == "InternalException" || f.code == "ThrottlingException", "{f:?}");
    assert!(!f.message.is_empty());
}

#[tokio::test(start_paused = true)]
async fn large_findings_respect_the_request_size_limit() {
    #[derive(Default)]
    struct Sizes(Mutex<Vec<(usize, usize)>>);
    impl BatchImporter for Sizes {
        async fn import(&self, body: Bytes, count: usize) -> Result<ImportResponse, CallError> {
            self.0.lock().expect("lock").push((body.len(), count));
            assert_eq!(ids_of(&body).len(), count);
            Ok(ImportResponse::default())
        }
    }
    // 240 KB findings: at most 25 fit in 6 MB, so batches are cut by size, not count.
    let sink = Sink::new(Sizes::default(), Arc::new(TokenBucket::new(1000.0, 1000)), SinkConfig::default());
    let findings: Vec<Value> = (0..120).map(|i| finding(i, 240 * 1024 - 100)).collect();
    let outcome = sink.import_findings(findings).await;
    assert_eq!(outcome.imported, 120);
    let sizes = sink.importer().0.lock().expect("lock").clone();
    assert!(sizes.iter().all(|(bytes, _)| *bytes <= MAX_REQUEST_BYTES), "{sizes:?}");
    assert!(sizes.iter().all(|(_, n)| *n <= 25), "{sizes:?}");
    assert_eq!(sizes.iter().map(|(_, n)| n).sum::<usize>(), 120);
    assert_eq!(sizes.len(), 5, "120 findings of 240 KB pack into 5 requests: {sizes:?}");
    // And a single finding above the request limit is reported, not dropped.
    let outcome = sink.import_findings(vec![finding(1, MAX_REQUEST_BYTES)]).await;
    assert_eq!(outcome.imported, 0);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].code, "FindingTooLarge");
}

#[tokio::test(start_paused = true)]
async fn fatal_errors_fail_the_batch_without_retry() {
    struct Denied(Mutex<u32>);
    impl BatchImporter for Denied {
        async fn import(&self, _body: Bytes, _count: usize) -> Result<ImportResponse, CallError> {
            *self.0.lock().expect("lock") += 1;
            Err(CallError::Fatal { code: "AccessDeniedException".into(), message: "no".into() })
        }
    }
    let sink = Sink::new(Denied(Mutex::new(0)), Arc::new(TokenBucket::new(10.0, 30)), fast_config());
    let outcome = sink.import_findings((0..150).map(|i| finding(i, 0)).collect()).await;
    assert_eq!(outcome.failed.len(), 150);
    assert!(outcome.failed.iter().all(|f| f.code == "AccessDeniedException"));
    assert_eq!(*sink.importer().0.lock().expect("lock"), 2, "two batches, one call each");
}

#[tokio::test(start_paused = true)]
async fn persistent_throttling_gives_up_within_bounds_and_reports() {
    struct Throttled;
    impl BatchImporter for Throttled {
        async fn import(&self, _body: Bytes, _count: usize) -> Result<ImportResponse, CallError> {
            Err(CallError::Throttled("slow down".into()))
        }
    }
    let config = SinkConfig { max_attempts: 5, ..fast_config() };
    let sink = Sink::new(Throttled, Arc::new(TokenBucket::new(10.0, 30)), config);
    let outcome = sink.import_findings((0..10).map(|i| finding(i, 0)).collect()).await;
    assert_eq!(outcome.calls, 5);
    assert_eq!(outcome.throttled_retries, 4);
    assert_eq!(outcome.failed.len(), 10);
    assert!(outcome.failed.iter().all(|f| f.code == "ThrottlingException"));
}

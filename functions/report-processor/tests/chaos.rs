//! Chaos suite: the report processor against moto (S3 + Security Hub) with
//! duplicate, reordered and late events, Security Hub throttling and partial failures,
//! 412 on the state object and a crash between the import and the state write. Each
//! scenario's end state is compared with the clean run's (every report delivered once,
//! in order, nothing failing).
//!
//! End state ([`EndState`]): every Security Hub finding (GetFindings, raw JSON, without
//! its timestamps), every state object (applied report, id → content hash) and every
//! report's verdict.json (without `processed_at`, the time of the delivery that applied
//! the report; `findings_imported` and `findings_archived` are the report's, whatever was
//! delivered again, and compared where the order of application is the clean run's;
//! warnings are kept, except the "newer report already applied" note a late delivery adds).
//!
//! What "equal" means:
//! * in-order delivery with faults (duplicates right after, throttling, partial
//!   failures that are retried, 412, crash + redelivery): the whole end state equals the
//!   clean run's ([`assert_same`]);
//! * reordered or late delivery (also a crashed report redelivered after newer ones):
//!   the state objects, the verdicts (counts aside: they depend on the order reports
//!   were applied in; a never-applied report counts 0) and the ACTIVE findings (content without
//!   report-specific fields) equal the clean run's, and the only other
//!   findings are ARCHIVED ones the clean run archived too: an intermediate report that
//!   arrives after a newer one is never applied, so what only it would have imported
//!   (then archived) never reaches Security Hub ([`assert_converged`]);
//! * non-retryable `FailedFindings` (InvalidInput): the finding is named in the verdict's
//!   warnings, kept out of the state (so the next report retries it) and the rest of the
//!   end state equals the clean run's minus that finding (see the scenario).
//!
//! Always: per lifecycle, the ACTIVE findings in Security Hub are exactly the state's
//! entries (no orphan that no later report would archive), see [`check_invariants`].
//!
//! `now` is fixed per report (its scan time + 5 min), so runs are comparable.

#[macro_use]
mod common;
#[path = "chaos/faults.rs"]
mod faults;

use common::{block_on, identity, lock, qscanner_sarif, Vuln, V1, V2, V3, V4};
use faults::{FailRule, FaultyImporter, FaultyStore, HubPlan, StorePlan};
use report_processor::config::Config;
use report_processor::process::{Outcome, Processor, IN_FLIGHT};
use scangate_aws::clients::Clients;
use scangate_aws::ratelimit::{Backoff, TokenBucket};
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink, SinkConfig};
use scangate_core::events::ObjectRef;
use scangate_core::lifecycle::state::LifecycleState;
use scangate_testkit::{Moto, PooledMoto, REGION};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const BUCKET: &str = "chaos-reports";
const APP: &str = "registry.example/chaos/app";
const API: &str = "registry.example/chaos/api";
const STALE_NOTE: &str = "a newer report of the same target was already applied";
/// Attempts per batch in the sink: small, so "beyond the sink's retries" is cheap.
const SINK_ATTEMPTS: u32 = 4;

// ---------------------------------------------------------------------------------
// The scenario: two targets, seven QScanner-shaped reports.

// V1..V4 (and `Vuln`) are in tests/common.
const V5: Vuln = (375478, "CVE-2026-0005", "libxml2", "2.9.13", "2.9.14", 3);
const V6: Vuln = (375479, "CVE-2026-0006", "busybox", "1.35.0", "1.36.1", 1);

fn sev(v: Vuln, s: u8) -> Vuln {
    (v.0, v.1, v.2, v.3, v.4, s)
}

struct Report {
    key: &'static str,
    repo: &'static str,
    at: &'static str,
    vulns: Vec<Vuln>,
}

impl Report {
    /// The scanned image. app is rescanned under one tag (a nightly rescan of
    /// `:stable`), so its unchanged findings are skipped; api's tag is the build id, and
    /// the tag is part of a finding's content (its resource), so every api report
    /// re-imports what it has.
    fn image(&self) -> String {
        if self.repo == APP {
            format!("{APP}:stable")
        } else {
            format!("{}:{}", self.repo, self.key.split('/').nth(2).unwrap_or("latest"))
        }
    }

    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::parse(self.at, &time::format_description::well_known::Rfc3339)
            .expect("scenario times are RFC 3339")
            + time::Duration::minutes(5)
    }
}

// Indices into `reports()`, in clean (scan time) order.
const A1: usize = 0;
const B1: usize = 1;
const A2: usize = 2;
const B2: usize = 3;
const A3: usize = 4;
const B3: usize = 5;
const A4: usize = 6;
const CLEAN_ORDER: [usize; 7] = [A1, B1, A2, B2, A3, B3, A4];

/// app: V1..V3, then V2 turns critical and V4 appears (only in A2), then V1, V3 and V4
/// are fixed and V5 appears, then V2 is high again, V3 is back (same content) and V6 appears.
/// api: V1 + V4, then V1 fixed and V6 new, then V4 turns medium.
fn reports() -> Vec<Report> {
    vec![
        Report { key: "scans/app/a-1/report.sarif", repo: APP, at: "2026-11-23T08:00:00Z", vulns: vec![V1, V2, V3] },
        Report { key: "scans/api/b-1/report.sarif", repo: API, at: "2026-11-23T08:30:00Z", vulns: vec![V1, V4] },
        Report {
            key: "scans/app/a-2/report.sarif",
            repo: APP,
            at: "2026-11-23T09:00:00Z",
            vulns: vec![V1, sev(V2, 5), V3, V4],
        },
        Report { key: "scans/api/b-2/report.sarif", repo: API, at: "2026-11-23T09:30:00Z", vulns: vec![V4, V6] },
        Report {
            key: "scans/app/a-3/report.sarif",
            repo: APP,
            at: "2026-11-23T10:00:00Z",
            vulns: vec![sev(V2, 5), V5],
        },
        Report {
            key: "scans/api/b-3/report.sarif",
            repo: API,
            at: "2026-11-23T10:30:00Z",
            vulns: vec![sev(V4, 3), V6],
        },
        Report {
            key: "scans/app/a-4/report.sarif",
            repo: APP,
            at: "2026-11-23T11:00:00Z",
            vulns: vec![V2, V3, V5, V6],
        },
    ]
}

// ---------------------------------------------------------------------------------
// The world: one moto server, the processor with fault wrappers around the real adapters.

type ChaosProcessor = Processor<FaultyStore<S3Store>, Sink<FaultyImporter<SecurityHubImporter>>>;

struct World {
    moto: PooledMoto,
    clients: Clients,
    reports: Vec<Report>,
    hub: Arc<Mutex<HubPlan>>,
    store: Arc<Mutex<StorePlan>>,
    processor: ChaosProcessor,
}

/// How a failed delivery comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    /// Right away (Lambda's retry of a direct invocation, or SQS with nothing else queued).
    Immediately,
    /// After everything already queued (SQS after the visibility timeout, with newer
    /// reports arriving meanwhile).
    Requeue,
}

/// What a run's deliveries did.
#[derive(Debug, Default)]
struct Log {
    deliveries: usize,
    /// (report index, error) of each failed delivery.
    failures: Vec<(usize, String)>,
    /// Report indices whose delivery was ignored as older than the applied report.
    stale: Vec<usize>,
    /// Every delivery in order: (report index, succeeded, ignored as stale).
    attempts: Vec<(usize, bool, bool)>,
}

impl World {
    async fn new() -> World {
        // A server of its own (the same bucket and finding ids in every test), reused
        // across tests: a start costs more than a reset.
        let moto = Moto::pooled();
        let clients = Clients::new(&moto.sdk_config().await);
        let hub = Arc::new(Mutex::new(HubPlan::default()));
        let store = Arc::new(Mutex::new(StorePlan::default()));
        let sink = Sink::new(
            FaultyImporter { inner: SecurityHubImporter::new(clients.securityhub.clone()), plan: hub.clone() },
            Arc::new(TokenBucket::new(1000.0, 1000)),
            SinkConfig {
                concurrency: 1,
                max_attempts: SINK_ATTEMPTS,
                backoff: Backoff { base: Duration::from_millis(1), cap: Duration::from_millis(4) },
                ..SinkConfig::default()
            },
        );
        let processor = Processor::new(
            Config { uploader_principal_ids: common::uploaders(), ..Config::default() },
            FaultyStore { inner: S3Store::new(clients.s3.clone(), None), plan: store.clone() },
            Some(sink),
        );
        let w = World { moto, clients, reports: reports(), hub, store, processor };
        w.setup().await;
        w
    }

    /// Empties moto, resets the fault plans and uploads the reports again.
    async fn reset(&self) {
        self.moto.reset();
        *lock(&self.hub) = HubPlan::default();
        *lock(&self.store) = StorePlan::default();
        self.setup().await;
    }

    async fn setup(&self) {
        self.clients.s3.create_bucket().bucket(BUCKET).send().await.expect("create bucket");
        for r in &self.reports {
            let image = r.image();
            self.clients
                .s3
                .put_object()
                .bucket(BUCKET)
                .key(r.key)
                .body(qscanner_sarif(&image, &r.vulns).into())
                .metadata("scangate-target", &image)
                .metadata("scangate-scan-type", "image")
                .metadata("scangate-scanned-at", r.at)
                .send()
                .await
                .expect("upload report");
        }
    }

    /// One delivery of report `i`'s creation event.
    async fn deliver(&self, i: usize) -> Result<Outcome, String> {
        let r = &self.reports[i];
        lock(&self.store).current = r.key.to_string();
        let obj = common::by_writer(ObjectRef::put(BUCKET, r.key));
        self.processor.process(&obj, &identity(), r.now()).await.map_err(|e| e.to_string())
    }

    /// Delivers the events in `order`; failed deliveries come back as `retry` says.
    async fn run(&self, order: &[usize], retry: Retry) -> Log {
        let mut queue: VecDeque<usize> = order.iter().copied().collect();
        let mut log = Log::default();
        while let Some(i) = queue.pop_front() {
            log.deliveries += 1;
            assert!(log.deliveries <= 10 * order.len() + 20, "deliveries never settle: {log:?}");
            match self.deliver(i).await {
                Ok(Outcome::Processed { stale, .. }) => {
                    log.attempts.push((i, true, stale));
                    if stale {
                        log.stale.push(i);
                    }
                }
                Ok(other) => panic!("report {} was not processed: {other:?}", self.reports[i].key),
                Err(e) => {
                    log.attempts.push((i, false, false));
                    log.failures.push((i, e));
                    match retry {
                        Retry::Immediately => queue.push_front(i),
                        Retry::Requeue => queue.push_back(i),
                    }
                }
            }
        }
        log
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.clients.s3.get_object().bucket(BUCKET).key(key).send().await {
            Ok(out) => Some(out.body.collect().await.expect("read body").into_bytes().to_vec()),
            Err(_) => None,
        }
    }

    /// Every Security Hub finding, raw (GetFindings over HTTP: no SDK deserializer).
    fn hub_findings(&self) -> Vec<Value> {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/securityhub/aws4_request, SignedHeaders=host, Signature=00"
        );
        let headers = [("Content-Type", "application/json"), ("Authorization", auth.as_str())];
        let (status, body) =
            self.moto.http("POST", "/findings", &headers, br#"{"MaxResults": 100}"#).expect("GetFindings");
        assert_eq!(status, 200, "GetFindings: {body}");
        let page: Value = serde_json::from_str(&body).expect("GetFindings answers JSON");
        assert!(
            page.get("NextToken").and_then(Value::as_str).is_none_or(str::is_empty),
            "more than 100 findings: the scenario is small"
        );
        page["Findings"].as_array().cloned().unwrap_or_default()
    }

    async fn end_state(&self) -> EndState {
        let mut end = EndState::default();
        for mut f in self.hub_findings() {
            let id = f["Id"].as_str().expect("finding Id").to_string();
            if let Some(o) = f.as_object_mut() {
                for volatile in VOLATILE_FINDING_FIELDS {
                    o.remove(*volatile);
                }
            }
            end.hub.insert(id, f);
        }
        let listed = self.clients.s3.list_objects_v2().bucket(BUCKET).prefix("state/").send().await.expect("list");
        for o in listed.contents() {
            let key = o.key().expect("listed key").to_string();
            let bytes = self.get(&key).await.expect("state object readable");
            let s = LifecycleState::from_json(&bytes, &key).expect("state parses");
            end.states.insert(
                key,
                StateView {
                    applied: s.applied.map(|a| a.key),
                    entries: s
                        .entries
                        .into_iter()
                        .map(|(id, e)| (id.to_string(), e.content_hash.to_string()))
                        .collect(),
                },
            );
        }
        for r in &self.reports {
            let vkey = r.key.replace("scans/", "results/").replace("/report.sarif", "/verdict.json");
            let Some(bytes) = self.get(&vkey).await else { continue };
            let mut v: Value = serde_json::from_slice(&bytes).expect("verdict is JSON");
            let o = v.as_object_mut().expect("verdict is an object");
            // processed_at is the time of the first delivery that applied the report, which
            // differs between scenarios; the counts are compared (redeliveries keep them).
            o.remove("processed_at");
            // The SHA-256 of junit.xml and summary.md hash files that show that time, the counts
            // and the warnings: compared through those fields, not twice.
            o.remove("junit_sha256");
            o.remove("summary_sha256");
            let warnings: Vec<String> =
                o.remove("warnings").and_then(|w| serde_json::from_value(w).ok()).unwrap_or_default();
            if warnings.iter().any(|w| w.starts_with(STALE_NOTE)) {
                end.stale_noted.insert(r.key.to_string());
            }
            // Security Hub's refusals are in hub.json (verdict.json is written before the import).
            let mut warnings: Vec<String> = warnings.into_iter().filter(|w| !w.starts_with(STALE_NOTE)).collect();
            let hkey = vkey.replace("/verdict.json", "/hub.json");
            if let Some(hub) = self.get(&hkey).await {
                let hub: Value = serde_json::from_slice(&hub).expect("hub.json is JSON");
                let more: Vec<String> = serde_json::from_value(hub["warnings"].clone()).unwrap_or_default();
                warnings.extend(more);
            }
            end.warnings.insert(r.key.to_string(), warnings);
            end.verdicts.insert(r.key.to_string(), v);
        }
        end
    }
}

/// Finding fields that change with every import (timestamps).
const VOLATILE_FINDING_FIELDS: &[&str] =
    &["CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt", "ProcessedAt"];

/// Finding fields that name the report that last imported the finding (its URI, the
/// image tag): the same finding imported from another report (reordered delivery)
/// differs only in these.
const REPORT_FINDING_FIELDS: &[&str] = &["SourceUrl", "ProductFields", "Resources"];

#[derive(Clone, Debug, PartialEq, Eq)]
struct StateView {
    applied: Option<String>,
    /// ASFF id → content hash.
    entries: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct EndState {
    /// ASFF id → finding JSON without timestamps.
    hub: BTreeMap<String, Value>,
    /// State object key → what it holds.
    states: BTreeMap<String, StateView>,
    /// Report key → verdict.json without per-delivery fields and warnings.
    verdicts: BTreeMap<String, Value>,
    /// Report key → the verdict's warnings (without the late-delivery note) and hub.json's.
    warnings: BTreeMap<String, Vec<String>>,
    /// Reports whose verdict carries the late-delivery note.
    stale_noted: BTreeSet<String>,
}

fn record_state(f: &Value) -> &str {
    f["RecordState"].as_str().unwrap_or("")
}

impl EndState {
    /// ACTIVE findings without the fields that name the importing report.
    fn active(&self) -> BTreeMap<String, Value> {
        self.hub
            .iter()
            .filter(|(_, f)| record_state(f) == "ACTIVE")
            .map(|(id, f)| {
                let mut f = f.clone();
                if let Some(o) = f.as_object_mut() {
                    for field in REPORT_FINDING_FIELDS {
                        o.remove(*field);
                    }
                }
                (id.clone(), f)
            })
            .collect()
    }

    fn ids_with(&self, record: &str) -> BTreeSet<String> {
        self.hub.iter().filter(|(_, f)| record_state(f) == record).map(|(id, _)| id.clone()).collect()
    }

    /// The id of the finding with this CVE in this target's lifecycle.
    fn id_of(&self, cve: &str, repo: &str) -> String {
        let hits: Vec<&String> = self
            .hub
            .iter()
            .filter(|(_, f)| {
                let t = f.to_string();
                t.contains(cve) && t.contains(repo)
            })
            .map(|(id, _)| id)
            .collect();
        assert_eq!(hits.len(), 1, "{cve} in {repo}: {hits:?}");
        hits[0].clone()
    }
}

/// Per lifecycle, the ACTIVE findings are exactly the state's entries: nothing in
/// Security Hub that no later report would archive, nothing in the state that is not there.
fn check_invariants(end: &EndState, what: &str) {
    assert!(!end.states.is_empty(), "{what}: no state object written");
    for (key, view) in &end.states {
        let hash = key.trim_start_matches("state/").trim_end_matches(".json");
        let prefix = format!("scangate/{hash}/");
        let active: BTreeSet<&String> = end
            .hub
            .iter()
            .filter(|(id, f)| id.starts_with(&prefix) && record_state(f) == "ACTIVE")
            .map(|(id, _)| id)
            .collect();
        let stated: BTreeSet<&String> = view.entries.keys().collect();
        assert_eq!(active, stated, "{what}: {key} (applied {:?}): ACTIVE findings vs state entries", view.applied);
    }
    for (id, f) in &end.hub {
        assert!(
            matches!(record_state(f), "ACTIVE" | "ARCHIVED"),
            "{what}: {id}: RecordState {:?}",
            f.get("RecordState")
        );
    }
}

/// The whole end state equals the clean run's.
fn assert_same(clean: &EndState, got: &EndState, what: &str) {
    check_invariants(got, what);
    assert_eq!(got.states, clean.states, "{what}: state objects");
    assert_eq!(got.verdicts, clean.verdicts, "{what}: verdicts");
    assert_eq!(got.warnings, clean.warnings, "{what}: verdict warnings");
    assert_eq!(
        got.hub.keys().collect::<Vec<_>>(),
        clean.hub.keys().collect::<Vec<_>>(),
        "{what}: Security Hub finding ids"
    );
    for (id, f) in &clean.hub {
        assert_eq!(got.hub.get(id), Some(f), "{what}: Security Hub finding {id}");
    }
}

/// States, verdicts and ACTIVE findings equal the clean run's; anything else in
/// Security Hub is ARCHIVED there and was archived in the clean run too.
fn assert_converged(clean: &EndState, got: &EndState, what: &str) {
    check_invariants(got, what);
    assert_eq!(got.states, clean.states, "{what}: state objects");
    // Counts depend on the order reports were applied in (a report applied after a skipped
    // one imports what that one would have), so they are compared in `assert_same` only;
    // a report none of whose deliveries was applied counts nothing.
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("findings_imported");
            o.remove("findings_archived");
        }
        v
    };
    let stripped =
        |m: &BTreeMap<String, Value>| m.iter().map(|(k, v)| (k.clone(), strip(v))).collect::<BTreeMap<_, _>>();
    assert_eq!(stripped(&got.verdicts), stripped(&clean.verdicts), "{what}: verdicts");
    for key in &got.stale_noted {
        let v = &got.verdicts[key];
        assert_eq!(
            (&v["findings_imported"], &v["findings_archived"]),
            (&json!(0), &json!(0)),
            "{what}: {key}: a report never applied counts nothing"
        );
    }
    assert_eq!(got.warnings, clean.warnings, "{what}: verdict warnings");
    assert_eq!(got.active(), clean.active(), "{what}: ACTIVE findings");
    let archived = got.ids_with("ARCHIVED");
    let clean_archived = clean.ids_with("ARCHIVED");
    assert!(
        archived.is_subset(&clean_archived),
        "{what}: archived {archived:?} not within the clean run's {clean_archived:?}"
    );
}

// ---------------------------------------------------------------------------------
// Harness.

/// The clean run's end state: every report once, in order, no faults. Computed once per
/// test binary (on its own moto server).
fn clean() -> EndState {
    static CLEAN: OnceLock<EndState> = OnceLock::new();
    CLEAN
        .get_or_init(|| {
            block_on(async {
                let w = World::new().await;
                let log = w.run(&CLEAN_ORDER, Retry::Immediately).await;
                assert!(log.failures.is_empty() && log.stale.is_empty(), "the clean run is clean: {log:?}");
                w.end_state().await
            })
        })
        .clone()
}

/// A permutation of `items` from a seeded generator (the same on every run).
fn shuffled(items: &[usize], seed: u64) -> Vec<usize> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = items.to_vec();
    rng.shuffle(&mut v);
    v
}

// ---------------------------------------------------------------------------------
// Scenarios.

#[test]
fn clean_run_is_the_expected_lifecycle() {
    let clean = clean();
    check_invariants(&clean, "clean run");
    // app ends with V2 (high again), V3, V5, V6 active; V1, V4 archived. api: V4 (medium), V6; V1 archived.
    let active = |cve: &str, repo: &str| {
        let id = clean.id_of(cve, repo);
        (record_state(&clean.hub[&id]).to_string(), clean.hub[&id]["Severity"]["Label"].as_str().map(str::to_string))
    };
    assert_eq!(active("CVE-2026-0002", APP), ("ACTIVE".into(), Some("HIGH".into())));
    assert_eq!(active("CVE-2026-0003", APP), ("ACTIVE".into(), Some("MEDIUM".into())));
    assert_eq!(active("CVE-2026-0005", APP), ("ACTIVE".into(), Some("MEDIUM".into())));
    assert_eq!(active("CVE-2026-0006", APP), ("ACTIVE".into(), Some("INFORMATIONAL".into())));
    assert_eq!(active("CVE-2026-0004", API), ("ACTIVE".into(), Some("MEDIUM".into())));
    assert_eq!(active("CVE-2026-0006", API), ("ACTIVE".into(), Some("INFORMATIONAL".into())));
    for (cve, repo) in [("CVE-2026-0001", APP), ("CVE-2026-0004", APP), ("CVE-2026-0001", API)] {
        assert_eq!(active(cve, repo).0, "ARCHIVED", "{cve} in {repo}");
    }
    assert_eq!(clean.hub.len(), 9, "{:?}", clean.hub.keys());
    let applied: BTreeSet<Option<String>> = clean.states.values().map(|s| s.applied.clone()).collect();
    let want: BTreeSet<Option<String>> =
        ["scans/app/a-4/report.sarif", "scans/api/b-3/report.sarif"].iter().map(|k| Some(k.to_string())).collect();
    assert_eq!(applied, want);
    assert_eq!(clean.verdicts.len(), 7);
    assert_eq!(clean.verdicts["scans/app/a-1/report.sarif"]["passed"], false, "V1 is critical");
    assert_eq!(clean.verdicts["scans/app/a-4/report.sarif"]["passed"], true);
    assert!(clean.warnings.values().all(Vec::is_empty), "{:?}", clean.warnings);
    assert!(clean.stale_noted.is_empty());
}

#[test]
fn duplicate_events_end_like_the_clean_run() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        // Each event 2-3 times: right after itself, and again after newer ones (A1 after
        // A2, B1 after B2: late duplicates, ignored).
        let order = [A1, A1, B1, A2, A1, B2, B1, A2, A3, B2, B3, A3, A4, B3, A4, A4];
        let log = w.run(&order, Retry::Immediately).await;
        assert!(log.failures.is_empty(), "{log:?}");
        assert_eq!(log.stale, vec![A1, B1], "{log:?}");
        let got = w.end_state().await;
        assert_same(&clean, &got, "duplicates");
    });
}

/// The deliveries of `order` that must be ignored: older than a report of the same
/// target delivered before them.
fn expected_stale(order: &[usize]) -> Vec<usize> {
    let reports = reports();
    let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for &i in order {
        let r = &reports[i];
        match latest.get(r.repo) {
            Some(&at) if r.at < at => out.push(i),
            _ => {
                latest.insert(r.repo, r.at);
            }
        }
    }
    out
}

/// With failures, whether a delivery is stale depends on whether a failed attempt of a
/// newer report got as far as its state write (a retryable FailedFindings entry does, a
/// crash does not). So: a stale delivery follows an attempt of a newer report of its
/// target; a delivery that was not stale follows no successful one.
fn check_stale_decisions(log: &Log, what: &str) {
    let reports = reports();
    for (p, &(i, ok, stale)) in log.attempts.iter().enumerate() {
        let r = &reports[i];
        let newer_before = |need_ok: bool| {
            log.attempts[..p]
                .iter()
                .any(|&(j, ok_j, _)| reports[j].repo == r.repo && reports[j].at > r.at && (ok_j || !need_ok))
        };
        if stale {
            assert!(newer_before(false), "{what}: delivery {p} ({}) ignored with nothing newer before: {log:?}", r.key);
        } else if ok {
            assert!(!newer_before(true), "{what}: delivery {p} ({}) applied after a newer one: {log:?}", r.key);
        }
    }
}

#[test]
fn reordered_events_converge_to_the_clean_end_state() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        for seed in [7, 1_234, 99_991] {
            let order = shuffled(&CLEAN_ORDER, seed);
            assert_ne!(order, CLEAN_ORDER, "seed {seed} must reorder");
            w.reset().await;
            let log = w.run(&order, Retry::Immediately).await;
            assert!(log.failures.is_empty(), "{log:?}");
            assert_eq!(log.stale, expected_stale(&order), "seed {seed}, order {order:?}");
            let got = w.end_state().await;
            assert_converged(&clean, &got, &format!("seed {seed}, order {order:?}"));
        }
    });
}

#[test]
fn late_reports_change_nothing() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        // A2 and B1 arrive after newer reports of their targets (never delivered before).
        let log = w.run(&[A1, A3, B2, A4, B3], Retry::Immediately).await;
        assert!(log.failures.is_empty() && log.stale.is_empty(), "{log:?}");
        let before = w.end_state().await;
        let raw_before = w.hub_findings();
        let log = w.run(&[A2, B1], Retry::Immediately).await;
        assert_eq!(log.stale, vec![A2, B1], "{log:?}");
        let after = w.end_state().await;
        assert_eq!(w.hub_findings(), raw_before, "Security Hub untouched, timestamps included");
        assert_eq!(after.states, before.states, "state objects untouched");
        assert_eq!(
            after.stale_noted,
            ["scans/app/a-2/report.sarif", "scans/api/b-1/report.sarif"].iter().map(|s| s.to_string()).collect(),
            "the late reports' verdicts say they were not applied"
        );
        assert_converged(&clean, &after, "late A2 and B1");
    });
}

#[test]
fn security_hub_throttling_ends_like_the_clean_run() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        // Throttled calls the sink retries itself...
        lock(&w.hub).throttle_next = 3;
        let log1 = w.run(&[A1, B1, A2], Retry::Immediately).await;
        lock(&w.hub).throttle_next = 2;
        let log2 = w.run(&[B2, A3], Retry::Immediately).await;
        // ...and throttling beyond its attempts: the event fails and is delivered again.
        lock(&w.hub).throttle_next = SINK_ATTEMPTS;
        let log3 = w.run(&[B3, A4], Retry::Immediately).await;
        assert!(log1.failures.is_empty() && log2.failures.is_empty(), "{log1:?} {log2:?}");
        assert_eq!(log3.failures.len(), 1, "{log3:?}");
        assert_eq!(log3.failures[0].0, B3);
        assert!(log3.failures[0].1.contains("ThrottlingException"), "{log3:?}");
        assert_eq!(lock(&w.hub).throttled, 3 + 2 + u64::from(SINK_ATTEMPTS));
        let got = w.end_state().await;
        assert_same(&clean, &got, "throttling");
    });
}

#[test]
fn retryable_partial_failures_end_like_the_clean_run() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        lock(&w.hub).fail = vec![
            // Retried by the sink within its attempts.
            FailRule::new(&["CVE-2026-0002", APP], "ThrottlingException", 2),
            // More failures than the sink's attempts: A3's event fails, its redelivery imports V5.
            FailRule::new(&["CVE-2026-0005", APP], "InternalException", SINK_ATTEMPTS + 1),
        ];
        let log1 = w.run(&[A1, B1, A2], Retry::Immediately).await;
        // B2 archives api's V1: that archive fails past the sink's attempts, then succeeds.
        lock(&w.hub).fail.push(FailRule::new(&["CVE-2026-0001", API], "ThrottlingException", SINK_ATTEMPTS));
        let log2 = w.run(&[B2, A3, B3, A4], Retry::Immediately).await;
        assert!(log1.failures.is_empty(), "{log1:?}");
        let failed: Vec<usize> = log2.failures.iter().map(|f| f.0).collect();
        assert_eq!(failed, vec![B2, A3], "{log2:?}");
        {
            let plan = lock(&w.hub);
            assert!(plan.fail.iter().all(|r| r.remaining == 0), "every injected failure was met: {:?}", plan.fail);
            assert_eq!(plan.failed_entries, 2 + u64::from(SINK_ATTEMPTS) + 1 + u64::from(SINK_ATTEMPTS));
        }
        let got = w.end_state().await;
        assert_same(&clean, &got, "retryable FailedFindings");
    });
}

/// InvalidInput is not retried by another delivery: the finding is reported (verdict
/// warning) and kept out of the state. "Equal" here: the clean end state minus the
/// findings Security Hub never accepted, plus the warnings naming them.
#[test]
fn non_retryable_partial_failures_are_reported_not_dropped() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        lock(&w.hub).fail = vec![
            // app's V4 exists only in A2: refused during A2, it never reaches Security Hub.
            FailRule::new(&["CVE-2026-0004", APP], "InvalidInput", SINK_ATTEMPTS),
            // api's V6 is refused every time (B2 and B3).
            FailRule::new(&["CVE-2026-0006", API], "InvalidInput", 1_000),
        ];
        let log = w.run(&CLEAN_ORDER, Retry::Immediately).await;
        assert!(log.failures.is_empty(), "non-retryable failures do not fail the event: {log:?}");
        let got = w.end_state().await;
        let v4_app = clean.id_of("CVE-2026-0004", APP);
        let v6_api = clean.id_of("CVE-2026-0006", API);
        for (report, id) in [
            ("scans/app/a-2/report.sarif", &v4_app),
            ("scans/api/b-2/report.sarif", &v6_api),
            ("scans/api/b-3/report.sarif", &v6_api),
        ] {
            let w = &got.warnings[report];
            assert!(
                w.len() == 1 && w[0].contains(id.as_str()) && w[0].contains("InvalidInput"),
                "{report}: the refused finding is named: {w:?}"
            );
        }
        let mut want = clean.clone();
        assert!(want.hub.remove(&v4_app).is_some() && want.hub.remove(&v6_api).is_some());
        let mut removed = 0;
        for view in want.states.values_mut() {
            removed += usize::from(view.entries.remove(&v6_api).is_some());
        }
        assert_eq!(removed, 1, "api's state would hold V6");
        for report in ["scans/app/a-2/report.sarif", "scans/api/b-2/report.sarif", "scans/api/b-3/report.sarif"] {
            // The refused finding is named in hub.json; verdict.json, written before the
            // import, counts what the report sends (hub.json counts what was accepted).
            want.warnings.insert(report.into(), got.warnings[report].clone());
        }
        // api's V6, never accepted, is not in the state: B3 sends it again as new, where the
        // clean B3 skips it (same content, only a new tag: IMPORT_ON=content).
        let b3 = want.verdicts.get_mut("scans/api/b-3/report.sarif").expect("clean verdict");
        b3["findings_imported"] = json!(b3["findings_imported"].as_u64().expect("count") + 1);
        // app's V4, never accepted, is not in the state: A3 (which fixes it) has one less to archive.
        let a3 = want.verdicts.get_mut("scans/app/a-3/report.sarif").expect("clean verdict");
        a3["findings_archived"] = json!(a3["findings_archived"].as_u64().expect("count") - 1);
        assert_same(&want, &got, "InvalidInput");
    });
}

#[test]
fn precondition_failed_on_the_state_object_ends_like_the_clean_run() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        // 1 and 2: re-read and re-planned within one delivery. 5: every attempt of the
        // first delivery loses, the event fails and its redelivery succeeds.
        for k in [1u32, 2, 5] {
            w.reset().await;
            lock(&w.store).precondition_failures_per_report = k;
            let log = w.run(&CLEAN_ORDER, Retry::Immediately).await;
            assert_eq!(lock(&w.store).preconditions, 7 * u64::from(k), "k = {k}");
            let want_failures = if k >= 5 { 7 } else { 0 };
            assert_eq!(log.failures.len(), want_failures, "k = {k}: {log:?}");
            let got = w.end_state().await;
            assert_same(&clean, &got, &format!("412 x{k}"));
        }
    });
}

#[test]
fn crash_between_import_and_state_write_converges_on_redelivery() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        lock(&w.store).crash_on = reports().iter().map(|r| (r.key.to_string(), 1)).collect();
        // The crash comes after the import: findings are in Security Hub, and the state
        // holds only the write-ahead (nothing applied, the three findings in flight).
        let err = w.deliver(A1).await.expect_err("the state write crashes");
        assert!(err.contains("crashed"), "{err}");
        assert_eq!(w.hub_findings().len(), 3, "A1's findings were imported before the crash");
        let states: Vec<StateView> = w.end_state().await.states.into_values().collect();
        assert_eq!(states.len(), 1, "{states:?}");
        assert_eq!(states[0].applied, None, "{states:?}");
        assert_eq!(states[0].entries.len(), 3, "{states:?}");
        assert!(states[0].entries.values().all(|h| h == IN_FLIGHT), "{states:?}");
        let log = w.run(&CLEAN_ORDER, Retry::Immediately).await;
        assert_eq!(log.failures.len(), 6, "every other report crashes once: {log:?}");
        assert_eq!(lock(&w.store).crashes, 7);
        let got = w.end_state().await;
        assert_same(&clean, &got, "crash + redelivery");
    });
}

/// A crashed report is redelivered only after newer ones were applied (SQS redelivers
/// after the visibility timeout): its redelivery is stale, so the next report must repair
/// whatever the crashed attempt changed in Security Hub without recording it.
/// A2 imported V4, which exists only in A2: it must not stay ACTIVE with no state entry
/// that a later report could archive. A3 archived V3, which A4 brings back unchanged: it
/// must not stay ARCHIVED while the state lists it as present.
#[test]
fn crash_then_newer_report_then_redelivery_converges() {
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        for crashed in [A2, A3] {
            w.reset().await;
            lock(&w.store).crash_on.insert(reports()[crashed].key.into(), 1);
            let log = w.run(&CLEAN_ORDER, Retry::Requeue).await;
            assert_eq!(log.failures.iter().map(|f| f.0).collect::<Vec<_>>(), vec![crashed], "{log:?}");
            assert_eq!(log.stale, vec![crashed], "the redelivery comes after A4: {log:?}");
            let got = w.end_state().await;
            assert_converged(&clean, &got, &format!("crash of {}, redelivered after A4", reports()[crashed].key));
        }
    });
}

#[test]
fn everything_at_once_converges() {
    // Two seeds in CI (seed 1 has a newer report's failed delivery applied before an older
    // one arrives); SCANGATE_CHAOS_SEEDS=<n> adds seeds 2..n+2 for a longer local run.
    let extra: u64 = std::env::var("SCANGATE_CHAOS_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let seeds: Vec<u64> = [2026, 1].into_iter().chain(2..2 + extra).collect();
    let clean = clean();
    block_on(async move {
        let w = World::new().await;
        for seed in seeds {
            w.reset().await;
            // Every event twice, shuffled.
            let mut events = CLEAN_ORDER.to_vec();
            events.extend(CLEAN_ORDER);
            let order = shuffled(&events, seed);
            lock(&w.hub).throttle_next = 2;
            lock(&w.hub).fail = vec![
                FailRule::new(&["CVE-2026-0002", APP], "ThrottlingException", SINK_ATTEMPTS + 1),
                FailRule::new(&["CVE-2026-0004", API], "InternalException", 2),
            ];
            {
                let mut store = lock(&w.store);
                store.precondition_failures_per_report = 1;
                store.crash_on.insert("scans/app/a-3/report.sarif".into(), 1);
                store.crash_on.insert("scans/api/b-2/report.sarif".into(), 1);
            }
            // Failed deliveries come back after what is already queued, as SQS redelivers.
            let log = w.run(&order, Retry::Requeue).await;
            check_stale_decisions(&log, &format!("seed {seed}"));
            assert!(!log.failures.is_empty(), "seed {seed}: some deliveries failed and were retried");
            let got = w.end_state().await;
            assert_converged(&clean, &got, &format!("everything at once, seed {seed}, order {order:?}"));
        }
    });
}

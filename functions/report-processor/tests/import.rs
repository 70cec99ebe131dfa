//! Verdict first, imports of any size, the invocation's deadline: the processor
//! against moto S3 and a Security Hub stand-in behind the real sink (token bucket at
//! `SECURITY_HUB_MAX_TPS`, batching, retries), which records every finding it accepts.
//!
//! Ordering is observed, never timed: the stand-in looks for `verdict.json` in S3 when its
//! first BatchImportFindings call arrives.

#[macro_use]
mod common;

use bytes::Bytes;
use common::{identity, qscanner_sarif, run, s3_event, V1, V2, V3, V4};
use report_processor::config::Config;
use report_processor::process::deadline::Deadline;
use report_processor::process::hub_doc::{hub_key, HubDoc};
use report_processor::process::state_object::HubStatus;
use report_processor::process::{Outcome, Processor, IN_FLIGHT};
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{BatchImporter, CallError, ImportResponse, Sink, SinkConfig};
use scangate_bench::synth::{write_lint, write_synthetic, LintShape, SynthConfig};
use scangate_core::events::ObjectRef;
use scangate_core::lifecycle::state::LifecycleState;
use scangate_core::lifecycle::{LifecycleKey, ScanType};
use scangate_core::verdict::Verdict;
use scangate_testkit::{Moto, ACCOUNT_ID, REGION};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the stand-in saw when the first BatchImportFindings call of a report arrived.
#[derive(Clone, Debug, Default)]
struct FirstCall {
    verdict: Option<Vec<u8>>,
    hub: Option<HubDoc>,
}

/// Security Hub stand-in: accepts everything, records (call number, id, RecordState) and
/// what S3 held at its first call; can hold a call until `hold_until` (the deadline comes).
struct Recorder {
    s3: aws_sdk_s3::Client,
    bucket: Mutex<String>,
    /// The results folder whose verdict.json the first call looks for.
    watch: Mutex<Option<String>>,
    first: Mutex<Option<FirstCall>>,
    log: Mutex<Vec<(u64, String, String)>>,
    calls: Mutex<u64>,
    /// (call number, instant): that call returns only at the instant.
    hold: Mutex<Option<(u64, Instant)>>,
}

impl Recorder {
    fn accepted(&self) -> Vec<(u64, String, String)> {
        common::lock(&self.log).clone()
    }

    /// Id → (ACTIVE sends, ARCHIVED sends).
    fn counts(&self) -> BTreeMap<String, (u32, u32)> {
        let mut out: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        for (_, id, state) in self.accepted() {
            let e = out.entry(id).or_default();
            if state == "ARCHIVED" {
                e.1 += 1;
            } else {
                e.0 += 1;
            }
        }
        out
    }

    fn watch(&self, dir: &str) {
        *common::lock(&self.watch) = Some(dir.to_string());
        *common::lock(&self.first) = None;
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let bucket = common::lock(&self.bucket).clone();
        match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => Some(out.body.collect().await.expect("read body").into_bytes().to_vec()),
            Err(_) => None,
        }
    }
}

impl BatchImporter for Recorder {
    async fn import(&self, body: Bytes, _count: usize) -> Result<ImportResponse, CallError> {
        let call = {
            let mut c = common::lock(&self.calls);
            *c += 1;
            *c
        };
        let watched = common::lock(&self.watch).clone();
        let seen = common::lock(&self.first).is_some();
        if let (Some(dir), false) = (watched, seen) {
            let verdict = self.get(&format!("{dir}/verdict.json")).await;
            let hub = self.get(&format!("{dir}/hub.json")).await.map(|b| serde_json::from_slice(&b).expect("hub.json"));
            common::lock(&self.first).get_or_insert(FirstCall { verdict, hub });
        }
        let doc: Value = serde_json::from_slice(&body).expect("request body is JSON");
        {
            let mut log = common::lock(&self.log);
            for f in doc["Findings"].as_array().expect("Findings") {
                let id = f["Id"].as_str().expect("Id").to_string();
                let state = f["RecordState"].as_str().unwrap_or("ACTIVE").to_string();
                log.push((call, id, state));
            }
        }
        let hold = *common::lock(&self.hold);
        if let Some((n, until)) = hold {
            if n == call {
                tokio::time::sleep_until(until.into()).await;
            }
        }
        Ok(ImportResponse::default())
    }
}

type Proc = Processor<S3Store, Sink<Recorder>>;

struct World {
    env: common::Env<Proc>,
}

const TPS: f64 = 5.0;

async fn world(moto: &Moto, config: Config) -> World {
    let env = common::Env::new(moto, "sg-import", |clients, kms| {
        let config = Config {
            uploader_principal_ids: common::uploaders(),
            kms_key_id: Some(kms.to_string()),
            security_hub_max_tps: TPS,
            ..config
        };
        let recorder = Recorder {
            s3: clients.s3.clone(),
            bucket: Mutex::new(String::new()),
            watch: Mutex::new(None),
            first: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            calls: Mutex::new(0),
            hold: Mutex::new(None),
        };
        // SECURITY_HUB_MAX_TPS=5: the production token bucket (burst 3 s worth).
        let bucket = Arc::new(TokenBucket::new(config.security_hub_max_tps, config.security_hub_burst()));
        let sink = Sink::new(recorder, bucket, SinkConfig::default());
        Processor::new(config, S3Store::new(clients.s3.clone(), None), Some(sink))
    })
    .await;
    World { env }
}

impl World {
    fn recorder(&self) -> &Recorder {
        self.env.processor.sink.as_ref().expect("sink").importer()
    }

    /// The recorder reads from this world's bucket (known only after the bucket exists).
    fn recorder_bucket(&mut self) {
        *common::lock(&self.recorder().bucket) = self.env.bucket.clone();
    }

    async fn state(&self, target_repo: &str) -> (LifecycleState, Value) {
        let lk = common::owned(LifecycleKey::new(ACCOUNT_ID, REGION, ScanType::Image, target_repo));
        let bytes = self.env.get(&format!("state/{}.json", lk.hash())).await.expect("state object exists");
        let raw: Value = serde_json::from_slice(&bytes).expect("state is JSON");
        (LifecycleState::from_json(&bytes, "state").expect("state parses"), raw)
    }

    async fn hub(&self, project: &str, build: &str) -> HubDoc {
        let bytes = self.env.get(&hub_key(project, build)).await.expect("hub.json written");
        serde_json::from_slice(&bytes).expect("hub.json parses")
    }
}

fn object(bucket: &str, key: &str) -> ObjectRef {
    common::by_writer(ObjectRef::put(bucket, key))
}

fn at(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

fn meta<'a>(target: &'a str, at: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("scangate-target", target), ("scangate-scan-type", "image"), ("scangate-scanned-at", at)]
}

/// A QScanner-shaped report with `n` distinct findings (every result its own finding).
fn synthetic(n: u64, image: &str, seed: u64) -> Vec<u8> {
    let cfg = SynthConfig { rules: 200, results: n, distinct: n, string_len: 60, seed, image: image.to_string() };
    let mut out = Vec::new();
    write_synthetic(&mut out, &cfg).expect("synthetic SARIF");
    out
}

/// A deadline whose reserve is 1 s (the default 10 s is for Lambda).
fn deadline_in(d: Duration) -> Deadline {
    Deadline::new(Instant::now() + d, Duration::from_secs(1))
}

/// 20 000 new findings at SECURITY_HUB_MAX_TPS=5 (about 40 s of imports): verdict.json is
/// in S3 before the first BatchImportFindings call; the delivery stops at a checkpoint
/// (the deadline comes while a call is held); a redelivery in the middle continues from
/// the checkpoint and finishes; a third delivery imports nothing. Each finding is sent
/// once, the four findings the previous report had are archived once, after every import
/// was confirmed, and verdict.json never changes.
#[test]
fn verdict_first_and_a_20000_finding_import_finishes_across_deliveries() {
    run(async {
        let mut w = world(Moto::shared(), Config::default()).await;
        w.recorder_bucket();
        let image = format!("registry.example/{}:1", w.env.bucket);
        let repo = format!("registry.example/{}", w.env.bucket);
        let (old, big) = ("scans/app/b-1/report.sarif", "scans/app/b-2/report.sarif");
        w.env.upload(old, qscanner_sarif(&image, &[V1, V2, V3, V4]), &meta(&image, "2026-11-23T07:00:00Z")).await;
        w.env
            .processor
            .process(&object(&w.env.bucket, old), &identity(), at("2026-11-23T07:05:00Z"))
            .await
            .expect("old");
        let before = w.recorder().accepted().len();
        assert_eq!(before, 4);
        let old_ids: Vec<String> = w.recorder().accepted().into_iter().map(|(_, id, _)| id).collect();

        w.env.upload(big, synthetic(20_000, &image, 7), &meta(&image, "2026-11-23T08:00:00Z")).await;
        let obj = object(&w.env.bucket, big);
        w.recorder().watch("results/app/b-2");
        // The deadline comes while call 30 is held: the delivery stops at the next chunk.
        // (45 s leaves room for the evaluation and write-ahead of 20 000 findings in a debug
        // build; the hold, not the clock, decides where the import stops.)
        let deadline = deadline_in(Duration::from_secs(45));
        let calls_before = *common::lock(&w.recorder().calls);
        *common::lock(&w.recorder().hold) = Some((calls_before + 30, deadline.at - Duration::from_millis(500)));
        let first = w
            .env
            .processor
            .process_until(&obj, &identity(), at("2026-11-23T08:05:00Z"), Some(&deadline))
            .await
            .expect("first delivery");
        let Outcome::Processed { pending, metrics, .. } = first else { panic!("{first:?}") };
        assert!(pending, "stopped at a checkpoint");
        assert!(metrics.imported > 0 && metrics.imported < 20_000, "{metrics:?}");
        assert_eq!(metrics.archived, 0, "nothing archived before every import is confirmed");

        let seen = common::lock(&w.recorder().first).clone().expect("the sink was called");
        let verdict_bytes = seen.verdict.expect("verdict.json was in S3 at the first BatchImportFindings call");
        let v = Verdict::from_json(&verdict_bytes).expect("verdict parses");
        assert_eq!((v.findings_imported, v.findings_archived), (20_000, 4), "what the report sends");
        let hub = seen.hub.expect("hub.json was in S3 at the first call");
        assert_eq!((hub.status, hub.imported, hub.planned_imports), (HubStatus::Pending, 0, 20_000));

        // The checkpoint: what was accepted is in the state, the rest is not; no in-flight mark.
        let (state, raw) = w.state(&repo).await;
        assert_eq!(state.applied.as_ref().map(|a| a.key.as_str()), Some(big));
        assert!(state.entries.values().all(|e| e.content_hash != IN_FLIGHT), "a clean stop leaves nothing in flight");
        let confirmed = state.entries.keys().filter(|id| !old_ids.contains(&id.to_string())).count() as u64;
        assert_eq!(confirmed, metrics.imported, "the state holds exactly the accepted imports");
        assert!(
            old_ids.iter().all(|id| state.entries.contains_key(&id.as_str().into())),
            "the old findings are not archived yet"
        );
        assert_eq!(raw["applied_result"]["import"]["status"], "pending");
        let hub = w.hub("app", "b-2").await;
        assert_eq!((hub.status, hub.imported, hub.archived), (HubStatus::Pending, metrics.imported, 0));

        // A redelivery in the middle: continues, sends only the rest, then archives.
        let second = w.env.processor.process(&obj, &identity(), at("2026-11-23T08:10:00Z")).await.expect("second");
        let Outcome::Processed { pending, metrics: m2, .. } = second else { panic!("{second:?}") };
        assert!(!pending);
        assert_eq!(m2.imported + metrics.imported, 20_000, "only what the first delivery did not get accepted");
        assert_eq!(m2.archived, 4);
        let calls = w.recorder().accepted().len();
        let third = w.env.processor.process(&obj, &identity(), at("2026-11-23T08:15:00Z")).await.expect("third");
        assert!(matches!(third, Outcome::Processed { pending: false, .. }), "{third:?}");
        assert_eq!(w.recorder().accepted().len(), calls, "a delivery after the end imports nothing");

        let counts = w.recorder().counts();
        let new_ids: Vec<&String> = counts.keys().filter(|id| !old_ids.contains(id)).collect();
        assert_eq!(new_ids.len(), 20_000);
        assert!(new_ids.iter().all(|id| counts[*id] == (1, 0)), "every new finding sent once, as ACTIVE");
        assert!(old_ids.iter().all(|id| counts[id] == (1, 1)), "each old finding imported once and archived once");
        let log = w.recorder().accepted();
        let last_active = log.iter().filter(|(_, _, s)| s == "ACTIVE").map(|(c, _, _)| *c).max();
        let first_archive = log.iter().filter(|(_, _, s)| s == "ARCHIVED").map(|(c, _, _)| *c).min();
        assert!(first_archive > last_active, "archives only after every import was confirmed");

        let (state, _) = w.state(&repo).await;
        assert_eq!(state.entries.len(), 20_000);
        let hub = w.hub("app", "b-2").await;
        assert_eq!(
            (hub.status, hub.imported, hub.archived, hub.planned_imports, hub.planned_archives),
            (HubStatus::Done, 20_000, 4, 20_000, 4)
        );
        let now_bytes = w.env.get("results/app/b-2/verdict.json").await.expect("verdict");
        assert_eq!(now_bytes, verdict_bytes, "verdict.json is what the waiting build read first");
    });
}

/// Through the Lambda handler: an SQS batch whose deadline is a few seconds away. The
/// large report's import stops at a checkpoint and its message is returned as a batch item
/// failure; the small reports of the batch are processed; the next delivery of the large
/// report finishes its import, sending nothing twice.
#[test]
fn deadline_near_checkpoints_and_spares_the_rest_of_the_batch() {
    run(async {
        let mut w = world(Moto::shared(), Config::default()).await;
        w.recorder_bucket();
        let big_image = format!("registry.example/{}-big:1", w.env.bucket);
        let small_image = format!("registry.example/{}-small:1", w.env.bucket);
        let other_image = format!("registry.example/{}-other:1", w.env.bucket);
        let (big, small, other) =
            ("scans/big/d-1/report.sarif", "scans/small/d-1/report.sarif", "scans/other/d-1/report.sarif");
        w.env.upload(big, synthetic(4_000, &big_image, 3), &meta(&big_image, "2026-11-23T08:00:00Z")).await;
        w.env.upload(small, qscanner_sarif(&small_image, &[V1, V2]), &meta(&small_image, "2026-11-23T08:00:00Z")).await;
        w.env.upload(other, qscanner_sarif(&other_image, &[V3]), &meta(&other_image, "2026-11-23T08:00:00Z")).await;
        let mut batch: Value =
            serde_json::from_str(include_str!("fixtures/sqs-s3.json")).expect("fixture sqs-s3.json parses");
        let template = batch["Records"][0].clone();
        let mut records = Vec::new();
        for (id, key) in [("m-big", big), ("m-small", small), ("m-other", other)] {
            let mut r = template.clone();
            r["messageId"] = json!(id);
            r["body"] = json!(s3_event(&w.env.bucket, key).to_string());
            records.push(r);
        }
        batch["Records"] = json!(records);
        // 4 000 findings at 5 calls/s need about 8 s; the large report's share ends 10 s
        // (two messages after it) before the deadline, and its 5th call is held until then.
        let deadline = deadline_in(Duration::from_secs(25));
        let calls_before = *common::lock(&w.recorder().calls);
        *common::lock(&w.recorder().hold) = Some((calls_before + 5, deadline.at - Duration::from_secs(10)));
        let out = w.env.processor.handle_until(&batch, &identity(), Some(deadline)).await.expect("SQS answers");
        assert_eq!(
            out,
            json!({"batchItemFailures": [{"itemIdentifier": "m-big"}]}),
            "only the large report comes again"
        );
        for dir in ["results/big/d-1", "results/small/d-1", "results/other/d-1"] {
            assert!(w.env.get(&format!("{dir}/verdict.json")).await.is_some(), "{dir}: verdict written");
        }
        assert_eq!(w.hub("small", "d-1").await.status, HubStatus::Done);
        assert_eq!(w.hub("other", "d-1").await.status, HubStatus::Done);
        let pending = w.hub("big", "d-1").await;
        assert_eq!(pending.status, HubStatus::Pending);
        assert!(pending.imported > 0 && pending.imported < 4_000, "{pending:?}");

        // The message comes again (SQS, after the visibility timeout): the import finishes.
        *common::lock(&w.recorder().hold) = None;
        let again = json!({"Records": [batch["Records"][0].clone()]});
        let out = w.env.processor.handle(&again, &identity()).await.expect("SQS answers");
        assert_eq!(out, json!({"batchItemFailures": []}));
        let done = w.hub("big", "d-1").await;
        assert_eq!((done.status, done.imported), (HubStatus::Done, 4_000));
        let counts = w.recorder().counts();
        assert_eq!(counts.len(), 4_000 + 3);
        assert!(counts.values().all(|c| *c == (1, 0)), "nothing sent twice");
    });
}

/// A report over MAX_REPORT_BYTES is quarantined with the reason (never read, never
/// retried) and a failed verdict is written for whoever waits.
#[test]
fn report_over_max_report_bytes_is_quarantined_not_retried() {
    run(async {
        let mut w = world(
            Moto::shared(),
            Config { uploader_principal_ids: common::uploaders(), max_report_bytes: 2_000, ..Config::default() },
        )
        .await;
        w.recorder_bucket();
        let image = format!("registry.example/{}:1", w.env.bucket);
        let key = "scans/huge/q-1/report.sarif";
        let body = synthetic(50, &image, 1);
        let size = body.len();
        assert!(size > 2_000);
        w.env.upload(key, body, &meta(&image, "2026-11-23T08:00:00Z")).await;
        let out = w.env.processor.handle(&s3_event(&w.env.bucket, key), &identity()).await.expect("not retried");
        let reason = out["reports"][0]["quarantined"].as_str().expect("quarantined").to_string();
        assert!(reason.contains("MAX_REPORT_BYTES") && reason.contains(&size.to_string()), "{reason}");
        let doc = w.env.get(&format!("quarantine/{key}.reason.json")).await.expect("reason written");
        let doc: Value = serde_json::from_slice(&doc).expect("reason is JSON");
        assert_eq!(doc["reason"], json!(reason));
        assert_eq!(doc["kind"], "too_large");
        let v = w.env.verdict("results/huge/q-1/verdict.json").await;
        assert!(!v.passed && v.error.as_deref() == Some(reason.as_str()), "{v:?}");
        assert!(w.recorder().accepted().is_empty(), "nothing imported");
    });
}

/// MAX_FINDINGS is a policy on distinct findings: a report with one more than the cap is
/// quarantined with its own kind (`too_many_findings`) and a failed verdict, nothing is
/// imported and the event is not retried; the same report under a cap it fits is processed.
#[test]
fn report_over_max_findings_is_quarantined_with_its_kind() {
    run(async {
        let image = "registry.example/capped:1".to_string();
        let body = synthetic(40, &image, 1);
        let read = scangate_core::read_sarif(body.as_slice(), "synthetic").expect("reads");
        let distinct = read.findings.len() + read.suppressed.len();
        assert!(distinct > 1, "{distinct}");
        let mut w = world(Moto::shared(), Config { max_findings: distinct - 1, ..Config::default() }).await;
        w.recorder_bucket();
        let key = "scans/many/c-1/report.sarif";
        w.env.upload(key, body.clone(), &meta(&image, "2026-11-23T08:00:00Z")).await;
        let out = w.env.processor.handle(&s3_event(&w.env.bucket, key), &identity()).await.expect("not retried");
        let reason = out["reports"][0]["quarantined"].as_str().expect("quarantined").to_string();
        assert!(reason.contains("MAX_FINDINGS") && reason.contains(&(distinct - 1).to_string()), "{reason}");
        let doc = w.env.get(&format!("quarantine/{key}.reason.json")).await.expect("reason written");
        let doc: Value = serde_json::from_slice(&doc).expect("reason is JSON");
        assert_eq!((doc["kind"].as_str(), doc["reason"].as_str()), (Some("too_many_findings"), Some(reason.as_str())));
        let v = w.env.verdict("results/many/c-1/verdict.json").await;
        assert!(!v.passed && v.error.as_deref() == Some(reason.as_str()), "{v:?}");
        assert!(w.recorder().accepted().is_empty(), "nothing imported");

        w.env.processor.config.max_findings = distinct;
        let key = "scans/many/c-2/report.sarif";
        w.env.upload(key, body, &meta(&image, "2026-11-23T08:00:00Z")).await;
        let out = w.env.processor.handle(&s3_event(&w.env.bucket, key), &identity()).await.expect("processed");
        assert!(out["reports"][0]["quarantined"].is_null(), "{out}");
        assert_eq!(w.env.verdict("results/many/c-2/verdict.json").await.error, None);
    });
}

/// Quality findings that are not gated (`QUALITY_FINDINGS=report`, the default) are counted
/// apart from MAX_FINDINGS, up to `QUALITY_FINDINGS_PER_FINDING` (1) per finding it allows (the
/// reader keeps 16 bytes of each, not the finding): a linter's report of 300 distinct quality
/// findings is processed under a MAX_FINDINGS of 300 (cap 300), its verdict counting all 300 and
/// nothing imported; under 299 (cap 299) it is quarantined as too many quality findings; with
/// `QUALITY_FINDINGS=gate` they are gated and imported, so MAX_FINDINGS (20) counts them.
#[test]
fn quality_findings_are_counted_apart_from_max_findings() {
    run(async {
        let mut body = Vec::new();
        write_lint(&mut body, LintShape::Ruff, 300, 7).expect("lint SARIF");
        let repo = "registry.example/linted:1";
        let mut w = world(Moto::shared(), Config { max_findings: 20, ..Config::default() }).await;
        w.recorder_bucket();
        let quality = |v: &Verdict| v.quality_counts.total;
        let gated = scangate_core::policy::QualityFindings::Gate;
        // The smallest MAX_FINDINGS whose quality cap holds the 300, and one whose cap does not.
        let per = report_processor::config::QUALITY_FINDINGS_PER_FINDING;
        let fits = 300usize.div_ceil(per);
        let over = format!("more than {} distinct quality findings", (fits - 1) * per);
        for (case, max_findings, gate_quality, quarantined_for) in [
            ("l-1", fits, false, None),
            ("l-2", fits - 1, false, Some(over.as_str())),
            ("l-3", 20, true, Some("more than 20 distinct findings (MAX_FINDINGS")),
        ] {
            w.env.processor.config.max_findings = max_findings;
            w.env.processor.config.gate.quality = if gate_quality { gated } else { Default::default() };
            let key = format!("scans/lint/{case}/report.sarif");
            w.env.upload(&key, body.clone(), &meta(repo, "2026-11-23T08:00:00Z")).await;
            let out = w.env.processor.handle(&s3_event(&w.env.bucket, &key), &identity()).await.expect("answered");
            let v = w.env.verdict(&format!("results/lint/{case}/verdict.json")).await;
            match quarantined_for {
                None => {
                    assert!(out["reports"][0]["quarantined"].is_null(), "{case}: {out}");
                    assert_eq!((v.error.as_deref(), quality(&v), v.counts.total), (None, 300, 0), "{case}");
                }
                Some(why) => {
                    let reason = out["reports"][0]["quarantined"].as_str().expect("quarantined");
                    assert!(reason.contains(why), "{case}: {reason}");
                    let doc = w.env.get(&format!("quarantine/{key}.reason.json")).await.expect("reason written");
                    let doc: Value = serde_json::from_slice(&doc).expect("reason is JSON");
                    assert_eq!(doc["kind"], "too_many_findings", "{case}");
                    assert!(!v.passed && v.error.as_deref() == Some(reason), "{case}: {v:?}");
                }
            }
        }
        assert!(w.recorder().accepted().is_empty(), "quality findings are not imported unless gated");
    });
}

/// The attack the spill cap stops: a small report (about 45 KB, far under MAX_REPORT_BYTES and
/// MAX_FINDINGS) whose 200 results reference one rule with 20 000 bytes of help, which each
/// finding's description holds a copy of (about 4 MB in the temp dir, where the reader spills
/// the findings). Over the cap (here 1 MB; a quarter of the temp dir's free space by default)
/// it is quarantined as too large with the reason and a failed verdict, not retried, nothing
/// imported; the same report under a cap it fits is processed.
#[test]
fn a_rule_text_copied_into_many_findings_is_quarantined_over_the_spill_cap() {
    run(async {
        let help = "h".repeat(20_000);
        let results: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    r#"{{"ruleId":"R","message":{{"text":"m{i}"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"f{i}.py"}}}}}}]}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"trivy","rules":[{{"id":"R","help":{{"text":"{help}"}}}}]}}}},"results":[{}]}}]}}"#,
            results.join(",")
        )
        .into_bytes();
        let mut w = world(Moto::shared(), Config { max_spill_bytes: Some(1_000_000), ..Config::default() }).await;
        w.recorder_bucket();
        let image = "registry.example/amplified:1";
        let key = "scans/amp/t-1/report.sarif";
        w.env.upload(key, body.clone(), &meta(image, "2026-11-23T08:00:00Z")).await;
        let out = w.env.processor.handle(&s3_event(&w.env.bucket, key), &identity()).await.expect("not retried");
        let reason = out["reports"][0]["quarantined"].as_str().expect("quarantined").to_string();
        assert!(reason.contains("more than 1000000 bytes of the function's ephemeral storage"), "{reason}");
        let doc = w.env.get(&format!("quarantine/{key}.reason.json")).await.expect("reason written");
        let doc: Value = serde_json::from_slice(&doc).expect("reason is JSON");
        assert_eq!((doc["kind"].as_str(), doc["reason"].as_str()), (Some("too_large"), Some(reason.as_str())));
        let v = w.env.verdict("results/amp/t-1/verdict.json").await;
        assert!(!v.passed && v.error.as_deref() == Some(reason.as_str()), "{v:?}");
        assert!(w.recorder().accepted().is_empty(), "nothing imported");

        w.env.processor.config.max_spill_bytes = Some(20_000_000);
        let key = "scans/amp/t-2/report.sarif";
        w.env.upload(key, body, &meta(image, "2026-11-23T08:00:00Z")).await;
        let out = w.env.processor.handle(&s3_event(&w.env.bucket, key), &identity()).await.expect("processed");
        assert!(out["reports"][0]["quarantined"].is_null(), "{out}");
        assert_eq!(w.env.verdict("results/amp/t-2/verdict.json").await.error, None);
    });
}

/// What the reader holds besides the findings is capped (`max_held_bytes`, one sixteenth of
/// the memory by default): a report of 100 000 empty rules (300 KB of SARIF, tens of MB held)
/// and no results is quarantined as too large, the reason naming the rules and the cap, with a
/// failed verdict, not retried, nothing imported; the same report under a cap it fits is
/// processed.
#[test]
fn a_report_over_the_held_cap_is_quarantined_naming_what() {
    run(async {
        let rules = vec!["{}"; 100_000].join(",");
        let body = format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"trivy","rules":[{rules}]}}}},"results":[]}}]}}"#
        )
        .into_bytes();
        let mut w = world(Moto::shared(), Config { max_held_bytes: 1_000_000, ..Config::default() }).await;
        w.recorder_bucket();
        let image = "registry.example/many-rules:1";
        let key = "scans/held/t-1/report.sarif";
        w.env.upload(key, body.clone(), &meta(image, "2026-11-23T08:00:00Z")).await;
        let out = w.env.processor.handle(&s3_event(&w.env.bucket, key), &identity()).await.expect("not retried");
        let reason = out["reports"][0]["quarantined"].as_str().expect("quarantined").to_string();
        assert!(reason.starts_with("runs[0].tool.driver.rules: "), "{reason}");
        assert!(
            reason.contains("more than the report's reader may hold besides its findings (1000000 bytes"),
            "{reason}"
        );
        let doc = w.env.get(&format!("quarantine/{key}.reason.json")).await.expect("reason written");
        let doc: Value = serde_json::from_slice(&doc).expect("reason is JSON");
        assert_eq!((doc["kind"].as_str(), doc["reason"].as_str()), (Some("too_large"), Some(reason.as_str())));
        let v = w.env.verdict("results/held/t-1/verdict.json").await;
        assert!(!v.passed && v.error.as_deref() == Some(reason.as_str()), "{v:?}");
        assert!(w.recorder().accepted().is_empty(), "nothing imported");

        w.env.processor.config.max_held_bytes = 100_000_000;
        let key = "scans/held/t-2/report.sarif";
        w.env.upload(key, body, &meta(image, "2026-11-23T08:00:00Z")).await;
        let out = w.env.processor.handle(&s3_event(&w.env.bucket, key), &identity()).await.expect("processed");
        assert!(out["reports"][0]["quarantined"].is_null(), "{out}");
        assert_eq!(w.env.verdict("results/held/t-2/verdict.json").await.error, None);
    });
}

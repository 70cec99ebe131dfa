//! The gate handler end to end on CodePipeline-shaped events, with a fake S3 store and
//! scangate-testkit's CodePipeline that records every job result.

use pipeline_gate::config::Config;
use pipeline_gate::{handle, HandlerError, JobResult};
use scangate_aws::codepipeline::PipelineError;
use scangate_aws::s3::{Fetched, ObjectHead, PutOptions, PutResult, ReportStore, StoreError};
use scangate_core::policy::{evaluate, Counts, GatePolicy, PolicyResult};
use scangate_core::verdict::{BuildRef, ReportRef, Verdict, VerdictInput};
use scangate_testkit::codepipeline::{details_of, Call, RecordingJobs};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

const BUCKET: &str = "scangate-reports-111111111111-us-east-1";
const KEY: &str = "results/qualys-codebuild-image-us-east-1/qualys-codebuild-image-us-east-1:6f0c2a4e-1b7d-4c2e-9a51-2d8f3e7b9c10/verdict.json";
const SUMMARY_URL: &str = "https://us-east-1.console.aws.amazon.com/s3/object/scangate-reports-111111111111-us-east-1?region=us-east-1&prefix=results/qualys-codebuild-image-us-east-1/qualys-codebuild-image-us-east-1%3A6f0c2a4e-1b7d-4c2e-9a51-2d8f3e7b9c10/summary.md";
/// The fixtures' first invocation: 2025-11-23T08:00:00Z.
const T0: i64 = 1_763_884_800;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// A fixture with another continuation token.
fn with_token(mut event: Value, token: &str) -> Value {
    event["CodePipeline.job"]["data"]["continuationToken"] = Value::String(token.to_string());
    event
}

fn env() -> Config {
    Config {
        report_bucket: Some(BUCKET.into()),
        region: Some("us-east-1".into()),
        read_timeout: Duration::from_secs(5),
        // The fixtures' FunctionName: the gate answers the jobs of its own action.
        function_name: Some("qualys-pipeline-gate".into()),
        account_id: Some("111111111111".into()),
    }
}

#[derive(Clone)]
enum Object {
    Bytes(Vec<u8>),
    Denied,
    Throttled,
}

#[derive(Default)]
struct FakeStore {
    objects: Mutex<HashMap<(String, String), Object>>,
    reads: Mutex<Vec<String>>,
}

impl FakeStore {
    fn put_object(&self, bucket: &str, key: &str, object: Object) {
        self.objects.lock().expect("lock").insert((bucket.into(), key.into()), object);
    }

    fn with(bucket: &str, key: &str, object: Object) -> FakeStore {
        let store = FakeStore::default();
        store.put_object(bucket, key, object);
        store
    }
}

fn unsupported(bucket: &str, key: &str, operation: &'static str) -> StoreError {
    StoreError::Service {
        bucket: bucket.into(),
        key: key.into(),
        operation,
        code: "NotInFake".into(),
        message: "the gate only reads".into(),
        transient: false,
    }
}

impl ReportStore for FakeStore {
    async fn head(&self, bucket: &str, key: &str, _v: Option<&str>) -> Result<Option<ObjectHead>, StoreError> {
        Err(unsupported(bucket, key, "HeadObject"))
    }

    async fn get_bytes(&self, bucket: &str, key: &str, _limit: u64) -> Result<Option<Fetched>, StoreError> {
        self.reads.lock().expect("lock").push(format!("s3://{bucket}/{key}"));
        let object = self.objects.lock().expect("lock").get(&(bucket.to_string(), key.to_string())).cloned();
        match object {
            None => Ok(None),
            Some(Object::Bytes(body)) => Ok(Some(Fetched { body, etag: Some("\"e1\"".into()) })),
            Some(Object::Denied) => Err(StoreError::Service {
                bucket: bucket.into(),
                key: key.into(),
                operation: "GetObject",
                code: "AccessDenied".into(),
                message:
                    "User: arn:aws:sts::111111111111:assumed-role/gate/fn is not authorized to perform: kms:Decrypt"
                        .into(),
                transient: false,
            }),
            Some(Object::Throttled) => Err(StoreError::Service {
                bucket: bucket.into(),
                key: key.into(),
                operation: "GetObject",
                code: "SlowDown".into(),
                message: "Please reduce your request rate.".into(),
                transient: true,
            }),
        }
    }

    async fn read_with<T, F>(&self, bucket: &str, key: &str, _v: Option<&str>, _f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        Err(unsupported(bucket, key, "GetObject"))
    }

    async fn put(&self, bucket: &str, key: &str, _b: Vec<u8>, _o: &PutOptions) -> Result<PutResult, StoreError> {
        Err(unsupported(bucket, key, "PutObject"))
    }

    async fn copy(&self, sb: &str, sk: &str, _db: &str, _dk: &str, _k: Option<&str>) -> Result<(), StoreError> {
        Err(unsupported(sb, sk, "CopyObject"))
    }
}

fn verdict(counts: Counts, policy: PolicyResult) -> Vec<u8> {
    let gate = GatePolicy::default();
    let evaluation = evaluate(&counts, policy, &gate);
    let input = VerdictInput {
        report: ReportRef {
            bucket: Some(BUCKET.into()),
            key: "scans/qualys-codebuild-image-us-east-1/qualys-codebuild-image-us-east-1:6f0c2a4e-1b7d-4c2e-9a51-2d8f3e7b9c10/report.sarif".into(),
            version_id: None,
            etag: None,
        },
        target: Some("111111111111.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2".into()),
        scanner: None,
        build: Some(BuildRef { project: Some("qualys-codebuild-image-us-east-1".into()), ..Default::default() }),
        processed_at: "2025-11-23T07:59:30.000Z".into(),
    };
    serde_json::to_vec(&Verdict::new(input, counts, policy, &gate, &evaluation)).expect("serialize verdict")
}

fn counts(critical: u64, high: u64, medium: u64, low: u64) -> Counts {
    Counts { critical, high, medium, low, informational: 1, total: critical + high + medium + low + 1 }
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Runs a genuine event: CodePipeline knows its job as the event describes it.
async fn run(event: &Value, store: &FakeStore, jobs: &RecordingJobs, now: i64) -> Result<JobResult, HandlerError> {
    if event["CodePipeline.job"]["id"].is_string() {
        jobs.knows(details_of(event));
    }
    handle(event, &env(), store, jobs, now, Some("req-1")).await
}

fn failure(job_id: &str, message: &str) -> Call {
    Call::Failure { job_id: job_id.into(), message: message.into(), external_execution_id: Some("req-1".into()) }
}

/// The failure message when the verdict at KEY never arrived (first check at T0).
fn never_arrived(waited: &str, checks: &str) -> String {
    format!(
        "scangate gate: the scan report's verdict never arrived: no verdict yet at s3://{BUCKET}/{KEY} after waiting \
         {waited} (since 2025-11-23T08:00:00Z, {checks}). Check that the scan uploaded its report (REPORT_BUCKET in \
         the build), that the report-processor ran (its logs and dead-letter queue) and whether the report was \
         quarantined (quarantine/ in the bucket); raise wait_seconds if processing is just slow."
    )
}

#[tokio::test]
async fn passed_verdict_succeeds_with_output_variables() {
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(0, 2, 5, 7), PolicyResult::Allow)));
    let jobs = RecordingJobs::default();
    let result = run(&fixture("invoke-verdict-key.json"), &store, &jobs, T0).await.expect("job result delivered");
    assert_eq!(result.kind(), "succeeded");
    assert_eq!(
        jobs.calls(),
        vec![Call::Success {
            job_id: "11111111-abcd-1111-abcd-111111abcdef".into(),
            token: None,
            outputs: strings(&[
                ("critical_count", "0"),
                ("high_count", "2"),
                ("informational_count", "1"),
                ("low_count", "7"),
                ("medium_count", "5"),
                ("not_fixable_count", "0"),
                ("policy_result", "ALLOW"),
                ("scan_passed", "true"),
                ("summary_s3_uri", &format!("s3://{BUCKET}/{}", KEY.replace("verdict.json", "summary.md"))),
                ("summary_url", SUMMARY_URL),
                ("verdict_key", KEY),
                ("vulnerability_count", "15"),
                ("waived_count", "0"),
            ]),
            summary: Some(
                "scan passed for 111111111111.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2: critical 0, high 2, medium 5, \
                 low 7, informational 1 (total 15); cloud policy ALLOW"
                    .into()
            ),
        }]
    );
    assert_eq!(store.reads.lock().expect("lock").clone(), vec![format!("s3://{BUCKET}/{KEY}")]);
}

#[tokio::test]
async fn failed_verdict_fails_with_the_reasons() {
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(2, 1, 0, 0), PolicyResult::Deny)));
    let jobs = RecordingJobs::default();
    run(&fixture("invoke-verdict-key.json"), &store, &jobs, T0).await.expect("job result delivered");
    let message = format!(
        "scangate gate failed for 111111111111.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2: 2 critical findings exceed \
         max_critical=0; cloud policy result is DENY (FAIL_ON_POLICY_DENY=true). Findings: critical 2, high 1, medium 0, \
         low 0, informational 1 (total 4); cloud policy DENY. Verdict: s3://{BUCKET}/{KEY} Summary: {SUMMARY_URL}"
    );
    assert_eq!(jobs.calls(), vec![failure("11111111-abcd-1111-abcd-111111abcdef", &message)]);
}

#[tokio::test]
async fn pending_then_pass_round_trips_the_token() {
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    let first = fixture("invoke-verdict-key.json");
    let JobResult::Continued { token, .. } = run(&first, &store, &jobs, T0).await.expect("delivered") else {
        panic!("first call must continue: {:?}", jobs.calls())
    };
    let expected_token = format!(
        r#"{{"v":1,"first_seen":{T0},"deadline":{},"attempts":1,"bucket":"{BUCKET}","key":"{KEY}"}}"#,
        T0 + 900
    );
    assert_eq!(token, expected_token);
    assert_eq!(
        jobs.calls(),
        vec![Call::Success {
            job_id: "11111111-abcd-1111-abcd-111111abcdef".into(),
            token: Some(expected_token.clone()),
            outputs: BTreeMap::new(),
            summary: Some(format!(
                "waiting for the scan verdict s3://{BUCKET}/{KEY}: no verdict yet (check 1, waited 0 s, giving up at \
                 2025-11-23T08:15:00Z)"
            )),
        }]
    );

    // CodePipeline invokes again with the token (a new job id); the processor has written the verdict meanwhile.
    store.put_object(BUCKET, KEY, Object::Bytes(verdict(counts(0, 0, 1, 0), PolicyResult::None)));
    let second = with_token(fixture("invoke-continuation.json"), &token);
    let result = run(&second, &store, &jobs, T0 + 40).await.expect("delivered");
    assert_eq!(result.kind(), "succeeded");
    let calls = jobs.calls();
    assert_eq!(calls.len(), 2, "exactly one job result per invocation: {calls:?}");
    let Call::Success { job_id, token, outputs, .. } = &calls[1] else { panic!("second call must succeed: {calls:?}") };
    assert_eq!(job_id, "22222222-abcd-2222-abcd-222222abcdef");
    assert_eq!(token, &None);
    assert_eq!(outputs["scan_passed"], "true");
    assert_eq!(outputs["medium_count"], "1");
}

#[tokio::test]
async fn the_fixture_token_is_a_gate_token() {
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    let result = run(&fixture("invoke-continuation.json"), &store, &jobs, T0 + 60).await.expect("delivered");
    let JobResult::Continued { token, .. } = result else { panic!("must keep waiting: {:?}", jobs.calls()) };
    assert!(token.contains(r#""first_seen":1763884800,"deadline":1763885700,"attempts":2"#), "{token}");
}

#[tokio::test]
async fn pending_past_the_deadline_fails() {
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    // The fixture's token: first seen at T0, deadline T0 + 900, one check so far.
    run(&fixture("invoke-continuation.json"), &store, &jobs, T0 + 901).await.expect("delivered");
    assert_eq!(
        jobs.calls(),
        vec![failure("22222222-abcd-2222-abcd-222222abcdef", &never_arrived("901 s", "2 checks"))]
    );
}

#[tokio::test]
async fn throttled_read_waits_then_fails_at_the_deadline() {
    let store = FakeStore::with(BUCKET, KEY, Object::Throttled);
    let jobs = RecordingJobs::default();
    let first = run(&fixture("invoke-verdict-key.json"), &store, &jobs, T0).await.expect("delivered");
    assert_eq!(first.kind(), "continued");
    let late = run(&fixture("invoke-continuation.json"), &store, &jobs, T0 + 2000).await.expect("delivered");
    let JobResult::Failed { message, .. } = late else { panic!("must fail") };
    assert!(message.contains("reading the verdict failed: s3://"), "{message}");
    assert!(message.contains("GetObject failed (SlowDown): Please reduce your request rate."), "{message}");
}

#[tokio::test]
async fn malformed_parameters_fail_the_job() {
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    run(&fixture("invoke-malformed-parameters.json"), &store, &jobs, T0).await.expect("delivered");
    assert_eq!(
        jobs.calls(),
        vec![failure(
            "55555555-abcd-5555-abcd-555555abcdef",
            "scangate gate: UserParameters is not valid JSON: expected value at line 1, column 1"
        )]
    );
    assert!(store.reads.lock().expect("lock").is_empty(), "nothing is read with bad parameters");

    let jobs = RecordingJobs::default();
    run(&fixture("invoke-unknown-keys.json"), &store, &jobs, T0).await.expect("delivered");
    assert_eq!(
        jobs.calls(),
        vec![failure(
            "66666666-abcd-6666-abcd-666666abcdef",
            "scangate gate: UserParameters has unknown keys \"max_crit\", \"verdictKey\"; known keys: verdict_key, \
             bucket, project, pipeline, execution_id, wait_seconds, max_critical, max_high, max_medium, max_low, \
             fail_on_policy_deny, fail_on_policy_audit"
        )]
    );
}

#[tokio::test]
async fn missing_object_without_waiting_fails() {
    let mut event = fixture("invoke-verdict-key.json");
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        Value::String(format!(r#"{{"verdict_key": "{KEY}", "wait_seconds": 0}}"#));
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    run(&event, &store, &jobs, T0).await.expect("delivered");
    assert_eq!(jobs.calls(), vec![failure("11111111-abcd-1111-abcd-111111abcdef", &never_arrived("0 s", "1 check"))]);
}

#[tokio::test]
async fn access_denied_fails_the_job() {
    let store = FakeStore::with(BUCKET, KEY, Object::Denied);
    let jobs = RecordingJobs::default();
    run(&fixture("invoke-verdict-key.json"), &store, &jobs, T0).await.expect("delivered");
    let message = format!(
        "scangate gate: access denied reading the verdict s3://{BUCKET}/{KEY} (AccessDenied: User: \
         arn:aws:sts::111111111111:assumed-role/gate/fn is not authorized to perform: kms:Decrypt). The gate's execution \
         role needs s3:GetObject on that object and kms:Decrypt on the bucket's KMS key."
    );
    assert_eq!(jobs.calls(), vec![failure("11111111-abcd-1111-abcd-111111abcdef", &message)]);
}

#[tokio::test]
async fn unknown_schema_fails_the_job() {
    let store =
        FakeStore::with(BUCKET, KEY, Object::Bytes(br#"{"schema": "scangate.verdict.v2", "passed": true}"#.to_vec()));
    let jobs = RecordingJobs::default();
    run(&fixture("invoke-verdict-key.json"), &store, &jobs, T0).await.expect("delivered");
    let message = format!(
        "scangate gate: the verdict s3://{BUCKET}/{KEY} has schema \"scangate.verdict.v2\", this gate reads \
         \"scangate.verdict.v1\". Deploy matching versions of the report-processor and the pipeline gate."
    );
    assert_eq!(jobs.calls(), vec![failure("11111111-abcd-1111-abcd-111111abcdef", &message)]);
}

#[tokio::test]
async fn threshold_overrides_re_evaluate_the_stored_counts() {
    // Failed on max_critical=0 when processed; the gate allows 5 criticals.
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(3, 9, 0, 0), PolicyResult::Allow)));
    let jobs = RecordingJobs::default();
    let result = run(&fixture("invoke-overrides.json"), &store, &jobs, T0).await.expect("delivered");
    let JobResult::Succeeded { outputs, .. } = result else {
        panic!("must pass with max_critical=5: {:?}", jobs.calls())
    };
    assert_eq!(outputs["critical_count"], "3");
    assert_eq!(jobs.calls().len(), 1);

    // A DENY still fails (fail_on_policy_deny stays true).
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(3, 0, 0, 0), PolicyResult::Deny)));
    let jobs = RecordingJobs::default();
    run(&fixture("invoke-overrides.json"), &store, &jobs, T0).await.expect("delivered");
    let message = format!(
        "scangate gate failed for 111111111111.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2: cloud policy result is DENY \
         (FAIL_ON_POLICY_DENY=true). Findings: critical 3, high 0, medium 0, low 0, informational 1 (total 4); cloud \
         policy DENY. Thresholds (with the gate's overrides): max_critical=5, max_high=-1, max_medium=-1, max_low=-1, \
         fail_on_policy_deny=true, fail_on_policy_audit=false. Verdict: s3://{BUCKET}/{KEY} Summary: {SUMMARY_URL}"
    );
    assert_eq!(jobs.calls(), vec![failure("44444444-abcd-4444-abcd-444444abcdef", &message)]);
}

#[tokio::test]
async fn by_execution_verdict_is_read_from_the_execution_key() {
    use scangate_core::verdict::PipelineExecution;
    let key = "results/by-execution/app-pipeline/c0d76431-b0e7-4e2a-97e3-e8ee786eb6f6/verdict.json";
    let mut own: Verdict = serde_json::from_slice(&verdict(counts(0, 0, 0, 0), PolicyResult::None)).expect("verdict");
    own.pipeline_execution = Some(PipelineExecution {
        pipeline: "app-pipeline".into(),
        execution_id: "c0d76431-b0e7-4e2a-97e3-e8ee786eb6f6".into(),
    });
    let store = FakeStore::with(BUCKET, key, Object::Bytes(serde_json::to_vec(&own).expect("json")));
    let jobs = RecordingJobs::default();
    let result = run(&fixture("invoke-by-execution.json"), &store, &jobs, T0).await.expect("delivered");
    let JobResult::Succeeded { outputs, .. } = result else { panic!("must pass: {:?}", jobs.calls()) };
    assert_eq!(outputs["verdict_key"], key);
    assert_eq!(outputs["summary_s3_uri"], format!("s3://{BUCKET}/{}", KEY.replace("verdict.json", "summary.md")));
    // The same verdict without its (verified) execution, as an unverified report's would be: refused.
    own.pipeline_execution = None;
    let store = FakeStore::with(BUCKET, key, Object::Bytes(serde_json::to_vec(&own).expect("json")));
    let jobs = RecordingJobs::default();
    let result = run(&fixture("invoke-by-execution.json"), &store, &jobs, T0).await.expect("delivered");
    let JobResult::Failed { message, .. } = result else { panic!("must fail: {result:?}") };
    assert!(message.contains("it names no verified pipeline execution"), "{message}");
}

#[tokio::test]
async fn a_foreign_continuation_token_fails_the_job() {
    let event = with_token(fixture("invoke-continuation.json"), "A continuation token if continuing job");
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    let result = run(&event, &store, &jobs, T0).await.expect("delivered");
    let JobResult::Failed { message, .. } = result else { panic!("must fail") };
    assert!(message.starts_with("scangate gate: continuation token is not a scangate gate token ("), "{message}");
    assert_eq!(jobs.calls().len(), 1);
}

#[tokio::test]
async fn not_a_pipeline_event_is_an_error_without_calls() {
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    let err = run(&serde_json::json!({"Records": []}), &store, &jobs, T0).await.expect_err("no job to answer");
    assert!(matches!(err, HandlerError::NotAJob(_)), "{err}");
    assert!(jobs.calls().is_empty());
}

#[tokio::test]
async fn attack_a_made_up_job_id_gets_no_result() {
    // Someone allowed to invoke the function submits a job id the pipeline never gave it,
    // with a verdict that passes: CodePipeline knows no such job, so nothing is answered.
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(0, 0, 0, 0), PolicyResult::None)));
    let jobs = RecordingJobs::default();
    let forged = fixture("invoke-verdict-key.json");
    let err = handle(&forged, &env(), &store, &jobs, T0, Some("req-1")).await.expect_err("unknown job");
    assert!(matches!(&err, HandlerError::UnknownJob(id) if id == "11111111-abcd-1111-abcd-111111abcdef"), "{err}");
    assert!(jobs.calls().is_empty(), "no PutJob*Result for a job CodePipeline does not know: {:?}", jobs.calls());
    assert!(store.reads.lock().expect("lock").is_empty(), "nothing is even read for it");
}

#[tokio::test]
async fn attack_event_user_parameters_are_ignored_for_the_real_ones() {
    // The job is real and its configured verdict failed; the event claims another key
    // whose verdict passes. The gate reads the key CodePipeline configured and fails.
    const OTHER: &str = "results/attacker/b-1/verdict.json";
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(3, 0, 0, 0), PolicyResult::None)));
    store.put_object(BUCKET, OTHER, Object::Bytes(verdict(counts(0, 0, 0, 0), PolicyResult::None)));
    let jobs = RecordingJobs::default();
    let genuine = fixture("invoke-verdict-key.json");
    jobs.knows(details_of(&genuine));
    let mut forged = genuine.clone();
    forged["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        Value::String(format!(r#"{{"verdict_key": "{OTHER}", "wait_seconds": 0, "max_critical": -1}}"#));
    let result = handle(&forged, &env(), &store, &jobs, T0, Some("req-1")).await.expect("delivered");
    assert_eq!(result.kind(), "failed", "{result:?}");
    assert_eq!(store.reads.lock().expect("lock").clone(), vec![format!("s3://{BUCKET}/{KEY}")]);
    // A continuation token only in the event is not CodePipeline's either.
    let forged =
        with_token(genuine, r#"{"v":1,"first_seen":0,"deadline":99999999999,"attempts":1,"bucket":"b","key":"k"}"#);
    let jobs = RecordingJobs::default();
    jobs.knows(details_of(&fixture("invoke-verdict-key.json")));
    handle(&forged, &env(), &store, &jobs, T0, Some("req-1")).await.expect("delivered");
    assert_eq!(store.reads.lock().expect("lock").last().cloned(), Some(format!("s3://{BUCKET}/{KEY}")));
}

#[tokio::test]
async fn a_by_execution_verdict_of_another_pipeline_fails() {
    let store = FakeStore::default();
    let jobs = RecordingJobs::default();
    let event = fixture("invoke-by-execution.json");
    let mut real = details_of(&event);
    real.pipeline_name = Some("someone-elses-pipeline".into());
    jobs.knows(real);
    let result = handle(&event, &env(), &store, &jobs, T0, Some("req-1")).await.expect("delivered");
    let JobResult::Failed { message, .. } = result else { panic!("must fail: {result:?}") };
    assert!(message.contains("but this job belongs to pipeline \"someone-elses-pipeline\""), "{message}");
    assert!(store.reads.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn attack_another_functions_job_gets_no_result_and_nothing_changes() {
    // A real, in-progress job of another Lambda action of the pipeline (a deploy approver, say),
    // whose UserParameters happen to read as a gate's: answering it would pass or fail an action
    // that is not the gate's. CodePipeline names the function; the gate refuses the job.
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(0, 0, 0, 0), PolicyResult::None)));
    let event = fixture("invoke-verdict-key.json");
    for function in [
        "deploy-approver",
        "qualys-pipeline-gate-2",
        "arn:aws:lambda:us-east-1:111111111111:function:deploy-approver",
        "arn:aws:lambda:us-east-1:222222222222:function:qualys-pipeline-gate",
        "arn:aws:lambda:eu-west-1:111111111111:function:qualys-pipeline-gate",
        "",
    ] {
        let jobs = RecordingJobs::default();
        let mut real = details_of(&event);
        real.function_name = Some(function.into()).filter(|f: &String| !f.is_empty());
        jobs.knows(real);
        let err = handle(&event, &env(), &store, &jobs, T0, Some("req-1")).await.expect_err("refused");
        assert!(
            matches!(&err, HandlerError::ForeignJob { job_id, function: f, .. }
                if job_id == "11111111-abcd-1111-abcd-111111abcdef" && f == function),
            "{function}: {err}"
        );
        assert!(jobs.calls().is_empty(), "{function}: no job result for another function's job: {:?}", jobs.calls());
        assert!(store.reads.lock().expect("lock").is_empty(), "{function}: nothing is read for it");
    }
    // The same job named by the gate's own ARN (or a qualifier of it) is answered.
    for mine in ["arn:aws:lambda:us-east-1:111111111111:function:qualys-pipeline-gate", "qualys-pipeline-gate:live"] {
        let jobs = RecordingJobs::default();
        let mut real = details_of(&event);
        real.function_name = Some(mine.into());
        jobs.knows(real);
        let result = handle(&event, &env(), &store, &jobs, T0, Some("req-1")).await.expect("delivered");
        assert_eq!(result.kind(), "succeeded", "{mine}");
    }
}

#[tokio::test]
async fn attack_a_verdict_of_another_execution_fails_the_job() {
    use scangate_core::verdict::PipelineExecution;
    // The fixed verdict_key holds a (passing) verdict of an earlier execution of the pipeline; the
    // job runs in another. And a by-execution verdict must name the execution it is read for.
    let event = fixture("invoke-verdict-key.json");
    let mut earlier: Verdict =
        serde_json::from_slice(&verdict(counts(0, 0, 0, 0), PolicyResult::None)).expect("verdict");
    earlier.pipeline_execution =
        Some(PipelineExecution { pipeline: "app-pipeline".into(), execution_id: "e-0".into() });
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(serde_json::to_vec(&earlier).expect("json")));
    let jobs = RecordingJobs::default();
    let mut real = details_of(&event);
    real.pipeline_name = Some("app-pipeline".into());
    real.pipeline_execution_id = Some("e-1".into());
    jobs.knows(real.clone());
    let result = handle(&event, &env(), &store, &jobs, T0, Some("req-1")).await.expect("delivered");
    let JobResult::Failed { message, .. } = result else { panic!("must fail: {result:?}") };
    assert!(message.contains("belongs to execution \"e-0\" of pipeline \"app-pipeline\""), "{message}");
    assert!(message.contains("this job runs in execution \"e-1\""), "{message}");
    // The same verdict, read by the job of its own execution, passes.
    let jobs = RecordingJobs::default();
    real.pipeline_execution_id = Some("e-0".into());
    jobs.knows(real);
    let result = handle(&event, &env(), &store, &jobs, T0, Some("req-1")).await.expect("delivered");
    assert_eq!(result.kind(), "succeeded", "{result:?}");
}

#[tokio::test]
async fn unreadable_job_details_are_retried_without_a_result() {
    let jobs = RecordingJobs::details_failing_with("ThrottlingException");
    let err = handle(&fixture("invoke-verdict-key.json"), &env(), &FakeStore::default(), &jobs, T0, None)
        .await
        .expect_err("retried");
    assert!(matches!(err, HandlerError::JobDetails(_)), "{err}");
    assert!(jobs.calls().is_empty(), "no result without the job's details: {:?}", jobs.calls());
}

#[tokio::test]
async fn undeliverable_result_is_retried_but_a_closed_job_is_not() {
    let store = FakeStore::with(BUCKET, KEY, Object::Bytes(verdict(counts(0, 0, 0, 0), PolicyResult::None)));
    let throttled = RecordingJobs::results_failing_with("ThrottlingException");
    let err = run(&fixture("invoke-verdict-key.json"), &store, &throttled, T0).await.expect_err("retry the invocation");
    assert!(matches!(err, HandlerError::Delivery(PipelineError::Service { .. })), "{err}");
    assert_eq!(throttled.calls().len(), 1);

    let closed = RecordingJobs::results_failing_with("InvalidJobStateException");
    let result = run(&fixture("invoke-verdict-key.json"), &store, &closed, T0).await.expect("nothing to retry");
    assert_eq!(result.kind(), "succeeded");
}

#[test]
fn fixtures_are_shaped_like_codepipeline_events() {
    for name in [
        "invoke-verdict-key.json",
        "invoke-continuation.json",
        "invoke-by-execution.json",
        "invoke-overrides.json",
        "invoke-malformed-parameters.json",
        "invoke-unknown-keys.json",
    ] {
        let event = fixture(name);
        let job = &event["CodePipeline.job"];
        assert!(job["id"].is_string(), "{name}: id");
        assert!(job["accountId"].is_string(), "{name}: accountId");
        let data = &job["data"];
        assert!(data["actionConfiguration"]["configuration"]["FunctionName"].is_string(), "{name}: FunctionName");
        assert!(data["actionConfiguration"]["configuration"]["UserParameters"].is_string(), "{name}: UserParameters");
        for k in ["inputArtifacts", "outputArtifacts"] {
            assert!(data[k].is_array(), "{name}: {k}");
        }
        for k in ["accessKeyId", "secretAccessKey", "sessionToken"] {
            assert!(data["artifactCredentials"][k].is_string(), "{name}: artifactCredentials.{k}");
        }
    }
    assert!(fixture("invoke-continuation.json")["CodePipeline.job"]["data"]["continuationToken"].is_string());
}

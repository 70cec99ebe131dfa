//! The gate against S3 emulated by moto (started by scangate-testkit; `make venv` installs it): a
//! missing verdict is "not there yet" (S3's NoSuchKey through the real S3 adapter), then the
//! verdict the processor writes passes the gate on the next invocation. CodePipeline is
//! scangate-testkit's recording fake.

use pipeline_gate::config::Config;
use pipeline_gate::{handle, JobResult};
use scangate_aws::clients::Clients;
use scangate_aws::s3::{PutOptions, ReportStore, S3Store};
use scangate_core::policy::{evaluate, Counts, GatePolicy, PolicyResult};
use scangate_core::verdict::{ReportRef, Verdict, VerdictInput};
use scangate_testkit::codepipeline::{details_of, Call, RecordingJobs};
use scangate_testkit::{unique_bucket, Moto};
use std::time::Duration;

/// The event of a job CodePipeline gave the function (and knows).
fn job(jobs: &RecordingJobs, job_id: &str, user_parameters: &str, token: Option<&str>) -> serde_json::Value {
    let event = event(job_id, user_parameters, token);
    jobs.knows(details_of(&event));
    event
}

fn event(job_id: &str, user_parameters: &str, token: Option<&str>) -> serde_json::Value {
    let mut data = serde_json::json!({
        "actionConfiguration": {"configuration": {"FunctionName": "qualys-scangate-pipeline-gate", "UserParameters": user_parameters}},
        "inputArtifacts": [],
        "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "x", "sessionToken": "y"}
    });
    if let Some(t) = token {
        data["continuationToken"] = serde_json::Value::String(t.to_string());
    }
    serde_json::json!({"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}})
}

#[tokio::test]
async fn waits_for_the_verdict_in_s3_then_passes() {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let clients = Clients::new(&sdk);
    let bucket = unique_bucket("gate");
    clients.s3.create_bucket().bucket(&bucket).send().await.expect("create bucket in moto");
    let store = S3Store::new(clients.s3.clone(), None);
    let env = Config {
        report_bucket: Some(bucket.clone()),
        region: Some("us-east-1".into()),
        read_timeout: Duration::from_secs(10),
        function_name: Some("qualys-scangate-pipeline-gate".into()),
        account_id: None,
    };
    let key = "results/web/b-1/verdict.json";
    let params = format!(r#"{{"verdict_key": "{key}", "wait_seconds": 600}}"#);
    let jobs = RecordingJobs::default();

    let first =
        handle(&job(&jobs, "job-1", &params, None), &env, &store, &jobs, 1_000, Some("r1")).await.expect("delivered");
    let JobResult::Continued { token, .. } = first else { panic!("missing verdict must continue: {first:?}") };

    let gate = GatePolicy::default();
    let counts = Counts { high: 2, total: 2, ..Default::default() };
    let e = evaluate(&counts, PolicyResult::None, &gate);
    let input = VerdictInput {
        report: ReportRef {
            bucket: Some(bucket.clone()),
            key: "scans/web/b-1/report.sarif".into(),
            ..Default::default()
        },
        processed_at: "2025-11-23T08:00:00.000Z".into(),
        ..Default::default()
    };
    let verdict = Verdict::new(input, counts, PolicyResult::None, &gate, &e);
    let body = serde_json::to_vec(&verdict).expect("serialize");
    store.put(&bucket, key, body, &PutOptions::json()).await.expect("put verdict");

    let second = handle(&job(&jobs, "job-2", &params, Some(&token)), &env, &store, &jobs, 1_030, Some("r2"))
        .await
        .expect("delivered");
    let JobResult::Succeeded { outputs, .. } = second else { panic!("verdict present must pass: {second:?}") };
    assert_eq!(outputs["high_count"], "2");
    let calls = jobs.calls();
    assert!(
        matches!(&calls[..], [
            Call::Success { job_id: first, token: Some(_), .. },
            Call::Success { job_id: second, token: None, outputs, .. },
        ] if first == "job-1" && second == "job-2" && outputs.len() == 13),
        "a continuation for job-1, then success with 13 output variables (waived_count and not_fixable_count among them) for job-2: {calls:?}"
    );
}

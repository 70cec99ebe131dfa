//! Runs the pipeline-gate handler once, locally, used by `make demo`: the CodePipeline
//! job event is read from stdin, the verdict from S3 (`AWS_ENDPOINT_URL`, e.g. moto) through
//! the same [`S3Store`] as the Lambda, and the job result — which moto cannot take, it has
//! no CodePipeline job API — is printed instead of sent:
//!
//! ```text
//! PutJobFailureResult job=<id>: <message>
//! PutJobSuccessResult job=<id> outputs: critical_count=0 …
//! result: failed|succeeded|continued
//! ```
//!
//! Logs go to stderr, configured as in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON;
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`).
//!
//! Exit status 0 when the gate delivered a result (whichever), 1 when the handler ended
//! without one (not a CodePipeline event), 2 when stdin is not JSON.

use pipeline_gate::config::Config;
use pipeline_gate::handle;
use scangate_aws::clients::{load_sdk_config, Clients};
use scangate_aws::s3::S3Store;
use scangate_testkit::codepipeline::{details_of, Call, RecordingJobs};
use std::io::Read;
use std::process::ExitCode;

/// Prints the job results the gate sent, in order, in place of CodePipeline receiving them.
fn print_calls(jobs: &RecordingJobs) {
    for call in jobs.calls() {
        let summary = match call {
            Call::Success { job_id, token: Some(token), summary, .. } => {
                println!("PutJobSuccessResult job={job_id} continuationToken={token}");
                summary
            }
            Call::Success { job_id, token: None, outputs, summary } => {
                let outputs: Vec<String> = outputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("PutJobSuccessResult job={job_id} outputs: {}", outputs.join(" "));
                summary
            }
            Call::Failure { job_id, message, .. } => {
                println!("PutJobFailureResult job={job_id}: {message}");
                None
            }
        };
        if let Some(summary) = summary {
            println!("  summary: {summary}");
        }
    }
}

fn main() -> ExitCode {
    // The Lambda's subscriber, on stderr: stdout carries the job result.
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("local_gate: reading the event from stdin: {e}");
        return ExitCode::from(2);
    }
    let event: serde_json::Value = match serde_json::from_str(&input) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("local_gate: stdin is not a JSON CodePipeline job event: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("local_gate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let env = Config::from_env();
        let sdk = load_sdk_config().await;
        let store = S3Store::new(Clients::new(&sdk).s3, None);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // CodePipeline's GetJobDetails stand-in knows the one job of the event on stdin, as the
        // event describes it (the Lambda asks CodePipeline instead).
        let jobs = RecordingJobs::default();
        jobs.knows(details_of(&event));
        let outcome = handle(&event, &env, &store, &jobs, now, Some("local-gate")).await;
        print_calls(&jobs);
        match outcome {
            Ok(result) => {
                println!("result: {}", result.kind());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("local_gate: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

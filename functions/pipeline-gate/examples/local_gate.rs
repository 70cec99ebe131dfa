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
use scangate_aws::codepipeline::{JobDetails, PipelineError, PipelineJobs};
use scangate_aws::s3::S3Store;
use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;

/// Prints each job result on stdout instead of calling CodePipeline. Stands in for
/// CodePipeline's GetJobDetails too: it knows the one job of the event on stdin, as the
/// event describes it (the Lambda asks CodePipeline instead).
struct PrintingJobs {
    job: JobDetails,
}

impl PrintingJobs {
    fn for_event(event: &serde_json::Value) -> PrintingJobs {
        let job = &event["CodePipeline.job"];
        let data = &job["data"];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        PrintingJobs {
            job: JobDetails {
                job_id: job["id"].as_str().unwrap_or_default().to_string(),
                account_id: text(&job["accountId"]),
                user_parameters: text(&data["actionConfiguration"]["configuration"]["UserParameters"]),
                continuation_token: text(&data["continuationToken"]),
                ..JobDetails::default()
            },
        }
    }
}

impl PipelineJobs for PrintingJobs {
    async fn get_job_details(&self, job_id: &str) -> Result<Option<JobDetails>, PipelineError> {
        Ok(Some(self.job.clone()).filter(|j| j.job_id == job_id))
    }

    async fn put_job_success(
        &self,
        job_id: &str,
        continuation_token: Option<&str>,
        output_variables: &BTreeMap<String, String>,
        summary: Option<&str>,
    ) -> Result<(), PipelineError> {
        match continuation_token {
            Some(token) => println!("PutJobSuccessResult job={job_id} continuationToken={token}"),
            None => {
                let outputs: Vec<String> = output_variables.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("PutJobSuccessResult job={job_id} outputs: {}", outputs.join(" "));
            }
        }
        if let Some(summary) = summary {
            println!("  summary: {summary}");
        }
        Ok(())
    }

    async fn put_job_failure(
        &self,
        job_id: &str,
        message: &str,
        _external_execution_id: Option<&str>,
    ) -> Result<(), PipelineError> {
        println!("PutJobFailureResult job={job_id}: {message}");
        Ok(())
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
        match handle(&event, &env, &store, &PrintingJobs::for_event(&event), now, Some("local-gate")).await {
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

//! A CodePipeline for the gate's tests ([`RecordingJobs`]): it answers GetJobDetails with the
//! jobs the test told it about and records every job result the gate sends.

use scangate_aws::codepipeline::{JobDetails, PipelineError, PipelineJobs};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// One job result the gate sent, with everything it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// PutJobSuccessResult.
    Success { job_id: String, token: Option<String>, outputs: BTreeMap<String, String>, summary: Option<String> },
    /// PutJobFailureResult.
    Failure { job_id: String, message: String, external_execution_id: Option<String> },
}

/// [`PipelineJobs`] that records the job results in order and knows only the jobs it is told
/// about ([`RecordingJobs::knows`]); GetJobDetails of any other job is "no such job".
#[derive(Debug, Default)]
pub struct RecordingJobs {
    calls: Mutex<Vec<Call>>,
    known: Mutex<HashMap<String, JobDetails>>,
    results_fail_with: Option<&'static str>,
    details_fail_with: Option<&'static str>,
}

/// The job an event names, as CodePipeline would describe it when the event is genuine: its
/// id, account, `FunctionName`, `UserParameters` and continuation token.
pub fn details_of(event: &Value) -> JobDetails {
    let job = &event["CodePipeline.job"];
    let data = &job["data"];
    JobDetails {
        job_id: job["id"].as_str().unwrap_or_default().to_string(),
        account_id: job["accountId"].as_str().map(str::to_string),
        user_parameters: data["actionConfiguration"]["configuration"]["UserParameters"].as_str().map(str::to_string),
        function_name: data["actionConfiguration"]["configuration"]["FunctionName"].as_str().map(str::to_string),
        continuation_token: data["continuationToken"].as_str().map(str::to_string),
        ..JobDetails::default()
    }
}

fn refused(code: &str, operation: &'static str, job_id: &str) -> PipelineError {
    let (job_id, code, message) = (job_id.to_string(), code.to_string(), "refused by the fake".to_string());
    if code == "InvalidJobStateException" {
        PipelineError::JobClosed { operation, job_id, code, message }
    } else {
        PipelineError::Service { operation, job_id, code, message }
    }
}

impl RecordingJobs {
    /// Every job result fails with this CodePipeline error code (after being recorded):
    /// `InvalidJobStateException` as a closed job, any other code as a service error.
    pub fn results_failing_with(code: &'static str) -> RecordingJobs {
        RecordingJobs { results_fail_with: Some(code), ..RecordingJobs::default() }
    }

    /// GetJobDetails fails with this CodePipeline error code (a service error).
    pub fn details_failing_with(code: &'static str) -> RecordingJobs {
        RecordingJobs { details_fail_with: Some(code), ..RecordingJobs::default() }
    }

    /// CodePipeline knows this job (GetJobDetails answers it).
    pub fn knows(&self, job: JobDetails) {
        self.known.lock().expect("lock").insert(job.job_id.clone(), job);
    }

    /// The job results sent so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    fn record(&self, call: Call, operation: &'static str, job_id: &str) -> Result<(), PipelineError> {
        self.calls.lock().expect("lock").push(call);
        self.results_fail_with.map_or(Ok(()), |code| Err(refused(code, operation, job_id)))
    }
}

impl PipelineJobs for RecordingJobs {
    async fn get_job_details(&self, job_id: &str) -> Result<Option<JobDetails>, PipelineError> {
        if let Some(code) = self.details_fail_with {
            return Err(match refused(code, "GetJobDetails", job_id) {
                PipelineError::JobClosed { operation, job_id, code, message } => {
                    PipelineError::Service { operation, job_id, code, message }
                }
                other => other,
            });
        }
        Ok(self.known.lock().expect("lock").get(job_id).cloned())
    }

    async fn put_job_success(
        &self,
        job_id: &str,
        continuation_token: Option<&str>,
        output_variables: &BTreeMap<String, String>,
        summary: Option<&str>,
    ) -> Result<(), PipelineError> {
        let call = Call::Success {
            job_id: job_id.into(),
            token: continuation_token.map(str::to_string),
            outputs: output_variables.clone(),
            summary: summary.map(str::to_string),
        };
        self.record(call, "PutJobSuccessResult", job_id)
    }

    async fn put_job_failure(&self, job_id: &str, message: &str, ext: Option<&str>) -> Result<(), PipelineError> {
        let call = Call::Failure {
            job_id: job_id.into(),
            message: message.into(),
            external_execution_id: ext.map(str::to_string),
        };
        self.record(call, "PutJobFailureResult", job_id)
    }
}

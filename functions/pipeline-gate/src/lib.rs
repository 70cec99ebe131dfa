//! pipeline-gate: a CodePipeline Lambda "Invoke" action that passes or fails a stage on
//! the scan verdict the report-processor wrote to S3.
//!
//! The gate acts only on what CodePipeline says about the job: the event gives the job id,
//! GetJobDetails gives the configuration (UserParameters), the pipeline and execution and
//! the continuation token. A job id CodePipeline does not know gets no result at all.
//!
//! Each invocation for a known job ends in exactly one job result: PutJobSuccessResult (verdict passed,
//! with output variables), PutJobSuccessResult with a continuation token (verdict not
//! there yet; CodePipeline invokes the gate again) or PutJobFailureResult (verdict failed,
//! or anything that went wrong: bad parameters, access denied, unknown schema, a verdict
//! that never arrived). The handler returns an error only when there is no job to answer
//! (not a CodePipeline event) or when the job result itself could not be delivered and a
//! retry of the invocation may deliver it.
//!
//! The decisions are pure and live in [`scangate_core::gate`]; this crate reads the event,
//! the verdict object ([`ReportStore`]) and calls CodePipeline ([`PipelineJobs`]).

use scangate_aws::codepipeline::{JobDetails, PipelineError, PipelineJobs};
use scangate_aws::s3::{ReportStore, StoreError};
use scangate_core::gate::{self, Context, Continuation, GateDecision, GateParams, Lookup, VerdictLocation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub mod config;

use config::Config;

/// A verdict is a few KB; anything above this is not one.
pub const MAX_VERDICT_BYTES: u64 = 1024 * 1024;

/// The parts of `CodePipeline.job` the gate reads from the event: only the job id (and
/// the event's account id and UserParameters, for the log). Everything the gate acts on
/// comes from CodePipeline's GetJobDetails. `artifactCredentials` is deliberately not
/// deserialized (and the event is never logged): it holds temporary credentials.
///
/// Not `aws_lambda_events`' `CodePipelineJobEvent`: that type requires `data.inputArtifacts`,
/// `outputArtifacts` and `artifactCredentials` (an event without them would not parse,
/// though the gate needs only the id) and deserializes the credentials this one leaves out.
#[derive(Debug, Default, Deserialize)]
struct EventEnvelope {
    #[serde(rename = "CodePipeline.job")]
    job: JobEvent,
}

#[derive(Debug, Default, Deserialize)]
struct JobEvent {
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(default)]
    data: Option<JobData>,
}

#[derive(Debug, Default, Deserialize)]
struct JobData {
    #[serde(rename = "actionConfiguration", default)]
    action_configuration: Option<ActionConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
struct ActionConfiguration {
    #[serde(default)]
    configuration: Option<Configuration>,
}

#[derive(Debug, Default, Deserialize)]
struct Configuration {
    #[serde(rename = "UserParameters", default)]
    user_parameters: Option<String>,
}

/// The job result the gate delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobResult {
    Succeeded { job_id: String, outputs: BTreeMap<String, String> },
    Continued { job_id: String, token: String },
    Failed { job_id: String, message: String },
}

impl JobResult {
    pub fn kind(&self) -> &'static str {
        match self {
            JobResult::Succeeded { .. } => "succeeded",
            JobResult::Continued { .. } => "continued",
            JobResult::Failed { .. } => "failed",
        }
    }
}

/// What the gate's Lambda returns once a job result is delivered: `{"result": kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Response {
    /// [`JobResult::kind`].
    pub result: &'static str,
}

impl From<&JobResult> for Response {
    fn from(result: &JobResult) -> Response {
        Response { result: result.kind() }
    }
}

/// Why an invocation ended without a job result.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(
        "the event is not a CodePipeline job (expected an object with \"CodePipeline.job\".id): {0}; \
         the gate must be a CodePipeline Lambda invoke action"
    )]
    NotAJob(String),
    #[error(
        "CodePipeline knows no job {0}: no job result is sent for a job CodePipeline did not give this function \
         (GetJobDetails answered JobNotFound); the event did not come from a pipeline of this account"
    )]
    UnknownJob(String),
    #[error(
        "job {job_id} is an action of function {function:?}, not of this function ({own:?}): no job result is sent \
         for another function's job"
    )]
    ForeignJob { job_id: String, function: String, own: String },
    #[error("the job's details could not be read from CodePipeline, the invocation will be retried: {0}")]
    JobDetails(PipelineError),
    #[error("the job result could not be delivered, the invocation will be retried: {0}")]
    Delivery(#[from] PipelineError),
}

/// Classifies a store error for the decision.
pub fn lookup_from_error(e: &StoreError) -> Lookup {
    match e {
        StoreError::NotFound { .. } => Lookup::Missing,
        StoreError::Service { code, message, .. }
            if code.contains("AccessDenied") || code == "Forbidden" || code == "AllAccessDisabled" =>
        {
            Lookup::AccessDenied(format!("{code}: {}", first_line(message)))
        }
        e if e.is_transient() => Lookup::Transient(e.to_string()),
        e => Lookup::Failed(e.to_string()),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

async fn look_up<S: ReportStore>(store: &S, bucket: &str, key: &str, timeout: Duration) -> Lookup {
    match tokio::time::timeout(timeout, store.get_bytes(bucket, key, MAX_VERDICT_BYTES)).await {
        Err(_) => Lookup::Transient(format!("S3 did not answer within {} s", timeout.as_secs())),
        Ok(Ok(Some(fetched))) => Lookup::Found(fetched.body),
        Ok(Ok(None)) => Lookup::Missing,
        Ok(Err(e)) => lookup_from_error(&e),
    }
}

/// Everything between the job and the decision: parameters, token, the S3 read. `job`
/// is what CodePipeline says about the job, never the event.
async fn decide_for<S: ReportStore>(job: &JobDetails, env: &Config, store: &S, now: i64) -> GateDecision {
    let params: GateParams = match gate::parse_params(job.user_parameters.as_deref(), env.report_bucket.as_deref()) {
        Ok(p) => p,
        Err(e) => return GateDecision::Fail { message: format!("scangate gate: {e}") },
    };
    if let Some(message) = foreign_execution(&params, job) {
        return GateDecision::Fail { message };
    }
    let state = match job.continuation_token.as_deref() {
        None => None,
        Some(token) => match Continuation::decode(token) {
            Ok(state) => Some(state),
            Err(e) => return GateDecision::Fail { message: format!("scangate gate: {e}") },
        },
    };
    // The key resolved at the first invocation wins; an empty one (too long for the token) is resolved again.
    let state = state.map(|mut s| {
        if s.key.is_empty() {
            s.key = params.key();
        }
        s
    });
    let (bucket, key) = match &state {
        Some(s) => (s.bucket.clone(), s.key.clone()),
        None => (params.bucket.clone(), params.key()),
    };
    let lookup = look_up(store, &bucket, &key, env.read_timeout).await;
    let ctx = Context {
        region: env.region.clone(),
        pipeline: job.pipeline_name.clone(),
        execution_id: job.pipeline_execution_id.clone(),
    };
    let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gate::decide(&params, state.as_ref(), lookup, now, &ctx)
    }));
    decided.unwrap_or_else(|_| GateDecision::Fail {
        message: format!(
            "scangate gate: internal error while deciding on s3://{bucket}/{key} (a bug; see the function's logs)"
        ),
    })
}

/// A by-execution verdict of another pipeline or execution than the job's (as CodePipeline
/// names them): the gate of one pipeline never passes on another's verdict.
fn foreign_execution(params: &GateParams, job: &JobDetails) -> Option<String> {
    let VerdictLocation::Execution { pipeline, execution_id, .. } = &params.location else { return None };
    if let Some(real) = job.pipeline_name.as_deref().filter(|real| *real != pipeline.as_str()) {
        return Some(format!(
            "scangate gate: UserParameters.pipeline is {pipeline:?} but this job belongs to pipeline {real:?}: \
             the gate reads only its own pipeline's by-execution verdicts"
        ));
    }
    if let Some(real) = job.pipeline_execution_id.as_deref().filter(|real| *real != execution_id.as_str()) {
        return Some(format!(
            "scangate gate: UserParameters.execution_id is {execution_id:?} but this job runs in execution {real:?}: \
             use \"#{{codepipeline.PipelineExecutionId}}\""
        ));
    }
    None
}

/// Handles one invocation. `now` is unix seconds; `request_id` links failures to the logs.
///
/// Only the job id is taken from the event: the job's configuration, pipeline and
/// continuation token come from CodePipeline (GetJobDetails). A job id CodePipeline does
/// not know gets no job result at all.
pub async fn handle<S: ReportStore, J: PipelineJobs>(
    event: &serde_json::Value,
    env: &Config,
    store: &S,
    jobs: &J,
    now: i64,
    request_id: Option<&str>,
) -> Result<JobResult, HandlerError> {
    let job_id = event
        .get("CodePipeline.job")
        .and_then(|j| j.get("id"))
        .and_then(|id| id.as_str())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| HandlerError::NotAJob("no \"CodePipeline.job\".id".into()))?
        .to_string();
    let claimed = serde_json::from_value::<EventEnvelope>(event.clone()).unwrap_or_default().job;
    let job = match jobs.get_job_details(&job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => {
            let e = HandlerError::UnknownJob(job_id.clone());
            tracing::error!(job_id = %job_id, error = %e, "gate invoked for a job CodePipeline does not know: no job result sent");
            return Err(e);
        }
        Err(e) => {
            tracing::error!(job_id = %job_id, error = %e, "GetJobDetails failed");
            return Err(HandlerError::JobDetails(e));
        }
    };
    // A job of another Lambda action (its UserParameters are not a gate's, its result not the gate's to give):
    // answered by nobody here, whatever it says.
    let function = job.function_name.as_deref().unwrap_or_default();
    if !env.is_own_function(function) {
        let e = HandlerError::ForeignJob {
            job_id: job_id.clone(),
            function: function.to_string(),
            own: env.function_name.clone().unwrap_or_default(),
        };
        tracing::error!(job_id = %job_id, error = %e, "gate invoked with another function's job: no job result sent");
        return Err(e);
    }
    let event_parameters = claimed
        .data
        .as_ref()
        .and_then(|d| d.action_configuration.as_ref())
        .and_then(|a| a.configuration.as_ref())
        .and_then(|c| c.user_parameters.as_deref());
    if event_parameters != job.user_parameters.as_deref() {
        tracing::warn!(
            job_id = %job_id,
            "the event's UserParameters differ from the job's configuration in CodePipeline: using CodePipeline's"
        );
    }
    tracing::info!(
        job_id = %job_id,
        account_id = job.account_id.as_deref().or(claimed.account_id.as_deref()).unwrap_or(""),
        pipeline = job.pipeline_name.as_deref().unwrap_or(""),
        execution_id = job.pipeline_execution_id.as_deref().unwrap_or(""),
        continuation = job.continuation_token.is_some(),
        "gate invoked"
    );
    let decision = decide_for(&job, env, store, now).await;
    deliver(jobs, &job_id, decision, request_id).await
}

async fn deliver<J: PipelineJobs>(
    jobs: &J,
    job_id: &str,
    decision: GateDecision,
    request_id: Option<&str>,
) -> Result<JobResult, HandlerError> {
    let (call, result) = match decision {
        GateDecision::Succeed { outputs, summary } => {
            tracing::info!(job_id, %summary, "verdict passed: PutJobSuccessResult");
            let call = jobs.put_job_success(job_id, None, &outputs, Some(&summary)).await;
            (call, JobResult::Succeeded { job_id: job_id.into(), outputs })
        }
        GateDecision::Continue { token, summary } => {
            tracing::info!(job_id, %summary, "verdict not there yet: PutJobSuccessResult with a continuation token");
            let call = jobs.put_job_success(job_id, Some(&token), &BTreeMap::new(), Some(&summary)).await;
            (call, JobResult::Continued { job_id: job_id.into(), token })
        }
        GateDecision::Fail { message } => {
            tracing::info!(job_id, %message, "gate failed: PutJobFailureResult");
            let call = jobs.put_job_failure(job_id, &message, request_id).await;
            (call, JobResult::Failed { job_id: job_id.into(), message })
        }
    };
    match call {
        Ok(()) => Ok(result),
        Err(e @ PipelineError::JobClosed { .. }) => {
            // Retrying cannot help: the job already has a result or is gone.
            tracing::error!(job_id, error = %e, outcome = result.kind(), "job result refused: the job no longer accepts one");
            Ok(result)
        }
        Err(e) => {
            tracing::error!(job_id, error = %e, outcome = result.kind(), "job result not delivered");
            Err(HandlerError::Delivery(e))
        }
    }
}

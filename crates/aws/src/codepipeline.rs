//! CodePipeline job results: how a Lambda "Invoke" action tells the pipeline it is done.
//!
//! The action ends only when the function calls PutJobSuccessResult (optionally with a
//! continuation token, so CodePipeline invokes it again) or PutJobFailureResult;
//! otherwise it hangs until the action times out.

use aws_sdk_codepipeline::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use scangate_core::gate::{MAX_CONTINUATION_TOKEN_CHARS, MAX_EXECUTION_SUMMARY_CHARS, MAX_FAILURE_MESSAGE_CHARS};
use scangate_core::text::truncate_chars;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

/// `failureDetails.externalExecutionId` limit.
const MAX_EXTERNAL_EXECUTION_ID_CHARS: usize = 1500;

/// Why a job result could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The job no longer takes results (already completed, timed out, or unknown):
    /// calling again cannot help.
    #[error("CodePipeline {operation} for job {job_id}: the job no longer accepts a result ({code}): {message}")]
    JobClosed { operation: &'static str, job_id: String, code: String, message: String },
    #[error("CodePipeline {operation} for job {job_id} failed ({code}): {message}")]
    Service { operation: &'static str, job_id: String, code: String, message: String },
    #[error("CodePipeline {operation} for job {job_id}: could not build the request: {message}")]
    Request { operation: &'static str, job_id: String, message: String },
}

impl PipelineError {
    /// True when the same call may succeed later (throttling, network, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self, PipelineError::Service { .. })
    }
}

/// What CodePipeline itself says about a job (GetJobDetails): the gate acts on this,
/// never on the invocation event, which anyone allowed to invoke the function can write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobDetails {
    pub job_id: String,
    pub account_id: Option<String>,
    /// `pipelineContext.pipelineName`.
    pub pipeline_name: Option<String>,
    /// `pipelineContext.pipelineExecutionId`.
    pub pipeline_execution_id: Option<String>,
    /// `pipelineContext.stage.name` and `pipelineContext.action.name`.
    pub stage: Option<String>,
    pub action: Option<String>,
    /// The action configuration's `UserParameters`.
    pub user_parameters: Option<String>,
    /// The action configuration's `FunctionName`: the Lambda function the action invokes (a
    /// name, a partial or a full ARN, with or without a qualifier).
    pub function_name: Option<String>,
    /// The continuation token of a job CodePipeline re-invoked.
    pub continuation_token: Option<String>,
}

/// The CodePipeline calls a job worker (the pipeline-gate Lambda) makes.
pub trait PipelineJobs: Send + Sync {
    /// GetJobDetails. `Ok(None)`: CodePipeline knows no such job (JobNotFoundException, or
    /// an id it refuses as malformed): nothing may be answered for it.
    fn get_job_details(&self, job_id: &str) -> impl Future<Output = Result<Option<JobDetails>, PipelineError>> + Send;

    /// PutJobSuccessResult. With a `continuation_token` the action stays in progress and
    /// CodePipeline invokes the function again with that token; `output_variables` are
    /// sent only without a token (the API refuses both together). `summary` shows in the
    /// action's execution details.
    fn put_job_success(
        &self,
        job_id: &str,
        continuation_token: Option<&str>,
        output_variables: &BTreeMap<String, String>,
        summary: Option<&str>,
    ) -> impl Future<Output = Result<(), PipelineError>> + Send;

    /// PutJobFailureResult with type JobFailed; `message` is cut to 5000 characters.
    /// `external_execution_id` (the Lambda request id) links the failure to the logs.
    fn put_job_failure(
        &self,
        job_id: &str,
        message: &str,
        external_execution_id: Option<&str>,
    ) -> impl Future<Output = Result<(), PipelineError>> + Send;
}

/// [`PipelineJobs`] through the SDK.
#[derive(Clone, Debug)]
pub struct CodePipeline {
    client: aws_sdk_codepipeline::Client,
}

impl CodePipeline {
    pub fn new(client: aws_sdk_codepipeline::Client) -> CodePipeline {
        CodePipeline { client }
    }
}

/// `closed`: the service said the job is unknown or no longer in progress.
fn sdk_error<E, R>(err: &SdkError<E, R>, operation: &'static str, job_id: &str, closed: bool) -> PipelineError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let message = DisplayErrorContext(err).to_string();
    let code = match err {
        SdkError::ServiceError(s) => s.err().code().unwrap_or("Unknown").to_string(),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            "NetworkError".to_string()
        }
        _ => "ClientError".to_string(),
    };
    let job_id = job_id.to_string();
    if closed || matches!(code.as_str(), "JobNotFoundException" | "InvalidJobStateException") {
        PipelineError::JobClosed { operation, job_id, code, message }
    } else {
        PipelineError::Service { operation, job_id, code, message }
    }
}

impl PipelineJobs for CodePipeline {
    async fn get_job_details(&self, job_id: &str) -> Result<Option<JobDetails>, PipelineError> {
        const OP: &str = "GetJobDetails";
        let out = match self.client.get_job_details().job_id(job_id).send().await {
            Ok(out) => out,
            Err(e) => {
                let unknown =
                    e.as_service_error().is_some_and(|s| s.is_job_not_found_exception() || s.is_validation_exception());
                if unknown {
                    return Ok(None);
                }
                return Err(match sdk_error(&e, OP, job_id, false) {
                    // No result is being delivered here: any other failure is a plain service error.
                    PipelineError::JobClosed { operation, job_id, code, message } => {
                        PipelineError::Service { operation, job_id, code, message }
                    }
                    other => other,
                });
            }
        };
        let Some(job) = out.job_details() else { return Ok(None) };
        let data = job.data();
        let context = data.and_then(|d| d.pipeline_context());
        Ok(Some(JobDetails {
            job_id: job.id().unwrap_or(job_id).to_string(),
            account_id: job.account_id().map(str::to_string),
            pipeline_name: context.and_then(|c| c.pipeline_name()).map(str::to_string),
            pipeline_execution_id: context.and_then(|c| c.pipeline_execution_id()).map(str::to_string),
            stage: context.and_then(|c| c.stage()).and_then(|s| s.name()).map(str::to_string),
            action: context.and_then(|c| c.action()).and_then(|a| a.name()).map(str::to_string),
            user_parameters: data
                .and_then(|d| d.action_configuration())
                .and_then(|a| a.configuration())
                .and_then(|c| c.get("UserParameters"))
                .cloned(),
            function_name: data
                .and_then(|d| d.action_configuration())
                .and_then(|a| a.configuration())
                .and_then(|c| c.get("FunctionName"))
                .cloned(),
            continuation_token: data.and_then(|d| d.continuation_token()).map(str::to_string),
        }))
    }

    async fn put_job_success(
        &self,
        job_id: &str,
        continuation_token: Option<&str>,
        output_variables: &BTreeMap<String, String>,
        summary: Option<&str>,
    ) -> Result<(), PipelineError> {
        const OP: &str = "PutJobSuccessResult";
        let mut req = self.client.put_job_success_result().job_id(job_id);
        if let Some(token) = continuation_token {
            if token.chars().count() > MAX_CONTINUATION_TOKEN_CHARS {
                return Err(PipelineError::Request {
                    operation: OP,
                    job_id: job_id.into(),
                    message: format!("continuation token is longer than {MAX_CONTINUATION_TOKEN_CHARS} characters"),
                });
            }
            req = req.continuation_token(token);
            if !output_variables.is_empty() {
                tracing::warn!(
                    job_id,
                    "output variables dropped: CodePipeline takes them only without a continuation token"
                );
            }
        } else if !output_variables.is_empty() {
            let vars: HashMap<String, String> = output_variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            req = req.set_output_variables(Some(vars));
        }
        if let Some(summary) = summary {
            let summary = truncate_chars(summary, MAX_EXECUTION_SUMMARY_CHARS).into_owned();
            req = req.execution_details(ExecutionDetails::builder().summary(summary).build());
        }
        req.send().await.map_err(|e| {
            let closed = e
                .as_service_error()
                .is_some_and(|s| s.is_job_not_found_exception() || s.is_invalid_job_state_exception());
            sdk_error(&e, OP, job_id, closed)
        })?;
        Ok(())
    }

    async fn put_job_failure(
        &self,
        job_id: &str,
        message: &str,
        external_execution_id: Option<&str>,
    ) -> Result<(), PipelineError> {
        const OP: &str = "PutJobFailureResult";
        let mut details = FailureDetails::builder()
            .r#type(FailureType::JobFailed)
            .message(truncate_chars(message, MAX_FAILURE_MESSAGE_CHARS).into_owned());
        if let Some(id) = external_execution_id {
            details = details.external_execution_id(truncate_chars(id, MAX_EXTERNAL_EXECUTION_ID_CHARS).into_owned());
        }
        let details = details.build().map_err(|e| PipelineError::Request {
            operation: OP,
            job_id: job_id.into(),
            message: e.to_string(),
        })?;
        self.client.put_job_failure_result().job_id(job_id).failure_details(details).send().await.map_err(|e| {
            let closed = e
                .as_service_error()
                .is_some_and(|s| s.is_job_not_found_exception() || s.is_invalid_job_state_exception());
            sdk_error(&e, OP, job_id, closed)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codepipeline::operation::put_job_failure_result::{
        PutJobFailureResultError, PutJobFailureResultOutput,
    };
    use aws_sdk_codepipeline::operation::put_job_success_result::PutJobSuccessResultOutput;
    use aws_sdk_codepipeline::types::error::InvalidJobStateException;
    use aws_sdk_codepipeline::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn outputs() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("scan_passed".to_string(), "true".to_string()),
            ("critical_count".to_string(), "0".to_string()),
        ])
    }

    #[tokio::test]
    async fn success_sends_outputs_and_summary() {
        let rule = mock!(Client::put_job_success_result)
            .match_requests(|r| {
                r.job_id() == Some("job-1")
                    && r.continuation_token().is_none()
                    && r.output_variables().and_then(|v| v.get("scan_passed")).map(String::as_str) == Some("true")
                    && r.output_variables().map(|v| v.len()) == Some(2)
                    && r.execution_details().and_then(|d| d.summary()) == Some("scan passed")
            })
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&rule]);
        CodePipeline::new(client)
            .put_job_success("job-1", None, &outputs(), Some("scan passed"))
            .await
            .expect("matching request");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn continuation_drops_outputs() {
        let rule = mock!(Client::put_job_success_result)
            .match_requests(|r| r.continuation_token() == Some("{\"v\":1}") && r.output_variables().is_none())
            .then_output(|| PutJobSuccessResultOutput::builder().build());
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&rule]);
        let jobs = CodePipeline::new(client);
        jobs.put_job_success("job-1", Some("{\"v\":1}"), &outputs(), None).await.expect("matching request");
        assert_eq!(rule.num_calls(), 1);
        let long = "x".repeat(MAX_CONTINUATION_TOKEN_CHARS + 1);
        let err = jobs.put_job_success("job-1", Some(&long), &BTreeMap::new(), None).await.expect_err("too long");
        assert!(matches!(err, PipelineError::Request { .. }), "{err}");
        assert_eq!(rule.num_calls(), 1, "the long token never reached the API");
    }

    #[tokio::test]
    async fn failure_is_job_failed_and_capped() {
        let rule = mock!(Client::put_job_failure_result)
            .match_requests(|r| {
                let d = r.failure_details();
                r.job_id() == Some("job-2")
                    && d.map(|d| d.r#type()) == Some(&FailureType::JobFailed)
                    && d.map(|d| d.message().chars().count()) == Some(MAX_FAILURE_MESSAGE_CHARS)
                    && d.and_then(|d| d.external_execution_id()) == Some("req-9")
            })
            .then_output(|| PutJobFailureResultOutput::builder().build());
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&rule]);
        CodePipeline::new(client)
            .put_job_failure("job-2", &"é".repeat(6000), Some("req-9"))
            .await
            .expect("matching request");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn job_details_come_from_codepipeline() {
        use aws_sdk_codepipeline::operation::get_job_details::GetJobDetailsOutput;
        use aws_sdk_codepipeline::types::{
            ActionConfiguration, ActionContext, JobData, JobDetails as SdkJob, PipelineContext, StageContext,
        };
        let rule = mock!(Client::get_job_details).match_requests(|r| r.job_id() == Some("job-7")).then_output(|| {
            let data = JobData::builder()
                .action_configuration(
                    ActionConfiguration::builder()
                        .configuration("FunctionName", "gate")
                        .configuration("UserParameters", r#"{"verdict_key": "results/p/b/verdict.json"}"#)
                        .build(),
                )
                .pipeline_context(
                    PipelineContext::builder()
                        .pipeline_name("app")
                        .pipeline_execution_id("e-1")
                        .stage(StageContext::builder().name("Scan").build())
                        .action(ActionContext::builder().name("Gate").build())
                        .build(),
                )
                .continuation_token("tok")
                .build();
            GetJobDetailsOutput::builder()
                .job_details(SdkJob::builder().id("job-7").account_id("123456789012").data(data).build())
                .build()
        });
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&rule]);
        let details = CodePipeline::new(client).get_job_details("job-7").await.expect("call").expect("known job");
        assert_eq!(
            details,
            JobDetails {
                job_id: "job-7".into(),
                account_id: Some("123456789012".into()),
                pipeline_name: Some("app".into()),
                pipeline_execution_id: Some("e-1".into()),
                stage: Some("Scan".into()),
                action: Some("Gate".into()),
                user_parameters: Some(r#"{"verdict_key": "results/p/b/verdict.json"}"#.into()),
                function_name: Some("gate".into()),
                continuation_token: Some("tok".into()),
            }
        );
    }

    #[tokio::test]
    async fn unknown_job_has_no_details() {
        use aws_sdk_codepipeline::operation::get_job_details::GetJobDetailsError;
        use aws_sdk_codepipeline::types::error::{JobNotFoundException, ValidationException};
        let not_found = mock!(Client::get_job_details).then_error(|| {
            GetJobDetailsError::JobNotFoundException(JobNotFoundException::builder().message("no job").build())
        });
        let malformed = mock!(Client::get_job_details).then_error(|| {
            GetJobDetailsError::ValidationException(ValidationException::builder().message("bad id").build())
        });
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&not_found, &malformed]);
        let jobs = CodePipeline::new(client);
        assert_eq!(jobs.get_job_details("made-up").await.expect("answered"), None);
        assert_eq!(jobs.get_job_details("../x").await.expect("answered"), None);
        assert_eq!((not_found.num_calls(), malformed.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn closed_job_is_not_retryable() {
        let rule = mock!(Client::put_job_failure_result).then_error(|| {
            PutJobFailureResultError::InvalidJobStateException(
                InvalidJobStateException::builder().message("job is already complete").build(),
            )
        });
        let client = mock_client!(aws_sdk_codepipeline, RuleMode::Sequential, [&rule]);
        let err = CodePipeline::new(client).put_job_failure("job-3", "no", None).await.expect_err("closed job");
        assert!(matches!(&err, PipelineError::JobClosed { .. }), "{err}");
        assert!(!err.is_retryable());
    }
}

//! CodeBuild: report groups, build details, and starting the JUnit publisher build.

use scangate_core::contract;
use std::future::Future;

/// Details of a build used to enrich findings and verdicts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildInfo {
    pub arn: String,
    pub project: Option<String>,
    pub source_version: Option<String>,
    pub resolved_source_version: Option<String>,
    pub initiator: Option<String>,
    pub source_location: Option<String>,
    /// The build's plain-text `SCANGATE_PIPELINE_EXECUTION_ID` (the pipeline sets it to
    /// `#{codepipeline.PipelineExecutionId}`): the execution a report of this build may claim.
    pub pipeline_execution_id: Option<String>,
    /// When the build started and ended (None while it runs).
    pub start_time: Option<time::OffsetDateTime>,
    pub end_time: Option<time::OffsetDateTime>,
    /// Whether the build ran another buildspec than its project's: BatchGetBuilds'
    /// `source.buildspec` (what the build ran, an override included) compared with
    /// BatchGetProjects' `source.buildspec`. None when either could not be read.
    pub buildspec_overridden: Option<bool>,
    /// The build's resolved plain-text environment variables (project values and overrides).
    pub env: Vec<(String, String)>,
}

/// The build variable naming the pipeline execution a build runs for.
pub const PIPELINE_EXECUTION_VARIABLE: &str = "SCANGATE_PIPELINE_EXECUTION_ID";

/// Why a CodeBuild call failed.
#[derive(Debug, thiserror::Error)]
#[error("CodeBuild {operation} failed ({code}): {message}")]
pub struct CodeBuildError {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

/// Where a report group exports its raw reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportExport {
    pub bucket: String,
    /// Key prefix inside the bucket (for example `reports/`).
    pub path: String,
    /// KMS key ARN for the exported reports.
    pub kms_key_arn: Option<String>,
}

/// What [`CodeBuildOps::ensure_report_group`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ensured {
    Created { arn: String },
    AlreadyExists,
}

/// A build to start: the project, environment variable overrides (plain text) and the
/// idempotency token (CodeBuild keeps it for about 5 minutes; a repeat with the same token
/// and the same parameters returns the same build instead of starting another).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartBuild {
    pub project: String,
    pub env: Vec<(String, String)>,
    pub idempotency_token: String,
}

/// The CodeBuild calls the report-processor makes: reading the build a report claims
/// (its verification), ensuring the report group a JUnit is published to, and starting the
/// publisher build.
pub trait CodeBuildOps: Send + Sync {
    /// Reads a build's details by id or ARN; `Ok(None)` when CodeBuild does not know it.
    fn build_info(&self, build_id: &str) -> impl Future<Output = Result<Option<BuildInfo>, CodeBuildError>> + Send;

    /// Creates a TEST report group exporting to S3 unless one of that name exists (idempotent).
    fn ensure_report_group(
        &self,
        name: &str,
        export: &ReportExport,
    ) -> impl Future<Output = Result<Ensured, CodeBuildError>> + Send;

    /// Starts a build (the JUnit publisher project); returns its id (`project:uuid`).
    fn start_build(&self, request: &StartBuild) -> impl Future<Output = Result<String, CodeBuildError>> + Send;
}

impl CodeBuildError {
    /// True for failures that may succeed on a later attempt (throttling, the account's
    /// concurrent build limit, service or network errors).
    pub fn is_retryable(&self) -> bool {
        crate::retry::is_retryable_code(&self.code, &["limitexceeded", "=unknown"])
    }
}

fn start_build_error(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_codebuild::operation::start_build::StartBuildError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> CodeBuildError {
    use aws_sdk_codebuild::operation::start_build::StartBuildError as E;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    // The error code from the response; else the modelled variant's name.
    let code = match e.code() {
        Some(c) => c.to_string(),
        None => match e.as_service_error() {
            Some(E::AccountLimitExceededException(_)) => "AccountLimitExceededException".into(),
            Some(E::InvalidInputException(_)) => "InvalidInputException".into(),
            Some(E::ResourceNotFoundException(_)) => "ResourceNotFoundException".into(),
            _ => "Unknown".into(),
        },
    };
    CodeBuildError {
        operation: "StartBuild",
        code,
        message: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
    }
}

/// [`CodeBuildOps`] through the SDK.
#[derive(Clone, Debug)]
pub struct CodeBuild {
    client: aws_sdk_codebuild::Client,
}

impl CodeBuild {
    pub fn new(client: aws_sdk_codebuild::Client) -> CodeBuild {
        CodeBuild { client }
    }
}

impl CodeBuildOps for CodeBuild {
    async fn ensure_report_group(&self, name: &str, export: &ReportExport) -> Result<Ensured, CodeBuildError> {
        use aws_sdk_codebuild::types::{
            ReportExportConfig, ReportExportConfigType, ReportPackagingType, ReportType, S3ReportExportConfig,
        };
        let s3 = S3ReportExportConfig::builder()
            .bucket(&export.bucket)
            .path(&export.path)
            .packaging(ReportPackagingType::None)
            .set_encryption_key(export.kms_key_arn.clone())
            .encryption_disabled(false)
            .build();
        let config =
            ReportExportConfig::builder().export_config_type(ReportExportConfigType::S3).s3_destination(s3).build();
        let result =
            self.client.create_report_group().name(name).r#type(ReportType::Test).export_config(config).send().await;
        match result {
            Ok(out) => {
                Ok(Ensured::Created { arn: out.report_group().and_then(|g| g.arn()).unwrap_or_default().to_string() })
            }
            Err(e) => {
                if e.as_service_error().is_some_and(|se| se.is_resource_already_exists_exception()) {
                    return Ok(Ensured::AlreadyExists);
                }
                let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e).unwrap_or("Unknown");
                Err(CodeBuildError {
                    operation: "CreateReportGroup",
                    code: code.to_string(),
                    message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                })
            }
        }
    }

    async fn build_info(&self, build_id: &str) -> Result<Option<BuildInfo>, CodeBuildError> {
        let out = self.client.batch_get_builds().ids(contract::build_id(build_id)).send().await.map_err(|e| {
            CodeBuildError {
                operation: "BatchGetBuilds",
                code: aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                    .unwrap_or("Unknown")
                    .to_string(),
                message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
            }
        })?;
        let Some(b) = out.builds().first() else { return Ok(None) };
        let plain = |v: &&aws_sdk_codebuild::types::EnvironmentVariable| {
            v.r#type().is_none_or(|t| *t == aws_sdk_codebuild::types::EnvironmentVariableType::Plaintext)
        };
        let env: Vec<(String, String)> = b
            .environment()
            .map(|e| {
                e.environment_variables()
                    .iter()
                    .filter(plain)
                    .map(|v| (v.name().to_string(), v.value().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let time = |t: Option<&aws_smithy_types::DateTime>| {
            t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.secs()).ok())
        };
        let buildspec_overridden = match (b.project_name(), b.source().and_then(|s| s.buildspec())) {
            (Some(project), Some(ran)) => self.project_buildspec(project).await?.map(|own| own != ran),
            _ => None,
        };
        Ok(Some(BuildInfo {
            arn: b.arn().unwrap_or_default().to_string(),
            project: b.project_name().map(str::to_string),
            source_version: b.source_version().map(str::to_string),
            resolved_source_version: b.resolved_source_version().map(str::to_string),
            initiator: b.initiator().map(str::to_string),
            source_location: b.source().and_then(|s| s.location()).map(str::to_string),
            pipeline_execution_id: env.iter().find(|(n, _)| n == PIPELINE_EXECUTION_VARIABLE).map(|(_, v)| v.clone()),
            start_time: time(b.start_time()),
            end_time: time(b.end_time()),
            buildspec_overridden,
            env,
        }))
    }

    async fn start_build(&self, request: &StartBuild) -> Result<String, CodeBuildError> {
        use aws_sdk_codebuild::types::{EnvironmentVariable, EnvironmentVariableType};
        let mut overrides = Vec::with_capacity(request.env.len());
        for (name, value) in &request.env {
            let var = EnvironmentVariable::builder()
                .name(name)
                .value(value)
                .r#type(EnvironmentVariableType::Plaintext)
                .build()
                .map_err(|e| CodeBuildError {
                    operation: "StartBuild",
                    code: "InvalidInput".into(),
                    message: format!("environment variable override {name:?}: {e}"),
                })?;
            overrides.push(var);
        }
        let out = self
            .client
            .start_build()
            .project_name(&request.project)
            .idempotency_token(&request.idempotency_token)
            .set_environment_variables_override(Some(overrides))
            .send()
            .await
            .map_err(|e| start_build_error(&e))?;
        match out.build_value().and_then(|b| b.id()) {
            Some(id) => Ok(id.to_string()),
            None => Err(CodeBuildError {
                operation: "StartBuild",
                code: "MissingBuildId".into(),
                message: format!("the response for project {} names no build id", request.project),
            }),
        }
    }
}

impl CodeBuild {
    /// The buildspec a project is configured with (BatchGetProjects `source.buildspec`).
    async fn project_buildspec(&self, project: &str) -> Result<Option<String>, CodeBuildError> {
        let out = self.client.batch_get_projects().names(project).send().await.map_err(|e| CodeBuildError {
            operation: "BatchGetProjects",
            code: aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e).unwrap_or("Unknown").to_string(),
            message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        })?;
        Ok(out.projects().first().and_then(|p| p.source()).and_then(|s| s.buildspec()).map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_codebuild::operation::batch_get_builds::BatchGetBuildsOutput;
    use aws_sdk_codebuild::operation::create_report_group::{CreateReportGroupError, CreateReportGroupOutput};
    use aws_sdk_codebuild::types::error::ResourceAlreadyExistsException;
    use aws_sdk_codebuild::types::{Build, ProjectSource, ReportGroup, SourceType};
    use aws_sdk_codebuild::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn export() -> ReportExport {
        ReportExport { bucket: "reports".into(), path: "junit/".into(), kms_key_arn: Some("arn:aws:kms:k".into()) }
    }

    #[tokio::test]
    async fn report_group_is_created_with_s3_export_and_kms() {
        let rule = mock!(Client::create_report_group)
            .match_requests(|r| {
                let s3 = r.export_config().and_then(|c| c.s3_destination());
                r.name() == Some("qualys-scans")
                    && s3.and_then(|d| d.bucket()) == Some("reports")
                    && s3.and_then(|d| d.encryption_key()) == Some("arn:aws:kms:k")
                    && s3.and_then(|d| d.encryption_disabled()) == Some(false)
            })
            .then_output(|| {
                CreateReportGroupOutput::builder()
                    .report_group(ReportGroup::builder().arn("arn:aws:codebuild:r:1:report-group/qualys-scans").build())
                    .build()
            });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&rule]);
        let got = CodeBuild::new(client).ensure_report_group("qualys-scans", &export()).await.expect("created");
        assert_eq!(got, Ensured::Created { arn: "arn:aws:codebuild:r:1:report-group/qualys-scans".into() });
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn existing_report_group_is_fine() {
        let rule = mock!(Client::create_report_group).then_error(|| {
            CreateReportGroupError::ResourceAlreadyExistsException(
                ResourceAlreadyExistsException::builder().message("exists").build(),
            )
        });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&rule]);
        let got = CodeBuild::new(client).ensure_report_group("qualys-scans", &export()).await.expect("idempotent");
        assert_eq!(got, Ensured::AlreadyExists);
    }

    #[tokio::test]
    async fn build_info_reads_project_and_source() {
        let rule = mock!(Client::batch_get_builds)
            .match_requests(|r| r.ids() == ["proj:abc-1".to_string()])
            .then_output(|| {
                BatchGetBuildsOutput::builder()
                    .builds(
                        Build::builder()
                            .arn("arn:aws:codebuild:us-east-1:123456789012:build/proj:abc-1")
                            .project_name("proj")
                            .resolved_source_version("0123abc")
                            .initiator("codepipeline/app")
                            .source(
                                ProjectSource::builder()
                                    .r#type(SourceType::Github)
                                    .location("https://github.com/o/r.git")
                                    .build()
                                    .expect("source"),
                            )
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&rule]);
        let info = CodeBuild::new(client)
            .build_info("arn:aws:codebuild:us-east-1:123456789012:build/proj:abc-1")
            .await
            .expect("call")
            .expect("known build");
        assert_eq!(info.project.as_deref(), Some("proj"));
        assert_eq!(info.resolved_source_version.as_deref(), Some("0123abc"));
        assert_eq!(info.initiator.as_deref(), Some("codepipeline/app"));
        assert_eq!(info.source_location.as_deref(), Some("https://github.com/o/r.git"));
    }

    fn publish_request() -> StartBuild {
        StartBuild {
            project: "qualys-codebuild-publisher-us-east-1".into(),
            env: vec![
                ("SCANGATE_JUNIT_KEY".into(), "results/app/b-1/junit.xml".into()),
                ("SCANGATE_REPORT_GROUP".into(), "arn:aws:codebuild:us-east-1:1:report-group/qualys-app-image".into()),
            ],
            idempotency_token: "scangate-0123456789abcdef".into(),
        }
    }

    #[tokio::test]
    async fn start_build_sends_project_token_and_plaintext_overrides() {
        use aws_sdk_codebuild::operation::start_build::StartBuildOutput;
        use aws_sdk_codebuild::types::EnvironmentVariableType;
        let rule = mock!(Client::start_build)
            .match_requests(|r| {
                let env: Vec<(String, String, Option<EnvironmentVariableType>)> = r
                    .environment_variables_override()
                    .iter()
                    .map(|v| (v.name().to_string(), v.value().to_string(), v.r#type().cloned()))
                    .collect();
                r.project_name() == Some("qualys-codebuild-publisher-us-east-1")
                    && r.idempotency_token() == Some("scangate-0123456789abcdef")
                    && env
                        == vec![
                            (
                                "SCANGATE_JUNIT_KEY".to_string(),
                                "results/app/b-1/junit.xml".to_string(),
                                Some(EnvironmentVariableType::Plaintext),
                            ),
                            (
                                "SCANGATE_REPORT_GROUP".to_string(),
                                "arn:aws:codebuild:us-east-1:1:report-group/qualys-app-image".to_string(),
                                Some(EnvironmentVariableType::Plaintext),
                            ),
                        ]
            })
            .then_output(|| {
                StartBuildOutput::builder()
                    .build_value(Build::builder().id("qualys-codebuild-publisher-us-east-1:5f0e").build())
                    .build()
            });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&rule]);
        let id = CodeBuild::new(client).start_build(&publish_request()).await.expect("started");
        assert_eq!(id, "qualys-codebuild-publisher-us-east-1:5f0e");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn start_build_errors_name_operation_and_code() {
        use aws_sdk_codebuild::operation::start_build::{StartBuildError, StartBuildOutput};
        use aws_sdk_codebuild::types::error::{AccountLimitExceededException, ResourceNotFoundException};
        let limit = mock!(Client::start_build).then_error(|| {
            StartBuildError::AccountLimitExceededException(
                AccountLimitExceededException::builder().message("too many concurrent builds").build(),
            )
        });
        let missing = mock!(Client::start_build).then_error(|| {
            StartBuildError::ResourceNotFoundException(
                ResourceNotFoundException::builder().message("no such project").build(),
            )
        });
        let no_id = mock!(Client::start_build).then_output(|| StartBuildOutput::builder().build());
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&limit, &missing, &no_id]);
        let cb = CodeBuild::new(client);

        let e = cb.start_build(&publish_request()).await.expect_err("limit");
        assert_eq!((e.operation, e.code.as_str()), ("StartBuild", "AccountLimitExceededException"));
        assert!(e.message.contains("too many concurrent builds"), "{e}");
        assert!(e.is_retryable(), "the concurrent build limit passes");

        let e = cb.start_build(&publish_request()).await.expect_err("missing project");
        assert_eq!(e.code, "ResourceNotFoundException");
        assert!(!e.is_retryable());
        assert!(e.to_string().starts_with("CodeBuild StartBuild failed (ResourceNotFoundException): "), "{e}");

        let e = cb.start_build(&publish_request()).await.expect_err("no build id");
        assert_eq!(e.code, "MissingBuildId");
        assert!(e.message.contains("qualys-codebuild-publisher-us-east-1"), "{e}");
    }
}

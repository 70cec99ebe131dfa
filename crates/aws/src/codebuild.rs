//! CodeBuild: report groups and build details.

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
}

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

/// What [`ReportGroups::ensure_report_group`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ensured {
    Created { arn: String },
    AlreadyExists,
}

/// CodeBuild operations scangate needs.
pub trait ReportGroups: Send + Sync {
    /// Reads a build's details by id or ARN; `Ok(None)` when CodeBuild does not know it.
    fn build_info(&self, build_id: &str) -> impl Future<Output = Result<Option<BuildInfo>, CodeBuildError>> + Send;

    /// Creates a TEST report group exporting to S3 unless one of that name exists (idempotent).
    fn ensure_report_group(
        &self,
        name: &str,
        export: &ReportExport,
    ) -> impl Future<Output = Result<Ensured, CodeBuildError>> + Send;
}

/// [`ReportGroups`] through the SDK.
#[derive(Clone, Debug)]
pub struct CodeBuild {
    client: aws_sdk_codebuild::Client,
}

impl CodeBuild {
    pub fn new(client: aws_sdk_codebuild::Client) -> CodeBuild {
        CodeBuild { client }
    }
}

/// `arn:aws:codebuild:region:account:build/project:uuid` → `project:uuid`; ids pass through.
pub fn build_id_from_arn(arn_or_id: &str) -> &str {
    arn_or_id.split_once(":build/").map_or(arn_or_id, |(_, id)| id)
}

impl ReportGroups for CodeBuild {
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
        let out = self.client.batch_get_builds().ids(build_id_from_arn(build_id)).send().await.map_err(|e| {
            CodeBuildError {
                operation: "BatchGetBuilds",
                code: aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                    .unwrap_or("Unknown")
                    .to_string(),
                message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
            }
        })?;
        Ok(out.builds().first().map(|b| BuildInfo {
            arn: b.arn().unwrap_or_default().to_string(),
            project: b.project_name().map(str::to_string),
            source_version: b.source_version().map(str::to_string),
            resolved_source_version: b.resolved_source_version().map(str::to_string),
            initiator: b.initiator().map(str::to_string),
            source_location: b.source().and_then(|s| s.location()).map(str::to_string),
        }))
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

    #[test]
    fn build_ids() {
        assert_eq!(build_id_from_arn("arn:aws:codebuild:us-east-1:123456789012:build/proj:abc-1"), "proj:abc-1");
        assert_eq!(build_id_from_arn("proj:abc-1"), "proj:abc-1");
    }
}

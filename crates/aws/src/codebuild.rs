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

/// CodeBuild operations scangate needs.
pub trait ReportGroups: Send + Sync {
    /// Reads a build's details by id or ARN; `Ok(None)` when CodeBuild does not know it.
    fn build_info(&self, build_id: &str) -> impl Future<Output = Result<Option<BuildInfo>, CodeBuildError>> + Send;
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

    #[test]
    fn build_ids() {
        assert_eq!(build_id_from_arn("arn:aws:codebuild:us-east-1:123456789012:build/proj:abc-1"), "proj:abc-1");
        assert_eq!(build_id_from_arn("proj:abc-1"), "proj:abc-1");
    }
}

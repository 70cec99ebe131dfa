//! The runner's AWS side: the token from Secrets Manager, report uploads, waiting for the verdict.

use super::token::AccessToken;
use super::Fail;
use scangate_core::Verdict;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to upload where.
#[derive(Clone, Debug)]
pub struct UploadPlan {
    pub bucket: String,
    pub kms_key_id: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub verdict_key: String,
    pub junit_key: String,
    /// (local file, object key); the SARIF first.
    pub files: Vec<(PathBuf, String)>,
    /// User metadata (without the `x-amz-meta-` prefix).
    pub metadata: Vec<(String, String)>,
}

/// What was uploaded.
#[derive(Clone, Debug)]
pub struct Uploaded {
    pub verdict_key: String,
    pub keys: Vec<String>,
}

pub fn fetch_token(secret_id: &str) -> Result<AccessToken, Fail> {
    Err(Fail::internal(format!("reading secret {secret_id}: Secrets Manager support is not built yet")))
}

pub fn upload(plan: &UploadPlan) -> Result<Uploaded, Fail> {
    Err(Fail::internal(format!("uploading to s3://{}: S3 support is not built yet", plan.bucket)))
}

pub fn wait_for_verdict(
    plan: &UploadPlan,
    _uploaded: &Uploaded,
    _wait: Duration,
    _junit_path: &Path,
) -> Result<Verdict, Fail> {
    Err(Fail::internal(format!("waiting for s3://{}/{}: not built yet", plan.bucket, plan.verdict_key)))
}

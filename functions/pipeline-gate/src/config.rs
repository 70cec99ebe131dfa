//! The pipeline-gate's configuration: environment variables read once per cold start.

use std::time::Duration;

/// The function's configuration, read once per cold start.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// REPORT_BUCKET: the bucket when UserParameters names none.
    pub report_bucket: Option<String>,
    /// AWS_REGION, for console links.
    pub region: Option<String>,
    /// How long one S3 read may take before it counts as a transient failure.
    pub read_timeout: Duration,
}

impl Config {
    pub fn from_env() -> Config {
        let var = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Config { report_bucket: var("REPORT_BUCKET"), region: var("AWS_REGION"), read_timeout: Duration::from_secs(10) }
    }
}

/// `EXPECTED_BUCKET_OWNER`: the account id sent as ExpectedBucketOwner with every S3 read
/// (the stack sets the function's own account). Empty or unset = not sent.
pub fn expected_bucket_owner(value: Option<&str>) -> Result<Option<String>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(v.to_string())),
        Some(v) => {
            Err(format!("environment variable EXPECTED_BUCKET_OWNER: expected a 12-digit account id, got {v:?}"))
        }
    }
}

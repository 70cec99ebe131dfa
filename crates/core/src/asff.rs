//! AWS Security Finding Format rendering. (Being written; this is the public contract.)

use crate::finding::Finding;
use crate::lifecycle::{LifecycleKey, ScanType};

/// Everything a finding's ASFF needs besides the finding.
#[derive(Clone, Debug)]
pub struct AsffContext {
    pub account_id: String,
    pub region: String,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    pub scan_type: ScanType,
    /// The scanned thing as the user named it (image ref, repo URL, path).
    pub target: String,
    pub lifecycle: LifecycleKey,
    /// The CodeBuild project name, when known (adds an AwsCodeBuildProject resource).
    pub codebuild_project: Option<String>,
    /// The build ARN, when known (a ProductField).
    pub build_arn: Option<String>,
    /// RFC 3339 time of this import (UpdatedAt; CreatedAt for new findings).
    pub updated_at: String,
    /// CreatedAt; defaults to `updated_at` when None.
    pub created_at: Option<String>,
    /// Where the report object is, for ProductFields (`s3://bucket/key` or a file path).
    pub report_uri: Option<String>,
}

impl AsffContext {
    /// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account_id, self.account_id
        )
    }
}

/// The ASFF `Id` of a finding in this lifecycle: deterministic, ≤ 512 characters.
pub fn finding_id(ctx: &AsffContext, finding: &Finding) -> String {
    format!("scangate/{}/{}", ctx.lifecycle.hash(), finding.id)
}

/// Renders one finding as an ASFF object (RecordState ACTIVE).
pub fn to_asff(_finding: &Finding, _ctx: &AsffContext) -> serde_json::Value {
    serde_json::Value::Null
}

/// Writes `[finding, …]` as a JSON array, one finding at a time (no whole-array buffer).
pub fn write_asff_array<W: std::io::Write>(findings: &[Finding], ctx: &AsffContext, mut w: W) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, &to_asff(f, ctx))?;
    }
    w.write_all(b"]")
}

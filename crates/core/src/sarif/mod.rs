//! Streaming SARIF 2.1.0 reader. (Being written; this is the public contract.)

use crate::finding::{Finding, Scanner};
use crate::policy::PolicyResult;
use std::path::Path;

/// What a report's run properties say about the scanned target (QScanner, Trivy and others write these).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetInfo {
    pub image_id: Option<String>,
    pub image_name: Option<String>,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

/// One SARIF run, summarized.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    pub scanner: Scanner,
    pub rules: usize,
    pub results: usize,
}

/// A result the reader kept with what could be known, or a field it ignored; never silent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadWarning {
    /// JSON path, e.g. `runs[0].results[12].level`.
    pub path: String,
    pub message: String,
}

/// The reader's output.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// Deduplicated findings, in order of first appearance.
    pub findings: Vec<Finding>,
    pub runs: Vec<RunSummary>,
    /// The strongest policy result any run's properties carry (`policyResult`), else NONE.
    pub policy_result: PolicyResult,
    pub target: TargetInfo,
    /// The first warnings (at most [`MAX_KEPT_WARNINGS`]); `warning_count` counts all.
    pub warnings: Vec<ReadWarning>,
    pub warning_count: usize,
    /// SARIF results read (before dedup).
    pub results_read: usize,
}

/// How many warnings a report keeps verbatim; the rest are only counted.
pub const MAX_KEPT_WARNINGS: usize = 100;

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SarifError {
    #[error("{source_name}: cannot read: {error}")]
    Io { source_name: String, error: std::io::Error },
    #[error("{source_name}: not valid JSON at line {line}, column {column}: {message}")]
    Json { source_name: String, line: usize, column: usize, message: String },
    #[error("{source_name}: not a SARIF 2.1.0 log: at {path}: {message}")]
    NotSarif { source_name: String, path: String, message: String },
}

/// Reads a SARIF document from any reader. `source_name` names it in errors and warnings.
pub fn read_sarif<R: std::io::Read>(_reader: R, source_name: &str) -> Result<Report, SarifError> {
    Err(SarifError::NotSarif {
        source_name: source_name.to_string(),
        path: "$".into(),
        message: "reader not implemented yet".into(),
    })
}

/// Reads a SARIF file through a buffered reader.
pub fn read_sarif_file(path: &Path) -> Result<Report, SarifError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| SarifError::Io { source_name: name.clone(), error })?;
    read_sarif(std::io::BufReader::with_capacity(256 * 1024, file), &name)
}

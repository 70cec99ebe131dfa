//! The written contract between the runner (`scangate scan`), the report-processor and the
//! pipeline-gate, in two files:
//! - `metadata.rs`: the S3 object metadata the runner writes on a report and the processor
//!   reads ([`meta`], [`ReportMetadata`], [`ThresholdRequest`]);
//! - `keys.rs`: every object key layout the three build (`scans/`, `results/`,
//!   `results/by-execution/`, `state/`, `quarantine/`, publish markers) and the checks of a
//!   report key;
//! - `codebuild.rs`: the CodeBuild build ARN and build id the metadata and the runner carry;
//! - `quarantine.rs`: the typed kind of a quarantine reason ([`QuarantineKind`]).
//! - `provenance.rs`: who wrote a report and what it scanned, as proven ([`Provenance`]).
//!
//! All three use this module; none spells a metadata name or a key layout itself. Names here
//! are a user-facing contract (docs/runner.md, docs/report-processor.md): extend, never rename.

mod codebuild;
mod keys;
mod metadata;
pub mod provenance;
mod quarantine;

pub use codebuild::{build_id, BuildId};
pub use provenance::{Provenance, Writer, UNVERIFIED_RESULTS_PROJECT};

pub use keys::{
    by_execution_verdict_key, check_report_key, hub_key, is_report_key, junit_key, publish_marker_key,
    quarantine_copy_key, quarantine_copy_reason_key, quarantine_key, quarantine_key_fits, quarantine_reason_key,
    report_group_export_path, results_dir, results_dir_key, scan_dir, state_key, strip_sarif_suffix, summary_beside,
    summary_key, verdict_key, BY_EXECUTION_PREFIX, HASHED_QUARANTINE_PREFIX, MAX_KEY_BYTES, OWN_PREFIXES,
    QUARANTINE_PREFIX, REPORT_GROUP_EXPORT_PREFIX, REPORT_OBJECT_NAME, RESULTS_PREFIX, SARIF_SUFFIXES, SCAN_PREFIX,
    STATE_PREFIX,
};
pub use metadata::{meta, MetadataError, ReportMetadata, ThresholdRequest};
pub use quarantine::QuarantineKind;

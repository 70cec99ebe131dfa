//! `results/<project>/<build-id>/hub.json`: the Security Hub outcome of one report version.

use super::state_object::{AppliedResult, HubStatus};
use scangate_core::verdict::ReportRef;

/// The schema id of `hub.json`.
pub const HUB_SCHEMA: &str = "scangate.hub.v1";

pub use scangate_core::contract::hub_key;

/// `hub.json`: the Security Hub outcome of one report version, written next to
/// `verdict.json` (which never waits for it). Derived from the state's [`AppliedResult`]
/// only, so a redelivery that changes nothing rewrites it byte for byte.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HubDoc {
    pub schema: String,
    pub report: ReportRef,
    pub status: HubStatus,
    /// What the verdict counts: findings the report sends as ACTIVE / archives.
    pub planned_imports: u64,
    pub planned_archives: u64,
    /// What Security Hub accepted so far.
    pub imported: u64,
    pub archived: u64,
    /// Findings it did not accept.
    pub failed: u64,
    #[serde(default)]
    pub warnings: Vec<String>,
    pub updated_at: String,
}

impl HubDoc {
    pub(super) fn from_result(r: &AppliedResult) -> HubDoc {
        let p = r.progress();
        HubDoc {
            schema: HUB_SCHEMA.into(),
            report: r.report.clone(),
            status: p.status,
            planned_imports: r.imported,
            planned_archives: r.archived,
            imported: p.imported,
            archived: p.archived,
            failed: p.failed,
            warnings: p.warnings,
            updated_at: p.updated_at,
        }
    }

    /// Nothing is or will be imported for this report (disabled, superseded).
    pub(super) fn nothing(report: &ReportRef, status: HubStatus, at: &str) -> HubDoc {
        HubDoc {
            schema: HUB_SCHEMA.into(),
            report: report.clone(),
            status,
            planned_imports: 0,
            planned_archives: 0,
            imported: 0,
            archived: 0,
            failed: 0,
            warnings: Vec::new(),
            updated_at: at.to_string(),
        }
    }
}

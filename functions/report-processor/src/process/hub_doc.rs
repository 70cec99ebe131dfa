//! `results/<project>/<build-id>/hub.json`: the Security Hub outcome of one report version,
//! and its writing.

use super::results::Results;
use super::state_object::{AppliedResult, HubStatus};
use super::{Processor, Transient};
use scangate_aws::codebuild::CodeBuildOps;
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;
use scangate_core::verdict::ReportRef;

/// The schema id of `hub.json`.
pub const HUB_SCHEMA: &str = "scangate.hub.v1";

pub use scangate_core::contract::hub_key;

/// The end of a Security Hub warning of a delivery that fails so that the event is retried:
/// a warning that ends so is not kept once the import is finished or superseded.
pub(crate) const RETRY_NOTE: &str = "; the report will be processed again";

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

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Writes `hub.json` next to the verdict.
    pub(crate) async fn write_hub(&self, r: &Results<'_>, doc: &HubDoc) -> Result<(), Transient> {
        let bucket = r.verdict.report.bucket.clone().unwrap_or_default();
        let body = serde_json::to_vec_pretty(doc).map_err(|e| Transient(format!("hub.json: {e}")))?;
        self.store.put(&bucket, &hub_key(&r.project, &r.build_id), body, &self.put_options("application/json")).await?;
        Ok(())
    }

    /// `hub.json` of a delivery that imports nothing by design (Security Hub disabled, or a
    /// newer report applied first). Not written over an earlier delivery's outcome.
    pub(crate) async fn write_hub_nothing(&self, r: &Results<'_>, status: HubStatus) -> Result<(), Transient> {
        if r.written.earlier() {
            return Ok(());
        }
        let doc = HubDoc::nothing(&r.verdict.report, status, &r.verdict.processed_at);
        self.write_hub(r, &doc).await
    }

    /// `hub.json` of a stale delivery: a finished import of this report (an earlier
    /// delivery's) stays as it is; an unfinished one (pending, or failed and to be retried)
    /// never will be finished by this report, whose findings the newer report now owns: it
    /// becomes `superseded`, with the counts it reached and without its retry warnings.
    pub(crate) async fn write_hub_superseded(&self, r: &Results<'_>) -> Result<(), Transient> {
        let bucket = r.verdict.report.bucket.clone().unwrap_or_default();
        let key = hub_key(&r.project, &r.build_id);
        let existing = self
            .store
            .get_bytes(&bucket, &key, 1024 * 1024)
            .await?
            .and_then(|f| serde_json::from_slice::<HubDoc>(&f.body).ok())
            .filter(|d| d.report == r.verdict.report);
        let doc = match existing {
            None => HubDoc::nothing(&r.verdict.report, HubStatus::Superseded, &r.verdict.processed_at),
            Some(d) => {
                let finished = d.status == HubStatus::Done
                    || (d.status == HubStatus::Failed && !d.warnings.iter().any(|w| w.ends_with(RETRY_NOTE)));
                if finished {
                    return Ok(());
                }
                HubDoc { status: HubStatus::Superseded, failed: 0, warnings: Vec::new(), ..d }
            }
        };
        self.write_hub(r, &doc).await
    }
}

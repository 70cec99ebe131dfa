//! The lifecycle state object as the processor stores it (`state/<key-hash>.json`): the
//! core's [`LifecycleState`] and, beside it, the [`AppliedResult`] of the report it was
//! last written for and where that report's Security Hub import stands. Read streaming,
//! written from one buffer.

use super::Transient;
use scangate_core::lifecycle::state::{self, LifecycleState, ReportMark, StateError};
use scangate_core::verdict::ReportRef;
use std::collections::BTreeMap;
use std::io::{BufReader, Read};

/// Where a report's Security Hub import stands (`hub.json` `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HubStatus {
    /// Under way, or stopped at a checkpoint; the next delivery continues it.
    Pending,
    /// Every planned finding was accepted.
    Done,
    /// Finished, and some findings were not accepted (named in `warnings`).
    Failed,
    /// `SECURITY_HUB_ENABLED` is false: nothing is imported.
    Disabled,
    /// A newer report of the same lifecycle was applied first: this one changes nothing.
    Superseded,
    /// The scan did not complete (SARIF `executionSuccessful: false` or an error-level tool
    /// notification): nothing is imported or archived, accepted or not.
    Incomplete,
    /// The report's provenance was not verified (docs/security.md, "Provenance") and
    /// `IMPORT_UNVERIFIED` is false: nothing is imported or archived.
    Unverified,
}

/// The import of the state's report so far: kept in [`AppliedResult::import`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportProgress {
    pub status: HubStatus,
    /// Findings Security Hub accepted as ACTIVE, over the deliveries of the report.
    pub imported: u64,
    /// Findings it accepted as ARCHIVED.
    pub archived: u64,
    /// Findings it did not accept (the last delivery's).
    #[serde(default)]
    pub failed: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub updated_at: String,
}

/// The report a state object was last written for, what its verdict says and where its
/// import stands: kept in the state object (field [`APPLIED_RESULT_FIELD`], beside the
/// core's fields, which ignore it), so that every delivery of the report writes the same
/// `verdict.json` and continues the import where the last one stopped.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AppliedResult {
    /// The report version (bucket, key, version id, ETag) this belongs to.
    pub report: ReportRef,
    /// Findings the report sends to Security Hub as ACTIVE (new, changed or due for
    /// refresh), as planned by its first delivery: `verdict.json` `findings_imported`.
    pub imported: u64,
    /// Findings it archives (gone since the applied report): `findings_archived`.
    pub archived: u64,
    /// When its first delivery planned it: `verdict.json` `processed_at`.
    pub processed_at: String,
    /// The import's progress (absent in states written before imports were checkpointed:
    /// done, with the counts above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportProgress>,
}

impl AppliedResult {
    pub(super) fn progress(&self) -> ImportProgress {
        self.import.clone().unwrap_or_else(|| ImportProgress {
            status: HubStatus::Done,
            imported: self.imported,
            archived: self.archived,
            failed: 0,
            warnings: Vec::new(),
            updated_at: self.processed_at.clone(),
        })
    }
}

/// The state object's field holding the [`AppliedResult`].
pub const APPLIED_RESULT_FIELD: &str = "applied_result";

/// A state object as stored: the core's fields and, beside them, the [`AppliedResult`]
/// (kept as JSON first: an unreadable one is absent, not an error). Read in one pass from
/// the object's body as S3 streams it, never held whole.
#[derive(serde::Deserialize)]
struct StoredState {
    schema: String,
    lifecycle_key: String,
    #[serde(default)]
    applied: Option<ReportMark>,
    #[serde(default)]
    entries: BTreeMap<String, state::Entry>,
    #[serde(default)]
    applied_result: Option<serde_json::Value>,
}

/// Reads a state object's body: the core's state and its [`AppliedResult`] (None: absent,
/// or unreadable); `name` names the object in errors.
pub(crate) fn read_state(
    body: &mut dyn Read,
    name: &str,
) -> Result<(LifecycleState, Option<AppliedResult>), StateError> {
    let stored: StoredState = serde_json::from_reader(BufReader::new(body))
        .map_err(|e| StateError { name: name.to_string(), message: e.to_string() })?;
    let result = stored.applied_result.and_then(|v| serde_json::from_value(v).ok());
    let state = LifecycleState {
        schema: stored.schema,
        lifecycle_key: stored.lifecycle_key,
        applied: stored.applied,
        entries: stored.entries,
    };
    Ok((state.checked(name)?, result))
}

/// A state object's body: the core's state (a [`LifecycleState`], or a view serialized as
/// one) plus the [`AppliedResult`], serialized straight into the one buffer the PUT sends
/// (no intermediate JSON tree).
pub(crate) fn state_body<T: serde::Serialize>(state: &T, result: Option<&AppliedResult>) -> Result<Vec<u8>, Transient> {
    /// Its field names are the core's and [`APPLIED_RESULT_FIELD`].
    #[derive(serde::Serialize)]
    struct Body<'a, T> {
        #[serde(flatten)]
        state: &'a T,
        #[serde(skip_serializing_if = "Option::is_none")]
        applied_result: Option<&'a AppliedResult>,
    }
    let body = Body { state, applied_result: result };
    let failed = |e: serde_json::Error| Transient(format!("state serialization: {e}"));
    // Serialized twice, once to count: a buffer that grows by doubling holds up to twice
    // the body's size (and three times while it moves); the figures are in docs/benchmarks.md,
    // "Where the memory goes".
    let len = scangate_core::text::json_len(&body).map_err(failed)?;
    let mut buf = Vec::with_capacity(len);
    serde_json::to_writer(&mut buf, &body).map_err(failed)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::hub_doc::{HubDoc, HUB_SCHEMA};

    /// The applied result of a state object's body, as a delivery reads it.
    fn read_applied_result(body: &[u8]) -> Option<AppliedResult> {
        read_state(&mut &body[..], "s").ok().and_then(|(_, r)| r)
    }

    #[test]
    fn applied_result_rides_along_in_the_state_object() {
        let state = LifecycleState::empty("k");
        let result = AppliedResult {
            report: ReportRef {
                bucket: Some("b".into()),
                key: "scans/p/1/r.sarif".into(),
                version_id: None,
                etag: Some("\"e\"".into()),
            },
            imported: 3,
            archived: 1,
            processed_at: "2026-11-23T08:05:00.000Z".into(),
            import: Some(ImportProgress {
                status: HubStatus::Pending,
                imported: 2,
                archived: 0,
                failed: 0,
                warnings: Vec::new(),
                updated_at: "2026-11-23T08:05:00.000Z".into(),
            }),
        };
        let body = state_body(&state, Some(&result)).expect("serializes");
        assert_eq!(body.capacity(), body.len(), "the buffer is sized before it is written");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert!(value.get(APPLIED_RESULT_FIELD).is_some(), "{value}");
        assert_eq!(read_applied_result(&body), Some(result.clone()));
        assert_eq!(read_state(&mut &body[..], "s").expect("reads").0, state);
        assert_eq!(LifecycleState::from_json(&body, "s").expect("the core reads it"), state);
        let plain = state_body(&state, None).expect("serializes");
        assert_eq!(read_applied_result(&plain), None);
        let odd = br#"{"schema":"scangate.state.v1","lifecycle_key":"k","applied_result": 5}"#;
        assert_eq!(read_state(&mut &odd[..], "s").expect("the state reads").1, None, "unreadable: absent");
        let err = read_state(&mut &br#"{"schema":"x","lifecycle_key":"k"}"#[..], "state/x.json").expect_err("schema");
        assert!(err.to_string().contains("state/x.json"), "{err}");
        let doc = HubDoc::from_result(&result);
        assert_eq!((doc.status, doc.planned_imports, doc.imported), (HubStatus::Pending, 3, 2));
        let json = serde_json::to_value(&doc).expect("serializes");
        assert_eq!(json["status"], "pending");
        assert_eq!(json["schema"], HUB_SCHEMA);
    }

    #[test]
    fn a_record_from_before_checkpoints_reads_as_done() {
        let legacy = br#"{"schema":"scangate.state.v1","lifecycle_key":"k","entries":{},
            "applied_result":{"report":{"key":"scans/p/1/r.sarif"},"imported":4,"archived":1,
            "processed_at":"2026-11-23T08:05:00.000Z"}}"#;
        let r = read_applied_result(legacy).expect("reads");
        let p = r.progress();
        assert_eq!((p.status, p.imported, p.archived), (HubStatus::Done, 4, 1));
    }
}

//! The lifecycle state object as the processor stores it (`state/<key-hash>.json`): the
//! core's `LifecycleState` and, beside it, the [`AppliedResult`] of the report it was
//! last written for and where that report's Security Hub import stands. Read streaming into
//! a file on the function's ephemeral storage (`super::previous`), written by streaming the
//! serialization into a file there that the PUT streams from ([`StateBody`]): the body is
//! never in memory.

use super::Transient;
use scangate_core::verdict::ReportRef;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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

/// The prefix of a state body's file on the ephemeral storage ([`state_body`]).
pub const SPILL_PREFIX: &str = "scangate-state-";

/// Buffer between the serializer and a state body's file.
const SPILL_BUFFER: usize = 64 * 1024;

/// A state object's body, in a file on the function's ephemeral storage (Lambda's `/tmp`,
/// sized by the stack's `ProcessorEphemeralStorage`) for the PUT to stream from: the body
/// grows with the lifecycle (about 0.9 KB an entry) and is never held in memory. The file is
/// removed when this is dropped; [`sweep_spilled`] removes what a killed invocation left.
#[derive(Debug)]
pub(crate) struct StateBody {
    path: PathBuf,
    len: u64,
}

impl Drop for StateBody {
    fn drop(&mut self) {
        // Gone already is fine; anything else is left to the next cold start's sweep.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Bodies created by this process so far: with the process id, a file name no other
/// invocation uses (the file is created with `create_new`, so even a reused name fails
/// rather than writing into another body).
static SPILLED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A new, empty file for a state body in `dir`, named `<SPILL_PREFIX><pid>-<n>.json`.
fn new_spill_file(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let n = SPILLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{SPILL_PREFIX}{}-{n}.json", std::process::id()));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
}

impl StateBody {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The body's size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

/// Where state bodies are written: the system's temporary directory (`TMPDIR`, else `/tmp`,
/// Lambda's ephemeral storage).
pub fn spill_dir() -> PathBuf {
    std::env::temp_dir()
}

/// A state object's body (the core's state, a `LifecycleState` or a view serialized as
/// one, plus the [`AppliedResult`]) serialized straight into a file in [`spill_dir`] through
/// a 64 KiB buffer (no intermediate JSON tree, no whole body in memory).
pub(crate) fn state_body<T: serde::Serialize>(
    state: &T,
    result: Option<&AppliedResult>,
) -> Result<StateBody, Transient> {
    state_body_in(&spill_dir(), state, result)
}

/// [`state_body`] into a file in `dir`. A directory that cannot take the body (full, or not
/// writable) is an error naming it and the stack parameter that sizes it.
pub(crate) fn state_body_in<T: serde::Serialize>(
    dir: &Path,
    state: &T,
    result: Option<&AppliedResult>,
) -> Result<StateBody, Transient> {
    /// Its field names are the core's and [`APPLIED_RESULT_FIELD`].
    #[derive(serde::Serialize)]
    struct Body<'a, T> {
        #[serde(flatten)]
        state: &'a T,
        #[serde(skip_serializing_if = "Option::is_none")]
        applied_result: Option<&'a AppliedResult>,
    }
    let body = Body { state, applied_result: result };
    let spill = |e: std::io::Error| {
        Transient(format!(
            "state body in {}: {e} (the function's ephemeral storage: raise ProcessorEphemeralStorage)",
            dir.display()
        ))
    };
    let (path, file) = new_spill_file(dir).map_err(spill)?;
    // From here on the file is removed whatever happens (dropped with `spilled`).
    let mut spilled = StateBody { path, len: 0 };
    let mut out = BufWriter::with_capacity(SPILL_BUFFER, file);
    serde_json::to_writer(&mut out, &body).map_err(|e| match e.io_error_kind() {
        Some(_) => spill(e.into()),
        None => Transient(format!("state serialization: {e}")),
    })?;
    let file = out.into_inner().map_err(|e| spill(e.into_error()))?;
    spilled.len = file.metadata().map_err(spill)?.len();
    Ok(spilled)
}

/// Removes the state bodies an invocation left in `dir` when it was killed before it could
/// (an out-of-memory kill, a timeout): files named like [`state_body`]'s and older than
/// `older_than` (longer than an invocation lasts, so a body being written by another process
/// sharing the directory is left alone). Returns how many were removed. Run at cold start:
/// Lambda keeps `/tmp` across invocations of one execution environment.
pub fn sweep_spilled(dir: &Path, older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(SPILL_PREFIX) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age > older_than);
        if meta.is_file() && old && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::hub_doc::{HubDoc, HUB_SCHEMA};
    use crate::process::previous::tests::read_state;
    use scangate_core::lifecycle::state::{self, LifecycleState};

    /// The applied result of a state object's body, as a delivery reads it.
    fn read_applied_result(body: &[u8]) -> Option<AppliedResult> {
        read_state(body, "s").ok().and_then(|(_, r)| r)
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
        let spilled = state_body(&state, Some(&result)).expect("serializes");
        let body = std::fs::read(spilled.path()).expect("the body is in its file");
        assert_eq!(spilled.len(), body.len() as u64);
        let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert!(value.get(APPLIED_RESULT_FIELD).is_some(), "{value}");
        assert_eq!(read_applied_result(&body), Some(result.clone()));
        assert_eq!(read_state(&body[..], "s").expect("reads").0, state);
        assert_eq!(LifecycleState::from_json(&body, "s").expect("the core reads it"), state);
        let plain = std::fs::read(state_body(&state, None).expect("serializes").path()).expect("read");
        assert_eq!(read_applied_result(&plain), None);
        let odd = br#"{"schema":"scangate.state.v1","lifecycle_key":"k","applied_result": 5}"#;
        assert_eq!(read_state(&odd[..], "s").expect("the state reads").1, None, "unreadable: absent");
        let err = read_state(&br#"{"schema":"x","lifecycle_key":"k"}"#[..], "state/x.json").expect_err("schema");
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

    #[test]
    fn a_state_body_is_a_file_removed_after_use_and_a_full_or_missing_directory_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut state = LifecycleState::empty("k");
        for i in 0..2_000 {
            let entry = state::Entry {
                content_hash: format!("{i:064x}").into(),
                sighting_hash: Some(format!("{:064x}", i + 1).into()),
                created_at: "2026-11-23T08:05:00.000Z".into(),
                last_imported_at: "2026-11-23T08:05:00.000Z".into(),
                stub: state::Stub::None,
            };
            state.entries.insert(format!("arn:aws:securityhub:finding/{i:06}").into(), entry);
        }
        let body = state_body_in(dir.path(), &state, None).expect("written");
        assert!(body.path().starts_with(dir.path()), "{}", body.path().display());
        let bytes = std::fs::read(body.path()).expect("read");
        assert!(bytes.len() > 2 * SPILL_BUFFER, "more than the buffer: {} bytes", bytes.len());
        assert_eq!(body.len(), bytes.len() as u64);
        assert_eq!(read_state(&bytes[..], "s").expect("reads").0, state, "the same state, byte for byte");
        assert_eq!(bytes, serde_json::to_vec(&state).expect("serializes"), "the JSON on the wire is unchanged");
        let path = body.path().to_path_buf();
        drop(body);
        assert!(!path.exists(), "removed when dropped");
        // No such directory (or a full one): an error naming it and the stack parameter.
        let missing = dir.path().join("missing");
        let err = state_body_in(&missing, &state, None).expect_err("no directory");
        assert!(
            err.0.contains(&missing.display().to_string()) && err.0.contains("ProcessorEphemeralStorage"),
            "{}",
            err.0
        );
    }

    #[test]
    fn the_sweep_removes_only_old_state_bodies() {
        let dir = tempfile::tempdir().expect("temp dir");
        let old = dir.path().join(format!("{SPILL_PREFIX}killed.json"));
        let fresh = dir.path().join(format!("{SPILL_PREFIX}writing.json"));
        let other = dir.path().join("someone-else.json");
        for path in [&old, &fresh, &other] {
            std::fs::write(path, b"{}").expect("write");
        }
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for path in [&old, &other] {
            std::fs::File::options().write(true).open(path).expect("open").set_modified(hour_ago).expect("mtime");
        }
        assert_eq!(sweep_spilled(dir.path(), Duration::from_secs(900)), 1);
        assert!(!old.exists(), "a killed invocation's body is removed");
        assert!(fresh.exists(), "a body being written is left alone");
        assert!(other.exists(), "another program's file is left alone");
        assert_eq!(sweep_spilled(&dir.path().join("missing"), Duration::ZERO), 0);
    }
}

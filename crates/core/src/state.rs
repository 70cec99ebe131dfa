//! The Security Hub lifecycle state of one lifecycle key, and what a new report changes.
//!
//! Per lifecycle key the processor keeps a state object (`state/<key-hash>.json`)
//! listing the findings it imported: content hash, when each was created and last
//! imported, and a stub with what is needed to archive it later. [`plan`] compares a
//! new report with that state: import what is new or changed, refresh what has not
//! been imported for `refresh_days` (so Security Hub never ages it out), skip the rest,
//! archive what disappeared, and ignore the whole report when it is older than the one
//! already applied. [`next_state`] is the state after the plan was carried out.
//!
//! Pure: no I/O, no clock (the caller passes `now`).

use crate::events::compare_sequencers;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The schema id of state objects.
pub const STATE_SCHEMA: &str = "scangate.state.v1";

/// The report a state was computed from: what orders reports of one lifecycle key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportMark {
    /// RFC 3339: the report's `scangate-scanned-at` metadata, else the object's LastModified.
    pub report_time: String,
    /// The S3 event sequencer (orders events of the same key only).
    #[serde(default)]
    pub sequencer: Option<String>,
    pub bucket: String,
    pub key: String,
    #[serde(default)]
    pub version_id: Option<String>,
}

impl ReportMark {
    /// Orders two reports: by report time, then (same object key) by sequencer, then by
    /// key and version, so any two distinct reports have one fixed order.
    pub fn order(&self, other: &ReportMark) -> Ordering {
        let by_time = match (parse_time(&self.report_time), parse_time(&other.report_time)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.report_time.cmp(&other.report_time),
        };
        by_time
            .then_with(|| {
                if self.bucket == other.bucket && self.key == other.key {
                    match (&self.sequencer, &other.sequencer) {
                        (Some(a), Some(b)) => compare_sequencers(a, b),
                        _ => Ordering::Equal,
                    }
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| self.bucket.cmp(&other.bucket))
            .then_with(|| self.key.cmp(&other.key))
            .then_with(|| self.version_id.cmp(&other.version_id))
    }
}

/// One finding the lifecycle holds in Security Hub.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Hash of the finding's content; a different hash means "changed, import again".
    pub content_hash: String,
    /// RFC 3339: when the finding was first imported (its ASFF CreatedAt).
    pub created_at: String,
    /// RFC 3339: when the finding was last imported (refresh decisions).
    pub last_imported_at: String,
    /// Whatever the ASFF renderer needs to import the finding again as ARCHIVED.
    #[serde(default)]
    pub stub: serde_json::Value,
}

/// The state object of one lifecycle key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifecycleState {
    pub schema: String,
    pub lifecycle_key: String,
    /// The last report applied; None before the first.
    #[serde(default)]
    pub applied: Option<ReportMark>,
    /// ASFF finding id → entry.
    #[serde(default)]
    pub entries: BTreeMap<String, Entry>,
}

impl LifecycleState {
    pub fn empty(lifecycle_key: &str) -> LifecycleState {
        LifecycleState {
            schema: STATE_SCHEMA.to_string(),
            lifecycle_key: lifecycle_key.to_string(),
            applied: None,
            entries: BTreeMap::new(),
        }
    }

    /// Parses a state object, refusing another schema; `name` names it in errors.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<LifecycleState, StateError> {
        let state: LifecycleState =
            serde_json::from_slice(bytes).map_err(|e| StateError { name: name.to_string(), message: e.to_string() })?;
        if state.schema != STATE_SCHEMA {
            return Err(StateError {
                name: name.to_string(),
                message: format!("schema is {:?}, expected {STATE_SCHEMA:?}", state.schema),
            });
        }
        Ok(state)
    }
}

/// A state object that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("state object {name}: {message}")]
pub struct StateError {
    pub name: String,
    pub message: String,
}

/// A finding of the new report, as the planner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewFinding {
    /// The ASFF id.
    pub id: String,
    pub content_hash: String,
    /// Stub to keep in the state for archiving it later.
    pub stub: serde_json::Value,
}

/// What to do with a new report. Lists hold ASFF ids, in report order (archive: id order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub import_new_or_changed: Vec<String>,
    pub refresh_unchanged: Vec<String>,
    pub unchanged_skipped: Vec<String>,
    pub archive: Vec<String>,
    /// The report is older than the applied one: do nothing at all.
    pub ignore_as_stale: bool,
}

impl Plan {
    /// Ids to import as ACTIVE.
    pub fn imports(&self) -> impl Iterator<Item = &String> {
        self.import_new_or_changed.iter().chain(self.refresh_unchanged.iter())
    }

    pub fn is_noop(&self) -> bool {
        self.import_new_or_changed.is_empty() && self.refresh_unchanged.is_empty() && self.archive.is_empty()
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Plans a report against the previous state (None when the lifecycle is new).
pub fn plan(
    previous: Option<&LifecycleState>,
    new: &[NewFinding],
    report: &ReportMark,
    now: OffsetDateTime,
    refresh_days: u32,
) -> Plan {
    let mut p = Plan::default();
    if let Some(applied) = previous.and_then(|s| s.applied.as_ref()) {
        if report.order(applied) == Ordering::Less {
            p.ignore_as_stale = true;
            return p;
        }
    }
    let refresh_after = time::Duration::days(i64::from(refresh_days));
    let mut seen = HashSet::with_capacity(new.len());
    for f in new {
        if !seen.insert(f.id.as_str()) {
            continue;
        }
        match previous.and_then(|s| s.entries.get(&f.id)) {
            None => p.import_new_or_changed.push(f.id.clone()),
            Some(e) if e.content_hash != f.content_hash => p.import_new_or_changed.push(f.id.clone()),
            Some(e) => {
                let due = match parse_time(&e.last_imported_at) {
                    Some(t) => now - t >= refresh_after,
                    None => true,
                };
                if due {
                    p.refresh_unchanged.push(f.id.clone());
                } else {
                    p.unchanged_skipped.push(f.id.clone());
                }
            }
        }
    }
    if let Some(prev) = previous {
        p.archive = prev.entries.keys().filter(|id| !seen.contains(id.as_str())).cloned().collect();
    }
    p
}

/// The state after `plan` was carried out. `failed` holds the ids whose import (or
/// archive) Security Hub did not accept: their previous entry is kept, so the next
/// report retries them; a failed new finding stays out of the state.
pub fn next_state(
    previous: Option<&LifecycleState>,
    lifecycle_key: &str,
    plan: &Plan,
    new: &[NewFinding],
    failed: &HashSet<String>,
    report: &ReportMark,
    now: &str,
) -> LifecycleState {
    let empty = LifecycleState::empty(lifecycle_key);
    let prev = previous.unwrap_or(&empty);
    if plan.ignore_as_stale {
        return prev.clone();
    }
    let by_id: HashMap<&str, &NewFinding> = new.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut entries = BTreeMap::new();
    for id in plan.imports() {
        let old = prev.entries.get(id);
        if failed.contains(id) {
            if let Some(old) = old {
                entries.insert(id.clone(), old.clone());
            }
            continue;
        }
        if let Some(f) = by_id.get(id.as_str()) {
            entries.insert(
                id.clone(),
                Entry {
                    content_hash: f.content_hash.clone(),
                    created_at: old.map_or_else(|| now.to_string(), |o| o.created_at.clone()),
                    last_imported_at: now.to_string(),
                    stub: f.stub.clone(),
                },
            );
        }
    }
    for id in &plan.unchanged_skipped {
        if let Some(old) = prev.entries.get(id) {
            entries.insert(id.clone(), old.clone());
        }
    }
    for id in &plan.archive {
        if failed.contains(id) {
            if let Some(old) = prev.entries.get(id) {
                entries.insert(id.clone(), old.clone());
            }
        }
    }
    LifecycleState {
        schema: STATE_SCHEMA.to_string(),
        lifecycle_key: lifecycle_key.to_string(),
        applied: Some(report.clone()),
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 08:00 UTC);

    fn mark(time: &str, key: &str, seq: Option<&str>) -> ReportMark {
        ReportMark {
            report_time: time.into(),
            sequencer: seq.map(Into::into),
            bucket: "b".into(),
            key: key.into(),
            version_id: None,
        }
    }

    fn nf(id: &str, hash: &str) -> NewFinding {
        NewFinding { id: id.into(), content_hash: hash.into(), stub: serde_json::json!({ "Id": id }) }
    }

    fn entry(hash: &str, last: &str) -> Entry {
        Entry {
            content_hash: hash.into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            last_imported_at: last.into(),
            stub: serde_json::Value::Null,
        }
    }

    fn state(applied: Option<ReportMark>, entries: &[(&str, Entry)]) -> LifecycleState {
        LifecycleState {
            schema: STATE_SCHEMA.into(),
            lifecycle_key: "k".into(),
            applied,
            entries: entries.iter().map(|(id, e)| (id.to_string(), e.clone())).collect(),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plan_table() {
        let recent = "2026-11-20T00:00:00Z";
        let old = "2026-10-01T00:00:00Z";
        let applied = Some(mark("2026-11-22T00:00:00Z", "scans/p/1/r.sarif", None));
        let prev = state(
            applied.clone(),
            &[
                ("a", entry("h1", recent)),
                ("b", entry("h2", old)),
                ("c", entry("h3", recent)),
                ("d", entry("h4", recent)),
            ],
        );
        let newer = mark("2026-11-23T00:00:00Z", "scans/p/2/r.sarif", None);
        struct Row {
            name: &'static str,
            prev: Option<LifecycleState>,
            new: Vec<NewFinding>,
            report: ReportMark,
            refresh: u32,
            want: Plan,
        }
        let rows = vec![
            Row {
                name: "first report imports everything",
                prev: None,
                new: vec![nf("a", "h1"), nf("b", "h2")],
                report: newer.clone(),
                refresh: 30,
                want: Plan { import_new_or_changed: ids(&["a", "b"]), ..Plan::default() },
            },
            Row {
                name: "new, changed, unchanged, refresh due, vanished",
                prev: Some(prev.clone()),
                new: vec![nf("a", "h1"), nf("b", "h2"), nf("c", "h3-changed"), nf("e", "h5")],
                report: newer.clone(),
                refresh: 30,
                want: Plan {
                    import_new_or_changed: ids(&["c", "e"]),
                    refresh_unchanged: ids(&["b"]),
                    unchanged_skipped: ids(&["a"]),
                    archive: ids(&["d"]),
                    ignore_as_stale: false,
                },
            },
            Row {
                name: "refresh 0 days refreshes every unchanged finding",
                prev: Some(prev.clone()),
                new: vec![nf("a", "h1")],
                report: newer.clone(),
                refresh: 0,
                want: Plan { refresh_unchanged: ids(&["a"]), archive: ids(&["b", "c", "d"]), ..Plan::default() },
            },
            Row {
                name: "older report is ignored",
                prev: Some(prev.clone()),
                new: vec![nf("z", "h")],
                report: mark("2026-11-21T00:00:00Z", "scans/p/0/r.sarif", None),
                refresh: 30,
                want: Plan { ignore_as_stale: true, ..Plan::default() },
            },
            Row {
                name: "the applied report again changes nothing",
                prev: Some(prev.clone()),
                new: vec![nf("a", "h1"), nf("c", "h3"), nf("d", "h4")],
                report: applied.clone().expect("applied"),
                refresh: 30,
                want: Plan {
                    unchanged_skipped: ids(&["a", "c", "d"]),
                    refresh_unchanged: vec![],
                    archive: ids(&["b"]),
                    ..Plan::default()
                },
            },
            Row {
                name: "duplicate ids count once; empty report archives all",
                prev: Some(state(applied.clone(), &[("a", entry("h1", recent))])),
                new: vec![nf("x", "1"), nf("x", "2")],
                report: newer.clone(),
                refresh: 30,
                want: Plan { import_new_or_changed: ids(&["x"]), archive: ids(&["a"]), ..Plan::default() },
            },
            Row {
                name: "unparseable last import time is refreshed",
                prev: Some(state(applied.clone(), &[("a", entry("h1", "yesterday"))])),
                new: vec![nf("a", "h1")],
                report: newer.clone(),
                refresh: 30,
                want: Plan { refresh_unchanged: ids(&["a"]), ..Plan::default() },
            },
        ];
        for row in rows {
            let got = plan(row.prev.as_ref(), &row.new, &row.report, NOW, row.refresh);
            assert_eq!(got, row.want, "{}", row.name);
        }
    }

    #[test]
    fn report_order() {
        let a = mark("2026-11-22T00:00:00Z", "k", Some("00A1"));
        let b = mark("2026-11-22T00:00:00Z", "k", Some("00A2"));
        assert_eq!(a.order(&b), Ordering::Less);
        // Same instant written differently.
        let c = mark("2026-11-22T01:00:00+01:00", "k", Some("00A1"));
        assert_eq!(a.order(&c), Ordering::Equal);
        // Time wins over sequencer.
        let d = mark("2026-11-21T00:00:00Z", "k", Some("FFFF"));
        assert_eq!(d.order(&a), Ordering::Less);
        // Different keys at the same time: a fixed order by key.
        let e = mark("2026-11-22T00:00:00Z", "j", Some("FFFF"));
        assert_eq!(e.order(&a), Ordering::Less);
    }

    #[test]
    fn next_state_keeps_failures_for_retry() {
        let prev = state(
            Some(mark("2026-11-22T00:00:00Z", "r1", None)),
            &[
                ("a", entry("h1", "2026-11-20T00:00:00Z")),
                ("b", entry("h2", "2026-11-20T00:00:00Z")),
                ("c", entry("h3", "2026-11-20T00:00:00Z")),
            ],
        );
        let new = vec![nf("a", "h1"), nf("b", "h2-new"), nf("n1", "x"), nf("n2", "y")];
        let report = mark("2026-11-23T00:00:00Z", "r2", None);
        let p = plan(Some(&prev), &new, &report, NOW, 30);
        assert_eq!(p.archive, ids(&["c"]));
        let failed: HashSet<String> = ids(&["b", "n2"]).into_iter().collect();
        let next = next_state(Some(&prev), "k", &p, &new, &failed, &report, "2026-11-23T08:00:00Z");
        assert_eq!(next.entries.keys().cloned().collect::<Vec<_>>(), ids(&["a", "b", "n1"]));
        assert_eq!(next.entries["b"].content_hash, "h2", "failed change keeps the old hash, so it is retried");
        assert_eq!(next.entries["n1"].created_at, "2026-11-23T08:00:00Z");
        assert_eq!(next.applied, Some(report.clone()));
        // The retry of the same report imports exactly what failed.
        let retry = plan(Some(&next), &new, &report, NOW, 30);
        assert_eq!(retry.import_new_or_changed, ids(&["b", "n2"]));
        assert!(retry.archive.is_empty());
        // A failed archive is kept and planned again.
        let failed_archive: HashSet<String> = ids(&["c"]).into_iter().collect();
        let next2 = next_state(Some(&prev), "k", &p, &new, &failed_archive, &report, "2026-11-23T08:00:00Z");
        assert!(next2.entries.contains_key("c"));
        assert_eq!(plan(Some(&next2), &new, &report, NOW, 30).archive, ids(&["c"]));
    }

    #[test]
    fn stale_report_keeps_state_and_json_roundtrip() {
        let prev = state(Some(mark("2026-11-22T00:00:00Z", "r1", None)), &[("a", entry("h1", "2026-11-20T00:00:00Z"))]);
        let report = mark("2026-11-01T00:00:00Z", "r0", None);
        let p = plan(Some(&prev), &[], &report, NOW, 30);
        assert!(p.ignore_as_stale);
        let next = next_state(Some(&prev), "k", &p, &[], &HashSet::new(), &report, "now");
        assert_eq!(next, prev);
        let json = serde_json::to_vec(&next).expect("serialize");
        assert_eq!(LifecycleState::from_json(&json, "s").expect("parse"), prev);
        let err =
            LifecycleState::from_json(br#"{"schema":"x","lifecycle_key":"k"}"#, "state/x.json").expect_err("schema");
        assert!(err.to_string().contains("state/x.json"), "{err}");
    }

    #[test]
    fn order_independent_final_state() {
        // Three reports delivered in every order end in the state of the newest.
        let reports = [
            (mark("2026-11-21T00:00:00Z", "r1", None), vec![nf("a", "1"), nf("b", "1")]),
            (mark("2026-11-22T00:00:00Z", "r2", None), vec![nf("a", "2")]),
            (mark("2026-11-23T00:00:00Z", "r3", None), vec![nf("a", "2"), nf("c", "1")]),
        ];
        let orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [2, 0, 1], [1, 0, 2]];
        let mut finals = Vec::new();
        for order in orders {
            let mut s: Option<LifecycleState> = None;
            for i in order {
                let (m, f) = &reports[i];
                let p = plan(s.as_ref(), f, m, NOW, 30);
                s = Some(next_state(s.as_ref(), "k", &p, f, &HashSet::new(), m, "t"));
            }
            let s = s.expect("state");
            finals.push((
                s.applied.clone(),
                s.entries.iter().map(|(k, e)| (k.clone(), e.content_hash.clone())).collect::<Vec<_>>(),
            ));
        }
        for f in &finals {
            assert_eq!(f, &finals[0]);
        }
        assert_eq!(finals[0].1, vec![("a".to_string(), "2".to_string()), ("c".to_string(), "1".to_string())]);
    }
}

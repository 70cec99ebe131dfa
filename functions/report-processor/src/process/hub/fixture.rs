//! A state object written by the processor before the in-memory form of state entries
//! changed (tests/fixtures/state/v1-9c4fa15.json, made as its README says), holding every odd
//! case the format allows: read and written back byte for byte, and a rescan planned
//! against it exactly as that code planned it.

use super::write_ahead::InFlight;
use super::StubSource;
use crate::process::previous::tests::{held, read_state};
use crate::process::state_object::state_body;
use scangate_core::lifecycle::state::{self, ImportOn, LifecycleState, NewFinding, Plan, ReportMark, Stub};
use sha2::Digest;
use std::collections::HashSet;

const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/state/v1-9c4fa15.json");

fn digest(text: &str) -> [u8; 32] {
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// The fixture's lifecycle hash: 32 hex, as `LifecycleKey::hash`.
fn lifecycle() -> String {
    hex::encode(&digest("lifecycle")[..16])
}

/// The fixture's standard id of finding `n`.
fn sid(n: u32) -> String {
    format!("scangate/{}/{}", lifecycle(), hex::encode(digest(&format!("f{n}"))))
}

fn written<T: serde::Serialize>(state: &T, result: Option<&crate::process::state_object::AppliedResult>) -> Vec<u8> {
    let body = state_body(state, result).expect("serializes");
    std::fs::read(body.path()).expect("the body's file")
}

fn read() -> (LifecycleState, Option<crate::process::state_object::AppliedResult>) {
    read_state(FIXTURE, "fixture").expect("the fixture reads")
}

#[test]
fn a_state_of_the_previous_release_is_written_back_byte_for_byte() {
    let (state, result) = read();
    assert!(result.is_some(), "the fixture has an applied_result");
    assert_eq!(state.entries.len(), 12);
    assert_eq!(String::from_utf8_lossy(&written(&state, result.as_ref())), String::from_utf8_lossy(FIXTURE));
    // The write-ahead of a plan that imports and archives nothing: the state read, unchanged.
    let none = Plan::default();
    let nothing: Vec<NewFinding> = Vec::new();
    let held_state = held(&state);
    let view = InFlight::of(
        Some(&held_state),
        "other",
        "2026-12-01T00:00:00.000Z",
        &none,
        &nothing,
        &[],
        StubSource::Built(&[]),
    );
    assert_eq!(String::from_utf8_lossy(&written(&view, result.as_ref())), String::from_utf8_lossy(FIXTURE));
    // The next state when every finding is unchanged and the applied report is the same.
    let new: Vec<NewFinding> = state
        .entries
        .keys()
        .map(|id| NewFinding { id: id.clone(), content_hash: [0; 32], sighting_hash: [0; 32], stub: Stub::None })
        .collect();
    let skipped = Plan { unchanged_skipped: (0..new.len()).collect(), ..Plan::default() };
    let applied = state.applied.clone().expect("applied");
    let key = state.lifecycle_key.clone();
    let next = state::into_next_state(
        Some(state),
        &key,
        &skipped,
        &new,
        |_| Stub::None,
        &HashSet::new(),
        &applied,
        "2026-12-01T00:00:00.000Z",
    );
    assert_eq!(String::from_utf8_lossy(&written(&next, result.as_ref())), String::from_utf8_lossy(FIXTURE));
}

#[test]
fn a_rescan_against_a_state_of_the_previous_release_plans_as_it_did() {
    let (state, _) = read();
    let upper = format!(
        "scangate/{}/{}",
        hex::encode(digest("lifecycle")).to_uppercase(),
        hex::encode(digest("f7")).to_uppercase()
    );
    let short = format!("scangate/{}/short-id-10", lifecycle());
    let nf = |id: String, content: &str, sighting: &str| NewFinding {
        id: id.into(),
        content_hash: digest(content),
        sighting_hash: digest(sighting),
        stub: Stub::None,
    };
    let new = vec![
        nf(sid(1), "c1", "s1"),
        nf(sid(2), "c2", "s2"),
        nf(sid(3), "c3", "s3"),
        nf(sid(4), "c4", "s4"),
        nf(sid(5), "c5", "s5-new"),
        nf(sid(6), "c6", "s6"),
        nf(upper.clone(), "c7", "s7"),
        nf("a".into(), "h1", "tag-1"),
        nf(short.clone(), "c10", "s10"),
        nf(sid(12), "c12", "s12"),
        nf(sid(13), "c13", "s13"),
        nf(sid(13), "c13-dup", "s13"),
    ];
    let report = ReportMark {
        report_time: "2026-11-23T00:00:00Z".into(),
        sequencer: None,
        bucket: "reports".into(),
        key: "scans/p/2/r.sarif".into(),
        version_id: None,
    };
    let now = time::macros::datetime!(2026-11-23 08:00 UTC);
    let legacy = "arn:aws:securityhub:us-east-1:123456789012:finding/legacy-9".to_string();
    // What 9c4fa15 planned (import, refresh, skip, archive), ids by the fixture's numbers.
    let (imported, imported_on_sighting) = (
        vec![sid(3), sid(6), upper.clone(), "a".into(), sid(13)],
        vec![sid(3), sid(5), sid(6), upper.clone(), "a".into(), sid(13)],
    );
    let rows = [
        (30, ImportOn::Content, imported.clone(), vec![sid(2), sid(12)], vec![sid(1), sid(4), sid(5), short.clone()]),
        (30, ImportOn::Sighting, imported_on_sighting, vec![sid(2), sid(12)], vec![sid(1), sid(4), short.clone()]),
        (0, ImportOn::Content, imported, vec![sid(1), sid(2), sid(4), sid(5), sid(12)], vec![short.clone()]),
    ];
    for (refresh, import_on, import, refreshed, skipped) in rows {
        let p = state::plan(Some(&state), &new, &report, now, refresh, import_on);
        let ids = |list: &[usize]| list.iter().map(|&i| new[i].id.to_string()).collect::<Vec<_>>();
        let what = format!("refresh {refresh}, {import_on:?}");
        assert_eq!(ids(&p.import_new_or_changed), import, "{what}: import");
        assert_eq!(ids(&p.refresh_unchanged), refreshed, "{what}: refresh");
        assert_eq!(ids(&p.unchanged_skipped), skipped, "{what}: skip");
        let archive: Vec<String> = p.archive.iter().map(ToString::to_string).collect();
        assert_eq!(archive, vec![legacy.clone(), sid(11)], "{what}: archive");
        assert!(!p.ignore_as_stale);
    }
}

//! The next state: what the final write of an attempt stores, as a view over the state read,
//! the plan, the report's findings and what Security Hub did not apply, serialized as the
//! core's [`lifecycle::state::into_next_state`](scangate_core::lifecycle::state::into_next_state)
//! builds it, byte for byte, without building it: no map of the next entries, no stub held
//! beyond its entry (each is built from its finding as the entry is serialized).
//!
//! Kept, in id order: each import that was applied (a new entry: the new finding's hashes,
//! `created_at` of the previous entry or now, `last_imported_at` now, its stub), each import
//! that was not (its previous entry, if any), each skipped finding (its previous entry), each
//! archive that was not applied (its previous entry). The rest of the previous state is
//! dropped. A stale plan keeps the previous state as it is.

use super::StubSource;
use crate::process::previous::Previous;
use scangate_core::asff::StubInterner;
use scangate_core::lifecycle::state::{
    Entry, EntryView, FindingKey, Held, HeldPass, KeyedEntry, KeyedStub, NewFindings, Plan, ReportMark, Stamp,
    StateError, StateHash, STATE_SCHEMA,
};
use serde::ser::{Error as _, Serialize, SerializeMap, Serializer};
use std::borrow::Cow;
use std::collections::HashSet;

/// The next state, borrowed; serialized as a
/// [`LifecycleState`](scangate_core::lifecycle::state::LifecycleState).
#[derive(serde::Serialize)]
pub(crate) struct NextState<'a> {
    schema: &'a str,
    lifecycle_key: &'a str,
    applied: Option<&'a ReportMark>,
    entries: NextEntries<'a>,
}

/// Set on a slot of [`NextEntries::report`] whose import was applied. A report's findings
/// number fewer than this (the processor's `Planned` refuses more), so an index never has it.
const APPLIED: u32 = 1 << 31;

/// The entries, in the order of the state's map (by id).
struct NextEntries<'a> {
    previous: Option<&'a Previous>,
    new: &'a dyn NewFindings,
    /// The report's findings the plan names (imports and skips): their indices in `new` (four
    /// bytes each), sorted by id, [`APPLIED`] set on an import that was applied.
    report: Vec<u32>,
    /// The archives that were not applied: their previous entry is kept.
    unarchived: HashSet<&'a FindingKey>,
    /// A stale plan: the previous entries, all of them, unchanged.
    stale: bool,
    stubs: StubSource<'a>,
    now: Stamp,
}

/// One entry of the next state.
enum Next<'a> {
    /// A previous entry, unchanged.
    Kept(Cow<'a, FindingKey>, Cow<'a, Entry>),
    /// An applied import, by index in `new`, with the `created_at` of its previous entry.
    Imported(usize, Option<Stamp>),
}

impl<'a> NextState<'a> {
    /// The state after `plan` was carried out over `previous` (None: a new lifecycle): the
    /// view of what `into_next_state` returns for the same arguments; `not_applied` holds the
    /// ids whose import or archive Security Hub did not accept (or that were not sent),
    /// `unsent` the imports the deadline left unsent (indices into `new`: four bytes each, not
    /// a key), and `stubs` builds each applied import's stub by its index in `new`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        previous: Option<&'a Previous>,
        lifecycle_key: &'a str,
        plan: &'a Plan,
        new: &'a dyn NewFindings,
        stubs: StubSource<'a>,
        not_applied: &'a HashSet<FindingKey>,
        unsent: &[u32],
        report: &'a ReportMark,
        now: &'a str,
    ) -> NextState<'a> {
        let stale = plan.ignore_as_stale;
        let mut slots = Vec::new();
        let mut unarchived = HashSet::new();
        if !stale {
            // Indices below `new.len()`, which is below APPLIED.
            let slot = |i: usize| i as u32;
            // A byte per finding, only when the deadline left imports unsent.
            let mut left = vec![false; if unsent.is_empty() { 0 } else { new.len() }];
            for &i in unsent {
                if let Some(l) = left.get_mut(i as usize) {
                    *l = true;
                }
            }
            let not_sent = |i: usize| left.get(i).copied().unwrap_or(false);
            let applied = |i: usize| {
                if not_sent(i) || not_applied.contains(&*new.id(i)) {
                    slot(i)
                } else {
                    slot(i) | APPLIED
                }
            };
            let imports = plan.imports().filter(|&i| i < new.len()).map(applied);
            let skipped = plan.unchanged_skipped.iter().copied().filter(|&i| i < new.len()).map(slot);
            slots = imports.chain(skipped).collect();
            slots.sort_unstable_by(|&a, &b| new.cmp_ids((a & !APPLIED) as usize, (b & !APPLIED) as usize));
            unarchived = plan.archive.iter().filter(|id| not_applied.contains(*id)).collect();
        }
        let (schema, lifecycle_key, applied) = match previous {
            Some(p) if stale => (p.schema(), p.lifecycle_key(), p.applied()),
            None if stale => (STATE_SCHEMA, lifecycle_key, None),
            _ => (STATE_SCHEMA, lifecycle_key, Some(report)),
        };
        NextState {
            schema,
            lifecycle_key,
            applied,
            entries: NextEntries { previous, new, report: slots, unarchived, stale, stubs, now: Stamp::new(now) },
        }
    }

    /// The number of entries the next state holds (a walk over them, no stub built); a
    /// previous state that cannot be read back is the error.
    pub(crate) fn len(&self) -> Result<usize, StateError> {
        let mut n = 0;
        self.entries.walk(
            false,
            |e| e,
            |_| {
                n += 1;
                Ok(())
            },
        )?;
        Ok(n)
    }
}

impl<'a> NextEntries<'a> {
    /// Calls `each` with every entry of the next state, in id order: the previous entries and
    /// the report's slots merged by id, in one pass over the previous state (its stubs read
    /// when `stubs`; a failed read of it is `err`'s error).
    fn walk<E>(
        &self,
        stubs: bool,
        err: impl Fn(StateError) -> E,
        mut each: impl FnMut(Next<'a>) -> Result<(), E>,
    ) -> Result<(), E> {
        let held = if stubs { HeldPass::over(self.previous) } else { HeldPass::without_stubs(self.previous) };
        let mut held = held.map_err(&err)?;
        if self.stale {
            while let Some((id, e)) = held.take().map_err(&err)? {
                each(Next::Kept(id, e))?;
            }
            return Ok(());
        }
        let new = self.new;
        let mut report = self
            .report
            .iter()
            .map(|&s| ((s & !APPLIED) as usize, s & APPLIED != 0))
            .map(|(i, applied)| (new.id(i), i, applied))
            .peekable();
        loop {
            let order = match (held.peek_id(), report.peek()) {
                (None, None) => break,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(held), Some((id, _, _))) => held.cmp(&**id),
            };
            match order {
                // Only in the previous state: kept if its archive was not applied.
                std::cmp::Ordering::Less => {
                    if let Some((id, e)) = held.take().map_err(&err)? {
                        if self.unarchived.contains(&*id) {
                            each(Next::Kept(id, e))?;
                        }
                    }
                }
                // Only in the report: added if its import was applied.
                std::cmp::Ordering::Greater => {
                    if let Some((_, i, true)) = report.next() {
                        each(Next::Imported(i, None))?;
                    }
                }
                // In both: the new entry if its import was applied, else the previous one.
                std::cmp::Ordering::Equal => {
                    if let (Some((id, e)), Some((_, i, applied))) = (held.take().map_err(&err)?, report.next()) {
                        each(if applied { Next::Imported(i, Some(e.created_at.clone())) } else { Next::Kept(id, e) })?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Serialize for NextEntries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json does not need the length of a map; an unknown one costs no walk.
        let mut map = serializer.serialize_map(None)?;
        // The texts the new stubs share, held once for this body.
        let mut interner = StubInterner::default();
        self.walk(true, S::Error::custom, |next| match next {
            Next::Kept(id, e) => map.serialize_entry(&*id, &KeyedEntry(&id, &e)),
            Next::Imported(i, created_at) => {
                let id = self.new.id(i);
                let stub = self.stubs.stub(i, &id, &mut interner).map_err(S::Error::custom)?;
                let (content_hash, sighting_hash) =
                    (StateHash::Sha256(*self.new.content_hash(i)), StateHash::Sha256(*self.new.sighting_hash(i)));
                let entry = EntryView {
                    content_hash: &content_hash,
                    sighting_hash: Some(&sighting_hash),
                    created_at: created_at.as_ref().unwrap_or(&self.now),
                    last_imported_at: &self.now,
                    stub: KeyedStub(&id, &stub),
                };
                map.serialize_entry(&*id, &entry)
            }
        })?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::hub::planned::Planned;
    use crate::process::previous::tests::held;
    use scangate_core::asff::{AsffContext, FindingStub};
    use scangate_core::lifecycle::state::{self, ImportOn, LifecycleState, NewFinding, Stub};
    use sha2::Digest;

    const NOW: &str = "2026-12-02T00:00:00.000Z";

    fn digest(text: &str) -> [u8; 32] {
        sha2::Sha256::digest(text.as_bytes()).into()
    }

    /// Finding `n`'s id: the compact scangate form for even `n`, another text for odd ones,
    /// so both forms of key interleave in the state's order.
    fn id(n: u32) -> FindingKey {
        if n.is_multiple_of(2) {
            FindingKey::new(&format!(
                "scangate/{}/{}",
                hex::encode(&digest("l")[..16]),
                hex::encode(digest(&n.to_string()))
            ))
        } else {
            FindingKey::new(&format!("arn:aws:securityhub:us-east-1:123456789012:finding/{n}"))
        }
    }

    fn mark(time: &str, key: &str) -> ReportMark {
        ReportMark { report_time: time.into(), sequencer: None, bucket: "b".into(), key: key.into(), version_id: None }
    }

    /// The next state's body as `into_next_state` builds it and as the view writes it.
    #[allow(clippy::too_many_arguments)]
    fn both(
        previous: Option<&LifecycleState>,
        plan: &Plan,
        new: &[NewFinding],
        stubs: StubSource<'_>,
        stub_of: impl FnMut(usize) -> Stub,
        not_applied: &HashSet<FindingKey>,
        report: &ReportMark,
    ) -> (String, String, usize, usize) {
        both_over(previous, plan, new, &new.to_vec(), stubs, stub_of, not_applied, report)
    }

    /// [`both`], the view reading the new findings from `viewed` (what `new` holds, in
    /// another form).
    #[allow(clippy::too_many_arguments)]
    fn both_over(
        previous: Option<&LifecycleState>,
        plan: &Plan,
        new: &[NewFinding],
        viewed: &dyn NewFindings,
        stubs: StubSource<'_>,
        mut stub_of: impl FnMut(usize) -> Stub,
        not_applied: &HashSet<FindingKey>,
        report: &ReportMark,
    ) -> (String, String, usize, usize) {
        let next = state::into_next_state(previous.cloned(), "k", plan, new, &mut stub_of, not_applied, report, NOW);
        let held = previous.map(held);
        let view = NextState::new(held.as_ref(), "k", plan, viewed, stubs, not_applied, &[], report, NOW);
        let (built, viewed) = (serde_json::to_string(&next), serde_json::to_string(&view));
        (built.expect("serializes"), viewed.expect("serializes"), next.entries.len(), view.len().expect("reads"))
    }

    /// Many previous states, reports and outcomes (imports, refreshes, skips, archives, each
    /// applied or not, new findings, stale reports, no previous state): the view writes what
    /// `into_next_state` builds, byte for byte, and counts its entries.
    #[test]
    fn the_next_state_view_writes_what_into_next_state_builds() {
        let mut rng = fastrand::Rng::with_seed(23);
        let (recent, old) = ("2026-12-01T00:00:00.000Z", "2026-10-01T00:00:00Z");
        let now = time::macros::datetime!(2026-12-02 00:00 UTC);
        let mut seen = [0usize; 6];
        for case in 0..400 {
            let universe = rng.u32(0..24);
            let previous = (case % 8 != 0).then(|| {
                let mut s = LifecycleState::empty("k-previous");
                s.applied = Some(mark("2026-11-30T00:00:00Z", "r1"));
                let held: Vec<u32> = (0..universe).filter(|_| rng.bool()).collect();
                for n in held {
                    let e = Entry {
                        content_hash: if rng.u8(..8) == 0 {
                            "in-flight".into()
                        } else {
                            hex::encode(digest(&format!("c{n}-{}", rng.u8(..2)))).into()
                        },
                        sighting_hash: rng.bool().then(|| hex::encode(digest(&format!("s{n}"))).into()),
                        created_at: if rng.bool() { "2026-01-01T00:00:00Z".into() } else { recent.into() },
                        last_imported_at: if rng.bool() { old.into() } else { recent.into() },
                        stub: match rng.u8(..3) {
                            0 => Stub::None,
                            _ => Stub::raw(serde_json::json!({ "Id": n.to_string(), "was": "previous" })),
                        },
                    };
                    s.entries.insert(id(n), e);
                }
                s
            });
            let named: Vec<u32> = (0..universe).filter(|_| rng.bool()).collect();
            let new: Vec<NewFinding> = named
                .into_iter()
                .map(|n| NewFinding {
                    id: id(n),
                    content_hash: digest(&format!("c{n}-{}", rng.u8(..2))),
                    sighting_hash: digest(&format!("s{n}")),
                    stub: Stub::None,
                })
                .collect();
            let stubs: Vec<Stub> = (0..new.len())
                .map(|i| if i % 3 == 0 { Stub::None } else { Stub::raw(serde_json::json!({ "Id": i, "was": "new" })) })
                .collect();
            let report =
                if rng.u8(..10) == 0 { mark("2026-11-01T00:00:00Z", "r0") } else { mark("2026-12-01T00:00:00Z", "r2") };
            let plan = state::plan(previous.as_ref(), &new, &report, now, rng.u32(0..60), ImportOn::Content);
            // Not applied: none, all, or some of what the plan sends.
            let sent: Vec<&FindingKey> = plan.imports().map(|i| &new[i].id).chain(plan.archive.iter()).collect();
            let not_applied: HashSet<FindingKey> = match case % 3 {
                0 => HashSet::new(),
                1 => sent.iter().map(|&k| k.clone()).collect(),
                _ => sent.iter().filter(|_| rng.bool()).map(|&k| k.clone()).collect(),
            };
            for (counted, what) in seen.iter_mut().zip([
                plan.ignore_as_stale,
                !plan.import_new_or_changed.is_empty(),
                !plan.refresh_unchanged.is_empty(),
                !plan.unchanged_skipped.is_empty(),
                !plan.archive.is_empty(),
                !not_applied.is_empty(),
            ]) {
                *counted += usize::from(what);
            }
            let (built, viewed, built_len, viewed_len) = both(
                previous.as_ref(),
                &plan,
                &new,
                StubSource::Built(&stubs),
                |i| stubs[i].clone(),
                &not_applied,
                &report,
            );
            assert_eq!(viewed, built, "case {case}: {plan:?}, not applied {not_applied:?}");
            assert_eq!(viewed_len, built_len, "case {case}");
        }
        assert!(seen.iter().all(|&n| n >= 20), "every kind of plan was tried often: {seen:?}");
    }

    /// Imports the deadline left unsent, named by their indices (four bytes each) rather than
    /// by keys: the same next state as with their keys not applied, and another one than with
    /// every import applied.
    #[test]
    fn imports_left_unsent_by_index_keep_what_their_keys_would() {
        let now = time::macros::datetime!(2026-12-02 00:00 UTC);
        let mut previous = LifecycleState::empty("k");
        previous.applied = Some(mark("2026-11-30T00:00:00Z", "r1"));
        for n in 0..8 {
            let e = Entry {
                content_hash: hex::encode(digest(&format!("old-{n}"))).into(),
                sighting_hash: None,
                created_at: "2026-01-01T00:00:00Z".into(),
                last_imported_at: "2026-11-20T00:00:00Z".into(),
                stub: Stub::raw(serde_json::json!({ "was": n })),
            };
            previous.entries.insert(id(n), e);
        }
        // 0..4 unchanged (skipped), 4..8 changed, 8..12 new.
        let new: Vec<NewFinding> = (0..12)
            .map(|n| NewFinding {
                id: id(n),
                content_hash: digest(&format!("{}-{n}", if n < 4 { "old" } else { "new" })),
                sighting_hash: digest("s"),
                stub: Stub::None,
            })
            .collect();
        let stubs: Vec<Stub> = (0..12).map(|i| Stub::raw(serde_json::json!({ "new": i }))).collect();
        let report = mark("2026-12-01T00:00:00Z", "r2");
        let plan = state::plan(Some(&previous), &new, &report, now, 30, ImportOn::Content);
        assert_eq!(plan.imports().count(), 8, "{plan:?}");
        // The deadline came after the first three imports.
        let unsent: Vec<u32> = plan.imports().skip(3).map(|i| i as u32).collect();
        let keys: HashSet<FindingKey> = unsent.iter().map(|&i| new[i as usize].id.clone()).collect();
        let none = HashSet::new();
        let held = held(&previous);
        let write = |not_applied: &HashSet<FindingKey>, unsent: &[u32]| {
            let view = NextState::new(
                Some(&held),
                "k",
                &plan,
                &new,
                StubSource::Built(&stubs),
                not_applied,
                unsent,
                &report,
                NOW,
            );
            serde_json::to_string(&view).expect("serializes")
        };
        let built =
            state::into_next_state(Some(previous.clone()), "k", &plan, &new, |i| stubs[i].clone(), &keys, &report, NOW);
        let by_index = write(&none, &unsent);
        assert_eq!(by_index, serde_json::to_string(&built).expect("serializes"));
        assert_eq!(by_index, write(&keys, &[]), "by index as by key");
        assert_ne!(by_index, write(&none, &[]), "an unsent import is not applied");
    }

    /// A hand-made plan naming each kind once, applied and not, against a state holding one
    /// of each: the view keeps exactly what `into_next_state` keeps.
    #[test]
    fn each_kind_of_plan_entry_is_kept_or_dropped_as_into_next_state_does() {
        let entry = |hash: &str| Entry {
            content_hash: hash.into(),
            sighting_hash: None,
            created_at: "2026-01-01T00:00:00Z".into(),
            last_imported_at: "2026-11-01T00:00:00Z".into(),
            stub: Stub::raw(serde_json::json!(hash)),
        };
        let mut previous = LifecycleState::empty("k");
        for n in [1, 2, 3, 4, 5, 6] {
            previous.entries.insert(id(n), entry(&format!("old-{n}")));
        }
        // 1 changed and applied, 2 changed and not, 3 skipped, 4 archived, 5 archive not
        // applied, 6 neither in the report nor archived (dropped); 7 new and applied, 8 new
        // and not; 9 an index past the findings.
        let new: Vec<NewFinding> = [1, 2, 3, 7, 8]
            .iter()
            .map(|&n| NewFinding {
                id: id(n),
                content_hash: digest(&n.to_string()),
                sighting_hash: [1; 32],
                stub: Stub::None,
            })
            .collect();
        let plan = Plan {
            import_new_or_changed: vec![3, 0, 1, 9],
            refresh_unchanged: vec![4],
            unchanged_skipped: vec![2],
            archive: vec![id(4), id(5)],
            ignore_as_stale: false,
        };
        let not_applied: HashSet<FindingKey> = [id(2), id(5), id(8)].into_iter().collect();
        let stubs: Vec<Stub> = (0..new.len()).map(|i| Stub::raw(serde_json::json!(format!("new-{i}")))).collect();
        let report = mark("2026-12-01T00:00:00Z", "r2");
        let (built, viewed, built_len, viewed_len) =
            both(Some(&previous), &plan, &new, StubSource::Built(&stubs), |i| stubs[i].clone(), &not_applied, &report);
        assert_eq!(viewed, built);
        assert_eq!((viewed_len, built_len), (5, 5), "1, 2, 3, 5 and 7");
        let written: LifecycleState = LifecycleState::from_json(viewed.as_bytes(), "next").expect("reads");
        let mut kept = vec![id(1), id(2), id(3), id(5), id(7)];
        kept.sort();
        assert_eq!(written.entries.keys().cloned().collect::<Vec<_>>(), kept);
        assert_eq!(written.entries[&id(1)].created_at, "2026-01-01T00:00:00Z", "the previous CreatedAt");
        assert_eq!(written.entries[&id(7)].created_at, NOW);
        assert_eq!(written.entries[&id(2)], previous.entries[&id(2)], "not applied: the previous entry");
        // Stale: the state read, whatever the plan's lists say.
        let stale = Plan { ignore_as_stale: true, ..plan };
        let (built, viewed, ..) =
            both(Some(&previous), &stale, &new, StubSource::Built(&stubs), |i| stubs[i].clone(), &not_applied, &report);
        assert_eq!(viewed, built);
        assert_eq!(viewed, serde_json::to_string(&previous).expect("serializes"));
        let (built, viewed, ..) =
            both(None, &stale, &new, StubSource::Built(&stubs), |i| stubs[i].clone(), &not_applied, &report);
        assert_eq!(viewed, built);
    }

    /// The stubs the processor builds from the report's findings (typed, their shared texts
    /// interned, the id dropped when it is the key): the same bytes through the view as
    /// through `into_next_state`, for a first report and for a rescan against its state.
    #[test]
    fn stubs_built_from_the_findings_write_the_same_state() {
        let result = |n: u32, text: &str| {
            serde_json::json!({
                "ruleId": format!("R{}", n % 3),
                "level": if n.is_multiple_of(2) { "error" } else { "warning" },
                "message": { "text": format!("{text} {n}") },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": format!("src/f{n}.py") },
                    "region": { "startLine": n + 1 } } }]
            })
        };
        let sarif = |text: &str, results: std::ops::Range<u32>| {
            let results: Vec<_> = results.map(|n| result(n, text)).collect();
            serde_json::json!({
                "version": "2.1.0",
                "runs": [{ "tool": { "driver": { "name": "lint", "rules": [] } }, "results": results }]
            })
            .to_string()
        };
        let ctx = AsffContext { updated_at: NOW.into(), ..crate::process::hub::planned::tests::ctx() };
        let now = time::macros::datetime!(2026-12-02 00:00 UTC);
        let mut previous: Option<LifecycleState> = None;
        // The rescan: 0..4 gone (archived), 4..12 changed, 12..16 new.
        for (round, (text, results)) in [("first", 0..12), ("changed", 4..16)].into_iter().enumerate() {
            let report = scangate_core::sarif::read_sarif(sarif(text, results).as_bytes(), "r.sarif").expect("reads");
            let planned = Planned::read(&report.findings, &ctx).expect("in memory");
            // The same findings as the core's vector of them.
            let new: Vec<NewFinding> = (0..planned.len())
                .map(|i| NewFinding {
                    id: planned.id(i).into_owned(),
                    content_hash: *planned.content_hash(i),
                    sighting_hash: *planned.sighting_hash(i),
                    stub: Stub::None,
                })
                .collect();
            assert_eq!(new.len(), 12);
            let r = mark(&format!("2026-12-0{}T00:00:00Z", round + 1), "r");
            let plan = state::plan(previous.as_ref(), &new, &r, now, 30, ImportOn::Content);
            let Ok(over) = state::plan_over(previous.as_ref(), &planned, &r, now, 30, ImportOn::Content);
            assert_eq!(over, plan);
            let held = previous.as_ref().map(held);
            assert_eq!(state::plan_over(held.as_ref(), &planned, &r, now, 30, ImportOn::Content), Ok(plan.clone()));
            assert!(!plan.import_new_or_changed.is_empty());
            // The rescan: one import not applied, one archive not applied.
            let not_applied: HashSet<FindingKey> = match &previous {
                None => HashSet::new(),
                Some(_) => [plan.imports().next().map(|i| new[i].id.clone()), plan.archive.first().cloned()]
                    .into_iter()
                    .flatten()
                    .collect(),
            };
            let mut interner = scangate_core::asff::StubInterner::default();
            let rendering = |i: usize| &report.findings[planned.render_at(i).unwrap_or(i)];
            let (built, viewed, built_len, viewed_len) = both_over(
                previous.as_ref(),
                &plan,
                &new,
                &planned,
                StubSource::Render { new: &planned, findings: &report.findings, ctx: &ctx },
                |i| Stub::from(FindingStub::new_in(rendering(i), &ctx, &mut interner)),
                &not_applied,
                &r,
            );
            assert_eq!(viewed, built, "round {round}");
            assert_eq!(viewed_len, built_len);
            assert!(viewed.contains("\"stub\":{"), "typed stubs are written");
            assert_eq!(plan.archive.is_empty(), round == 0, "round {round}: {plan:?}");
            let mut next = LifecycleState::from_json(viewed.as_bytes(), "next").expect("reads");
            // An earlier CreatedAt, which the rescan's imports keep.
            for e in next.entries.values_mut() {
                e.created_at = "2026-01-01T00:00:00.000Z".into();
            }
            previous = Some(next);
        }
    }
}

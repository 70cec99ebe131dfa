//! The write-ahead state: the state as read, seen through the marks of one attempt, never
//! changed. Every finding the plan imports reads with the content hash [`IN_FLIGHT`] and its
//! new stub (a new one is added, first imported now), every finding it archives reads with
//! [`IN_FLIGHT`]; the applied report is the one read. Serialized as the core's
//! [`LifecycleState`](scangate_core::lifecycle::state::LifecycleState) is, in one pass over the
//! previous state's file (`process::previous`), one entry in memory at a time. The new stubs are
//! built as their entries are serialized ([`StubSource`]), none is held beyond its entry.

use super::StubSource;
use crate::process::previous::Previous;
use scangate_core::asff::StubInterner;
use scangate_core::lifecycle::state::{
    Entry, EntryView, FindingKey, Held, HeldPass, KeyedStub, NewFindings, Plan, ReportMark, Stamp, StateHash, Stub,
    STATE_SCHEMA,
};
use serde::ser::{Error as _, Serialize, SerializeMap, Serializer};
use std::cmp::Ordering;

/// The content hash of a finding whose import or archive is under way: no finding has it,
/// so the next report imports it again (or archives it when it is gone).
pub const IN_FLIGHT: &str = "in-flight";

/// The state the write-ahead stores, borrowed from the state read (`previous`, None for a
/// new lifecycle) and the findings the attempt imports (indices into `new`, their stubs from
/// a [`StubSource`]).
#[derive(serde::Serialize)]
pub(crate) struct InFlight<'a> {
    schema: &'a str,
    lifecycle_key: &'a str,
    applied: Option<&'a ReportMark>,
    entries: Entries<'a>,
}

/// The entries, in the order of the state's map (by id).
struct Entries<'a> {
    previous: Option<&'a Previous>,
    new: &'a dyn NewFindings,
    /// The imported findings (indices into `new`, four bytes each), sorted by id: merged
    /// with the held entries, those the state does not hold yet are added.
    imported: Vec<u32>,
    /// The archived ids, in id order (the plan's).
    archived: &'a [FindingKey],
    stubs: StubSource<'a>,
    now: Stamp,
    /// [`IN_FLIGHT`], once.
    in_flight: StateHash,
}

impl<'a> InFlight<'a> {
    /// The write-ahead of `plan` over `previous` (None: a new lifecycle, `lifecycle_key`);
    /// `imports` names each imported finding once, by its index in `new`, whose stub `stubs`
    /// builds when its entry is serialized; `now`: when the added ones were first imported.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn of(
        previous: Option<&'a Previous>,
        lifecycle_key: &'a str,
        now: &'a str,
        plan: &'a Plan,
        new: &'a dyn NewFindings,
        imports: &[u32],
        stubs: StubSource<'a>,
    ) -> InFlight<'a> {
        let by_id = |a: &u32, b: &u32| new.cmp_ids(*a as usize, *b as usize);
        let mut imported: Vec<u32> = imports.iter().copied().filter(|&i| (i as usize) < new.len()).collect();
        imported.sort_unstable_by(by_id);
        imported.dedup_by(|a, b| by_id(a, b) == Ordering::Equal);
        InFlight {
            schema: previous.map_or(STATE_SCHEMA, |p| p.schema()),
            lifecycle_key: previous.map_or(lifecycle_key, |p| p.lifecycle_key()),
            applied: previous.and_then(|p| p.applied()),
            entries: Entries {
                previous,
                new,
                imported,
                archived: &plan.archive,
                stubs,
                now: Stamp::new(now),
                in_flight: StateHash::new(IN_FLIGHT),
            },
        }
    }
}

impl<'a> Entries<'a> {
    /// A held entry; `stub`: its new stub when the attempt imports it; `archived`: the attempt
    /// archives it.
    fn held<'s>(&'s self, id: &'s FindingKey, e: &'s Entry, stub: Option<&'s Stub>, archived: bool) -> EntryView<'s> {
        let (hash, stub) = match stub {
            Some(stub) => (&self.in_flight, stub),
            None if archived => (&self.in_flight, &e.stub),
            None => (&e.content_hash, &e.stub),
        };
        EntryView {
            content_hash: hash,
            sighting_hash: e.sighting_hash.as_ref(),
            created_at: &e.created_at,
            last_imported_at: &e.last_imported_at,
            stub: KeyedStub(id, stub),
        }
    }

    fn added<'s>(&'s self, id: &'s FindingKey, stub: &'s Stub) -> EntryView<'s> {
        EntryView {
            content_hash: &self.in_flight,
            sighting_hash: None,
            created_at: &self.now,
            last_imported_at: &self.now,
            stub: KeyedStub(id, stub),
        }
    }
}

impl Serialize for Entries<'_> {
    /// The held entries and the imported ones merged by id, as the map of the state would
    /// hold them: a held entry the attempt imports takes its new stub, an imported one the
    /// state does not hold is added. A stub whose finding cannot be read back is the error.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json does not need the length of a map; an unknown one costs no walk.
        let mut map = serializer.serialize_map(None)?;
        // The texts the new stubs share, held once for this body.
        let mut interner = StubInterner::default();
        let mut stub =
            |i: u32, id: &FindingKey| self.stubs.stub(i as usize, id, &mut interner).map_err(S::Error::custom);
        let mut held = HeldPass::over(self.previous).map_err(S::Error::custom)?;
        let mut imported = self.imported.iter().map(|&i| (self.new.id(i as usize), i)).peekable();
        // Both in id order: an archived id is reached as the pass reaches its entry.
        let mut archived = self.archived.iter().peekable();
        let mut is_archived = |id: &FindingKey| {
            while archived.next_if(|a| *a < id).is_some() {}
            archived.next_if(|a| *a == id).is_some()
        };
        loop {
            let order = match (held.peek_id(), imported.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(held), Some((imported, _))) => held.cmp(&**imported),
            };
            match order {
                Ordering::Less => {
                    if let Some((id, e)) = held.take().map_err(S::Error::custom)? {
                        map.serialize_entry(&*id, &self.held(&id, &e, None, is_archived(&id)))?;
                    }
                }
                Ordering::Greater => {
                    if let Some((id, i)) = imported.next() {
                        let stub = stub(i, &id)?;
                        map.serialize_entry(&*id, &self.added(&id, &stub))?;
                    }
                }
                Ordering::Equal => {
                    if let (Some((id, e)), Some((_, i))) = (held.take().map_err(S::Error::custom)?, imported.next()) {
                        let stub = stub(i, &id)?;
                        map.serialize_entry(&*id, &self.held(&id, &e, Some(&stub), false))?;
                    }
                }
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::previous::tests::held;
    use scangate_core::lifecycle::state::{self, LifecycleState, NewFinding};

    /// What the write-ahead must store: the state read, with the marks applied to a copy.
    fn marked(previous: &LifecycleState, plan: &Plan, planned: &[NewFinding], now: &str) -> LifecycleState {
        let mut s = previous.clone();
        for f in planned {
            let e = s.entries.entry(f.id.clone()).or_insert_with(|| Entry {
                content_hash: "".into(),
                sighting_hash: None,
                created_at: now.into(),
                last_imported_at: now.into(),
                stub: Stub::None,
            });
            e.content_hash = IN_FLIGHT.into();
            e.stub = f.stub.clone();
        }
        for id in &plan.archive {
            if let Some(e) = s.entries.get_mut(id) {
                e.content_hash = IN_FLIGHT.into();
            }
        }
        s
    }

    #[test]
    fn the_write_ahead_is_the_state_read_with_the_marks() {
        let entry = |hash: &str, stub: &str| Entry {
            content_hash: hash.into(),
            sighting_hash: Some("s".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
            last_imported_at: "2026-11-01T00:00:00Z".into(),
            stub: Stub::raw(serde_json::json!(stub)),
        };
        let mut previous = LifecycleState::empty("k");
        for (id, hash) in [("a", "ha"), ("b", "hb"), ("c", "hc"), ("f", "hf")] {
            previous.entries.insert(FindingKey::new(id), entry(hash, &format!("old-{id}")));
        }
        previous.applied =
            Some(ReportMark { report_time: "t".into(), bucket: "b".into(), key: "k".into(), ..ReportMark::default() });
        let original = previous.clone();
        // a changed, d and e new (e sorts between the held ones), b unchanged, c gone; x is
        // planned but not in the report.
        let new: Vec<NewFinding> = ["a", "e", "d", "b", "x"]
            .iter()
            .enumerate()
            .map(|(i, id)| NewFinding {
                id: FindingKey::new(id),
                content_hash: [i as u8; 32],
                sighting_hash: [9; 32],
                stub: Stub::raw(serde_json::json!(format!("new-{id}"))),
            })
            .collect();
        let plan = state::Plan {
            import_new_or_changed: vec![0, 1, 2, 4],
            unchanged_skipped: vec![3],
            archive: vec!["c".into()],
            ..state::Plan::default()
        };
        // The findings the report renders (x has none) and their stubs, by index.
        let imports = [0, 1, 2];
        let stubs: Vec<Stub> = new.iter().map(|f| f.stub.clone()).collect();
        let planned = &new[..3];
        let now = "2026-12-02T00:00:00Z";
        let body = serde_json::to_vec(&InFlight::of(
            Some(&held(&previous)),
            "other",
            now,
            &plan,
            &new,
            &imports,
            StubSource::Built(&stubs),
        ))
        .expect("serializes");
        let expected = serde_json::to_vec(&marked(&previous, &plan, planned, now)).expect("serializes");
        assert_eq!(String::from_utf8_lossy(&body), String::from_utf8_lossy(&expected), "byte for byte");
        assert_eq!(previous, original, "the state read is not changed");
        // From no state: only the planned findings, under the context's lifecycle key.
        let body = serde_json::to_vec(&InFlight::of(None, "k", now, &plan, &new, &imports, StubSource::Built(&stubs)))
            .expect("serializes");
        let expected =
            serde_json::to_vec(&marked(&LifecycleState::empty("k"), &plan, planned, now)).expect("serializes");
        assert_eq!(body, expected);
    }
}

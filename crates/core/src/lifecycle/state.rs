//! The Security Hub lifecycle state of one lifecycle key, and what a new report changes.
//!
//! Per lifecycle key the processor keeps a state object (`state/<key-hash>.json`)
//! listing the findings it imported: content and sighting hashes, when each was created
//! and last imported, and a stub with what is needed to archive it later. [`plan`]
//! compares a new report with that state: import what is new or changed, refresh what has
//! not been imported for `refresh_days` (so Security Hub never ages it out), skip the rest,
//! archive what disappeared, and ignore the whole report when it is older than the one
//! already applied. [`next_state`] is the state after the plan was carried out.
//!
//! "Changed" is a change of the content hash (what describes the vulnerability); with
//! [`ImportOn::Sighting`] also a change of the sighting hash (image tag and digest, build,
//! report location). Under the default [`ImportOn::Content`] a new sighting alone is
//! carried by the next refresh or the next content change, so rescans of new image tags
//! with the same findings import nothing.
//!
//! Pure: no I/O, no clock (the caller passes `now`).

pub use super::compact::{FindingKey, Stamp, StateHash};
use crate::asff::{FindingStub, StubIn, StubInterner};
use crate::events::compare_sequencers;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
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

/// What makes an unchanged-content finding import again before its refresh is due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImportOn {
    /// Only a change of what describes the vulnerability (the default).
    #[default]
    Content,
    /// Also every new sighting: a new image tag or digest, build or report.
    Sighting,
}

impl ImportOn {
    /// `content` or `sighting` (case-insensitive).
    pub fn parse(s: &str) -> Option<ImportOn> {
        match s.trim().to_ascii_lowercase().as_str() {
            "content" => Some(ImportOn::Content),
            "sighting" => Some(ImportOn::Sighting),
            _ => None,
        }
    }
}

/// One finding the lifecycle holds in Security Hub. Held compactly (hashes as bytes, times as
/// milliseconds where the text allows), written exactly as read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Hash of what describes the vulnerability (`asff::content_hash`); a different hash
    /// means "changed, import again". State objects of versions with one hash hold the hash
    /// of the whole finding here: it differs from every new content hash, so each such
    /// finding is imported once more (same id, nothing archived) and then carries both.
    pub content_hash: StateHash,
    /// Hash of the sighting Security Hub shows (`asff::sighting_hash`); None in state
    /// objects written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sighting_hash: Option<StateHash>,
    /// RFC 3339: when the finding was first imported (its ASFF CreatedAt).
    pub created_at: Stamp,
    /// RFC 3339: when the finding was last imported (refresh decisions).
    pub last_imported_at: Stamp,
    /// What the ASFF renderer needs to import the finding again as ARCHIVED.
    #[serde(default)]
    pub stub: Stub,
}

/// The stub an entry keeps for archiving its finding later: typed (smaller in memory than
/// the same stub as a JSON tree: docs/benchmarks.md, "Where the memory goes"), or the JSON
/// as found when it does not read as a [`FindingStub`] (the processor reports such a
/// finding as unarchivable rather than failing the whole state), or nothing (`null`, absent).
/// In a state, a typed stub holds no `id` when it is its entry's key ([`KeyedStub`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Stub {
    #[default]
    None,
    Typed(Box<FindingStub>),
    Raw(Box<serde_json::Value>),
}

impl Stub {
    /// The typed stub, if the entry has one.
    pub fn typed(&self) -> Option<&FindingStub> {
        match self {
            Stub::Typed(s) => Some(s),
            Stub::None | Stub::Raw(_) => None,
        }
    }

    /// A stub kept as found.
    pub fn raw(value: serde_json::Value) -> Stub {
        Stub::Raw(Box::new(value))
    }

    /// The stub as the entry of `key` holds it: without an `id` equal to the key.
    pub fn keyed(mut self, key: &FindingKey) -> Stub {
        if let Stub::Typed(s) = &mut self {
            if s.id.as_deref().is_some_and(|id| key.is(id)) {
                s.id = None;
            }
        }
        self
    }

    /// Reads a stub from its JSON, sharing texts through `interner`; `key`: the entry's id.
    fn read(value: serde_json::Value, key: Option<&FindingKey>, interner: &mut StubInterner) -> Stub {
        if value.is_null() {
            return Stub::None;
        }
        match StubIn::deserialize(&value) {
            Ok(s) => Stub::from(s.into_stub(key, interner)),
            Err(_) => Stub::raw(value),
        }
    }
}

impl From<FindingStub> for Stub {
    fn from(s: FindingStub) -> Stub {
        Stub::Typed(Box::new(s))
    }
}

impl Serialize for Stub {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Stub::None => serializer.serialize_unit(),
            Stub::Typed(s) => s.serialize(serializer),
            Stub::Raw(v) => v.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Stub {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Stub, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Stub::read(value, None, &mut StubInterner::default()))
    }
}

/// A stub serialized as the entry `.0` holds it: a typed stub without an `id` takes the key.
pub struct KeyedStub<'a>(pub &'a FindingKey, pub &'a Stub);

impl Serialize for KeyedStub<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.1 {
            Stub::Typed(s) => s.serialize_as(self.0, serializer),
            other => other.serialize(serializer),
        }
    }
}

/// One entry as a state writes it, borrowed: the fields and order of [`Entry`], the stub with
/// its key. [`KeyedEntry`] and the processor's write-ahead view both serialize through it, so
/// an entry's field order is fixed in one place.
#[derive(Serialize)]
pub struct EntryView<'a> {
    pub content_hash: &'a StateHash,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sighting_hash: Option<&'a StateHash>,
    pub created_at: &'a Stamp,
    pub last_imported_at: &'a Stamp,
    pub stub: KeyedStub<'a>,
}

/// An entry as a state writes it under its key `.0` (the fields and order of [`Entry`]).
pub struct KeyedEntry<'a>(pub &'a FindingKey, pub &'a Entry);

impl Serialize for KeyedEntry<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.1;
        EntryView {
            content_hash: &e.content_hash,
            sighting_hash: e.sighting_hash.as_ref(),
            created_at: &e.created_at,
            last_imported_at: &e.last_imported_at,
            stub: KeyedStub(self.0, &e.stub),
        }
        .serialize(serializer)
    }
}

/// Writes a state's entries (`serialize_with`): each stub with its key.
pub fn write_entries<S: serde::Serializer>(
    entries: &BTreeMap<FindingKey, Entry>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(entries.len()))?;
    for (k, e) in entries {
        map.serialize_entry(k, &KeyedEntry(k, e))?;
    }
    map.end()
}

/// An entry as a state's map holds it, its stub not read yet (`S`: the JSON, or `IgnoredAny`
/// for a reader that skips it): what [`read_entries`] and a reader of entries one at a time
/// (the report-processor's, which streams a state) parse.
#[derive(Deserialize)]
pub struct EntryIn<S = serde_json::Value> {
    content_hash: StateHash,
    #[serde(default)]
    sighting_hash: Option<StateHash>,
    created_at: Stamp,
    last_imported_at: Stamp,
    #[serde(default)]
    stub: S,
}

impl EntryIn {
    /// The entry of `key`: its stub typed when it reads as one (without the `id` the key
    /// holds), its texts shared through `interner`.
    pub fn entry(self, key: &FindingKey, interner: &mut StubInterner) -> Entry {
        let EntryIn { content_hash, sighting_hash, created_at, last_imported_at, stub } = self;
        let stub = Stub::read(stub, Some(key), interner);
        Entry { content_hash, sighting_hash, created_at, last_imported_at, stub }
    }
}

impl<S> EntryIn<S> {
    /// The entry without a stub ([`Stub::None`]): for a reader of ids, hashes and times.
    pub fn without_stub(self) -> Entry {
        Entry {
            content_hash: self.content_hash,
            sighting_hash: self.sighting_hash,
            created_at: self.created_at,
            last_imported_at: self.last_imported_at,
            stub: Stub::None,
        }
    }
}

/// Reads a state's entries (`deserialize_with`): stubs without the `id` their key holds,
/// their shared texts shared (one [`StubInterner`] per read).
pub fn read_entries<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<FindingKey, Entry>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = BTreeMap<FindingKey, Entry>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of finding ids to entries")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut interner = StubInterner::default();
            let mut entries = BTreeMap::new();
            while let Some(key) = map.next_key::<FindingKey>()? {
                let entry = map.next_value::<EntryIn>()?.entry(&key, &mut interner);
                entries.insert(key, entry);
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_map(Entries)
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
    #[serde(default, serialize_with = "write_entries", deserialize_with = "read_entries")]
    pub entries: BTreeMap<FindingKey, Entry>,
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
        state.checked(name)
    }

    /// The state, unless its schema is another one: the check of [`LifecycleState::from_json`]
    /// for a caller that parses the object itself (the processor streams it, together with a
    /// field of its own); `name` names it in errors.
    pub fn checked(self, name: &str) -> Result<LifecycleState, StateError> {
        if self.schema != STATE_SCHEMA {
            return Err(StateError {
                name: name.to_string(),
                message: format!("schema is {:?}, expected {STATE_SCHEMA:?}", self.schema),
            });
        }
        Ok(self)
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
    pub id: FindingKey,
    /// [`asff::content_digest`](crate::asff::content_digest): the state holds its hex.
    pub content_hash: [u8; 32],
    /// [`asff::sighting_digest`](crate::asff::sighting_digest).
    pub sighting_hash: [u8; 32],
    /// Stub to keep in the state for archiving it later.
    pub stub: Stub,
}

/// The new report's findings as the planner, the write-ahead and the next state read them, by
/// index (`i < len()`): a slice of [`NewFinding`], or a compact form that holds less per
/// finding (the report-processor's: one report's ids share their lifecycle prefix, and no
/// stub is held).
pub trait NewFindings: Sync {
    /// How many findings.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ASFF id of finding `i` (borrowed, or built from a compact form).
    fn id(&self, i: usize) -> Cow<'_, FindingKey>;

    /// [`NewFinding::content_hash`] of finding `i`.
    fn content_hash(&self, i: usize) -> &[u8; 32];

    /// [`NewFinding::sighting_hash`] of finding `i`.
    fn sighting_hash(&self, i: usize) -> &[u8; 32];

    /// The order of the ids of findings `a` and `b` (as `id(a).cmp(&id(b))`; a compact form
    /// may compare without building the keys).
    fn cmp_ids(&self, a: usize, b: usize) -> Ordering {
        self.id(a).cmp(&self.id(b))
    }
}

impl NewFindings for [NewFinding] {
    fn len(&self) -> usize {
        <[NewFinding]>::len(self)
    }

    fn id(&self, i: usize) -> Cow<'_, FindingKey> {
        Cow::Borrowed(&self[i].id)
    }

    fn content_hash(&self, i: usize) -> &[u8; 32] {
        &self[i].content_hash
    }

    fn sighting_hash(&self, i: usize) -> &[u8; 32] {
        &self[i].sighting_hash
    }

    fn cmp_ids(&self, a: usize, b: usize) -> Ordering {
        self[a].id.cmp(&self[b].id)
    }
}

impl NewFindings for Vec<NewFinding> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn id(&self, i: usize) -> Cow<'_, FindingKey> {
        self.as_slice().id(i)
    }

    fn content_hash(&self, i: usize) -> &[u8; 32] {
        self.as_slice().content_hash(i)
    }

    fn sighting_hash(&self, i: usize) -> &[u8; 32] {
        self.as_slice().sighting_hash(i)
    }

    fn cmp_ids(&self, a: usize, b: usize) -> Ordering {
        self.as_slice().cmp_ids(a, b)
    }
}

/// The positions `0..new.len()` sorted by id, report order within one id (what the planner
/// and the processor's views merge with a state's entries, which are in id order): four
/// bytes per finding. A report has fewer than `u32::MAX` findings (the processor refuses more).
pub fn by_id<N: NewFindings + ?Sized>(new: &N) -> Vec<u32> {
    let n = u32::try_from(new.len()).unwrap_or(u32::MAX);
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| new.cmp_ids(a as usize, b as usize).then(a.cmp(&b)));
    order
}

/// What to do with a new report. The import, refresh and skip lists hold indices into the
/// new findings the plan was made for, in report order; the archive list holds the ASFF ids
/// of the previous state's entries, in id order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub import_new_or_changed: Vec<usize>,
    pub refresh_unchanged: Vec<usize>,
    pub unchanged_skipped: Vec<usize>,
    pub archive: Vec<FindingKey>,
    /// The report is older than the applied one: do nothing at all.
    pub ignore_as_stale: bool,
}

impl Plan {
    /// Indices of the new findings to import as ACTIVE.
    pub fn imports(&self) -> impl Iterator<Item = usize> + '_ {
        self.import_new_or_changed.iter().chain(self.refresh_unchanged.iter()).copied()
    }

    /// Nothing to import, refresh or archive.
    #[cfg(test)]
    fn is_noop(&self) -> bool {
        self.import_new_or_changed.is_empty() && self.refresh_unchanged.is_empty() && self.archive.is_empty()
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// One entry of a state as a pass over it yields it: borrowed from a state in memory, or
/// owned, read from a file.
pub type HeldEntry<'a> = (Cow<'a, FindingKey>, Cow<'a, Entry>);

/// A lifecycle state as the planner (and the report-processor's views of the next state)
/// read it: its header, how many entries it holds, and its entries in id order, one pass at
/// a time. A [`LifecycleState`] in memory is one; the report-processor's is a file on the
/// function's ephemeral storage that each pass reads again, so that a large lifecycle is
/// never held whole. `Error`: what a pass can fail with (none in memory).
pub trait Held: Sync {
    type Error;

    fn schema(&self) -> &str;

    fn lifecycle_key(&self) -> &str;

    /// The last report applied; None before the first.
    fn applied(&self) -> Option<&ReportMark>;

    /// How many entries a pass yields.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A pass over the entries, in id order (strictly increasing: each id once).
    fn entries(&self) -> Box<dyn Iterator<Item = Result<HeldEntry<'_>, Self::Error>> + Send + '_>;

    /// A pass as [`Held::entries`] for a reader of ids, hashes and times only (the planner):
    /// its entries may hold no stub, which a state read from a file then does not build.
    fn entries_without_stubs(&self) -> Box<dyn Iterator<Item = Result<HeldEntry<'_>, Self::Error>> + Send + '_> {
        self.entries()
    }
}

impl Held for LifecycleState {
    type Error = std::convert::Infallible;

    fn schema(&self) -> &str {
        &self.schema
    }

    fn lifecycle_key(&self) -> &str {
        &self.lifecycle_key
    }

    fn applied(&self) -> Option<&ReportMark> {
        self.applied.as_ref()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Result<HeldEntry<'_>, Self::Error>> + Send + '_> {
        Box::new(self.entries.iter().map(|(k, e)| Ok((Cow::Borrowed(k), Cow::Borrowed(e)))))
    }
}

/// A pass over a state's entries (none for no state) that looks one entry ahead, as the
/// merges with a report's ids in id order need; a failed read is the error at once.
pub struct HeldPass<'a, E> {
    rest: Box<dyn Iterator<Item = Result<HeldEntry<'a>, E>> + Send + 'a>,
    next: Option<HeldEntry<'a>>,
}

impl<'a, E: 'a> HeldPass<'a, E> {
    /// A pass over `held`'s entries; the first one is read now.
    pub fn over<H: Held<Error = E> + ?Sized>(held: Option<&'a H>) -> Result<HeldPass<'a, E>, E> {
        HeldPass::of(held.map(|h| h.entries()))
    }

    /// A pass over `held`'s entries that may hold no stub ([`Held::entries_without_stubs`]).
    pub fn without_stubs<H: Held<Error = E> + ?Sized>(held: Option<&'a H>) -> Result<HeldPass<'a, E>, E> {
        HeldPass::of(held.map(|h| h.entries_without_stubs()))
    }

    fn of(rest: Option<Box<dyn Iterator<Item = Result<HeldEntry<'a>, E>> + Send + 'a>>) -> Result<HeldPass<'a, E>, E> {
        let mut rest = rest.unwrap_or_else(|| Box::new(std::iter::empty()));
        let next = rest.next().transpose()?;
        Ok(HeldPass { rest, next })
    }

    /// The id of the entry the pass is at; None at the end.
    pub fn peek_id(&self) -> Option<&FindingKey> {
        self.next.as_ref().map(|(k, _)| &**k)
    }

    /// The entry the pass is at, moving on to the next one (read now).
    pub fn take(&mut self) -> Result<Option<HeldEntry<'a>>, E> {
        let current = self.next.take();
        if current.is_some() {
            self.next = self.rest.next().transpose()?;
        }
        Ok(current)
    }

    /// The entry the pass is at if `id` is its id (moving on), after skipping the entries
    /// before `id`, each handed to `skipped`.
    pub fn seek(
        &mut self,
        id: &FindingKey,
        mut skipped: impl FnMut(HeldEntry<'a>),
    ) -> Result<Option<HeldEntry<'a>>, E> {
        while self.peek_id().is_some_and(|h| h < id) {
            if let Some(gone) = self.take()? {
                skipped(gone);
            }
        }
        if self.peek_id() == Some(id) {
            return self.take();
        }
        Ok(None)
    }
}

/// Plans a report against the previous state (None when the lifecycle is new).
pub fn plan(
    previous: Option<&LifecycleState>,
    new: &[NewFinding],
    report: &ReportMark,
    now: OffsetDateTime,
    refresh_days: u32,
    import_on: ImportOn,
) -> Plan {
    let Ok(plan) = plan_over(previous, new, report, now, refresh_days, import_on);
    plan
}

/// [`plan`] over any form of the previous state and of the new findings, in one pass over
/// each: the state's entries and the report's ids merged in id order. A finding whose id
/// repeats is planned once, at its first place. Holds four bytes per finding while it plans
/// (the findings' positions by id), no set of ids and no entry beyond the one the merge is
/// at. A pass over the state that fails is the error.
pub fn plan_over<N: NewFindings + ?Sized, H: Held + ?Sized>(
    previous: Option<&H>,
    new: &N,
    report: &ReportMark,
    now: OffsetDateTime,
    refresh_days: u32,
    import_on: ImportOn,
) -> Result<Plan, H::Error> {
    let mut p = Plan::default();
    if let Some(applied) = previous.and_then(|s| s.applied()) {
        if report.order(applied) == Ordering::Less {
            p.ignore_as_stale = true;
            return Ok(p);
        }
    }
    let refresh_after = time::Duration::days(i64::from(refresh_days));
    let decide = |p: &mut Plan, i: usize, held: Option<&Entry>| match held {
        None => p.import_new_or_changed.push(i),
        Some(e) if !e.content_hash.is_digest(new.content_hash(i)) => p.import_new_or_changed.push(i),
        Some(e)
            if import_on == ImportOn::Sighting
                && !e.sighting_hash.as_ref().is_some_and(|h| h.is_digest(new.sighting_hash(i))) =>
        {
            p.import_new_or_changed.push(i)
        }
        Some(e) => {
            let due = match e.last_imported_at.time() {
                Some(t) => now - t >= refresh_after,
                None => true,
            };
            if due {
                p.refresh_unchanged.push(i);
            } else {
                p.unchanged_skipped.push(i);
            }
        }
    };
    let order = by_id(new);
    let mut held = HeldPass::without_stubs(previous)?;
    for group in order.chunk_by(|&a, &b| new.cmp_ids(a as usize, b as usize) == Ordering::Equal) {
        let Some(&at) = group.first() else { continue };
        let (at, id) = (at as usize, new.id(at as usize));
        // What the state holds before this id is gone from the report.
        let entry = held.seek(&id, |(gone, _)| p.archive.push(gone.into_owned()))?;
        decide(&mut p, at, entry.as_ref().map(|(_, e)| &**e));
    }
    while let Some((gone, _)) = held.take()? {
        p.archive.push(gone.into_owned());
    }
    // Decided in id order; the lists are in report order.
    p.import_new_or_changed.sort_unstable();
    p.refresh_unchanged.sort_unstable();
    p.unchanged_skipped.sort_unstable();
    Ok(p)
}

/// The state after `plan` was carried out. `failed` holds the ids whose import (or
/// archive) Security Hub did not accept: their previous entry is kept, so the next
/// report retries them; a failed new finding stays out of the state. The previous state
/// and the stubs are copied; [`into_next_state`] moves them instead.
pub fn next_state(
    previous: Option<&LifecycleState>,
    lifecycle_key: &str,
    plan: &Plan,
    new: &[NewFinding],
    failed: &HashSet<FindingKey>,
    report: &ReportMark,
    now: &str,
) -> LifecycleState {
    into_next_state(previous.cloned(), lifecycle_key, plan, new, |i| new[i].stub.clone(), failed, report, now)
}

/// [`next_state`] taking the previous state, and each imported finding's stub from
/// `stub_of` (called once with the finding's index in `new`): the previous entries and the
/// stubs are moved into the next state, not copied, so a large lifecycle is held once, not
/// twice, while the next state is built.
#[allow(clippy::too_many_arguments)]
pub fn into_next_state(
    previous: Option<LifecycleState>,
    lifecycle_key: &str,
    plan: &Plan,
    new: &[NewFinding],
    mut stub_of: impl FnMut(usize) -> Stub,
    failed: &HashSet<FindingKey>,
    report: &ReportMark,
    now: &str,
) -> LifecycleState {
    let mut prev = previous.unwrap_or_else(|| LifecycleState::empty(lifecycle_key));
    if plan.ignore_as_stale {
        return prev;
    }
    let now = Stamp::new(now);
    let mut entries = BTreeMap::new();
    // The plan's lists are disjoint, so each previous entry is taken at most once.
    for i in plan.imports() {
        let Some(f) = new.get(i) else { continue };
        let old = prev.entries.remove(&f.id);
        if failed.contains(&f.id) {
            if let Some(old) = old {
                entries.insert(f.id.clone(), old);
            }
            continue;
        }
        entries.insert(
            f.id.clone(),
            Entry {
                content_hash: StateHash::Sha256(f.content_hash),
                sighting_hash: Some(StateHash::Sha256(f.sighting_hash)),
                created_at: old.map_or_else(|| now.clone(), |o| o.created_at),
                last_imported_at: now.clone(),
                stub: stub_of(i).keyed(&f.id),
            },
        );
    }
    for &i in &plan.unchanged_skipped {
        let Some(f) = new.get(i) else { continue };
        if let Some((id, old)) = prev.entries.remove_entry(&f.id) {
            entries.insert(id, old);
        }
    }
    for id in &plan.archive {
        if failed.contains(id) {
            if let Some((id, old)) = prev.entries.remove_entry(id) {
                entries.insert(id, old);
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
        nfs(id, hash, "tag-1")
    }

    fn nfs(id: &str, hash: &str, sighting: &str) -> NewFinding {
        NewFinding {
            id: id.into(),
            content_hash: digest(hash),
            sighting_hash: digest(sighting),
            stub: Stub::raw(serde_json::json!({ "Id": id })),
        }
    }

    fn entry(hash: &str, last: &str) -> Entry {
        Entry {
            content_hash: hx(hash).into(),
            sighting_hash: Some(hx("tag-1").into()),
            created_at: "2026-01-01T00:00:00Z".into(),
            last_imported_at: last.into(),
            stub: Stub::None,
        }
    }

    fn state(applied: Option<ReportMark>, entries: &[(&str, Entry)]) -> LifecycleState {
        LifecycleState {
            schema: STATE_SCHEMA.into(),
            lifecycle_key: "k".into(),
            applied,
            entries: entries.iter().map(|(id, e)| (k(id), e.clone())).collect(),
        }
    }

    fn k(id: &str) -> FindingKey {
        FindingKey::new(id)
    }

    fn keys(v: &[&str]) -> HashSet<FindingKey> {
        v.iter().map(|s| k(s)).collect()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The test's stand-in for a hash: the digest of a name.
    fn digest(name: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(name.as_bytes()).into()
    }

    /// The hex of [`digest`], as the state holds it.
    fn hx(name: &str) -> String {
        hex::encode(digest(name))
    }

    /// A plan with the ids of the findings it names, for comparing.
    #[derive(Debug, Default, PartialEq)]
    struct Named {
        import_new_or_changed: Vec<String>,
        refresh_unchanged: Vec<String>,
        unchanged_skipped: Vec<String>,
        archive: Vec<String>,
        ignore_as_stale: bool,
    }

    fn named(p: &Plan, new: &[NewFinding]) -> Named {
        let of = |list: &[usize]| list.iter().map(|&i| new[i].id.to_string()).collect();
        Named {
            import_new_or_changed: of(&p.import_new_or_changed),
            refresh_unchanged: of(&p.refresh_unchanged),
            unchanged_skipped: of(&p.unchanged_skipped),
            archive: p.archive.iter().map(ToString::to_string).collect(),
            ignore_as_stale: p.ignore_as_stale,
        }
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
            want: Named,
        }
        let rows = vec![
            Row {
                name: "first report imports everything",
                prev: None,
                new: vec![nf("a", "h1"), nf("b", "h2")],
                report: newer.clone(),
                refresh: 30,
                want: Named { import_new_or_changed: ids(&["a", "b"]), ..Named::default() },
            },
            Row {
                name: "new, changed, unchanged, refresh due, vanished",
                prev: Some(prev.clone()),
                new: vec![nf("a", "h1"), nf("b", "h2"), nf("c", "h3-changed"), nf("e", "h5")],
                report: newer.clone(),
                refresh: 30,
                want: Named {
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
                want: Named { refresh_unchanged: ids(&["a"]), archive: ids(&["b", "c", "d"]), ..Named::default() },
            },
            Row {
                name: "older report is ignored",
                prev: Some(prev.clone()),
                new: vec![nf("z", "h")],
                report: mark("2026-11-21T00:00:00Z", "scans/p/0/r.sarif", None),
                refresh: 30,
                want: Named { ignore_as_stale: true, ..Named::default() },
            },
            Row {
                name: "the applied report again changes nothing",
                prev: Some(prev.clone()),
                new: vec![nf("a", "h1"), nf("c", "h3"), nf("d", "h4")],
                report: applied.clone().expect("applied"),
                refresh: 30,
                want: Named {
                    unchanged_skipped: ids(&["a", "c", "d"]),
                    refresh_unchanged: vec![],
                    archive: ids(&["b"]),
                    ..Named::default()
                },
            },
            Row {
                name: "duplicate ids count once; empty report archives all",
                prev: Some(state(applied.clone(), &[("a", entry("h1", recent))])),
                new: vec![nf("x", "1"), nf("x", "2")],
                report: newer.clone(),
                refresh: 30,
                want: Named { import_new_or_changed: ids(&["x"]), archive: ids(&["a"]), ..Named::default() },
            },
            Row {
                name: "unparseable last import time is refreshed",
                prev: Some(state(applied.clone(), &[("a", entry("h1", "yesterday"))])),
                new: vec![nf("a", "h1")],
                report: newer.clone(),
                refresh: 30,
                want: Named { refresh_unchanged: ids(&["a"]), ..Named::default() },
            },
        ];
        for row in rows {
            let got = plan(row.prev.as_ref(), &row.new, &row.report, NOW, row.refresh, ImportOn::Content);
            assert_eq!(named(&got, &row.new), row.want, "{}", row.name);
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
        let p = plan(Some(&prev), &new, &report, NOW, 30, ImportOn::Content);
        assert_eq!(named(&p, &new).archive, ids(&["c"]));
        let failed = keys(&["b", "n2"]);
        let next = next_state(Some(&prev), "k", &p, &new, &failed, &report, "2026-11-23T08:00:00Z");
        assert_eq!(next.entries.keys().map(ToString::to_string).collect::<Vec<_>>(), ids(&["a", "b", "n1"]));
        assert_eq!(
            next.entries[&k("b")].content_hash,
            hx("h2").as_str(),
            "failed change keeps the old hash, so it is retried"
        );
        assert_eq!(next.entries[&k("n1")].created_at, "2026-11-23T08:00:00Z");
        assert_eq!(next.applied, Some(report.clone()));
        // The retry of the same report imports exactly what failed.
        let retry = plan(Some(&next), &new, &report, NOW, 30, ImportOn::Content);
        assert_eq!(named(&retry, &new).import_new_or_changed, ids(&["b", "n2"]));
        assert!(retry.archive.is_empty());
        // A failed archive is kept and planned again.
        let failed_archive = keys(&["c"]);
        let next2 = next_state(Some(&prev), "k", &p, &new, &failed_archive, &report, "2026-11-23T08:00:00Z");
        assert!(next2.entries.contains_key(&k("c")));
        assert_eq!(plan(Some(&next2), &new, &report, NOW, 30, ImportOn::Content).archive, vec![k("c")]);
    }

    #[test]
    fn stale_report_keeps_state_and_json_roundtrip() {
        let prev = state(Some(mark("2026-11-22T00:00:00Z", "r1", None)), &[("a", entry("h1", "2026-11-20T00:00:00Z"))]);
        let report = mark("2026-11-01T00:00:00Z", "r0", None);
        let p = plan(Some(&prev), &[], &report, NOW, 30, ImportOn::Content);
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
                let p = plan(s.as_ref(), f, m, NOW, 30, ImportOn::Content);
                s = Some(next_state(s.as_ref(), "k", &p, f, &HashSet::new(), m, "t"));
            }
            let s = s.expect("state");
            finals.push((
                s.applied.clone(),
                s.entries.iter().map(|(k, e)| (k.to_string(), e.content_hash.to_string())).collect::<Vec<_>>(),
            ));
        }
        for f in &finals {
            assert_eq!(f, &finals[0]);
        }
        assert_eq!(finals[0].1, vec![("a".to_string(), hx("2")), ("c".to_string(), hx("1"))]);
    }

    #[test]
    fn import_on_content_or_sighting() {
        let recent = "2026-11-20T00:00:00Z";
        let old = "2026-10-01T00:00:00Z";
        let prev = state(
            Some(mark("2026-11-22T00:00:00Z", "scans/p/1/r.sarif", None)),
            &[("a", entry("h1", recent)), ("b", entry("h2", recent)), ("c", entry("h3", old))],
        );
        let report = mark("2026-11-23T00:00:00Z", "scans/p/2/r.sarif", None);
        // A new image tag: every sighting hash changes; b's content changes too; c is due.
        let new = vec![nfs("a", "h1", "tag-2"), nfs("b", "h2-fixed", "tag-2"), nfs("c", "h3", "tag-2")];
        struct Row {
            name: &'static str,
            import_on: ImportOn,
            refresh: u32,
            want: Named,
        }
        let rows = [
            Row {
                name: "content: a new tag alone imports nothing; the changed and the due finding do",
                import_on: ImportOn::Content,
                refresh: 30,
                want: Named {
                    import_new_or_changed: ids(&["b"]),
                    refresh_unchanged: ids(&["c"]),
                    unchanged_skipped: ids(&["a"]),
                    ..Named::default()
                },
            },
            Row {
                name: "sighting: every new sighting imports",
                import_on: ImportOn::Sighting,
                refresh: 30,
                want: Named { import_new_or_changed: ids(&["a", "b", "c"]), ..Named::default() },
            },
            Row {
                name: "content with refresh 0: every finding is refreshed",
                import_on: ImportOn::Content,
                refresh: 0,
                want: Named {
                    import_new_or_changed: ids(&["b"]),
                    refresh_unchanged: ids(&["a", "c"]),
                    ..Named::default()
                },
            },
        ];
        for row in rows {
            assert_eq!(
                named(&plan(Some(&prev), &new, &report, NOW, row.refresh, row.import_on), &new),
                row.want,
                "{}",
                row.name
            );
        }
        // Same sighting again under `sighting`: nothing to import.
        let same = vec![nfs("a", "h1", "tag-1"), nfs("b", "h2", "tag-1")];
        let p = plan(Some(&prev), &same, &report, NOW, 30, ImportOn::Sighting);
        assert!(p.import_new_or_changed.is_empty(), "{p:?}");
        // A skipped sighting keeps the sighting Security Hub shows, so `sighting` still sees it as new later.
        let p = plan(Some(&prev), &new, &report, NOW, 30, ImportOn::Content);
        let next = next_state(Some(&prev), "k", &p, &new, &HashSet::new(), &report, "2026-11-23T08:00:00Z");
        assert_eq!(next.entries[&k("a")].sighting_hash.as_ref().map(ToString::to_string), Some(hx("tag-1")));
        assert_eq!(next.entries[&k("b")].sighting_hash.as_ref().map(ToString::to_string), Some(hx("tag-2")));
        assert_eq!(next.entries[&k("c")].sighting_hash.as_ref().map(ToString::to_string), Some(hx("tag-2")));
        assert_eq!(ImportOn::parse(" Sighting "), Some(ImportOn::Sighting));
        assert_eq!(ImportOn::parse("content"), Some(ImportOn::Content));
        assert_eq!(ImportOn::parse("always"), None);
    }

    fn typed_stub(id: &str) -> FindingStub {
        FindingStub {
            id: Some(id.into()),
            title: "CVE-2026-0001 in openssl".into(),
            severity: crate::severity::Severity::High,
            severity_original: "8.1".into(),
            types: vec![Box::from("Software and Configuration Checks/Vulnerabilities/CVE")].into(),
            generator_id: "scangate/qscanner".into(),
            resource: std::sync::Arc::new(crate::asff::ResourceStub {
                kind: "Container".into(),
                id: "registry.example/app:1".into(),
                partition: "aws".into(),
                region: "us-east-1".into(),
            }),
            created_at: Some("2026-01-01T00:00:00.000Z".into()),
        }
    }

    #[test]
    fn a_state_holds_a_stub_id_that_is_its_key_once_and_shared_texts_once() {
        let (a, b) = (format!("scangate/{}/{}", "1".repeat(32), "2".repeat(64)), "b".to_string());
        let mut state = LifecycleState::empty("k");
        for (key, stub_id) in [(&a, a.as_str()), (&b, "arn:aws:securityhub:finding/other")] {
            let mut e = entry("h", "2026-11-22T00:00:00.000Z");
            e.stub = Stub::from(typed_stub(stub_id));
            state.entries.insert(k(key), e);
        }
        let json = serde_json::to_vec(&state).expect("serializes");
        let back = LifecycleState::from_json(&json, "s").expect("reads");
        let (sa, sb) =
            (back.entries[&k(&a)].stub.typed().expect("typed"), back.entries[&k(&b)].stub.typed().expect("typed"));
        assert_eq!(sa.id, None, "the key is the id: not held again");
        assert_eq!(sb.id.as_deref(), Some("arn:aws:securityhub:finding/other"), "another id is kept");
        assert!(std::sync::Arc::ptr_eq(&sa.generator_id, &sb.generator_id), "shared texts are held once");
        assert!(std::sync::Arc::ptr_eq(&sa.types, &sb.types));
        assert!(std::sync::Arc::ptr_eq(&sa.resource, &sb.resource));
        assert_eq!(serde_json::to_vec(&back).expect("serializes"), json, "written as read");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(value["entries"][&a]["stub"]["id"], a.as_str(), "the id is written from the key");
        // The next state drops the id of a new stub that is its key, and writes it the same.
        let new = vec![NewFinding {
            id: k(&a),
            content_hash: digest("c"),
            sighting_hash: digest("s"),
            stub: Stub::from(typed_stub(&a)),
        }];
        let p = plan(None, &new, &mark("2026-11-23T00:00:00Z", "r", None), NOW, 30, ImportOn::Content);
        let next = next_state(None, "k", &p, &new, &HashSet::new(), &mark("2026-11-23T00:00:00Z", "r", None), "t");
        assert_eq!(next.entries[&k(&a)].stub.typed().expect("typed").id, None);
        let written: serde_json::Value = serde_json::to_value(&next).expect("serializes");
        assert_eq!(written["entries"][&a]["stub"], serde_json::to_value(typed_stub(&a)).expect("serializes"));
    }

    #[test]
    fn stubs_read_typed_when_they_can_and_are_kept_as_found_when_they_cannot() {
        let typed = typed_stub("arn:aws:securityhub:us-east-1:123456789012:finding/a");
        let mut e = entry("h", "2026-11-22T00:00:00Z");
        for (stub, json) in [
            (Stub::None, serde_json::Value::Null),
            (Stub::raw(serde_json::json!({ "Id": "a" })), serde_json::json!({ "Id": "a" })),
            (Stub::from(typed.clone()), serde_json::to_value(&typed).expect("serializes")),
        ] {
            e.stub = stub.clone();
            let written = serde_json::to_value(&e).expect("serializes");
            assert_eq!(written["stub"], json, "{stub:?}");
            let back: Entry = serde_json::from_value(written).expect("reads");
            assert_eq!(back.stub, stub, "round trip of {json}");
        }
        assert_eq!(e.stub.typed(), Some(&typed));
        // A stub missing or of another shape is not an error: the entry reads, without a typed stub.
        let bare: Entry = serde_json::from_str(r#"{"content_hash":"h","created_at":"t","last_imported_at":"t"}"#)
            .expect("reads without a stub");
        assert_eq!(bare.stub, Stub::None);
        let odd: Entry =
            serde_json::from_str(r#"{"content_hash":"h","created_at":"t","last_imported_at":"t","stub":[1]}"#)
                .expect("reads with another stub");
        assert_eq!(odd.stub.typed(), None);
        assert_eq!(odd.stub, Stub::raw(serde_json::json!([1])));
    }

    #[test]
    fn state_of_the_one_hash_version_upgrades_with_one_import_and_no_archive() {
        // A state object as the version with one hash wrote it: no sighting_hash.
        let legacy = br#"{"schema":"scangate.state.v1","lifecycle_key":"k",
            "applied":{"report_time":"2026-11-22T00:00:00Z","bucket":"b","key":"scans/p/1/r.sarif"},
            "entries":{
              "a":{"content_hash":"old-whole-finding-hash-a","created_at":"2026-01-01T00:00:00Z",
                   "last_imported_at":"2026-11-22T00:00:00Z","stub":{"Id":"a"}},
              "b":{"content_hash":"old-whole-finding-hash-b","created_at":"2026-01-01T00:00:00Z",
                   "last_imported_at":"2026-11-22T00:00:00Z","stub":{"Id":"b"}}}}"#;
        let prev = LifecycleState::from_json(legacy, "state/k.json").expect("legacy state parses");
        assert_eq!(prev.entries[&k("a")].sighting_hash, None);
        let new = vec![nfs("a", "h1", "tag-2"), nfs("b", "h2", "tag-2")];
        let r2 = mark("2026-11-23T00:00:00Z", "scans/p/2/r.sarif", None);
        for import_on in [ImportOn::Content, ImportOn::Sighting] {
            let p = plan(Some(&prev), &new, &r2, NOW, 30, import_on);
            assert_eq!(named(&p, &new).import_new_or_changed, ids(&["a", "b"]), "{import_on:?}: one import of each");
            assert!(p.archive.is_empty(), "{import_on:?}: nothing archived");
            let next = next_state(Some(&prev), "k", &p, &new, &HashSet::new(), &r2, "2026-11-23T08:00:00Z");
            assert_eq!(next.entries[&k("a")].created_at, "2026-01-01T00:00:00Z", "CreatedAt kept");
            // The next rescan of yet another tag: nothing under `content`.
            let new3 = vec![nfs("a", "h1", "tag-3"), nfs("b", "h2", "tag-3")];
            let r3 = mark("2026-11-24T00:00:00Z", "scans/p/3/r.sarif", None);
            let p3 = plan(Some(&next), &new3, &r3, NOW, 30, ImportOn::Content);
            assert!(p3.is_noop(), "{import_on:?}: {p3:?}");
            // Written again, the state round-trips with both hashes.
            let json = serde_json::to_vec(&next).expect("serialize");
            assert_eq!(LifecycleState::from_json(&json, "s").expect("parse"), next);
        }
    }
}

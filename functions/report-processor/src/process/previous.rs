//! The lifecycle state a delivery reads (`state/<key-hash>.json`), never held whole: its
//! header in memory, its entries in an unnamed file on the function's ephemeral storage (one
//! JSON line `[id, entry]` per entry, in id order, gone when dropped), which each pass of the
//! planner and of the state views reads again ([`Held`]). Memory does not grow with the
//! lifecycle: a pass holds one entry at a time.
//!
//! The object is read in one pass as S3 streams it. Each entry goes through the core's reading
//! of a stub (a state of an earlier release is converted as it is read: its next write is in
//! today's form). A state whose entries are not in id order (no release of scangate writes
//! one: they are serialized from an ordered map) is sorted in memory instead, and written back
//! in order.

use super::state_object::AppliedResult;
use scangate_core::asff::StubInterner;
use scangate_core::lifecycle::state::{
    Entry, EntryIn, FindingKey, Held, HeldEntry, KeyedEntry, LifecycleState, ReportMark, StateError, STATE_SCHEMA,
};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Buffer of a pass over the entries' file, and of its writing.
const BUFFER: usize = 64 * 1024;

/// The previous state of a lifecycle, as one delivery read it.
pub(crate) struct Previous {
    schema: String,
    lifecycle_key: String,
    applied: Option<ReportMark>,
    len: usize,
    entries: Stored,
}

enum Stored {
    /// In memory: a state built in memory (tests), or one read with its entries out of order.
    Memory(BTreeMap<FindingKey, Entry>),
    /// A JSON line `[id, entry]` per entry, in id order; `name` names the state object.
    File { file: File, name: String },
}

impl From<LifecycleState> for Previous {
    fn from(s: LifecycleState) -> Previous {
        Previous {
            schema: s.schema,
            lifecycle_key: s.lifecycle_key,
            applied: s.applied,
            len: s.entries.len(),
            entries: Stored::Memory(s.entries),
        }
    }
}

impl Previous {
    /// The state as the core holds it, every entry in memory (tests compare with it).
    #[cfg(test)]
    pub(crate) fn to_state(&self) -> LifecycleState {
        let entries = self.entries().map(|r| r.map(|(k, e)| (k.into_owned(), e.into_owned())));
        LifecycleState {
            schema: self.schema.clone(),
            lifecycle_key: self.lifecycle_key.clone(),
            applied: self.applied.clone(),
            entries: entries.collect::<Result<_, _>>().expect("the entries read back"),
        }
    }
}

impl Held for Previous {
    type Error = StateError;

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
        self.len
    }

    fn entries(&self) -> Box<dyn Iterator<Item = Result<HeldEntry<'_>, StateError>> + Send + '_> {
        self.pass::<EntryIn>()
    }

    fn entries_without_stubs(&self) -> Box<dyn Iterator<Item = Result<HeldEntry<'_>, StateError>> + Send + '_> {
        self.pass::<EntryIn<IgnoredAny>>()
    }
}

impl Previous {
    /// A pass over the entries, each line's entry read as `T` (with its stub, or skipping it).
    fn pass<T>(&self) -> Box<dyn Iterator<Item = Result<HeldEntry<'_>, StateError>> + Send + '_>
    where
        T: serde::de::DeserializeOwned + ToEntry + Send + 'static,
    {
        match &self.entries {
            Stored::Memory(entries) => Box::new(entries.iter().map(|(k, e)| Ok((Cow::Borrowed(k), Cow::Borrowed(e))))),
            Stored::File { file, name } => {
                let lines =
                    serde_json::Deserializer::from_reader(BufReader::with_capacity(BUFFER, At { file, pos: 0 }))
                        .into_iter::<(FindingKey, T)>();
                Box::new(lines.map(move |line| {
                    let (key, entry) = line.map_err(|e| StateError {
                        name: name.clone(),
                        message: format!("its entries in the temp dir could not be read back: {e}"),
                    })?;
                    let entry = entry.to_entry(&key);
                    Ok((Cow::Owned(key), Cow::Owned(entry)))
                }))
            }
        }
    }
}

/// An entry as its line holds it, its stub read or skipped.
trait ToEntry {
    fn to_entry(self, key: &FindingKey) -> Entry;
}

impl ToEntry for EntryIn {
    fn to_entry(self, key: &FindingKey) -> Entry {
        // One entry at a time: no text is shared beyond it.
        self.entry(key, &mut StubInterner::default())
    }
}

impl ToEntry for EntryIn<IgnoredAny> {
    fn to_entry(self, _: &FindingKey) -> Entry {
        self.without_stub()
    }
}

/// A file read from `pos` on by positioned reads: passes over one file need no shared cursor.
struct At<'f> {
    file: &'f File,
    pos: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads a state object's body as it streams (`name` names it in errors): its header and
/// applied result in memory, its entries into an unnamed file in `dir` (the function's
/// ephemeral storage). The applied result is None when absent or unreadable. An object that
/// is not a state, or of another schema, or a directory that cannot take the entries, is the
/// error, naming the object (and the directory).
pub(crate) fn read_previous(
    body: &mut dyn Read,
    name: &str,
    dir: &Path,
) -> Result<(Previous, Option<AppliedResult>), StateError> {
    let failed = |message: String| StateError { name: name.to_string(), message };
    let temp = |e: std::io::Error| {
        failed(format!(
            "its entries could not be written to {}: {e} (the function's ephemeral storage: raise \
             ProcessorEphemeralStorage)",
            dir.display()
        ))
    };
    let file = tempfile::tempfile_in(dir).map_err(temp)?;
    let mut out = BufWriter::with_capacity(BUFFER, &file);
    let top = {
        let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(BUFFER, body));
        let top = Top { out: &mut out }.deserialize(&mut de).map_err(|e| failed(e.to_string()))?;
        de.end().map_err(|e| failed(e.to_string()))?;
        top
    };
    out.flush().map_err(temp)?;
    drop(out);
    let schema = top.schema.ok_or_else(|| failed("missing field `schema`".into()))?;
    if schema != STATE_SCHEMA {
        return Err(failed(format!("schema is {schema:?}, expected {STATE_SCHEMA:?}")));
    }
    let lifecycle_key = top.lifecycle_key.ok_or_else(|| failed("missing field `lifecycle_key`".into()))?;
    let result = top.applied_result.and_then(|v| serde_json::from_value(v).ok());
    let mut previous = Previous {
        schema,
        lifecycle_key,
        applied: top.applied,
        len: top.entries.count,
        entries: Stored::File { file, name: name.to_string() },
    };
    if !top.entries.ordered {
        // Sorted in memory (a later duplicate wins, as in an ordered map).
        let sorted: BTreeMap<FindingKey, Entry> =
            previous.entries().map(|r| r.map(|(k, e)| (k.into_owned(), e.into_owned()))).collect::<Result<_, _>>()?;
        previous.len = sorted.len();
        previous.entries = Stored::Memory(sorted);
    }
    Ok((previous, result))
}

/// The top level of a state object: the fields the core and [`AppliedResult`] read, the
/// entries written out as they are read.
struct Top<'w, 'f> {
    out: &'w mut BufWriter<&'f File>,
}

#[derive(Default)]
struct Header {
    schema: Option<String>,
    lifecycle_key: Option<String>,
    applied: Option<ReportMark>,
    entries: Written,
    applied_result: Option<serde_json::Value>,
}

/// What went into the entries' file.
struct Written {
    count: usize,
    /// Each id greater than the one before.
    ordered: bool,
}

impl Default for Written {
    fn default() -> Written {
        Written { count: 0, ordered: true }
    }
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = Header;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Header, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = Header;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a state object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut h = Header::default();
        let mut seen_entries = false;
        while let Some(field) = map.next_key::<Cow<'de, str>>()? {
            match &*field {
                "schema" => h.schema = Some(map.next_value()?),
                "lifecycle_key" => h.lifecycle_key = Some(map.next_value()?),
                "applied" => h.applied = map.next_value()?,
                "entries" if seen_entries => return Err(A::Error::duplicate_field("entries")),
                "entries" => {
                    seen_entries = true;
                    h.entries = map.next_value_seed(Entries { out: &mut *self.out })?;
                }
                "applied_result" => h.applied_result = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(h)
    }
}

/// The entries' map, each entry written as its line as it is read.
struct Entries<'w, 'f> {
    out: &'w mut BufWriter<&'f File>,
}

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = Written;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Written, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = Written;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map of finding ids to entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Written, A::Error> {
        let mut written = Written::default();
        let mut last: Option<FindingKey> = None;
        while let Some(key) = map.next_key::<FindingKey>()? {
            let entry = map.next_value::<EntryIn>()?.entry(&key, &mut StubInterner::default());
            serde_json::to_writer(&mut *self.out, &(&key, KeyedEntry(&key, &entry)))
                .and_then(|()| self.out.write_all(b"\n").map_err(serde_json::Error::io))
                .map_err(|e| A::Error::custom(format!("writing an entry to the temp dir: {e}")))?;
            written.count += 1;
            written.ordered &= last.as_ref().is_none_or(|l| *l < key);
            last = Some(key);
        }
        Ok(written)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A state object's body read as a delivery reads it (its entries through a file in the
    /// temp dir), then held whole, as the core holds a state.
    pub(crate) fn read_state(body: &[u8], name: &str) -> Result<(LifecycleState, Option<AppliedResult>), StateError> {
        let (previous, result) = read_previous(&mut &body[..], name, &std::env::temp_dir())?;
        Ok((previous.to_state(), result))
    }

    /// `state` as a delivery holds it after reading its object: the entries in a file.
    pub(crate) fn held(state: &LifecycleState) -> Previous {
        let body = serde_json::to_vec(state).expect("serializes");
        let (previous, _) = read_previous(&mut &body[..], "held", &std::env::temp_dir()).expect("reads");
        assert!(matches!(previous.entries, Stored::File { .. }), "the entries are in a file");
        previous
    }

    fn entry(hash: &str) -> Entry {
        Entry {
            content_hash: hash.into(),
            sighting_hash: None,
            created_at: "2026-01-01T00:00:00Z".into(),
            last_imported_at: "2026-11-01T00:00:00.000Z".into(),
            stub: scangate_core::lifecycle::state::Stub::raw(serde_json::json!({ "was": hash })),
        }
    }

    fn state(ids: &[&str]) -> LifecycleState {
        let mut s = LifecycleState::empty("k");
        for id in ids {
            s.entries.insert(FindingKey::new(id), entry(&format!("h-{id}")));
        }
        s
    }

    #[test]
    fn a_state_read_through_its_file_is_the_state_and_each_pass_reads_it_again() {
        let s = state(&["b", "a", "scangate/00000000000000000000000000000000/c", "arn:x"]);
        let previous = held(&s);
        assert_eq!(previous.len(), 4);
        assert_eq!(previous.to_state(), s);
        assert_eq!(previous.to_state(), s, "a second pass reads the same");
        // Without stubs: the same ids, hashes and times, no stub built.
        let light: Vec<_> = previous.entries_without_stubs().collect::<Result<_, _>>().expect("reads");
        assert_eq!(light.len(), 4);
        for ((k, e), (key, full)) in light.iter().zip(&s.entries) {
            assert_eq!((&**k, &e.content_hash, &e.last_imported_at), (key, &full.content_hash, &full.last_imported_at));
            assert_eq!(e.stub, scangate_core::lifecycle::state::Stub::None);
            assert_ne!(full.stub, scangate_core::lifecycle::state::Stub::None);
        }
        // An empty map, and no entries at all.
        for body in [
            r#"{"schema":"scangate.state.v1","lifecycle_key":"k","entries":{}}"#,
            r#"{"schema":"scangate.state.v1","lifecycle_key":"k"}"#,
        ] {
            let (p, r) = read_previous(&mut body.as_bytes(), "s", &std::env::temp_dir()).expect("reads");
            assert_eq!((p.len(), p.entries().count(), r), (0, 0, None));
        }
    }

    /// No release writes one, but a state whose ids are out of order or repeat is read as an
    /// ordered map reads it (sorted, a later duplicate wins), never merged out of order.
    #[test]
    fn a_state_with_ids_out_of_order_or_repeated_reads_as_an_ordered_map() {
        let body = br#"{"schema":"scangate.state.v1","lifecycle_key":"k","entries":{
            "c":{"content_hash":"h-c","created_at":"t","last_imported_at":"t"},
            "a":{"content_hash":"h-a1","created_at":"t","last_imported_at":"t"},
            "b":{"content_hash":"h-b","created_at":"t","last_imported_at":"t"},
            "a":{"content_hash":"h-a2","created_at":"t","last_imported_at":"t"}}}"#;
        let (previous, _) = read_previous(&mut &body[..], "s", &std::env::temp_dir()).expect("reads");
        let expected = LifecycleState::from_json(body, "s").expect("the core reads it");
        assert_eq!(previous.len(), 3);
        assert_eq!(previous.to_state(), expected);
        assert_eq!(expected.entries[&FindingKey::new("a")].content_hash, "h-a2");
    }

    #[test]
    fn what_cannot_be_read_is_an_error_naming_the_object_or_the_directory() {
        let dir = std::env::temp_dir();
        let cases: [(&[u8], &str); 5] = [
            (br#"{"schema":"other","lifecycle_key":"k"}"#, "schema is \"other\""),
            (br#"{"lifecycle_key":"k"}"#, "missing field `schema`"),
            (br#"{"schema":"scangate.state.v1"}"#, "missing field `lifecycle_key`"),
            (br#"{"schema":"scangate.state.v1","lifecycle_key":"k","entries":{"a":{}}}"#, "missing field"),
            (br#"{"schema":"scangate.state.v1","lifecycle_key":"k","entries":{},"entries":{}}"#, "duplicate field"),
        ];
        for (body, why) in cases {
            let Err(e) = read_previous(&mut &body[..], "s3://b/state/x.json", &dir) else { panic!("{why}") };
            let text = e.to_string();
            assert!(text.contains("s3://b/state/x.json") && text.contains(why), "{why}: {text}");
        }
        let missing = dir.join("scangate-no-such-dir");
        let Err(e) = read_previous(&mut &b"{}"[..], "s", &missing) else { panic!("no directory") };
        let text = e.to_string();
        assert!(text.contains(&missing.display().to_string()) && text.contains("ProcessorEphemeralStorage"), "{text}");
    }

    /// A file that no longer reads back (cut short, overwritten): each pass's error names the
    /// object, and the planner stops with it rather than planning from part of the state.
    #[test]
    fn an_entries_file_that_does_not_read_back_stops_the_pass_with_an_error() {
        let previous = held(&state(&["a", "b", "c"]));
        let Stored::File { file, .. } = &previous.entries else { panic!("a file") };
        let len = file.metadata().expect("metadata").len();
        file.set_len(len / 2).expect("cut short");
        let read: Vec<_> = previous.entries().collect();
        assert!(read.first().is_some_and(Result::is_ok), "the first line is whole");
        let Some(Err(e)) = read.last() else { panic!("the cut line is an error: {}", read.len()) };
        assert!(e.to_string().contains("held") && e.to_string().contains("read back"), "{e}");
        let new: Vec<scangate_core::lifecycle::state::NewFinding> = Vec::new();
        let report = ReportMark::default();
        let now = time::macros::datetime!(2026-12-02 00:00 UTC);
        let plan = scangate_core::lifecycle::state::plan_over(
            Some(&previous),
            &new,
            &report,
            now,
            30,
            scangate_core::lifecycle::state::ImportOn::Content,
        );
        assert!(plan.is_err(), "{plan:?}");
    }
}

//! The reader's dedup index: which distinct finding a result's dedup key belongs to, without
//! holding the key's text.
//!
//! A finding's id already is the SHA-256 of its dedup key ([`crate::finding::DedupKey::finding_id`],
//! 64 hex characters), so the index is a table of indices into the findings (`u32`, 4 bytes and
//! one control byte a slot) and a key is found by comparing the SHA-256 of its text with the
//! ids of the findings in its slot's probe sequence. Two keys are merged only when their
//! SHA-256 are equal, exactly as their findings' ids (and so their Security Hub findings and
//! state entries) would be: a cryptographic digest because the keys are untrusted (scanned
//! files, uploaded reports); finding a collision takes about 2^128 work, and among n distinct
//! keys the chance of an accidental one is below n² / 2^257 (10^-65 at a million).
//!
//! The slot of an id is a keyed hash of it (std's `RandomState`, SipHash-1-3 with random keys
//! per process), not the digest's own bits: a report can choose keys whose SHA-256 share their
//! low bits (2^k tries for k bits), which would put all of them in one probe sequence; with a
//! key the report does not know it cannot aim at a slot.

use crate::finding::Finding;
use std::hash::{BuildHasher, RandomState};

/// The most findings an index can hold (its indices are `u32`); the reader stops keeping
/// findings at this many ([`super::SarifError::TooManyFindings`]), whatever its cap.
pub(crate) const MAX_INDEXED: usize = u32::MAX as usize;

/// The SHA-256 of a dedup key, as [`Finding::id`] writes it: 64 lowercase hex characters.
pub(crate) type IdHex = [u8; 64];

/// `digest` as [`crate::finding::DedupKey::finding_id`] writes it (lowercase hex).
pub(crate) fn id_hex(digest: &[u8; 32]) -> IdHex {
    let mut out = [0u8; 64];
    // 64 bytes hold 32 bytes' hex exactly: encoding cannot fail.
    let _ = hex::encode_to_slice(digest, &mut out);
    out
}

/// Distinct findings by id: indices into one findings list, which the caller passes to every
/// call (the index holds no copy of the ids).
pub(crate) struct DedupIndex {
    table: hashbrown::HashTable<u32>,
    hasher: RandomState,
}

impl Default for DedupIndex {
    fn default() -> Self {
        DedupIndex { table: hashbrown::HashTable::new(), hasher: RandomState::new() }
    }
}

/// The ids an index compares: the findings' hex ids (in memory), or their SHA-256 digests
/// (the reader's spill, which holds 32 bytes of each finding rather than the finding).
pub(crate) trait Ids {
    fn count(&self) -> usize;
    fn id_at(&self, i: usize) -> Option<&[u8]>;
}

impl Ids for [Finding] {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn id_at(&self, i: usize) -> Option<&[u8]> {
        self.get(i).map(|f| f.id.as_bytes())
    }
}

impl Ids for [[u8; 32]] {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn id_at(&self, i: usize) -> Option<&[u8]> {
        self.get(i).map(|d| &d[..])
    }
}

impl<T> Ids for Vec<T>
where
    [T]: Ids,
{
    fn count(&self) -> usize {
        self.as_slice().count()
    }
    #[inline]
    fn id_at(&self, i: usize) -> Option<&[u8]> {
        self.as_slice().id_at(i)
    }
}

impl DedupIndex {
    fn hash(&self, id: &[u8]) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The position in `ids` of the one equal to `id`.
    #[inline]
    pub(crate) fn find<K: Ids + ?Sized>(&self, ids: &K, id: &[u8]) -> Option<usize> {
        let same = |&i: &u32| ids.id_at(i as usize).is_some_and(|x| x == id);
        self.table.find(self.hash(id), same).map(|&i| i as usize)
    }

    /// Indexes `ids`' last one (just pushed; not in the index yet). `false`, and nothing
    /// indexed, when its position does not fit ([`MAX_INDEXED`]).
    #[inline]
    pub(crate) fn push<K: Ids + ?Sized>(&mut self, ids: &K) -> bool {
        let Some(last) = ids.count().checked_sub(1) else { return false };
        let (Ok(i), Some(id)) = (u32::try_from(last), ids.id_at(last)) else { return false };
        let hasher = &self.hasher;
        let rehash = |&j: &u32| ids.id_at(j as usize).map_or(0, |x| hasher.hash_one(x));
        self.table.insert_unique(hasher.hash_one(id), i, rehash);
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{DedupKey, Scanner};
    use crate::severity::Severity;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn finding(key: &str) -> Finding {
        Finding {
            rule_id: "r".into(),
            title: "t".into(),
            description: "d".into(),
            severity_original: "note".into(),
            scanner: Scanner { name: "s".into(), version: None }.into(),
            ..Finding::plain(&DedupKey(key.to_string()).finding_id(), Severity::Low)
        }
    }

    fn digest(key: &str) -> [u8; 32] {
        let mut b = [0u8; 32];
        b.copy_from_slice(&Sha256::digest(key.as_bytes()));
        b
    }

    proptest! {
        /// The index finds a key's finding exactly when a finding with that key was pushed,
        /// at the index it was pushed at, through the table's growth.
        #[test]
        fn finds_what_was_pushed(keys in proptest::collection::vec("[a-c\u{1f}]{0,6}", 0..200), probes in proptest::collection::vec("[a-c\u{1f}]{0,6}", 0..40)) {
            let mut findings: Vec<Finding> = Vec::new();
            let mut index = DedupIndex::default();
            let mut model = std::collections::HashMap::new();
            for k in &keys {
                let id = id_hex(&digest(k));
                let want = DedupKey(k.clone()).finding_id();
                prop_assert_eq!(std::str::from_utf8(&id).ok(), Some(want.as_str()));
                match index.find(&findings, &id) {
                    Some(i) => prop_assert_eq!(Some(&i), model.get(k)),
                    None => {
                        prop_assert!(!model.contains_key(k));
                        model.insert(k.clone(), findings.len());
                        findings.push(finding(k));
                        prop_assert!(index.push(&findings));
                    }
                }
            }
            prop_assert_eq!(index.len(), model.len());
            for k in keys.iter().chain(&probes) {
                prop_assert_eq!(index.find(&findings, &id_hex(&digest(k))), model.get(k).copied());
            }
        }
    }

    #[test]
    fn nothing_to_index_is_refused() {
        let mut index = DedupIndex::default();
        assert!(!index.push::<[Finding]>(&[]));
        assert_eq!(index.len(), 0);
    }
}

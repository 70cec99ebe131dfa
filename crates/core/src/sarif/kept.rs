//! Where the reader keeps its distinct findings: in memory ([`super::read_sarif_limited`]), or
//! spilled to a file as each is first met ([`super::read_sarif_spilled`]). One reader, two
//! destinations: [`super::build::process`] finds, merges and adds findings through [`Kept`].
//!
//! Spilled, the reader holds per finding its SHA-256 (32 bytes, for the dedup index: two keys
//! merge only when their digests are equal, as in memory), its position in the file (8 bytes),
//! its occurrences (4 bytes: a later result of the same finding adds one) and one byte of
//! flags; a later occurrence's suppression kinds (one byte, once any is merged) and, for a
//! finding written without a justification, the first justification a later occurrence gives
//! (charged against [`super::ReadLimits::max_held_bytes`]).

use super::held::Held;
use super::index::{DedupIndex, IdHex, MAX_INDEXED};
use crate::finding::Finding;
use crate::spill::{suppression_bit, Overlay, Spill, SpillWriter};
use crate::suppression::Suppression;
use std::io;

/// The findings of one kind (suppressed or not) so far.
pub(crate) enum Kept {
    Memory { findings: Vec<Finding>, index: DedupIndex },
    Spill(Box<Spilling>),
}

impl Default for Kept {
    fn default() -> Self {
        Kept::Memory { findings: Vec::new(), index: DedupIndex::default() }
    }
}

/// Findings written to a spill as they are first met.
pub(crate) struct Spilling {
    pub writer: SpillWriter,
    /// Each finding's SHA-256 (its id's bytes), for `index`.
    pub digests: Vec<[u8; 32]>,
    pub index: DedupIndex,
    /// Later occurrences' changes.
    pub overlay: Overlay,
    /// Per finding: [`HAS_SUPPRESSION`], [`HAS_JUSTIFICATION`] as written.
    flags: Vec<u8>,
}

const HAS_SUPPRESSION: u8 = 1;
const HAS_JUSTIFICATION: u8 = 2;

/// What [`Kept::push`] did.
pub(crate) enum Pushed {
    Kept,
    /// Not kept: its position would not fit the index ([`MAX_INDEXED`]).
    Full,
    /// Not kept: the spill would be over its cap.
    OverSpill,
}

impl Kept {
    pub(crate) fn spilling(writer: SpillWriter) -> Kept {
        Kept::Spill(Box::new(Spilling {
            writer,
            digests: Vec::new(),
            index: DedupIndex::default(),
            overlay: Overlay::default(),
            flags: Vec::new(),
        }))
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Kept::Memory { findings, .. } => findings.len(),
            Kept::Spill(s) => s.digests.len(),
        }
    }

    /// The spill file's bytes (0 in memory).
    pub(crate) fn spill_bytes(&self) -> u64 {
        match self {
            Kept::Memory { .. } => 0,
            Kept::Spill(s) => s.writer.bytes(),
        }
    }

    /// The position of the finding whose SHA-256 is `sha` (its id `id`).
    #[inline]
    pub(crate) fn find(&self, sha: &[u8; 32], id: &IdHex) -> Option<usize> {
        match self {
            Kept::Memory { findings, index } => index.find(findings, id),
            Kept::Spill(s) => s.index.find(&s.digests, sha),
        }
    }

    /// Another result of finding `i`: one more occurrence, its suppression merged.
    pub(crate) fn repeat(&mut self, i: usize, more: Option<&Suppression>, held: &mut Held) {
        match self {
            Kept::Memory { findings, .. } => {
                if let Some(f) = findings.get_mut(i) {
                    f.occurrences = f.occurrences.saturating_add(1);
                    if let (Some(have), Some(more)) = (f.suppression.as_mut(), more) {
                        have.merge(more);
                    }
                }
            }
            Kept::Spill(s) => s.repeat(i, more, held),
        }
    }

    /// Keeps `finding` (SHA-256 `sha`); a spill is kept within `room` bytes.
    pub(crate) fn push(&mut self, finding: Finding, sha: &[u8; 32], room: Option<u64>) -> io::Result<Pushed> {
        match self {
            Kept::Memory { findings, index } => {
                findings.push(finding);
                if !index.push(findings) {
                    findings.pop();
                    return Ok(Pushed::Full);
                }
                Ok(Pushed::Kept)
            }
            Kept::Spill(s) => s.push(&finding, sha, room),
        }
    }
}

impl Spilling {
    fn repeat(&mut self, i: usize, more: Option<&Suppression>, held: &mut Held) {
        let Some(n) = self.overlay.occurrences.get_mut(i) else { return };
        *n = n.saturating_add(1);
        let flags = self.flags.get(i).copied().unwrap_or(0);
        let Some(more) = more.filter(|_| flags & HAS_SUPPRESSION != 0) else { return };
        let mask = more.kinds.iter().fold(0u8, |m, &k| m | suppression_bit(k));
        if mask != 0 {
            if self.overlay.kinds.len() <= i {
                self.overlay.kinds.resize(i + 1, 0);
            }
            self.overlay.kinds[i] |= mask;
        }
        // The first justification stays: a later one counts only when the finding had none.
        let (Some(j), Ok(key)) = (more.justification.as_ref(), u32::try_from(i)) else { return };
        if flags & HAS_JUSTIFICATION != 0 || self.overlay.justifications.contains_key(&key) {
            return;
        }
        if held.charge(j.len() as u64 + 64, || format!("the justification of finding {i}'s later suppression")) {
            self.overlay.justifications.insert(key, j.clone());
        }
    }

    fn push(&mut self, f: &Finding, sha: &[u8; 32], room: Option<u64>) -> io::Result<Pushed> {
        if self.digests.len() >= MAX_INDEXED {
            return Ok(Pushed::Full);
        }
        if !self.writer.push_within(f, room)? {
            return Ok(Pushed::OverSpill);
        }
        self.digests.push(*sha);
        self.index.push(&self.digests);
        self.overlay.occurrences.push(f.occurrences);
        let s = f.suppression.as_deref();
        self.flags.push(
            if s.is_some() { HAS_SUPPRESSION } else { 0 }
                | if s.is_some_and(|s| s.justification.is_some()) { HAS_JUSTIFICATION } else { 0 },
        );
        Ok(Pushed::Kept)
    }

    /// The findings' spill with the later occurrences' changes, their digests and the index.
    pub(crate) fn finish(self) -> io::Result<(Spill, Vec<[u8; 32]>, DedupIndex)> {
        let Spilling { writer, digests, overlay, index, .. } = self;
        let mut spill = writer.finish()?;
        spill.set_overlay(overlay);
        Ok((spill, digests, index))
    }
}

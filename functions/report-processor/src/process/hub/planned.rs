//! The report's findings as the Security Hub step holds them from the plan to the next
//! state: per distinct finding, 100 bytes (its finding id, its content and sighting digests,
//! and the position in the [`FindingSource`] of the finding that renders it), never the
//! finding, its ASFF or its stub. One report's ASFF ids share their lifecycle prefix
//! (`scangate/<lifecycle hash>/`), so only the 32 bytes of the finding id are held; an id of
//! another shape (a hand-made finding id that is not 64 hex) is held as its key beside them.
//! Everything that needs a finding (the ASFF of a chunk, a stub) reads it again from the
//! source by its position.

use scangate_core::asff::{self, AsffContext};
use scangate_core::lifecycle::state::{by_id, FindingKey, NewFindings};
use scangate_core::source::{FindingSource, SourceError};
use std::borrow::Cow;
use std::cmp::Ordering;

/// Set on [`Record::at`] when the finding's id is not of the processor's own form with the
/// report's lifecycle: its key is `others[n]`, `n` the record's first four key bytes. A
/// report holds fewer findings than this ([`Planned::read`] refuses more).
const OTHER: u32 = 1 << 31;

/// One distinct finding (100 bytes).
#[derive(Clone, Copy)]
struct Record {
    /// The finding id's 32 bytes, or (with [`OTHER`]) the index of its key in `others`.
    key: [u8; 32],
    content: [u8; 32],
    sighting: [u8; 32],
    /// The position of the finding that renders it (its id's last occurrence), and [`OTHER`].
    at: u32,
}

impl Record {
    fn position(&self) -> u32 {
        self.at & !OTHER
    }

    fn other(&self) -> Option<usize> {
        let mut n = [0u8; 4];
        n.copy_from_slice(&self.key[..4]);
        (self.at & OTHER != 0).then(|| u32::from_le_bytes(n) as usize)
    }
}

/// The distinct findings of one report, in report order (each at the first place of its id).
pub(crate) struct Planned {
    /// The lifecycle hash's 16 bytes every id of the processor's own form shares here.
    lifecycle: [u8; 16],
    records: Vec<Record>,
    /// Keys of ids of another form (rare), by the index their record holds.
    others: Vec<FindingKey>,
}

impl Planned {
    /// Reads the findings of `source` once, in order, as `ctx` names and hashes them. A
    /// finding whose id repeats is kept once: at its first place, with its first hashes,
    /// rendered from its last occurrence. A finding that cannot be read is the error.
    pub(crate) fn read(source: &dyn FindingSource, ctx: &AsffContext) -> Result<Planned, SourceError> {
        let n = source.len();
        if n >= OTHER as usize {
            return Err(SourceError {
                what: "the report's findings".into(),
                index: n,
                reason: format!("more than {} findings", OTHER - 1),
            });
        }
        let mut lifecycle = None;
        let mut records = Vec::with_capacity(n);
        let mut others = Vec::new();
        source.for_each_finding(&mut |i, f| {
            let id = FindingKey::from(asff::finding_id(ctx, f));
            let (content, sighting) = (asff::content_digest(f, ctx), asff::sighting_digest(f, ctx));
            // Positions are below OTHER (checked above).
            let at = i as u32;
            let record = match id.parts() {
                Some((l, finding)) if lifecycle.get_or_insert(*l) == l => {
                    Record { key: *finding, content, sighting, at }
                }
                _ => {
                    let mut key = [0u8; 32];
                    key[..4].copy_from_slice(&(others.len() as u32).to_le_bytes());
                    others.push(id);
                    Record { key, content, sighting, at: at | OTHER }
                }
            };
            records.push(record);
        })?;
        let mut planned = Planned { lifecycle: lifecycle.unwrap_or_default(), records, others };
        planned.dedup();
        Ok(planned)
    }

    /// Keeps each id once, at its first place, rendered from its last occurrence.
    fn dedup(&mut self) {
        let order = by_id(self);
        let mut keep = vec![false; self.records.len()];
        // (first, last) of each id that repeats: few.
        let mut repeats: Vec<(u32, u32)> = Vec::new();
        for group in order.chunk_by(|&a, &b| self.cmp_ids(a as usize, b as usize) == Ordering::Equal) {
            if let (Some(&first), Some(&last)) = (group.first(), group.last()) {
                keep[first as usize] = true;
                if first != last {
                    repeats.push((first, last));
                }
            }
        }
        drop(order);
        for &(first, last) in &repeats {
            let render = self.records[last as usize].position();
            let r = &mut self.records[first as usize];
            r.at = (r.at & OTHER) | render;
        }
        if !repeats.is_empty() {
            let mut kept = keep.iter();
            self.records.retain(|_| kept.next().copied().unwrap_or(true));
        }
    }

    /// The position in the source of the finding that renders finding `i`.
    pub(crate) fn render_at(&self, i: usize) -> Option<usize> {
        self.records.get(i).map(|r| r.position() as usize)
    }
}

impl NewFindings for Planned {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn id(&self, i: usize) -> Cow<'_, FindingKey> {
        let r = &self.records[i];
        match r.other().and_then(|n| self.others.get(n)) {
            Some(key) => Cow::Borrowed(key),
            None => Cow::Owned(FindingKey::from_parts(self.lifecycle, r.key)),
        }
    }

    fn content_hash(&self, i: usize) -> &[u8; 32] {
        &self.records[i].content
    }

    fn sighting_hash(&self, i: usize) -> &[u8; 32] {
        &self.records[i].sighting
    }

    fn cmp_ids(&self, a: usize, b: usize) -> Ordering {
        let (ra, rb) = (&self.records[a], &self.records[b]);
        match (ra.other(), rb.other()) {
            // One lifecycle: the ids order as their finding ids.
            (None, None) => ra.key.cmp(&rb.key),
            _ => self.id(a).cmp(&self.id(b)),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use scangate_core::lifecycle::state::NewFinding;
    use scangate_core::lifecycle::{LifecycleKey, ScanType};
    use scangate_core::Finding;

    pub(crate) fn ctx() -> AsffContext {
        AsffContext {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            scan_type: ScanType::Repo,
            target: "https://example.com/repo.git".into(),
            lifecycle: LifecycleKey::new("123456789012", "us-east-1", ScanType::Repo, "repo"),
            codebuild_project: Some("p".into()),
            build_arn: None,
            updated_at: "2026-12-02T00:00:00.000Z".into(),
            created_at: None,
            report_uri: Some("s3://b/scans/p/1/r.sarif".into()),
            host: None,
        }
    }

    /// What the processor held before: a [`NewFinding`] per distinct finding (first place,
    /// first hashes) and the position of its last occurrence.
    fn reference(findings: &[Finding], ctx: &AsffContext) -> (Vec<NewFinding>, Vec<usize>) {
        let ids: Vec<FindingKey> = findings.iter().map(|f| FindingKey::from(asff::finding_id(ctx, f))).collect();
        let mut out: (Vec<NewFinding>, Vec<usize>) = (Vec::new(), Vec::new());
        for (i, f) in findings.iter().enumerate() {
            if ids[..i].contains(&ids[i]) {
                continue;
            }
            let last = ids.iter().rposition(|id| *id == ids[i]).unwrap_or(i);
            out.0.push(NewFinding {
                id: ids[i].clone(),
                content_hash: asff::content_digest(f, ctx),
                sighting_hash: asff::sighting_digest(f, ctx),
                stub: Default::default(),
            });
            out.1.push(last);
        }
        out
    }

    /// Ids of both forms (64 hex, and hand-made ones), repeated in places, with texts that
    /// differ between occurrences: the compact form names, hashes, orders and renders each
    /// distinct finding as the vector of `NewFinding`s did.
    #[test]
    fn the_compact_findings_are_what_the_new_findings_were() {
        let mut rng = fastrand::Rng::with_seed(7);
        let ctx = ctx();
        for case in 0..60 {
            let mut findings = super::super::tests::findings(rng.u32(0..40), "text");
            for (n, f) in findings.iter_mut().enumerate() {
                let which = rng.u8(0..12);
                f.id = if which.is_multiple_of(3) { format!("short-{which}") } else { hex::encode([which; 32]) };
                f.title = format!("occurrence {n}");
            }
            let planned = Planned::read(&findings, &ctx).expect("in memory");
            let (want, renders) = reference(&findings, &ctx);
            assert_eq!(planned.len(), want.len(), "case {case}");
            for i in 0..want.len() {
                assert_eq!(*planned.id(i), want[i].id, "case {case}: {i}");
                assert_eq!(planned.content_hash(i), &want[i].content_hash, "case {case}: first hashes");
                assert_eq!(planned.sighting_hash(i), &want[i].sighting_hash);
                assert_eq!(planned.render_at(i), Some(renders[i]), "case {case}: rendered from the last");
                for j in 0..want.len() {
                    assert_eq!(planned.cmp_ids(i, j), want[i].id.cmp(&want[j].id), "case {case}: {i} vs {j}");
                }
            }
            assert_eq!(planned.render_at(want.len()), None);
        }
    }

    #[test]
    fn a_finding_that_cannot_be_read_is_the_error() {
        let failing = super::super::tests::Failing::new(5, 3, false);
        let err = Planned::read(&failing, &ctx()).err().expect("position 3 fails");
        assert_eq!(err.index, 3);
    }
}

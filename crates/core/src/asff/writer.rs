//! The streaming writer of a whole report's ASFF: a JSON array written one finding at a
//! time, byte-identical to serializing the [`render`](super::render)ed findings.

use super::model::RecordState;
use super::{build, shrink, AsffContext, Prepared, CAPS, FINDING_BYTES_BUDGET};
use crate::finding::Finding;

/// Writes `[finding, …]` as a JSON array, one finding at a time (no whole-array buffer).
///
/// Each finding is serialized once: straight into `w` when its size bound is under the
/// budget (the usual case), else into a reused buffer that both measures it and, when it
/// fits, is what gets written; only a finding over the budget is rendered again.
pub fn write_asff_array<W: std::io::Write>(findings: &[Finding], ctx: &AsffContext, mut w: W) -> std::io::Result<()> {
    let p = Prepared::new(ctx);
    let mut buf = Vec::new();
    w.write_all(b"[")?;
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let rendered = build(f, &p, &CAPS[0], RecordState::Active);
        if rendered.size_bound() <= FINDING_BYTES_BUDGET {
            serde_json::to_writer(&mut w, &rendered)?;
            continue;
        }
        buf.clear();
        serde_json::to_writer(&mut buf, &rendered)?;
        if buf.len() > FINDING_BYTES_BUDGET {
            buf.clear();
            serde_json::to_writer(&mut buf, &shrink(f, &p, RecordState::Active))?;
        }
        w.write_all(&buf)?;
    }
    w.write_all(b"]")
}

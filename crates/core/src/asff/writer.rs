//! The streaming writer of a whole report's ASFF: a JSON array written one finding at a
//! time, byte-identical to serializing the [`render`](super::render)ed findings.

use super::budget::{shrink, CAPS, FINDING_BYTES_BUDGET};
use super::json;
use super::mapping::{build, AsffContext, Prepared};
use super::model::RecordState;
use crate::finding::Finding;

/// Writes `[finding, …]` as a JSON array, one finding at a time (no whole-array buffer).
///
/// Each finding is serialized once (by [`json`], serde_json's bytes with a faster escape)
/// into a reused buffer, written to `w` every 64 KiB; when its size bound is over the
/// budget it is first measured in a second buffer and, when it does not fit, rendered again.
/// `findings` is anything that yields `&Finding` (a slice, a `Vec`, two chained slices), so a
/// caller need not copy findings into one list to write them.
pub fn write_asff_array<'f, W: std::io::Write>(
    findings: impl IntoIterator<Item = &'f Finding>,
    ctx: &AsffContext,
    mut w: W,
) -> std::io::Result<()> {
    // The per-context strings once; every finding borrows them.
    let prepared = Prepared::for_many(ctx);
    let p = prepared.borrowed();
    let (mut out, mut scratch) = (Vec::with_capacity(CHUNK + 4096), Vec::new());
    out.push(b'[');
    for (i, f) in findings.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_one(f, &p, &mut out, &mut scratch)?;
        if out.len() >= CHUNK {
            w.write_all(&out)?;
            out.clear();
        }
    }
    out.push(b']');
    w.write_all(&out)
}

/// What [`write_asff_array`] gathers before it writes.
const CHUNK: usize = 64 * 1024;

/// Appends one finding's ASFF to `out`: straight when its size bound is under the budget (the
/// usual case), else measured in `buf` and rendered again with tighter caps when over it.
fn write_one<'a>(f: &'a Finding, p: &Prepared<'a>, out: &mut Vec<u8>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let rendered = build(f, p, &CAPS[0], RecordState::Active);
    if rendered.size_bound() <= FINDING_BYTES_BUDGET {
        return Ok(json::to_writer(out, &rendered)?);
    }
    buf.clear();
    json::to_writer(buf, &rendered)?;
    if buf.len() > FINDING_BYTES_BUDGET {
        buf.clear();
        json::to_writer(buf, &shrink(f, p, RecordState::Active))?;
    }
    out.extend_from_slice(buf);
    Ok(())
}

/// Findings per batch a rendering thread of [`write_asff_slices`] hands over (about 1 MiB of
/// ASFF for scanner findings).
const BATCH: usize = 256;

/// Below this many findings [`write_asff_slices`] renders on the calling thread.
const PARALLEL_MIN: usize = 4 * BATCH;

/// At most this many rendering threads.
const MAX_THREADS: usize = 4;

/// The same bytes as [`write_asff_array`] of `parts` one after the other, rendered by up to
/// four threads (as many as the machine has cores) when there are over a thousand findings:
/// each renders every n-th batch of 256 findings into its own buffer, and the calling
/// thread writes the buffers in order. Memory: at most three batches per thread at a time.
pub fn write_asff_slices<W: std::io::Write>(parts: &[&[Finding]], ctx: &AsffContext, w: W) -> std::io::Result<()> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS);
    if threads < 2 || total < PARALLEL_MIN {
        return write_asff_array(parts.iter().flat_map(|p| p.iter()), ctx, w);
    }
    write_parallel(parts, ctx, w, threads, BATCH)
}

fn write_parallel<W: std::io::Write>(
    parts: &[&[Finding]],
    ctx: &AsffContext,
    mut w: W,
    threads: usize,
    batch: usize,
) -> std::io::Result<()> {
    use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
    let prepared = Prepared::for_many(ctx);
    let p = prepared.borrowed();
    let batches: Vec<&[Finding]> = parts.iter().flat_map(|part| part.chunks(batch.max(1))).collect();
    w.write_all(b"[")?;
    std::thread::scope(|s| -> std::io::Result<()> {
        let mut receivers: Vec<Receiver<std::io::Result<Vec<u8>>>> = Vec::with_capacity(threads);
        // Written buffers go back to their thread to be filled again: the same few megabytes
        // are reused instead of allocating (and faulting in) fresh memory for every batch.
        let mut returns: Vec<Sender<Vec<u8>>> = Vec::with_capacity(threads);
        for k in 0..threads {
            let (tx, rx) = sync_channel(2);
            let (back, returned) = channel::<Vec<u8>>();
            receivers.push(rx);
            returns.push(back);
            let (batches, p) = (&batches, &p);
            s.spawn(move || {
                let mut scratch = Vec::new();
                for (n, findings) in batches.iter().enumerate().skip(k).step_by(threads) {
                    let mut out = returned.try_recv().unwrap_or_else(|_| Vec::with_capacity(findings.len() * 4096));
                    let rendered = findings.iter().enumerate().try_for_each(|(i, f)| {
                        // A comma before every finding but the very first.
                        if n > 0 || i > 0 {
                            out.push(b',');
                        }
                        write_one(f, p, &mut out, &mut scratch)
                    });
                    // The writer stopped (an error): nothing more to render.
                    if tx.send(rendered.map(|()| out)).is_err() {
                        return;
                    }
                }
            });
        }
        for n in 0..batches.len() {
            let stopped = || std::io::Error::other("an ASFF rendering thread stopped");
            let mut buf = receivers[n % threads].recv().map_err(|_| stopped())??;
            // On an error the receivers are dropped on return: the threads stop at their next batch.
            w.write_all(&buf)?;
            buf.clear();
            // The thread may have finished its last batch: then the buffer is freed here.
            let _ = returns[n % threads].send(buf);
        }
        Ok(())
    })?;
    w.write_all(b"]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asff::budget::render;
    use crate::asff::model::AsffFinding;
    use crate::asff::test_strategies::{context, finding};
    use crate::finding::{FindingKind, Package, Scanner};
    use crate::lifecycle::{LifecycleKey, ScanType};
    use crate::severity::{Severity, SeveritySource};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// The threaded writer writes what the one-thread writer writes, whatever the batch
        /// size, thread count and split into parts.
        #[test]
        fn threaded_writer_matches_array_writer(
            fs in prop::collection::vec(finding(), 0..12),
            split in 0usize..12,
            threads in 2usize..4,
            batch in 1usize..4,
            ctx in context(),
        ) {
            let mut expected = Vec::new();
            write_asff_array(&fs, &ctx, &mut expected).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (a, b) = fs.split_at(split.min(fs.len()));
            let mut written = Vec::new();
            write_parallel(&[a, b], &ctx, &mut written, threads, batch).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(written, expected);
        }

        #[test]
        fn array_writer_matches_render(fs in prop::collection::vec(finding(), 0..4), ctx in context()) {
            let mut written = Vec::new();
            write_asff_array(&fs, &ctx, &mut written).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let rendered: Vec<AsffFinding> = fs.iter().map(|f| render(f, &ctx)).collect();
            let expected = serde_json::to_vec(&rendered).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(written, expected);
        }
    }

    /// Findings over the budget take the measuring path, and the writer writes what
    /// `render` returns for them (the tighter caps).
    #[test]
    fn oversized_findings_are_measured_and_shrunk() {
        let ctx = AsffContext {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            partition: "aws".into(),
            scan_type: ScanType::Other,
            target: "\u{1}".repeat(4000),
            lifecycle: LifecycleKey::new("123456789012", "eu-west-1", ScanType::Other, "t"),
            codebuild_project: Some("p".into()),
            build_arn: None,
            updated_at: "2026-01-31T12:00:00Z".into(),
            created_at: None,
            report_uri: None,
            host: None,
        };
        let f = Finding {
            id: "a".repeat(64),
            rule_id: "r".into(),
            title: "t".into(),
            description: "\u{2}".repeat(100_000),
            severity: Severity::High,
            severity_source: SeveritySource::Level,
            severity_original: "error".into(),
            kind: FindingKind::Vulnerability,
            class: Default::default(),
            cves: (0..500).map(|i| format!("CVE-2024-{:05}", 10_000 + i)).collect(),
            cvss_score: Some(9.8),
            cvss_vector: Some("\u{3}".repeat(5000).into()),
            package: Some(
                Package {
                    name: "\u{4}".repeat(5000),
                    installed_version: Some("\u{5}".repeat(5000)),
                    fixed_version: Some("\u{6}".repeat(5000)),
                    purl: None,
                }
                .into(),
            ),
            layer: Some("\u{7}".repeat(5000)),
            location: None,
            help_uri: Some(format!("https://x.example/{}", "y".repeat(2000)).into()),
            help_text: None,
            tags: vec!["\u{8}".repeat(5000)].into(),
            scanner: Scanner { name: "s".into(), version: None }.into(),
            qds: None,
            fingerprint: None,
            occurrences: 1,
            exception: None,
            suppression: None,
        };
        let p = Prepared::new(&ctx);
        assert!(build(&f, &p, &CAPS[0], RecordState::Active).serialized_len() > FINDING_BYTES_BUDGET);
        let rendered = render(&f, &ctx);
        assert!(rendered.serialized_len() <= FINDING_BYTES_BUDGET);
        let mut written = Vec::new();
        write_asff_array(std::slice::from_ref(&f), &ctx, &mut written).expect("write");
        let expected = serde_json::to_vec(&[rendered]).expect("serialize");
        assert_eq!(written, expected);
    }
}

//! The report's findings in the function's ephemeral storage, not in its memory
//! (docs/scale.md, "Memory"): the reader spills each distinct finding to a file in the temp dir
//! as it first meets it ([`scangate_core::sarif::read_sarif_spilled`]); the evaluation reads
//! them once, in order, and writes the findings it keeps to a second pair of files
//! ([`KeptSpills`]); the results and the Security Hub step read those by position. Memory holds
//! a few dozen bytes per distinct finding, whatever its text.

use scangate_core::spill::{Spill, SpillWriter};
use scangate_core::Finding;
use std::path::Path;

/// The share of the temp dir's free space a report's spilled findings may take as it is read:
/// the rest is for the evaluated findings (at most as many bytes again) and the lifecycle
/// state object's body (about 0.8 KB per finding the lifecycle holds).
pub(crate) const SPILL_SHARE: u64 = 4;

/// Where the spills go: the process's temp dir (`/tmp` in Lambda, `ProcessorEphemeralStorage`).
pub(crate) fn spill_dir() -> std::path::PathBuf {
    std::env::temp_dir()
}

/// The bytes a report's spilled findings may take in `dir`: [`SPILL_SHARE`] of its free space
/// now; a fixed 128 MiB (a quarter of Lambda's free 512 MB) when the free space cannot be read.
pub(crate) fn spill_budget(dir: &Path) -> u64 {
    match rustix::fs::statvfs(dir) {
        Ok(s) => s.f_bavail.saturating_mul(s.f_frsize) / SPILL_SHARE,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "the temp dir's free space is unknown: spill capped at 128 MiB");
            128 * 1024 * 1024
        }
    }
}

/// Why the evaluated findings could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpillFailed {
    /// The temp dir refused a write (full, gone): the event is retried.
    #[error("writing the evaluated findings to the temp dir: {0}")]
    Io(#[from] std::io::Error),
    /// They would take more than the budget: the same report would fail again.
    #[error(
        "its evaluated findings (with their waivers and VEX statements) would take more than {0} bytes of the \
         temp dir"
    )]
    TooLarge(u64),
}

/// The findings the evaluation keeps, as it hands them over: those counted and imported, and
/// the suppressed ones (imported with their justification). Quality findings that are not
/// gated are only counted: none is kept.
pub(crate) struct KeptSpills {
    findings: SpillWriter,
    suppressed: SpillWriter,
    budget: u64,
}

impl KeptSpills {
    pub(crate) fn new(dir: &Path, name: &str, budget: u64) -> std::io::Result<KeptSpills> {
        let writer =
            |what: &str| SpillWriter::new(dir).map(|w| w.named(format!("{name}: {what} spilled to {}", dir.display())));
        Ok(KeptSpills { findings: writer("evaluated findings")?, suppressed: writer("suppressed findings")?, budget })
    }

    /// Keeps `f` in its group (quality findings are dropped).
    pub(crate) fn keep(&mut self, group: scangate_core::evaluate::Group, f: &Finding) -> Result<(), SpillFailed> {
        use scangate_core::evaluate::Group;
        let spent = self.findings.bytes().saturating_add(self.suppressed.bytes());
        let room = Some(self.budget.saturating_sub(spent));
        let writer = match group {
            Group::Findings => &mut self.findings,
            Group::Suppressed => &mut self.suppressed,
            Group::Quality => return Ok(()),
        };
        // `room` is what is left of the budget: the writer's limit is its own file's end.
        let limit = room.map(|r| writer.bytes().saturating_add(r));
        if writer.push_within(f, limit)? {
            Ok(())
        } else {
            Err(SpillFailed::TooLarge(self.budget))
        }
    }

    /// The findings and the suppressed findings, to read by position.
    pub(crate) fn finish(self) -> std::io::Result<(Spill, Spill)> {
        Ok((self.findings.finish()?, self.suppressed.finish()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scangate_core::evaluate::Group;
    use scangate_core::FindingSource;

    fn finding(id: &str) -> Finding {
        let mut f = scangate_testkit::findings::finding(
            id,
            scangate_core::Severity::High,
            scangate_core::FindingKind::Vulnerability,
        );
        f.description = "d".repeat(200);
        f
    }

    #[test]
    fn kept_findings_go_to_their_group_and_quality_ones_nowhere() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut kept = KeptSpills::new(dir.path(), "r.sarif", u64::MAX).expect("spills");
        for (group, id) in
            [(Group::Findings, "a"), (Group::Quality, "q"), (Group::Suppressed, "s"), (Group::Findings, "b")]
        {
            kept.keep(group, &finding(id)).expect("room");
        }
        let (findings, suppressed) = kept.finish().expect("finished");
        let ids = |s: &Spill| (0..s.len()).map(|i| s.get(i).expect("read back").id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&findings), ["a", "b"]);
        assert_eq!(ids(&suppressed), ["s"]);
        assert_eq!(findings.get(0).expect("read back").into_owned(), finding("a"));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "the files have no name");
    }

    #[test]
    fn the_budget_covers_both_files_and_refuses_past_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut probe = KeptSpills::new(dir.path(), "r.sarif", u64::MAX).expect("spills");
        probe.keep(Group::Findings, &finding("a")).expect("room");
        let one = probe.findings.bytes();
        assert!(one > 200, "a record holds the description: {one}");
        // Room for three records in all, whatever their group.
        let mut kept = KeptSpills::new(dir.path(), "r.sarif", 3 * one + one / 2).expect("spills");
        kept.keep(Group::Findings, &finding("a")).expect("room");
        kept.keep(Group::Suppressed, &finding("b")).expect("room");
        kept.keep(Group::Findings, &finding("c")).expect("room");
        let err = kept.keep(Group::Suppressed, &finding("d")).expect_err("over the budget");
        assert!(matches!(err, SpillFailed::TooLarge(_)), "{err}");
        // Quality findings take nothing.
        kept.keep(Group::Quality, &finding("q")).expect("nothing written");
    }

    #[test]
    fn the_budget_is_a_share_of_the_free_space() {
        let dir = tempfile::tempdir().expect("temp dir");
        let budget = spill_budget(dir.path());
        assert!(budget > 0);
        let missing = dir.path().join("gone");
        assert_eq!(spill_budget(&missing), 128 * 1024 * 1024, "unknown free space");
    }
}

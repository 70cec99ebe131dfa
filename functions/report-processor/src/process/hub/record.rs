//! The record of one report version's import: the verdict's counts and time (fixed by the
//! first delivery that planned the version, [`verdict_counts`]), written into the results
//! before anything is sent, and the applied result an attempt leaves ([`applied`]).

use super::send::Sent;
use super::Work;
use crate::process::hub_doc::RETRY_NOTE;
use crate::process::results::{Results, Written};
use crate::process::state_object::{AppliedResult, HubStatus, ImportProgress};
use crate::process::{Processor, Transient};
use scangate_aws::codebuild::CodeBuildOps;
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;

/// Where the verdict's counts and time come from.
#[derive(Debug, PartialEq)]
pub(crate) enum CountsFrom<'r> {
    /// The results as they stand: written by this delivery (an earlier attempt of it), or
    /// taken from the verdict.json an earlier delivery wrote before its write-ahead.
    Results,
    /// This version's record in the state: an earlier delivery planned it.
    Record(&'r AppliedResult),
    /// This attempt's plan: the first delivery that plans the version.
    Plan,
}

/// The rule for the verdict's counts and time: fixed by the first delivery that planned
/// this version. Once this delivery wrote them, they stay; else this version's record in
/// the state (`mine`); else the verdict.json an earlier delivery wrote (it stopped before
/// its write-ahead); else this plan.
pub(crate) fn verdict_counts(written: Written, mine: Option<&AppliedResult>) -> CountsFrom<'_> {
    match (written, mine) {
        (Written::Yes { .. }, _) | (Written::NotYet { earlier: true }, None) => CountsFrom::Results,
        (Written::NotYet { .. }, Some(m)) => CountsFrom::Record(m),
        (Written::NotYet { earlier: false }, None) => CountsFrom::Plan,
    }
}

/// The record of this attempt, as written ahead, and where the import stood before it.
pub(crate) struct Recorded {
    /// Pending, with the verdict's counts and what `base` reached.
    pub record: AppliedResult,
    /// The progress of this version's record in the state, if there was one.
    pub base: Option<ImportProgress>,
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Fixes the verdict's counts ([`verdict_counts`]) and writes the results (verdict
    /// first: once the plan has counted, before the write-ahead and any Security Hub call);
    /// returns the record the attempt writes ahead.
    pub(super) async fn record_results(
        &self,
        results: &mut Results<'_>,
        mine: Option<&AppliedResult>,
        work: &Work,
        now: &str,
    ) -> Result<Recorded, Transient> {
        if !results.written.is_written() && mine.is_none() {
            self.adopt_earlier_verdict(results).await?;
        }
        let (imported, archived, processed_at) = match verdict_counts(results.written, mine) {
            CountsFrom::Results => {
                let v = &results.verdict;
                (v.findings_imported, v.findings_archived, v.processed_at.clone())
            }
            CountsFrom::Record(m) => (m.imported, m.archived, m.processed_at.clone()),
            CountsFrom::Plan => (work.imports.len() as u64, work.archives.len() as u64, now.to_string()),
        };
        let base = mine.map(AppliedResult::progress);
        let record = AppliedResult {
            report: results.verdict.report.clone(),
            imported,
            archived,
            processed_at,
            import: Some(ImportProgress {
                status: HubStatus::Pending,
                imported: base.as_ref().map_or(0, |b| b.imported),
                archived: base.as_ref().map_or(0, |b| b.archived),
                failed: 0,
                warnings: Vec::new(),
                updated_at: now.to_string(),
            }),
        };
        self.write_results_first(results, Some(&record), false).await?;
        Ok(Recorded { record, base })
    }
}

/// The applied result an attempt leaves: `record` (as written ahead: pending, with the
/// counts `base` reached) plus what the attempt got accepted, its failures (a warning
/// naming the first), and its status. A finished import is not counted again (a refresh
/// of REFRESH_DAYS 0); an unfinished one adds what this attempt got accepted; one that
/// was finished and finishes again stays as recorded (an identical redelivery, a refresh).
pub(crate) fn applied(mut record: AppliedResult, base: Option<&ImportProgress>, a: &Sent) -> AppliedResult {
    let adds = base.is_none_or(|b| b.status != HubStatus::Done);
    let mut warnings = Vec::new();
    if let Some(first) = a.failed.first() {
        warnings.push(format!(
            "{} finding(s) were not accepted by Security Hub (first: {} {}: {}){}",
            a.failed.len(),
            first.id,
            first.code,
            first.message,
            if a.retry_event || a.stopped { RETRY_NOTE } else { "" }
        ));
    }
    if let Some(p) = record.import.as_mut() {
        if adds {
            p.imported += a.imported;
            p.archived += a.archived;
        }
        p.failed = a.failed.len() as u64;
        p.warnings = warnings;
        p.status = if a.stopped {
            HubStatus::Pending
        } else if a.failed.is_empty() {
            HubStatus::Done
        } else {
            HubStatus::Failed
        };
    }
    if base.is_some_and(|b| b.status == HubStatus::Done)
        && record.import.as_ref().is_some_and(|p| p.status == HubStatus::Done)
    {
        record.import = base.cloned();
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use scangate_aws::securityhub::FailedFinding;
    use scangate_core::verdict::ReportRef;

    fn pending(imported: u64, archived: u64) -> AppliedResult {
        AppliedResult {
            report: ReportRef {
                bucket: Some("b".into()),
                key: "scans/p/1/r.sarif".into(),
                version_id: None,
                etag: None,
            },
            imported: 3,
            archived: 1,
            processed_at: "2026-11-23T08:05:00.000Z".into(),
            import: Some(ImportProgress {
                status: HubStatus::Pending,
                imported,
                archived,
                failed: 0,
                warnings: Vec::new(),
                updated_at: "2026-11-23T09:00:00.000Z".into(),
            }),
        }
    }

    #[test]
    fn the_verdict_counts_are_fixed_by_the_first_delivery_that_planned_the_version() {
        let mine = pending(0, 0);
        let cases = [
            // (results, record of this version in the state, counts from)
            (Written::NotYet { earlier: false }, None, CountsFrom::Plan),
            (Written::NotYet { earlier: false }, Some(&mine), CountsFrom::Record(&mine)),
            (Written::NotYet { earlier: true }, None, CountsFrom::Results),
            // Adopted in an attempt that lost its write-ahead; the rival's record wins.
            (Written::NotYet { earlier: true }, Some(&mine), CountsFrom::Record(&mine)),
            (Written::Yes { earlier: false }, None, CountsFrom::Results),
            (Written::Yes { earlier: false }, Some(&mine), CountsFrom::Results),
            (Written::Yes { earlier: true }, None, CountsFrom::Results),
            (Written::Yes { earlier: true }, Some(&mine), CountsFrom::Results),
        ];
        for (written, record, expected) in cases {
            assert_eq!(verdict_counts(written, record), expected, "{written:?}, record: {}", record.is_some());
        }
    }

    #[test]
    fn applied_results_count_what_was_accepted() {
        let sent = |imported, archived, failed: &[FailedFinding], stopped| Sent {
            imported,
            archived,
            failed: failed.to_vec(),
            stopped,
            ..Sent::default()
        };
        // A first delivery that sends everything.
        let done = applied(pending(0, 0), None, &sent(3, 1, &[], false));
        let p = done.import.clone().expect("progress");
        assert_eq!((p.status, p.imported, p.archived, p.failed), (HubStatus::Done, 3, 1, 0));
        // Stopped at a checkpoint: pending, and the next attempt adds to what was reached.
        let part = applied(pending(0, 0), None, &sent(2, 0, &[], true));
        let base = part.import.clone().expect("progress");
        assert_eq!((base.status, base.imported), (HubStatus::Pending, 2));
        let rest = applied(pending(2, 0), Some(&base), &sent(1, 1, &[], false));
        let p = rest.import.expect("progress");
        assert_eq!((p.status, p.imported, p.archived), (HubStatus::Done, 3, 1));
        // A finished import that finishes again stays as recorded, updated_at included.
        let finished = done.import.clone().expect("progress");
        let again = applied(pending(3, 1), Some(&finished), &sent(3, 0, &[], false));
        assert_eq!(again.import, Some(finished.clone()));
        // Failures: the first is named; a checkpoint marks it for another delivery.
        let failed = [FailedFinding { id: "f1".into(), code: "InvalidInput".into(), message: "bad".into() }];
        let f = applied(pending(0, 0), None, &sent(2, 0, &failed, false)).import.expect("progress");
        assert_eq!((f.status, f.failed), (HubStatus::Failed, 1));
        assert_eq!(f.warnings, ["1 finding(s) were not accepted by Security Hub (first: f1 InvalidInput: bad)"]);
        let f = applied(pending(0, 0), None, &sent(2, 0, &failed, true)).import.expect("progress");
        assert_eq!(f.status, HubStatus::Pending);
        assert!(f.warnings[0].ends_with(RETRY_NOTE), "{:?}", f.warnings);
        // Failures after a finished import: not counted again, status failed.
        let f = applied(pending(3, 1), Some(&finished), &sent(2, 0, &failed, false)).import.expect("progress");
        assert_eq!((f.status, f.imported, f.archived), (HubStatus::Failed, 3, 1));
    }
}

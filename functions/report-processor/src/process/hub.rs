//! The Security Hub step of one report, as named steps ([`Processor::security_hub`]): read
//! the lifecycle state, plan against it, record the results (verdict first: they wait only
//! on the plan's counts, never on Security Hub), write ahead, send the ASFF into the sink in
//! request-sized chunks until done or until the invocation's deadline is near, and finish:
//! the next state with the outcome in the state object and in
//! `results/<project>/<build-id>/hub.json`. An import stopped by the deadline is a
//! checkpoint: the state holds what Security Hub confirmed, and the next delivery of the
//! same report plans only the rest. See docs/report-processor.md.

#[cfg(test)]
mod fixture;
mod next;
mod planned;
mod record;
mod send;
mod write_ahead;

use super::hub_doc::HubDoc;
use super::meta::ReportMeta;
use super::previous::{read_previous, Previous};
use super::results::Results;
use super::state_object::{state_body, AppliedResult, StateBody};
use super::{Delivery, Processor, Transient};
use crate::config::{Config, LifecycleMode};
use crate::metrics::ReportMetrics;
use next::NextState;
use planned::Planned;
use record::Recorded;
use scangate_aws::codebuild::CodeBuildOps;
use scangate_aws::s3::{Condition, ReportStore, StoreError};
use scangate_aws::securityhub::{FailedFinding, FindingSink};
use scangate_core::asff::{AsffContext, FindingStub, StubInterner};
use scangate_core::contract;
use scangate_core::lifecycle::state::{self, FindingKey, Held, NewFindings, Plan, ReportMark, Stamp, StateError, Stub};
use scangate_core::lifecycle::{self, LifecycleKey};
use scangate_core::source::{FindingSource, SourceError};
use scangate_core::verdict::{BuildRef, ReportRef};
use send::Sent;
use std::time::Instant;
use write_ahead::InFlight;

pub use write_ahead::IN_FLIGHT;

/// Findings rendered to ASFF and handed to the sink at once: four requests of 100, what
/// the sink's four workers send in parallel. Memory for ASFF is bounded by this, whatever
/// the number of findings to import.
pub(super) const IMPORT_CHUNK: usize = 400;

/// Attempts of the step against a state object that keeps changing (412) meanwhile.
pub(crate) const STATE_ATTEMPTS: u32 = 5;

/// What the Security Hub step imports for one report, built from the delivery: the ASFF
/// context (with the lifecycle key), the report's place in its lifecycle, the lifecycle's
/// state object, the report's findings as the planner sees them ([`Planned`]: ids and
/// hashes, each with the position of the finding that renders it) and where those findings
/// are read from again (memory, or the file the reader spilled them to).
pub(crate) struct Import<'f> {
    ctx: AsffContext,
    mark: ReportMark,
    state_key: String,
    new: Planned,
    source: &'f dyn FindingSource,
}

/// What the report says about itself, as the Security Hub step's inputs need it.
pub(crate) struct ReportFacts<'a> {
    pub meta: &'a ReportMeta,
    /// The verdict's target ("" when none).
    pub target: &'a str,
    /// The key's project segment.
    pub project: &'a str,
    pub build: Option<&'a BuildRef>,
    pub now: &'a str,
}

impl<'f> Import<'f> {
    /// `findings`: what the report imports, the suppressed findings included (they stay
    /// visible, ACTIVE, with their justification; docs/security.md, "Suppressions"), read
    /// once here, in order, and again by position as chunks are rendered and stubs built.
    /// A finding that cannot be read is a [`Transient`]: the event comes again.
    pub(crate) fn new(
        config: &Config,
        d: &Delivery<'_>,
        facts: &ReportFacts<'_>,
        findings: &'f dyn FindingSource,
    ) -> Result<Self, Transient> {
        let ctx = asff_context(config, d, facts);
        let mark = report_mark(d, facts);
        let state_key = contract::state_key(&ctx.lifecycle.hash());
        let new = Planned::read(findings, &ctx).map_err(unreadable)?;
        Ok(Import { ctx, mark, state_key, new, source: findings })
    }
}

/// The previous state could not be read back from the temp dir (or the object could not be
/// read): the delivery fails and is retried.
fn unread(e: StateError) -> Transient {
    Transient(e.to_string())
}

/// A finding the Security Hub step could not read back: the delivery fails and is retried
/// (what was written ahead stays in flight, so nothing is lost).
fn unreadable(e: SourceError) -> Transient {
    Transient(format!("Security Hub step: {e}"))
}

/// The lifecycle a report belongs to (docs/report-processor.md, "Lifecycle identity"): the
/// report's own key, or what the runner recorded about the target, never the build's
/// checkout path.
fn lifecycle_key(config: &Config, d: &Delivery<'_>, facts: &ReportFacts<'_>) -> LifecycleKey {
    let (obj, id) = (d.obj, d.id);
    if !d.provenance.is_verified() {
        // IMPORT_UNVERIFIED: a namespace of the object key, apart from every verified
        // lifecycle (docs/security.md, "Provenance").
        return LifecycleKey::for_report(&id.account_id, &id.region, &obj.bucket, &obj.key)
            .owned_by(Some("unverified"));
    }
    let key = match config.lifecycle {
        LifecycleMode::Report => LifecycleKey::for_report(&id.account_id, &id.region, &obj.bucket, &obj.key),
        LifecycleMode::Target => {
            let project = facts.build.and_then(|b| b.project.as_deref()).unwrap_or(facts.project);
            let identity = lifecycle::identity(&facts.meta.target_inputs(facts.target, project));
            LifecycleKey::new(&id.account_id, &id.region, facts.meta.scan_type, &identity)
        }
    };
    // Only its owner's later verified scans refresh or archive what a verified scan imported.
    key.owned_by(d.provenance.owner().as_deref())
}

/// The ASFF context of a report's findings.
fn asff_context(config: &Config, d: &Delivery<'_>, facts: &ReportFacts<'_>) -> AsffContext {
    let (obj, id, meta) = (d.obj, d.id, facts.meta);
    let report_uri = format!("s3://{}/{}", obj.bucket, obj.key);
    AsffContext {
        account_id: id.account_id.clone(),
        region: id.region.clone(),
        partition: id.partition.clone(),
        scan_type: meta.scan_type,
        target: if facts.target.is_empty() { report_uri.clone() } else { facts.target.to_string() },
        lifecycle: lifecycle_key(config, d, facts),
        codebuild_project: facts.build.and_then(|b| b.project.clone()),
        build_arn: meta.build_arn.clone(),
        updated_at: facts.now.to_string(),
        created_at: None,
        report_uri: Some(report_uri),
        host: meta.host.clone(),
    }
}

/// The report's place in its lifecycle: the scan time it claims (as checked), else when S3
/// got it, else the event's time, else now.
fn report_mark(d: &Delivery<'_>, facts: &ReportFacts<'_>) -> ReportMark {
    let (obj, head) = (d.obj, d.head);
    ReportMark {
        report_time: facts
            .meta
            .scanned_at
            .clone()
            .or_else(|| head.last_modified.clone())
            .or_else(|| obj.event_time.clone())
            .unwrap_or_else(|| facts.now.to_string()),
        sequencer: obj.sequencer.clone(),
        bucket: obj.bucket.clone(),
        key: obj.key.clone(),
        version_id: head.version_id.clone(),
    }
}

/// What the Security Hub step did in this delivery.
#[derive(Default)]
pub(crate) struct HubResult {
    pub imported: u64,
    pub archived: u64,
    pub unchanged: u64,
    pub failed: Vec<FailedFinding>,
    pub calls: u64,
    pub throttled_retries: u64,
    pub stale: bool,
    pub retry_event: bool,
    /// Stopped at a checkpoint before the deadline: the event must come again.
    pub pending: bool,
}

impl HubResult {
    pub(crate) fn metrics(&self, findings: u64, started: Instant) -> ReportMetrics {
        ReportMetrics {
            findings,
            imported: self.imported,
            archived: self.archived,
            unchanged: self.unchanged,
            failed: self.failed.len() as u64,
            import_calls: self.calls,
            throttled_retries: self.throttled_retries,
            processing_ms: started.elapsed().as_millis() as u64,
        }
    }
}

/// The lifecycle state as one attempt read it.
struct ReadState {
    /// None: the lifecycle is new.
    previous: Option<Previous>,
    /// This report version's record: an earlier delivery planned it (and may have imported
    /// part or all of it).
    mine: Option<AppliedResult>,
    /// What a write of the state object needs: the ETag read, or that there is none.
    condition: Condition,
}

/// What the plan sends: the imports (indices into the import's findings) with the
/// `created_at` the state holds for each, and the archives whose stub the state kept (in id
/// order); an archive without one is reported instead (`unarchivable`).
struct Work {
    imports: Vec<u32>,
    /// By position in `imports`: when the finding was first imported (None: new). Empty when
    /// there is no previous state.
    created_at: Vec<Option<Stamp>>,
    archives: Vec<FindingKey>,
    unarchivable: Vec<FailedFinding>,
}

impl Work {
    /// The work of `plan`, in one pass over `previous` (merged by id with the imports and the
    /// archives, stopping once both are past); a failed read of it is the error.
    fn of(plan: &Plan, previous: Option<&Previous>, import: &Import<'_>) -> Result<Work, StateError> {
        let new = &import.new;
        // Indices below the findings' number, which Planned keeps below u32::MAX.
        let imports: Vec<u32> = plan.imports().filter(|&i| i < new.len()).map(|i| i as u32).collect();
        let mut created_at = Vec::new();
        let (mut archives, mut unarchivable) = (Vec::new(), Vec::new());
        let mut no_stub = |fid: &FindingKey| {
            unarchivable.push(FailedFinding {
                id: fid.to_string(),
                code: "StateStubUnreadable".into(),
                message: format!("the state object {} has no usable stub for this finding", import.state_key),
            })
        };
        if let Some(previous) = previous {
            created_at = vec![None; imports.len()];
            // The imports' positions in id order (each id once: the plan names an id once).
            let mut by_id: Vec<u32> = (0..imports.len() as u32).collect();
            by_id.sort_unstable_by(|&a, &b| new.cmp_ids(imports[a as usize] as usize, imports[b as usize] as usize));
            let mut imported = by_id.iter().map(|&p| (p as usize, new.id(imports[p as usize] as usize))).peekable();
            let mut archived = plan.archive.iter().peekable();
            // The stubs are read only to see which archives have one.
            let pass = if plan.archive.is_empty() { previous.entries_without_stubs() } else { previous.entries() };
            for held in pass {
                if imported.peek().is_none() && archived.peek().is_none() {
                    break;
                }
                let (id, e) = held?;
                while imported.next_if(|(_, i)| **i < *id).is_some() {}
                if let Some((p, _)) = imported.next_if(|(_, i)| **i == *id) {
                    created_at[p] = Some(e.created_at.clone());
                }
                while let Some(gone) = archived.next_if(|a| **a < *id) {
                    no_stub(gone);
                }
                if let Some(fid) = archived.next_if(|a| **a == *id) {
                    if e.stub.typed().is_some() {
                        archives.push(fid.clone());
                    } else {
                        no_stub(fid);
                    }
                }
            }
            archived.for_each(&mut no_stub);
        } else {
            plan.archive.iter().for_each(&mut no_stub);
        }
        Ok(Work { imports, created_at, archives, unarchivable })
    }

    fn any(&self) -> bool {
        !self.imports.is_empty() || !self.archives.is_empty()
    }
}

/// Where the stub the state keeps for an imported finding comes from: built when its entry
/// is serialized (the write-ahead's and the next state's, so twice per import), never held
/// in a vector beside the findings. The planner needs no stub, so none is built before the
/// plan, and only the imported findings get one (none for a rescan that changes nothing).
#[derive(Clone, Copy)]
pub(crate) enum StubSource<'a> {
    /// From the finding that renders it, read from `findings` at the position `new` holds
    /// for its index, in the report's context.
    Render { new: &'a Planned, findings: &'a dyn FindingSource, ctx: &'a AsffContext },
    /// Built already, by index (tests).
    #[cfg(test)]
    Built(&'a [Stub]),
}

impl<'a> StubSource<'a> {
    fn of(import: &'a Import<'_>) -> StubSource<'a> {
        StubSource::Render { new: &import.new, findings: import.source, ctx: &import.ctx }
    }

    /// The stub of the finding at index `i`, as the entry of `id` holds it (none when there
    /// is no such finding); the texts stubs share are held once in `interner` (one per body
    /// serialized), the id is the entry's key, not held again. A finding that cannot be
    /// read back is the error (the body is not written).
    fn stub(&self, i: usize, id: &FindingKey, interner: &mut StubInterner) -> Result<Stub, SourceError> {
        match self {
            StubSource::Render { new, findings, ctx } => match new.render_at(i) {
                None => Ok(Stub::None),
                Some(at) => {
                    let finding = findings.get(at)?;
                    Ok(Stub::from(FindingStub::new_in(&finding, ctx, interner)).keyed(id))
                }
            },
            #[cfg(test)]
            StubSource::Built(stubs) => Ok(stubs.get(i).cloned().unwrap_or_default().keyed(id)),
        }
    }
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// The Security Hub step. Writes the results (through [`Self::write_results_first`])
    /// as soon as the plan has counted: before the write-ahead and any BatchImportFindings
    /// call. A state object that changed meanwhile (412) is read and planned again.
    pub(crate) async fn security_hub(
        &self,
        sink: &K,
        d: &Delivery<'_>,
        import: &Import<'_>,
        results: &mut Results<'_>,
    ) -> Result<HubResult, Transient> {
        let mut total = HubResult::default();
        for attempt in 1..=STATE_ATTEMPTS {
            let ReadState { previous, mine, condition } =
                self.read_lifecycle_state(import, &results.verdict.report).await?;
            let plan = state::plan_over(
                previous.as_ref(),
                &import.new,
                &import.mark,
                d.now,
                self.config.refresh_days,
                self.config.import_on,
            )
            .map_err(unread)?;
            if plan.ignore_as_stale {
                tracing::info!(lifecycle = %import.ctx.lifecycle.key, "report older than the applied one: ignored");
                total.stale = true;
                self.write_results_first(results, None, true).await?;
                self.write_hub_superseded(results).await?;
                return Ok(total);
            }
            let work = Work::of(&plan, previous.as_ref(), import).map_err(unread)?;
            let recorded = self.record_results(results, mine.as_ref(), &work, &import.ctx.updated_at).await?;
            let condition = if work.any() {
                // The stubs of what is imported: built only now, as the write-ahead is written.
                let view = InFlight::of(
                    previous.as_ref(),
                    &import.ctx.lifecycle.key,
                    &import.ctx.updated_at,
                    &plan,
                    &import.new,
                    &work.imports,
                    StubSource::of(import),
                );
                let Some(next) = self.write_ahead(import, &view, &recorded.record, condition, attempt).await? else {
                    continue;
                };
                self.write_hub(results, &HubDoc::from_result(&recorded.record)).await?;
                next
            } else {
                condition
            };
            let sent = self.send(sink, import, &work, previous.as_ref(), d.deadline).await?;
            total.calls += sent.calls;
            total.throttled_retries += sent.throttled_retries;
            let attempt = Attempt { previous, mine, plan, recorded, sent, work: work.any(), condition, attempt };
            if self.finish(results, import, attempt, &mut total).await? {
                return Ok(total);
            }
        }
        Err(Transient(format!("state object {} kept changing during {STATE_ATTEMPTS} attempts", import.state_key)))
    }
}

/// What one attempt carries into its last step, [`Processor::finish`].
struct Attempt {
    previous: Option<Previous>,
    mine: Option<AppliedResult>,
    plan: Plan,
    recorded: Recorded,
    sent: Sent,
    /// The plan imports or archives something.
    work: bool,
    condition: Condition,
    attempt: u32,
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Reads the lifecycle's state object, streamed: the state grows with the lifecycle's
    /// findings, so its header is kept and its entries go to a file in the temp dir
    /// ([`Previous`]), which each step reads again. `report`: the report version this delivery
    /// is for.
    async fn read_lifecycle_state(&self, import: &Import<'_>, report: &ReportRef) -> Result<ReadState, Transient> {
        let (bucket, state_key) = (&import.mark.bucket, &import.state_key);
        let name = format!("s3://{bucket}/{state_key}");
        let dir = super::state_object::spill_dir();
        let read = self.store.read_tagged_with(bucket, state_key, move |r| read_previous(r, &name, &dir)).await?;
        Ok(match read {
            None => ReadState { previous: None, mine: None, condition: Condition::IfNoneMatch },
            Some((parsed, etag)) => {
                let (previous, recorded) = parsed.map_err(|e| Transient(e.to_string()))?;
                ReadState {
                    previous: Some(previous),
                    mine: recorded.filter(|r| &r.report == report),
                    condition: etag.map_or(Condition::None, Condition::IfMatch),
                }
            }
        })
    }

    /// Write-ahead: before Security Hub changes, the state marks every finding this attempt
    /// imports or archives as in flight (the applied report unchanged). If the function
    /// stops between the import and the final write, the next report of the lifecycle
    /// imports or archives them again, even when this report's redelivery then comes after
    /// a newer one and is ignored (chaos suite). It also keeps the record (counts,
    /// processed_at) the verdict was written with. `Ok(None)`: the state object changed
    /// meanwhile; plan again.
    async fn write_ahead(
        &self,
        import: &Import<'_>,
        view: &InFlight<'_>,
        record: &AppliedResult,
        condition: Condition,
        attempt: u32,
    ) -> Result<Option<Condition>, Transient> {
        let body = state_body(view, Some(record))?;
        self.put_state(&import.mark.bucket, &import.state_key, body, condition, attempt).await
    }

    /// Writes the state object under `condition`, streamed from `body`'s file. `Ok(Some(next))`: written, `next` is the
    /// condition a later write of the same object needs; `Ok(None)`: the object changed
    /// meanwhile (412) with attempts left, so the caller re-reads and re-plans.
    pub(crate) async fn put_state(
        &self,
        bucket: &str,
        state_key: &str,
        body: StateBody,
        condition: Condition,
        attempt: u32,
    ) -> Result<Option<Condition>, Transient> {
        let mut opts = self.put_options("application/json");
        opts.condition = condition;
        tracing::debug!(state_key, bytes = body.len(), "writing the state object");
        // Streamed from the body's file; the file is removed when `body` drops.
        match self.store.put_file(bucket, state_key, body.path(), &opts).await {
            Ok(written) => Ok(Some(written.etag.map_or(Condition::None, Condition::IfMatch))),
            Err(StoreError::PreconditionFailed { .. }) if attempt < STATE_ATTEMPTS => {
                tracing::info!(attempt, state_key, "state object changed meanwhile: re-reading and re-planning");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The last step of an attempt: the next state (what was applied takes its new entry and
    /// stub, what was not sent or not accepted keeps its previous entry, a new finding stays
    /// out, so the next delivery plans it again; an unreadable stub's entry is dropped rather
    /// than retried forever), the applied result with what Security Hub accepted, both
    /// written unless nothing changed, then `hub.json`; `total` takes the outcome. The next
    /// state is a view ([`NextState`]) serialized straight into the body: neither its entries
    /// nor its stubs are built in memory. `Ok(false)`: the state object changed meanwhile;
    /// plan again.
    async fn finish(
        &self,
        results: &Results<'_>,
        import: &Import<'_>,
        a: Attempt,
        total: &mut HubResult,
    ) -> Result<bool, Transient> {
        let Attempt { previous, mine, plan, recorded, sent, work, condition, attempt } = a;
        let (ctx, mark) = (&import.ctx, &import.mark);
        let next = NextState::new(
            previous.as_ref(),
            &ctx.lifecycle.key,
            &plan,
            &import.new,
            StubSource::of(import),
            &sent.not_applied,
            &sent.unsent_imports,
            mark,
            &ctx.updated_at,
        );
        if sent.stopped {
            tracing::info!(
                sent = sent.imported + sent.archived,
                unsent = sent.unsent,
                "deadline near: import checkpointed, the next delivery continues it"
            );
        }
        let record = record::applied(recorded.record, recorded.base.as_ref(), &sent);
        // Without work every entry of `next` is its previous entry, unchanged: the same
        // applied report and as many entries is the same state.
        let same_state = !work
            && match previous.as_ref() {
                Some(p) if p.applied() == Some(mark) => next.len().map_err(unread)? == p.len(),
                _ => false,
            };
        if !same_state || mine.as_ref() != Some(&record) {
            let body = state_body(&next, Some(&record))?;
            // The previous state is not needed any more: its file is removed before the PUT.
            drop(next);
            drop(previous);
            if self.put_state(&mark.bucket, &import.state_key, body, condition, attempt).await?.is_none() {
                // Lost to a rival write: re-plan, unless stopped by the deadline, with no time
                // left to: what was sent stays in flight, the next delivery sends it again.
                total.pending = sent.stopped;
                return Ok(sent.stopped);
            }
            self.write_hub(results, &HubDoc::from_result(&record)).await?;
        }
        total.imported = sent.imported;
        total.archived = sent.archived;
        total.unchanged = plan.unchanged_skipped.len() as u64;
        total.retry_event = sent.retry_event;
        total.pending = sent.stopped;
        total.failed = sent.failed;
        Ok(true)
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! The Security Hub step over findings that cannot be read back (a spill file cut short,
    //! a disk error): a transient error, and no state written that loses a finding.

    use super::write_ahead::InFlight;
    use super::*;
    use crate::process::previous::tests::held;
    use crate::process::state_object::state_body;
    use next::NextState;
    use scangate_aws::identity::AwsIdentity;
    use scangate_aws::s3::ObjectHead;
    use scangate_core::contract::Provenance;
    use scangate_core::events::ObjectRef;
    use scangate_core::lifecycle::state::{ImportOn, LifecycleState};
    use scangate_core::Finding;
    use std::borrow::Cow;
    use std::collections::HashSet;

    const NOW: &str = "2026-12-02T00:00:00.000Z";

    /// `n` distinct findings of a linter's report; `text` in each message.
    pub(crate) fn findings(n: u32, text: &str) -> Vec<Finding> {
        let results: Vec<serde_json::Value> = (0..n)
            .map(|n| {
                serde_json::json!({
                    "ruleId": format!("R{}", n % 3),
                    "level": "error",
                    "message": { "text": format!("{text} {n}") },
                    "locations": [{ "physicalLocation": {
                        "artifactLocation": { "uri": format!("src/f{n}.py") },
                        "region": { "startLine": n + 1 } } }]
                })
            })
            .collect();
        let sarif = serde_json::json!({
            "version": "2.1.0",
            "runs": [{ "tool": { "driver": { "name": "lint", "rules": [] } }, "results": results }]
        });
        scangate_core::sarif::read_sarif(sarif.to_string().as_bytes(), "r.sarif").expect("reads").findings
    }

    /// Findings in memory, but the one at position `at` cannot be read: by position, and in
    /// order too unless `only_by_position` (a file that reads in order, not at an offset).
    pub(crate) struct Failing {
        findings: Vec<Finding>,
        at: usize,
        only_by_position: bool,
    }

    impl Failing {
        pub(crate) fn new(n: u32, at: usize, only_by_position: bool) -> Failing {
            Failing { findings: findings(n, "text"), at, only_by_position }
        }

        fn over(findings: Vec<Finding>, at: usize, only_by_position: bool) -> Failing {
            Failing { findings, at, only_by_position }
        }
    }

    impl FindingSource for Failing {
        fn len(&self) -> usize {
            self.findings.len()
        }

        fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError> {
            if i == self.at {
                return Err(SourceError { what: "spill".into(), index: i, reason: "cut short".into() });
            }
            FindingSource::get(&self.findings, i)
        }

        fn for_each_finding(&self, f: &mut dyn FnMut(usize, &Finding)) -> Result<(), SourceError> {
            if self.only_by_position {
                return self.findings.for_each_finding(f);
            }
            for i in 0..self.len() {
                let finding = self.get(i)?;
                f(i, &finding);
            }
            Ok(())
        }
    }

    struct World {
        config: Config,
        obj: ObjectRef,
        head: ObjectHead,
        id: AwsIdentity,
        meta: ReportMeta,
    }

    impl World {
        fn new() -> World {
            World {
                config: Config::default(),
                obj: ObjectRef::put("b", "scans/p/1/r.sarif"),
                head: ObjectHead::default(),
                id: AwsIdentity {
                    partition: "aws".into(),
                    region: "us-east-1".into(),
                    account_id: "123456789012".into(),
                },
                meta: ReportMeta::default(),
            }
        }

        fn import<'f>(&self, findings: &'f dyn FindingSource) -> Result<Import<'f>, Transient> {
            let d = Delivery {
                obj: &self.obj,
                head: &self.head,
                id: &self.id,
                now: time::macros::datetime!(2026-12-02 00:00 UTC),
                started: Instant::now(),
                deadline: None,
                provenance: Provenance::Unverified("a test".into()),
            };
            let facts = ReportFacts { meta: &self.meta, target: "", project: "p", build: None, now: NOW };
            Import::new(&self.config, &d, &facts, findings)
        }
    }

    /// The write-ahead's and the next state's bodies of `import`'s plan over `previous`.
    fn bodies(
        import: &Import<'_>,
        previous: Option<&LifecycleState>,
    ) -> (Result<Vec<u8>, Transient>, Result<Vec<u8>, Transient>) {
        let now = time::macros::datetime!(2026-12-02 00:00 UTC);
        let held = previous.map(held);
        let previous = held.as_ref();
        let plan = state::plan_over(previous, &import.new, &import.mark, now, 30, ImportOn::Content).expect("reads");
        let work = Work::of(&plan, previous, import).expect("reads");
        let key = &import.ctx.lifecycle.key;
        let read = |body: Result<crate::process::state_object::StateBody, Transient>| {
            body.map(|b| std::fs::read(b.path()).expect("the body's file"))
        };
        let ahead = InFlight::of(previous, key, NOW, &plan, &import.new, &work.imports, StubSource::of(import));
        let ahead = read(state_body(&ahead, None));
        let none = HashSet::new();
        let next =
            NextState::new(previous, key, &plan, &import.new, StubSource::of(import), &none, &[], &import.mark, NOW);
        (ahead, read(state_body(&next, None)))
    }

    #[test]
    fn an_import_over_findings_that_cannot_be_read_is_transient_and_no_state_loses_a_finding() {
        let world = World::new();
        // Read in order by the import itself: the delivery fails before anything is planned.
        for k in [0, 4, 9] {
            let failing = Failing::new(10, k, false);
            let Err(Transient(why)) = world.import(&failing) else { panic!("position {k} cannot be read") };
            assert!(why.contains(&format!("finding {k} could not be read back: cut short")), "{why}");
        }
        // A first report whose findings read in order but not at position 4: neither the
        // write-ahead nor the next state is written (no state object: the retry imports all).
        let failing = Failing::new(10, 4, true);
        let import = world.import(&failing).expect("read in order");
        let (ahead, next) = bodies(&import, None);
        for body in [ahead, next] {
            let Err(Transient(why)) = body else { panic!("the stub of finding 4 cannot be built") };
            assert!(why.contains("finding 4 could not be read back"), "{why}");
        }
        // The state of that first report, imported from findings that read.
        let first = findings(10, "text");
        let good = world.import(&first).expect("reads");
        let (_, state) = bodies(&good, None);
        let state = LifecycleState::from_json(&state.expect("written"), "first").expect("reads");
        assert_eq!(state.entries.len(), 10);
        // A rescan, every text changed, position 7 unreadable by position: the write-ahead
        // (built here from findings that read, as a spill that failed only later) marks every
        // finding in flight; the next state is not written, so the state object stays the
        // write-ahead and the retry plans every finding again, none is lost.
        let rescan = findings(10, "changed");
        let readable = world.import(&rescan).expect("reads");
        let (ahead, _) = bodies(&readable, Some(&state));
        let ahead = LifecycleState::from_json(&ahead.expect("written"), "write-ahead").expect("reads");
        let failing = Failing::over(rescan.clone(), 7, true);
        let import = world.import(&failing).expect("read in order");
        let (_, next) = bodies(&import, Some(&ahead));
        assert!(next.is_err(), "the next state needs the stub of finding 7");
        assert_eq!(ahead.entries.len(), 10);
        assert!(ahead.entries.values().all(|e| e.content_hash == write_ahead::IN_FLIGHT), "{ahead:?}");
        let now = time::macros::datetime!(2026-12-02 00:00 UTC);
        let Ok(retry) = state::plan_over(Some(&ahead), &import.new, &import.mark, now, 30, ImportOn::Content);
        assert_eq!(retry.import_new_or_changed.len(), 10, "every finding is imported again: {retry:?}");
        assert!(retry.archive.is_empty());
    }
}

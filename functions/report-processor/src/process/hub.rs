//! The Security Hub step of one report: plan against the lifecycle state, write the
//! results (verdict first: they wait only on the plan's counts, never on Security Hub),
//! write ahead, then stream the ASFF into the sink in request-sized chunks until done or until the
//! invocation's deadline is near, and record the outcome in the state object and in
//! `results/<project>/<build-id>/hub.json`. An import stopped by the deadline is a
//! checkpoint: the state holds what Security Hub confirmed, and the next delivery of the
//! same report plans only the rest. See docs/report-processor.md.

use super::deadline::Deadline;
use super::hub_doc::{hub_key, HubDoc};
use super::results::Results;
use super::state_object::{read_state, state_body, AppliedResult, HubStatus, ImportProgress};
use super::{Delivery, Processor, Transient};
use crate::metrics::ReportMetrics;
use scangate_aws::codebuild::{Publisher, ReportGroups};
use scangate_aws::s3::{Condition, ReportStore, StoreError};
use scangate_aws::securityhub::{FailedFinding, FindingSink};
use scangate_core::asff::{self, AsffContext, FindingStub};
use scangate_core::lifecycle::state::{self, LifecycleState, NewFinding, ReportMark, Stub};
use scangate_core::Finding;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// The content hash of a finding whose import or archive is under way: no finding has it,
/// so the next report imports it again (or archives it when it is gone).
pub const IN_FLIGHT: &str = "in-flight";

/// Findings rendered to ASFF and handed to the sink at once: four requests of 100, what
/// the sink's four workers send in parallel. Memory for ASFF is bounded by this, whatever
/// the number of findings to import.
pub const IMPORT_CHUNK: usize = 400;

/// The end of a Security Hub warning of a delivery that fails so that the event is retried.
pub(crate) const RETRY_NOTE: &str = "; the report will be processed again";

/// Failure codes worth another delivery of the event (the rest are reported and kept).
fn is_retryable_failure(f: &FailedFinding) -> bool {
    let c = f.code.to_ascii_lowercase();
    c.contains("throttl")
        || c.contains("toomanyrequests")
        || c.contains("internal")
        || c.contains("unavailable")
        || c == "networkerror"
}

/// What the Security Hub step imports for one report: its findings as the planner sees them
/// ([`new_findings`]) and by id, the ASFF context, the report's place in its lifecycle and
/// the lifecycle's state object.
#[derive(Clone, Copy)]
pub(crate) struct Import<'a> {
    pub new: &'a [NewFinding],
    pub by_id: &'a HashMap<String, &'a Finding>,
    pub ctx: &'a AsffContext,
    pub mark: &'a ReportMark,
    pub state_key: &'a str,
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

pub(crate) const STATE_ATTEMPTS: u32 = 5;

/// Marks `state` as the write-ahead stores it, calls `f` with it, then takes the marks back
/// (`state` is left as it was): every finding the plan imports gets the content hash
/// [`IN_FLIGHT`] and its new stub (`stubs[i]` for `planned[i]`, swapped in and back), a new
/// one is added (and removed again), every finding it archives gets [`IN_FLIGHT`]; the
/// applied report is unchanged. Done in place so that a rescan does not hold a second copy
/// of the previous state while it writes ahead.
fn with_in_flight<T>(
    state: &mut LifecycleState,
    plan: &state::Plan,
    planned: &[NewFinding],
    stubs: &mut [Stub],
    now: &str,
    f: impl FnOnce(&LifecycleState) -> T,
) -> T {
    let index: HashMap<&str, usize> = planned.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let mut added: Vec<&str> = Vec::new();
    let mut hashes: Vec<(&str, String)> = Vec::new();
    let mut swapped: Vec<usize> = Vec::new();
    for id in plan.imports() {
        let Some(&i) = index.get(id.as_str()) else { continue };
        let Some(stub) = stubs.get_mut(i) else { continue };
        let entry = match state.entries.get_mut(id) {
            Some(e) => {
                hashes.push((id, std::mem::replace(&mut e.content_hash, IN_FLIGHT.to_string())));
                e
            }
            None => {
                added.push(id);
                state.entries.entry(id.clone()).or_insert_with(|| state::Entry {
                    content_hash: IN_FLIGHT.to_string(),
                    sighting_hash: None,
                    created_at: now.to_string(),
                    last_imported_at: now.to_string(),
                    stub: Stub::None,
                })
            }
        };
        std::mem::swap(&mut entry.stub, stub);
        swapped.push(i);
    }
    for id in &plan.archive {
        if let Some(e) = state.entries.get_mut(id) {
            hashes.push((id, std::mem::replace(&mut e.content_hash, IN_FLIGHT.to_string())));
        }
    }
    let out = f(state);
    // Back, in reverse: the stubs first (an added entry holds one), then the hashes, then
    // the added entries.
    for i in swapped.into_iter().rev() {
        if let (Some(p), Some(stub)) = (planned.get(i), stubs.get_mut(i)) {
            if let Some(e) = state.entries.get_mut(&p.id) {
                std::mem::swap(&mut e.stub, stub);
            }
        }
    }
    for (id, hash) in hashes.into_iter().rev() {
        if let Some(e) = state.entries.get_mut(id) {
            e.content_hash = hash;
        }
    }
    for id in added {
        state.entries.remove(id);
    }
    out
}

/// What one attempt of the Security Hub step got done: accepted imports and archives,
/// the findings not accepted, and whether it stopped at a checkpoint.
pub(crate) struct AttemptSent<'a> {
    pub imported: u64,
    pub archived: u64,
    pub failed: &'a [FailedFinding],
    /// Some failure is worth another delivery of the event.
    pub retry_event: bool,
    /// The deadline came before everything was sent.
    pub stopped: bool,
}

/// The applied result an attempt leaves: `record` (as written ahead: pending, with the
/// counts `base` reached) plus what the attempt got accepted, its failures (a warning
/// naming the first), and its status. A finished import is not counted again (a refresh
/// of REFRESH_DAYS 0); an unfinished one adds what this attempt got accepted; one that
/// was finished and finishes again stays as recorded (an identical redelivery, a refresh).
pub(crate) fn applied(mut record: AppliedResult, base: Option<&ImportProgress>, a: &AttemptSent<'_>) -> AppliedResult {
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

/// The report's findings as the planner sees them (ASFF id and hashes; no stub yet, see
/// [`with_stubs`]) and by id; a finding whose id repeats is kept once.
pub(crate) fn new_findings<'f>(
    findings: &'f [Finding],
    ctx: &AsffContext,
) -> (Vec<NewFinding>, HashMap<String, &'f Finding>) {
    let mut by_id: HashMap<String, &Finding> = HashMap::with_capacity(findings.len());
    let mut new = Vec::with_capacity(findings.len());
    for f in findings {
        let fid = asff::finding_id(ctx, f);
        if by_id.insert(fid.clone(), f).is_some() {
            continue;
        }
        new.push(NewFinding {
            id: fid,
            content_hash: asff::content_hash(f, ctx),
            sighting_hash: asff::sighting_hash(f, ctx),
            stub: Stub::None,
        });
    }
    (new, by_id)
}

/// The findings the plan imports, with the stub the state keeps for each: what the
/// write-ahead and the next state take from the report. The planner needs no stub, so
/// stubs are built after the plan, and only for what is imported (none for a rescan that
/// changes nothing).
fn with_stubs(
    new: &[NewFinding],
    imports: &[String],
    by_id: &HashMap<String, &Finding>,
    ctx: &AsffContext,
) -> Vec<NewFinding> {
    let wanted: HashSet<&str> = imports.iter().map(String::as_str).collect();
    new.iter()
        .filter(|f| wanted.contains(f.id.as_str()))
        .filter_map(|f| {
            let finding = by_id.get(&f.id)?;
            Some(NewFinding {
                id: f.id.clone(),
                content_hash: f.content_hash.clone(),
                sighting_hash: f.sighting_hash.clone(),
                stub: FindingStub::new(finding, ctx).into(),
            })
        })
        .collect()
}

/// The stub `previous` keeps for archiving the finding `id`, if it reads as one.
fn archive_stub<'s>(previous: Option<&'s LifecycleState>, id: &str) -> Option<&'s FindingStub> {
    previous?.entries.get(id)?.stub.typed()
}

/// Moves `stubs[i]` into the entry of `planned[i]` in `state` (which the planner's
/// `next_state` left without one), for the ids `take` accepts.
fn move_stubs(planned: &[NewFinding], stubs: &mut [Stub], state: &mut LifecycleState, take: impl Fn(&str) -> bool) {
    for (f, stub) in planned.iter().zip(stubs.iter_mut()) {
        if let Some(e) = state.entries.get_mut(&f.id).filter(|_| take(&f.id)) {
            std::mem::swap(&mut e.stub, stub);
        }
    }
}

/// What the sink did with the chunks sent so far.
#[derive(Default)]
struct Sent {
    imported: Vec<String>,
    archived: u64,
    failed: Vec<FailedFinding>,
    /// Planned but not sent: the deadline came first.
    unsent: Vec<String>,
    calls: u64,
    throttled_retries: u64,
}

impl<S: ReportStore, K: FindingSink, P: ReportGroups + Publisher> Processor<S, K, P> {
    /// Writes `hub.json` next to the verdict.
    pub(crate) async fn write_hub(&self, r: &Results<'_>, doc: &HubDoc) -> Result<(), Transient> {
        let bucket = r.verdict.report.bucket.clone().unwrap_or_default();
        let body = serde_json::to_vec_pretty(doc).map_err(|e| Transient(format!("hub.json: {e}")))?;
        self.store.put(&bucket, &hub_key(&r.project, &r.build_id), body, &self.put_options("application/json")).await?;
        Ok(())
    }

    /// `hub.json` of a delivery that imports nothing by design (Security Hub disabled, or a
    /// newer report applied first). Not written over an earlier delivery's outcome.
    pub(crate) async fn write_hub_nothing(&self, r: &Results<'_>, status: HubStatus) -> Result<(), Transient> {
        if r.from_earlier {
            return Ok(());
        }
        let doc = HubDoc::nothing(&r.verdict.report, status, &r.verdict.processed_at);
        self.write_hub(r, &doc).await
    }

    /// `hub.json` of a stale delivery: a finished import of this report (an earlier
    /// delivery's) stays as it is; an unfinished one (pending, or failed and to be retried)
    /// never will be finished by this report, whose findings the newer report now owns: it
    /// becomes `superseded`, with the counts it reached and without its retry warnings.
    async fn write_hub_superseded(&self, r: &Results<'_>) -> Result<(), Transient> {
        let bucket = r.verdict.report.bucket.clone().unwrap_or_default();
        let key = hub_key(&r.project, &r.build_id);
        let existing = self
            .store
            .get_bytes(&bucket, &key, 1024 * 1024)
            .await?
            .and_then(|f| serde_json::from_slice::<HubDoc>(&f.body).ok())
            .filter(|d| d.report == r.verdict.report);
        let doc = match existing {
            None => HubDoc::nothing(&r.verdict.report, HubStatus::Superseded, &r.verdict.processed_at),
            Some(d) => {
                let finished = d.status == HubStatus::Done
                    || (d.status == HubStatus::Failed && !d.warnings.iter().any(|w| w.ends_with(RETRY_NOTE)));
                if finished {
                    return Ok(());
                }
                HubDoc { status: HubStatus::Superseded, failed: 0, warnings: Vec::new(), ..d }
            }
        };
        self.write_hub(r, &doc).await
    }

    /// Writes the state object under `condition`. `Ok(Some(next))`: written, `next` is the
    /// condition a later write of the same object needs; `Ok(None)`: the object changed
    /// meanwhile (412) with attempts left, so the caller re-reads and re-plans.
    pub(crate) async fn put_state(
        &self,
        bucket: &str,
        state_key: &str,
        body: Vec<u8>,
        condition: Condition,
        attempt: u32,
    ) -> Result<Option<Condition>, Transient> {
        let mut opts = self.put_options("application/json");
        opts.condition = condition;
        match self.store.put(bucket, state_key, body, &opts).await {
            Ok(written) => Ok(Some(written.etag.map_or(Condition::None, Condition::IfMatch))),
            Err(StoreError::PreconditionFailed { .. }) if attempt < STATE_ATTEMPTS => {
                tracing::info!(attempt, state_key, "state object changed meanwhile: re-reading and re-planning");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends findings in chunks of [`IMPORT_CHUNK`] (ASFF rendered per chunk), stopping when
    /// the deadline is near; `render` turns an id into its ASFF (None: nothing to send).
    async fn send_chunks<'i>(
        &self,
        sink: &K,
        ids: &'i [String],
        deadline: Option<&Deadline>,
        mut render: impl FnMut(&str) -> Option<serde_json::Value>,
        sent: &mut Sent,
    ) -> (Vec<&'i str>, bool) {
        let mut accepted = Vec::new();
        for (i, chunk) in ids.chunks(IMPORT_CHUNK).enumerate() {
            if deadline.is_some_and(Deadline::near) {
                sent.unsent.extend(ids[i * IMPORT_CHUNK..].iter().cloned());
                return (accepted, true);
            }
            let payload: Vec<serde_json::Value> = chunk.iter().filter_map(|id| render(id)).collect();
            if payload.is_empty() {
                continue;
            }
            let outcome = sink.import(payload).await;
            sent.calls += outcome.calls;
            sent.throttled_retries += outcome.throttled_retries;
            let failed: HashSet<&str> = outcome.failed.iter().map(|f| f.id.as_str()).collect();
            accepted.extend(chunk.iter().map(String::as_str).filter(|id| !failed.contains(id)));
            sent.failed.extend(outcome.failed);
        }
        (accepted, false)
    }

    /// The Security Hub step. Writes the results (through [`Self::write_results_first`])
    /// as soon as the plan has counted: before the write-ahead and any BatchImportFindings call.
    pub(crate) async fn security_hub(
        &self,
        sink: &K,
        d: &Delivery<'_>,
        import: &Import<'_>,
        results: &mut Results<'_>,
    ) -> Result<HubResult, Transient> {
        let Import { new, by_id, ctx, mark, state_key } = *import;
        let (now, deadline) = (d.now, d.deadline);
        let now_s = ctx.updated_at.clone();
        let report = results.verdict.report.clone();
        let mut total = HubResult::default();
        for attempt in 1..=STATE_ATTEMPTS {
            // Streamed: the state grows with the lifecycle's findings; its body is never held whole.
            let name = format!("s3://{}/{state_key}", mark.bucket);
            let read = self.store.read_tagged_with(&mark.bucket, state_key, move |r| read_state(r, &name)).await?;
            let (mut previous, recorded, condition) = match read {
                None => (None, None, Condition::IfNoneMatch),
                Some((parsed, etag)) => {
                    let (parsed, recorded) = parsed.map_err(|e| Transient(e.to_string()))?;
                    (Some(parsed), recorded, etag.map_or(Condition::None, Condition::IfMatch))
                }
            };
            // This report version's record: an earlier delivery planned it (and may have
            // imported part or all of it).
            let mine = recorded.filter(|r| r.report == report);
            let plan = state::plan(previous.as_ref(), new, mark, now, self.config.refresh_days, self.config.import_on);
            if plan.ignore_as_stale {
                tracing::info!(lifecycle = %ctx.lifecycle.key, "report older than the applied one: ignored");
                total.stale = true;
                self.write_results_first(results, None, true).await?;
                self.write_hub_superseded(results).await?;
                return Ok(total);
            }
            let imports: Vec<String> = plan.imports().filter(|id| by_id.contains_key(*id)).cloned().collect();
            // What the plan archives needs the stub the state kept; one that cannot be read
            // is reported instead.
            let mut unarchivable = Vec::new();
            let mut archives: Vec<String> = Vec::new();
            for fid in &plan.archive {
                if archive_stub(previous.as_ref(), fid).is_some() {
                    archives.push(fid.clone());
                } else {
                    unarchivable.push(FailedFinding {
                        id: fid.clone(),
                        code: "StateStubUnreadable".into(),
                        message: format!("the state object {state_key} has no usable stub for this finding"),
                    });
                }
            }
            // The verdict's counts and time: fixed by the first delivery that planned this
            // version. Its record in the state, else the verdict.json it wrote (it stopped
            // before its write-ahead), else this plan; or the results this delivery wrote.
            if !results.written && mine.is_none() {
                self.adopt_earlier_verdict(results).await?;
            }
            let (planned_imports, planned_archives, processed_at) =
                if results.written || (mine.is_none() && results.from_earlier) {
                    (
                        results.verdict.findings_imported,
                        results.verdict.findings_archived,
                        results.verdict.processed_at.clone(),
                    )
                } else if let Some(m) = &mine {
                    (m.imported, m.archived, m.processed_at.clone())
                } else {
                    (imports.len() as u64, archives.len() as u64, now_s.clone())
                };
            let base = mine.as_ref().map(AppliedResult::progress);
            let record = AppliedResult {
                report: report.clone(),
                imported: planned_imports,
                archived: planned_archives,
                processed_at,
                import: Some(ImportProgress {
                    status: HubStatus::Pending,
                    imported: base.as_ref().map_or(0, |b| b.imported),
                    archived: base.as_ref().map_or(0, |b| b.archived),
                    failed: 0,
                    warnings: Vec::new(),
                    updated_at: now_s.clone(),
                }),
            };
            // Verdict first: the results are written once the plan has counted, before the
            // write-ahead and any Security Hub call.
            self.write_results_first(results, Some(&record), false).await?;
            let work = !imports.is_empty() || !archives.is_empty();
            // The stubs the state keeps for what is imported: built only now, and only for that.
            let mut planned = with_stubs(new, &imports, by_id, ctx);
            // The stubs are moved (never copied) into the state that is written: out of
            // `planned` here, into the write-ahead and back, then into the next state.
            let mut import_stubs: Vec<Stub> = planned.iter_mut().map(|f| std::mem::take(&mut f.stub)).collect();
            let mut condition = condition;
            if work {
                // Write-ahead: before Security Hub changes, the state marks every finding this
                // attempt imports or archives as in flight (the applied report unchanged). If the
                // function stops between the import and the final write, the next report of the
                // lifecycle imports or archives them again, even when this report's redelivery
                // then comes after a newer one and is ignored (chaos suite). It also keeps the
                // record (counts, processed_at) the verdict was written with.
                let mut first = None;
                let target = match previous.as_mut() {
                    Some(p) => p,
                    None => first.insert(LifecycleState::empty(&ctx.lifecycle.key)),
                };
                let body = with_in_flight(target, &plan, &planned, &mut import_stubs, &now_s, |s| {
                    state_body(s, Some(&record))
                })?;
                match self.put_state(&mark.bucket, state_key, body, std::mem::take(&mut condition), attempt).await? {
                    Some(next) => condition = next,
                    None => continue,
                }
            }
            if work {
                self.write_hub(results, &HubDoc::from_result(&record)).await?;
            }

            // Imports (ASFF per chunk), then, once every import was sent, the archives.
            let mut sent = Sent::default();
            let previous_ref = previous.as_ref();
            let (accepted_imports, stopped) = self
                .send_chunks(
                    sink,
                    &imports,
                    deadline,
                    |id| {
                        let f = by_id.get(id)?;
                        let mut c = ctx.clone();
                        c.created_at = previous_ref.and_then(|p| p.entries.get(id)).map(|e| e.created_at.clone());
                        Some(asff::to_asff(f, &c))
                    },
                    &mut sent,
                )
                .await;
            let imported_ok = accepted_imports.len() as u64;
            sent.imported = accepted_imports.into_iter().map(str::to_string).collect();
            let mut stopped = stopped;
            if stopped {
                sent.unsent.extend(archives.iter().cloned());
            } else {
                let (accepted_archives, stop) = self
                    .send_chunks(
                        sink,
                        &archives,
                        deadline,
                        |id| archive_stub(previous_ref, id).map(|s| asff::archived_from_stub(s, ctx)),
                        &mut sent,
                    )
                    .await;
                sent.archived = accepted_archives.len() as u64;
                stopped = stop;
            }
            let mut failed = std::mem::take(&mut sent.failed);
            // What was not sent, or not accepted, keeps its previous entry (a new finding stays
            // out): the next delivery plans it again. A stub that cannot be read never will
            // be: that entry is dropped rather than retried forever.
            let mut not_applied: HashSet<String> = failed.iter().map(|f| f.id.clone()).collect();
            not_applied.extend(sent.unsent.iter().cloned());
            failed.extend(unarchivable);
            // The previous state is moved into the next one (not copied): what the final write
            // needs to know of it is its applied report and its number of entries.
            let was = previous.as_ref().map(|p| (p.applied.clone(), p.entries.len()));
            let mut next = state::into_next_state(
                previous.take(),
                &ctx.lifecycle.key,
                &plan,
                &planned,
                &not_applied,
                mark,
                &now_s,
            );
            // What was applied takes its stub; what was not keeps its previous entry.
            move_stubs(&planned, &mut import_stubs, &mut next, |id| !not_applied.contains(id));
            drop((planned, import_stubs));
            total.calls += sent.calls;
            total.throttled_retries += sent.throttled_retries;
            let retry_event = failed.iter().any(is_retryable_failure);
            if stopped {
                tracing::info!(
                    sent = imported_ok + sent.archived,
                    unsent = sent.unsent.len(),
                    "deadline near: import checkpointed, the next delivery continues it"
                );
            }
            let attempt_sent =
                AttemptSent { imported: imported_ok, archived: sent.archived, failed: &failed, retry_event, stopped };
            let record = applied(record, base.as_ref(), &attempt_sent);
            // Without work every entry of `next` is its previous entry, unchanged: the same
            // applied report and as many entries is the same state.
            let same_state = !work && was == Some((next.applied.clone(), next.entries.len()));
            let state_written = !same_state || mine.as_ref() != Some(&record);
            if state_written {
                let body = state_body(&next, Some(&record))?;
                drop(next);
                if self.put_state(&mark.bucket, state_key, body, condition, attempt).await?.is_none() {
                    if stopped {
                        // Lost to a rival write with no time left to re-plan: what was sent
                        // stays in flight, the next delivery sends it again.
                        total.pending = true;
                        return Ok(total);
                    }
                    continue;
                }
                self.write_hub(results, &HubDoc::from_result(&record)).await?;
            }
            total.imported = imported_ok;
            total.archived = sent.archived;
            total.unchanged = plan.unchanged_skipped.len() as u64;
            total.retry_event = retry_event;
            total.pending = stopped;
            total.failed = failed;
            return Ok(total);
        }
        Err(Transient(format!("state object {state_key} kept changing during {STATE_ATTEMPTS} attempts")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::hub_doc::HUB_SCHEMA;
    use crate::process::state_object::APPLIED_RESULT_FIELD;
    use scangate_core::verdict::ReportRef;

    /// The applied result of a state object's body, as a delivery reads it.
    fn read_applied_result(body: &[u8]) -> Option<AppliedResult> {
        read_state(&mut &body[..], "s").ok().and_then(|(_, r)| r)
    }

    #[test]
    fn applied_result_rides_along_in_the_state_object() {
        let state = LifecycleState::empty("k");
        let result = AppliedResult {
            report: ReportRef {
                bucket: Some("b".into()),
                key: "scans/p/1/r.sarif".into(),
                version_id: None,
                etag: Some("\"e\"".into()),
            },
            imported: 3,
            archived: 1,
            processed_at: "2026-11-23T08:05:00.000Z".into(),
            import: Some(ImportProgress {
                status: HubStatus::Pending,
                imported: 2,
                archived: 0,
                failed: 0,
                warnings: Vec::new(),
                updated_at: "2026-11-23T08:05:00.000Z".into(),
            }),
        };
        let body = state_body(&state, Some(&result)).expect("serializes");
        assert_eq!(body.capacity(), body.len(), "the buffer is sized before it is written");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert!(value.get(APPLIED_RESULT_FIELD).is_some(), "{value}");
        assert_eq!(read_applied_result(&body), Some(result.clone()));
        assert_eq!(read_state(&mut &body[..], "s").expect("reads").0, state);
        assert_eq!(LifecycleState::from_json(&body, "s").expect("the core reads it"), state);
        let plain = state_body(&state, None).expect("serializes");
        assert_eq!(read_applied_result(&plain), None);
        let odd = br#"{"schema":"scangate.state.v1","lifecycle_key":"k","applied_result": 5}"#;
        assert_eq!(read_state(&mut &odd[..], "s").expect("the state reads").1, None, "unreadable: absent");
        let err = read_state(&mut &br#"{"schema":"x","lifecycle_key":"k"}"#[..], "state/x.json").expect_err("schema");
        assert!(err.to_string().contains("state/x.json"), "{err}");
        let doc = HubDoc::from_result(&result);
        assert_eq!((doc.status, doc.planned_imports, doc.imported), (HubStatus::Pending, 3, 2));
        let json = serde_json::to_value(&doc).expect("serializes");
        assert_eq!(json["status"], "pending");
        assert_eq!(json["schema"], HUB_SCHEMA);
    }

    #[test]
    fn the_write_ahead_marks_in_place_and_takes_the_marks_back() {
        let entry = |hash: &str, stub: &str| state::Entry {
            content_hash: hash.into(),
            sighting_hash: Some("s".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
            last_imported_at: "2026-11-01T00:00:00Z".into(),
            stub: Stub::Raw(serde_json::json!(stub)),
        };
        let mut previous = LifecycleState::empty("k");
        for (id, hash) in [("a", "ha"), ("b", "hb"), ("c", "hc")] {
            previous.entries.insert(id.into(), entry(hash, &format!("old-{id}")));
        }
        let original = previous.clone();
        // a changed, d new, b unchanged, c gone; e is planned but not in the report.
        let plan = state::Plan {
            import_new_or_changed: vec!["a".into(), "d".into(), "e".into()],
            unchanged_skipped: vec!["b".into()],
            archive: vec!["c".into()],
            ..state::Plan::default()
        };
        let planned: Vec<NewFinding> = ["a", "d"]
            .iter()
            .map(|id| NewFinding {
                id: (*id).into(),
                content_hash: format!("new-{id}"),
                sighting_hash: "s2".into(),
                stub: Stub::None,
            })
            .collect();
        let mut stubs = vec![Stub::Raw(serde_json::json!("new-a")), Stub::Raw(serde_json::json!("new-d"))];
        let before = stubs.clone();
        let now = "2026-12-02T00:00:00Z";
        let seen = with_in_flight(&mut previous, &plan, &planned, &mut stubs, now, LifecycleState::clone);

        let mut expected = original.clone();
        let a = expected.entries.get_mut("a").expect("a");
        a.content_hash = IN_FLIGHT.into();
        a.stub = Stub::Raw(serde_json::json!("new-a"));
        expected.entries.insert(
            "d".into(),
            state::Entry {
                content_hash: IN_FLIGHT.into(),
                sighting_hash: None,
                created_at: now.into(),
                last_imported_at: now.into(),
                stub: Stub::Raw(serde_json::json!("new-d")),
            },
        );
        expected.entries.get_mut("c").expect("c").content_hash = IN_FLIGHT.into();
        assert_eq!(seen, expected, "what the write-ahead stores");
        assert_eq!(previous, original, "the state is left as it was");
        assert_eq!(stubs, before, "the stubs are back where they were");
        // From no state: only the planned findings, and the state is empty again after.
        let mut empty = LifecycleState::empty("k");
        let seen = with_in_flight(&mut empty, &plan, &planned, &mut stubs, now, LifecycleState::clone);
        assert_eq!(seen.entries.keys().collect::<Vec<_>>(), ["a", "d"]);
        assert!(seen.entries.values().all(|e| e.content_hash == IN_FLIGHT));
        assert_eq!(empty, LifecycleState::empty("k"));
        assert_eq!(stubs, before);
    }

    #[test]
    fn a_record_from_before_checkpoints_reads_as_done() {
        let legacy = br#"{"schema":"scangate.state.v1","lifecycle_key":"k","entries":{},
            "applied_result":{"report":{"key":"scans/p/1/r.sarif"},"imported":4,"archived":1,
            "processed_at":"2026-11-23T08:05:00.000Z"}}"#;
        let r = read_applied_result(legacy).expect("reads");
        let p = r.progress();
        assert_eq!((p.status, p.imported, p.archived), (HubStatus::Done, 4, 1));
    }

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
    fn applied_results_count_what_was_accepted() {
        let sent = |imported, archived, failed, stopped| AttemptSent {
            imported,
            archived,
            failed,
            retry_event: false,
            stopped,
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

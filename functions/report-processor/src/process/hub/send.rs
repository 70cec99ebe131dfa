//! Sending one attempt's imports and archives into the sink: ASFF rendered per chunk of
//! [`IMPORT_CHUNK`] findings, imports first, archives once every import was sent, stopping
//! at a checkpoint when the invocation's deadline is near.

use super::{unread, unreadable, Import, Work, IMPORT_CHUNK};
use crate::process::deadline::Deadline;
use crate::process::previous::Previous;
use crate::process::{Processor, Transient};
use scangate_aws::codebuild::CodeBuildOps;
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::{FailedFinding, FindingSink};
use scangate_core::asff;
use scangate_core::lifecycle::state::{FindingKey, HeldPass, NewFindings};
use std::borrow::Cow;
use std::collections::HashSet;

/// What one attempt got accepted by the sink.
#[derive(Default)]
pub(crate) struct Sent {
    /// Imports accepted (as ACTIVE).
    pub imported: u64,
    /// Archives accepted.
    pub archived: u64,
    /// What was not accepted, and the archives whose stub could not be read.
    pub failed: Vec<FailedFinding>,
    /// What keeps its previous entry in the next state (a new finding stays out): not
    /// accepted, or an archive not sent.
    pub not_applied: HashSet<FindingKey>,
    /// The imports the deadline left unsent (indices into the import's findings, four bytes
    /// each rather than a key: a large import stopped early leaves most of it): they, too,
    /// keep their previous entry.
    pub unsent_imports: Vec<u32>,
    /// Planned but not sent: the deadline came first.
    pub unsent: usize,
    /// Some failure is worth another delivery of the event.
    pub retry_event: bool,
    /// The deadline came before everything was sent.
    pub stopped: bool,
    pub calls: u64,
    pub throttled_retries: u64,
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Sends the imports (ASFF per chunk, each finding read back from the import's source by
    /// its position, `CreatedAt` kept from the state), then, once every import was sent, the
    /// archives (from the stubs `previous` keeps, in one pass over it: the archives are in id
    /// order). A finding or a state entry that cannot be read back stops the sending: a
    /// [`Transient`], the write-ahead keeps what was planned in flight.
    pub(super) async fn send(
        &self,
        sink: &K,
        import: &Import<'_>,
        work: &Work,
        previous: Option<&Previous>,
        deadline: Option<&Deadline>,
    ) -> Result<Sent, Transient> {
        let mut sent = Sent::default();
        let ctx = &import.ctx;
        let new = &import.new;
        // Work's imports are indices into the import's findings.
        let key_of = |i: &u32| new.id(*i as usize);
        let render_import = |position: usize, &i: &u32| {
            let i = i as usize;
            let Some(at) = new.render_at(i) else { return Ok(None) };
            let f = import.source.get(at).map_err(unreadable)?;
            let mut c = ctx.clone();
            c.created_at = work.created_at.get(position).and_then(Option::as_ref).map(ToString::to_string);
            Ok(Some(asff::to_asff(&f, &c)))
        };
        let (imported, stopped_at) =
            self.send_chunks(sink, &work.imports, key_of, deadline, render_import, &mut sent).await?;
        sent.imported = imported;
        let mut stopped = false;
        if let Some(rest) = stopped_at.and_then(|at| work.imports.get(at..)) {
            sent.unsent += rest.len();
            sent.unsent_imports = rest.to_vec();
            stopped = true;
        }
        if stopped {
            sent.unsent += work.archives.len();
            sent.not_applied.extend(work.archives.iter().cloned());
        } else {
            let mut held = HeldPass::over(previous).map_err(unread)?;
            let render_archive = |_: usize, id: &FindingKey| {
                let entry = held.seek(id, drop).map_err(unread)?;
                let stub = entry.as_ref().and_then(|(_, e)| e.stub.typed());
                Ok(stub.map(|s| id.with_str(|key| asff::archived_from_stub_as(s, key, ctx))))
            };
            let (archived, stopped_at) =
                self.send_chunks(sink, &work.archives, borrowed, deadline, render_archive, &mut sent).await?;
            sent.archived = archived;
            if let Some(rest) = stopped_at.and_then(|at| work.archives.get(at..)) {
                sent.unsent += rest.len();
                sent.not_applied.extend(rest.iter().cloned());
                stopped = true;
            }
        }
        // What was not accepted keeps its previous entry; a stub that cannot be read never
        // will be: that entry is dropped rather than retried forever.
        sent.not_applied.extend(sent.failed.iter().map(|f| FindingKey::new(&f.id)));
        sent.failed.extend(work.unarchivable.iter().cloned());
        sent.retry_event = sent.failed.iter().any(FailedFinding::is_retryable);
        sent.stopped = stopped;
        Ok(sent)
    }

    /// Sends `items` (findings named by `key_of`) in chunks of [`IMPORT_CHUNK`] (ASFF rendered
    /// per chunk), stopping when the deadline is near; `render` turns an item (with its
    /// position in `items`) into its ASFF (None: nothing to send; an error: a finding or entry
    /// that cannot be read back, which stops it).
    /// Returns how many were accepted and, when the deadline stopped it, the position of the
    /// first item not sent (the caller notes the rest as unsent).
    async fn send_chunks<'s, T>(
        &self,
        sink: &K,
        items: &'s [T],
        key_of: impl Fn(&'s T) -> Cow<'s, FindingKey>,
        deadline: Option<&Deadline>,
        mut render: impl FnMut(usize, &T) -> Result<Option<serde_json::Value>, Transient>,
        sent: &mut Sent,
    ) -> Result<(u64, Option<usize>), Transient> {
        let mut accepted = 0;
        for (i, chunk) in items.chunks(IMPORT_CHUNK).enumerate() {
            if deadline.is_some_and(Deadline::near) {
                return Ok((accepted, Some(i * IMPORT_CHUNK)));
            }
            let mut payload: Vec<serde_json::Value> = Vec::with_capacity(chunk.len());
            for (j, item) in chunk.iter().enumerate() {
                payload.extend(render(i * IMPORT_CHUNK + j, item)?);
            }
            if payload.is_empty() {
                continue;
            }
            let outcome = sink.import(payload).await;
            sent.calls += outcome.calls;
            sent.throttled_retries += outcome.throttled_retries;
            let failed: HashSet<FindingKey> = outcome.failed.iter().map(|f| FindingKey::new(&f.id)).collect();
            accepted += chunk.iter().filter(|item| !failed.contains(&*key_of(item))).count() as u64;
            sent.failed.extend(outcome.failed);
        }
        Ok((accepted, None))
    }
}

/// An archive's key, as [`Processor::send_chunks`] names its items.
fn borrowed(id: &FindingKey) -> Cow<'_, FindingKey> {
    Cow::Borrowed(id)
}

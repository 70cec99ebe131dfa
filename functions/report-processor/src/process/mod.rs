//! Processing of one report object, from its HEAD to its results: the key and the
//! uploader's claims checked (`claims.rs`, metadata read in `meta.rs`), the SARIF streamed
//! and evaluated, the results written (`results.rs`), the Security Hub step (`hub.rs`) and
//! report-group publishing (`publish.rs`); a report that cannot be processed is quarantined
//! (`quarantine.rs`). Generic over the store and the sink so it runs against moto or fakes.

mod claims;
pub mod deadline;
mod exceptions;
mod hub;
pub mod hub_doc;
mod meta;
mod previous;
mod provenance;
mod publish;
mod quarantine;
mod results;
mod spilled;
pub mod state_object;

use crate::config::Config;
use crate::metrics::ReportMetrics;
use deadline::Deadline;
use hub::HubResult;
use meta::build_from_arn;
use results::{Results, Written};
use scangate_aws::codebuild::{BuildInfo, CodeBuildOps};
use scangate_aws::identity::AwsIdentity;
use scangate_aws::s3::{ObjectHead, PutOptions, ReportStore, StoreError};
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract;
use scangate_core::contract::QuarantineKind;
use scangate_core::evaluate;
use scangate_core::events::ObjectRef;
use scangate_core::policy::{GatePolicy, GateSettings};
use scangate_core::sarif::{read_sarif_spilled, ReadLimits, SarifError, Spilled};
use scangate_core::verdict::{rfc3339, ReportRef, VerdictInput};
use scangate_core::FindingSource;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

/// How processing one report ended (besides a transient error).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Not a report this function handles (prefix, suffix, bucket), or gone.
    Skipped(String),
    /// Evaluated; results written. `pending`: the Security Hub import stopped at a
    /// checkpoint before the deadline; the event must be delivered again to finish it.
    Processed { passed: bool, metrics: ReportMetrics, stale: bool, pending: bool },
    /// Could never be processed: copied to quarantine with a reason, failed verdict written.
    Quarantined { reason: String },
}

/// A failure that may succeed later: the event is reported failed so it is redelivered.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transient(pub String);

impl From<StoreError> for Transient {
    fn from(e: StoreError) -> Self {
        Transient(e.to_string())
    }
}

use scangate_core::contract::{is_report_key, results_dir};
use state_object::HubStatus;

pub use exceptions::{DocumentKind, POLICY_DOCUMENTS};
/// The content hash of a finding in flight, which tests of the state look for.
pub use hub::IN_FLIGHT;
pub use meta::{parse_meta, ReportMeta};
pub use publish::NoCodeBuild;

/// One delivery of one report, as every step sees it: the announced object, its HEAD, the
/// invocation's identity, the processing time, when processing started and the deadline
/// the Security Hub import stops before.
pub(crate) struct Delivery<'a> {
    pub obj: &'a ObjectRef,
    pub head: &'a ObjectHead,
    pub id: &'a AwsIdentity,
    pub now: time::OffsetDateTime,
    pub started: Instant,
    pub deadline: Option<&'a Deadline>,
    /// Who wrote the object version, as proven (decided before anything is written).
    pub provenance: contract::Provenance,
}

/// Where a report's findings are spilled (the temp dir) and how many bytes they may take there.
#[derive(Clone, Copy)]
pub(crate) struct SpillPlace<'a> {
    pub dir: &'a std::path::Path,
    pub budget: u64,
}

/// A spill file that could not be written or finished: the temp dir, not the report, failed
/// (the event is retried).
fn spill_failed(name: &str, e: std::io::Error) -> Transient {
    Transient(format!("{name}: writing its evaluated findings to the temp dir: {e}"))
}

/// The processor: configuration, store, sink (None when Security Hub is disabled) and the
/// CodeBuild client (None without one: no build is verified and nothing is published; unused
/// for publishing while `PUBLISHER_PROJECT` is empty).
pub struct Processor<S, K, P = NoCodeBuild> {
    pub config: Config,
    pub store: S,
    pub sink: Option<K>,
    pub codebuild: Option<P>,
    /// Report group names ensured by this process (CreateReportGroup once per name).
    ensured_groups: Mutex<HashSet<String>>,
    /// The exceptions documents parsed by this process, by version and day (exceptions.rs).
    exception_cache: exceptions::DocumentCache,
}

impl<S: ReportStore, K: FindingSink> Processor<S, K> {
    /// A processor without a CodeBuild client (add one with [`Processor::with_codebuild`]).
    pub fn new(config: Config, store: S, sink: Option<K>) -> Self {
        let sink = if config.security_hub_enabled { sink } else { None };
        Processor {
            config,
            store,
            sink,
            codebuild: None,
            ensured_groups: Mutex::new(HashSet::new()),
            exception_cache: exceptions::DocumentCache::default(),
        }
    }
}

impl<S, K, P> Processor<S, K, P> {
    /// The same processor verifying builds and publishing JUnit reports through `codebuild`
    /// (publishing only while `PUBLISHER_PROJECT` is set).
    pub fn with_codebuild<Q: CodeBuildOps>(self, codebuild: Q) -> Processor<S, K, Q> {
        Processor {
            config: self.config,
            store: self.store,
            sink: self.sink,
            codebuild: Some(codebuild),
            ensured_groups: self.ensured_groups,
            exception_cache: self.exception_cache,
        }
    }
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    pub(crate) fn put_options(&self, content_type: &str) -> PutOptions {
        PutOptions {
            content_type: Some(content_type.into()),
            kms_key_id: self.config.kms_key_id.clone(),
            ..PutOptions::default()
        }
    }

    /// Processes one announced object, with no deadline.
    pub async fn process(
        &self,
        obj: &ObjectRef,
        id: &AwsIdentity,
        now: time::OffsetDateTime,
    ) -> Result<Outcome, Transient> {
        self.process_until(obj, id, now, None).await
    }

    /// Processes one announced object; the Security Hub import stops at a checkpoint when
    /// `deadline` is near (the outcome is then `pending`: deliver the event again).
    pub async fn process_until(
        &self,
        obj: &ObjectRef,
        id: &AwsIdentity,
        now: time::OffsetDateTime,
        deadline: Option<&Deadline>,
    ) -> Result<Outcome, Transient> {
        let started = Instant::now();
        if let Some(b) = &self.config.report_bucket {
            if b != &obj.bucket {
                return Ok(Outcome::Skipped(format!("bucket {} is not REPORT_BUCKET {b}", obj.bucket)));
            }
        }
        if !is_report_key(&obj.key, &self.config.scan_prefix) {
            return Ok(Outcome::Skipped(format!(
                "key is not under {:?} or does not end in .sarif/.sarif.json",
                self.config.scan_prefix
            )));
        }
        let Some(head) = self.store.head(&obj.bucket, &obj.key, obj.version_id.as_deref()).await? else {
            return Ok(Outcome::Skipped("the object no longer exists".into()));
        };
        let undecided = contract::Provenance::Unverified("not decided yet".into());
        let mut d = Delivery { obj, head: &head, id, now, started, deadline, provenance: undecided };
        // The key first: nothing is derived from it unchecked (claims.rs).
        if let Err(reason) = contract::check_report_key(&obj.key, &self.config.scan_prefix) {
            return self.refuse(&d, reason).await;
        }
        // Then who wrote this version and what it scanned, before anything is written
        // (provenance.rs): it decides where results go and whether any lifecycle changes.
        let parsed = parse_meta(&head.metadata, &self.config.gate.thresholds);
        let decided = match self.decide_provenance(&d, parsed.as_ref().ok()).await? {
            Ok(decided) => decided,
            Err(reason) => return self.refuse(&d, reason).await,
        };
        d.provenance = decided.provenance;
        if let Some(why) = d.provenance.reason() {
            tracing::warn!(reason = %why, "report unverified: no lifecycle changes, results under results/_unverified/");
        }
        let meta = match parsed {
            Ok(m) => m,
            Err(reason) if d.provenance.is_verified() => {
                return self.quarantine(&d, None, QuarantineKind::InvalidMetadata, reason).await
            }
            Err(reason) => return self.refuse(&d, format!("{reason}; the report is also unverified")).await,
        };
        let meta = match self.check_claims(&d, meta, decided.build.as_ref()) {
            Ok(m) => m,
            Err(reason) => return self.refuse(&d, reason).await,
        };
        if head.size > self.config.max_report_bytes {
            let reason = format!(
                "the report is {} bytes, more than MAX_REPORT_BYTES ({} bytes, sized to the function's memory); \
                 split the scan or raise MaxReportBytes with ProcessorMemorySize",
                head.size, self.config.max_report_bytes
            );
            return self.quarantine(&d, Some(&meta), QuarantineKind::TooLarge, reason).await;
        }
        let name = format!("s3://{}/{}", obj.bucket, obj.key);
        // The findings go to the temp dir as they are read, never all in memory (spilled.rs);
        // quality findings that are not gated are only counted (16 bytes each), apart from the cap.
        let dir = spilled::spill_dir();
        let spill_budget = self.config.max_spill_bytes.unwrap_or_else(|| spilled::spill_budget(&dir));
        let limits = ReadLimits {
            max_findings: Some(self.config.max_findings),
            count_quality: self.config.max_quality_findings(),
            // Spilled, the findings' text is bounded on disk (max_spill_bytes), not in memory.
            max_text_bytes: None,
            max_held_bytes: Some(self.config.max_held_bytes),
            max_spill_bytes: Some(spill_budget),
        };
        // Exactly the version HEAD described (its version id and ETag), never more than the cap.
        let version = head.version_id.as_deref().or(obj.version_id.as_deref());
        let read = self
            .store
            .read_exact_with(&obj.bucket, &obj.key, version, head.etag.as_deref(), self.config.max_report_bytes, {
                let dir = dir.clone();
                move |r| read_sarif_spilled(std::io::BufReader::new(r), &name, limits, &dir)
            })
            .await;
        let read = match read {
            Ok(r) => r,
            Err(e @ StoreError::TooLarge { .. }) => {
                return self.quarantine(&d, Some(&meta), QuarantineKind::TooLarge, e.to_string()).await
            }
            Err(e) => return Err(e.into()),
        };
        let spilled = match read {
            Ok(r) => r,
            Err(SarifError::Io { error, .. }) => {
                return Err(Transient(format!("s3://{}/{}: reading failed: {error}", obj.bucket, obj.key)))
            }
            // The temp dir refused a write (full, say): nothing about the report itself.
            Err(e @ SarifError::Spill { .. }) => return Err(Transient(e.to_string())),
            Err(SarifError::TooMuchSpill { limit, .. }) => {
                let reason = format!(
                    "its findings would take more than {limit} bytes of the function's ephemeral storage (a quarter \
                     of its free space; a rule's shared texts are kept once, but its description is copied into each of \
                     its findings); shorten the rules' texts, split the scan or raise ProcessorEphemeralStorage"
                );
                return self.quarantine(&d, Some(&meta), QuarantineKind::TooLarge, reason).await;
            }
            Err(SarifError::TooManyFindings { limit, .. }) => {
                let reason = format!(
                    "the report has more than {limit} distinct findings (MAX_FINDINGS, a policy sized to the \
                     function's memory); split the scan or raise MaxFindings with ProcessorMemorySize"
                );
                return self.quarantine(&d, Some(&meta), QuarantineKind::TooManyFindings, reason).await;
            }
            Err(SarifError::TooLarge { what, limit, .. }) => {
                let reason = format!(
                    "{what}: more than the report's reader may hold besides its findings ({limit} bytes, one \
                     sixteenth of the function's memory); shorten or split the scan or raise ProcessorMemorySize"
                );
                return self.quarantine(&d, Some(&meta), QuarantineKind::TooLarge, reason).await;
            }
            Err(SarifError::TooManyQualityFindings { limit, .. }) => {
                let reason = format!(
                    "the report has more than {limit} distinct quality findings (counted apart from MAX_FINDINGS: \
                     {} per distinct finding it allows); split the scan or raise MaxFindings with ProcessorMemorySize",
                    crate::config::QUALITY_FINDINGS_PER_FINDING
                );
                return self.quarantine(&d, Some(&meta), QuarantineKind::TooManyFindings, reason).await;
            }
            Err(e) => return self.quarantine(&d, Some(&meta), QuarantineKind::NotSarif, e.to_string()).await,
        };
        // The one boxed step: evaluation, Security Hub and publishing together make a future
        // of over 16 KB (clippy::large_futures), which would otherwise sit in every caller's.
        let spill = SpillPlace { dir: &dir, budget: spill_budget };
        Box::pin(self.evaluate_and_publish(&d, &meta, decided.build.as_ref(), spilled, spill)).await
    }

    /// The stack's gate policy with the report's thresholds (its metadata over the stack's,
    /// limited by super::claims); the stack's own without metadata.
    fn gate_for(&self, meta: Option<&ReportMeta>) -> GatePolicy {
        meta.map_or(self.config.gate, |m| GateSettings::thresholds(m.thresholds).over(&self.config.gate))
    }

    /// The results folder of a delivery: the key's `<project>/<build>`, under
    /// `_unverified/` when the report is unverified (no gate, by-execution key, pipeline
    /// output or waiting runner reads there).
    pub(crate) fn results_dir_of(&self, d: &Delivery<'_>) -> (String, String) {
        let (project, build_id) = results_dir(&d.obj.key, &self.config.scan_prefix);
        if d.provenance.is_verified() {
            (project, build_id)
        } else {
            (format!("{}/{project}", contract::UNVERIFIED_RESULTS_PROJECT), build_id)
        }
    }

    fn verdict_input(&self, d: &Delivery<'_>, meta: Option<&ReportMeta>, now: &str) -> VerdictInput {
        let (obj, head) = (d.obj, d.head);
        VerdictInput {
            report: ReportRef {
                bucket: Some(obj.bucket.clone()),
                key: obj.key.clone(),
                version_id: head.version_id.clone().or_else(|| obj.version_id.clone()),
                etag: head.etag.clone().or_else(|| obj.etag.clone()),
            },
            target: meta.and_then(|m| m.target.clone()),
            scanner: None,
            build: meta.and_then(|m| m.build_arn.as_deref()).map(build_from_arn),
            processed_at: now.to_string(),
        }
    }

    /// Evaluates the report, writes its results, runs the Security Hub step and publishes
    /// its JUnit.
    async fn evaluate_and_publish(
        &self,
        d: &Delivery<'_>,
        meta: &ReportMeta,
        build_info: Option<&BuildInfo>,
        spilled: Spilled,
        spill: SpillPlace<'_>,
    ) -> Result<Outcome, Transient> {
        let obj = d.obj;
        let Spilled { report, findings: read, suppressed: read_suppressed } = spilled;
        let now_s = rfc3339(d.now);
        let documents = self.policy_documents(d, meta, build_info, &report.target).await?;
        let gate = self.gate_for(Some(meta));
        let input = self.verdict_input(d, Some(meta), &now_s);
        let build = input.build.clone();
        // One pass over the spilled findings: exceptions, suppressions, the quality split and the
        // counts. Quality findings are gated and imported only with QUALITY_FINDINGS=gate: they
        // are only counted otherwise. What is kept goes to a second pair of files (spilled.rs).
        let name = format!("s3://{}/{}", obj.bucket, obj.key);
        let mut kept = spilled::KeptSpills::new(spill.dir, &name, spill.budget).map_err(|e| spill_failed(&name, e))?;
        let evaluation = evaluate::evaluate_from(
            evaluate::Input::Source(&read),
            evaluate::Input::Source(&read_suppressed),
            &report,
            &gate,
            documents.for_evaluation(),
            meta.scanner_policy,
            input,
            &mut |group, f| kept.keep(group, &f),
        );
        let mut evaluated = match evaluation {
            Ok(e) => e,
            Err(evaluate::EvaluateError::Sink(spilled::SpillFailed::TooLarge(limit))) => {
                let reason = format!(
                    "its findings with their waivers and VEX statements would take more than {limit} bytes of the \
                     function's ephemeral storage (a quarter of its free space); split the scan or raise \
                     ProcessorEphemeralStorage"
                );
                return self.quarantine(d, Some(meta), QuarantineKind::TooLarge, reason).await;
            }
            Err(e) => return Err(Transient(format!("{name}: evaluating its spilled findings: {e}"))),
        };
        // The read's files are gone before the Security Hub step writes the state's body.
        drop((read, read_suppressed));
        let (findings, suppressed) = kept.finish().map_err(|e| spill_failed(&name, e))?;
        evaluated.verdict.warnings.extend(meta.notes.iter().cloned());
        evaluated.verdict.warnings.extend(documents.not_applied);
        evaluated.verdict.host = meta.host.clone();
        let (project, build_id) = self.results_dir_of(d);

        let publish = match self.publish_plan(d, meta, &project, &build_id) {
            None => None,
            Some(mut plan) => {
                plan.existing = self.published_build(&obj.bucket, &plan.marker_key).await?;
                evaluated.verdict.publisher_build = plan.existing.clone();
                Some(plan)
            }
        };
        let target = evaluated.verdict.target.clone().unwrap_or_default();
        // Written once, before any Security Hub call (verdict first).
        let mut results = Results {
            project: project.clone(),
            build_id: build_id.clone(),
            meta,
            verdict: evaluated.verdict,
            evaluation: evaluated.evaluation,
            findings: &findings,
            gate,
            written: Written::NOTHING,
        };
        let mut hub = HubResult::default();
        // An incomplete scan never changes Security Hub: what it did not find may still be
        // there, so nothing may be archived on its strength (docs/report-processor.md).
        let complete = report.incomplete.is_empty();
        // An unverified report changes no lifecycle (docs/security.md, "Provenance"); with
        // IMPORT_UNVERIFIED it imports into a namespace of its own object key (hub.rs).
        let trusted = d.provenance.is_verified() || self.config.import_unverified;
        if let Some(why) = d.provenance.reason() {
            results.verdict.warnings.push(format!(
                "the report is unverified ({why}): no gate reads this verdict{}",
                if trusted {
                    "; its findings go to a namespace of their own"
                } else {
                    " and Security Hub was left unchanged"
                }
            ));
        }
        if let Some(sink) = self.sink.as_ref().filter(|_| complete && trusted) {
            let facts =
                hub::ReportFacts { meta, target: &target, project: &project, build: build.as_ref(), now: &now_s };
            // Suppressed findings are imported too: a suppression never hides a finding from
            // the security team, nor archives it (docs/security.md, "Suppressions").
            let all = scangate_core::source::Chain(&findings, &suppressed);
            let import = hub::Import::new(&self.config, d, &facts, &all)?;
            hub = self.security_hub(sink, d, &import, &mut results).await?;
        } else {
            self.leave_hub_unchanged(&report.incomplete, &mut results).await?;
        }
        // Results are always written by now (a stale delivery's too).
        self.write_results_first(&mut results, None, hub.stale).await?;
        if let Some(plan) = publish.filter(|p| p.existing.is_none()) {
            let build = self.start_publisher(d, meta, &plan, &now_s).await?;
            results.verdict.publisher_build = Some(build);
            self.write_verdict(&project, &build_id, meta, &results.verdict).await?;
        }
        let metrics = hub.metrics(findings.len() as u64, d.started);
        for f in &hub.failed {
            tracing::error!(finding_id = %f.id, code = %f.code, message = %f.message, "finding not imported");
        }
        if hub.retry_event && !hub.pending {
            return Err(Transient(format!(
                "{} finding(s) failed with retryable errors (first: {}); the event will be retried",
                hub.failed.len(),
                hub.failed.first().map_or("", |f| f.code.as_str())
            )));
        }
        Ok(Outcome::Processed { passed: results.verdict.passed, metrics, stale: hub.stale, pending: hub.pending })
    }

    /// Results without a Security Hub step: the scan did not complete (what it did not find
    /// may still be there, so nothing is archived on its strength), the report is unverified,
    /// or Security Hub is disabled; `hub.json` says which.
    async fn leave_hub_unchanged(&self, incomplete: &[String], results: &mut Results<'_>) -> Result<(), Transient> {
        let complete = incomplete.is_empty();
        if !complete {
            tracing::warn!(?incomplete, "the scan did not complete: Security Hub left unchanged");
            if self.sink.is_some() {
                results.verdict.warnings.push(
                    "the scan did not complete: Security Hub was left unchanged (nothing imported or archived)"
                        .to_string(),
                );
            }
        }
        self.write_results_first(results, None, false).await?;
        let status = match () {
            _ if self.sink.is_none() => HubStatus::Disabled,
            _ if !complete => HubStatus::Incomplete,
            _ => HubStatus::Unverified,
        };
        self.write_hub_nothing(results, status).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_dirs() {
        assert!(is_report_key("scans/p/1/report.sarif", "scans/"));
        assert!(is_report_key("scans/p/1/report.SARIF.json", "scans/"));
        assert!(!is_report_key("scans/p/1/report.json", "scans/"));
        assert!(!is_report_key("results/p/1/report.sarif", "scans/"));
        assert!(is_report_key("p/1/report.sarif", ""));
        assert!(!is_report_key("quarantine/p/1/report.sarif", ""), "never its own quarantine copies");
        assert!(!is_report_key("results/p/1/x.sarif", ""));
        assert_eq!(results_dir("scans/p/b-1/report.sarif", "scans/"), ("p".into(), "b-1".into()));
        assert_eq!(results_dir("scans/p/b-1/x/y.sarif", "scans/"), ("p".into(), "b-1".into()));
        assert_eq!(results_dir("scans/p/r.sarif.json", "scans/"), ("p".into(), "r".into()));
        assert_eq!(results_dir("scans/r.sarif", "scans/"), ("_".into(), "r".into()));
    }
}

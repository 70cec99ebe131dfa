//! The results of one report in `results/<project>/<build-id>/`: junit.xml, summary.md,
//! verdict.json and its by-execution copy, written once per delivery before any Security
//! Hub call, with the counts an earlier delivery of the same report version recorded.

use super::hub_doc::RETRY_NOTE;
use super::state_object::AppliedResult;
use super::{Processor, ReportMeta, Transient};
use scangate_aws::codebuild::CodeBuildOps;
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract;
use scangate_core::policy::{Evaluation, GatePolicy};
use scangate_core::verdict::{content_sha256, PipelineExecution, ReportRef, Verdict};
use scangate_core::FindingSource;

/// The results of one report, written once per delivery, before any Security Hub call.
pub(crate) struct Results<'a> {
    pub project: String,
    pub build_id: String,
    pub meta: &'a ReportMeta,
    pub verdict: Verdict,
    pub evaluation: Evaluation,
    /// The findings the outputs list (the worst of them), read through a source.
    pub findings: &'a dyn FindingSource,
    pub gate: GatePolicy,
    pub written: Written,
}

/// Whether this delivery wrote the results yet, and whether the verdict's counts are those
/// of the `verdict.json` an earlier delivery of the same version wrote (`earlier`: adopted,
/// so that this delivery writes it again byte for byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    NotYet { earlier: bool },
    Yes { earlier: bool },
}

impl Written {
    /// Nothing written, no counts adopted.
    pub(crate) const NOTHING: Written = Written::NotYet { earlier: false };

    pub(crate) fn is_written(self) -> bool {
        matches!(self, Written::Yes { .. })
    }

    /// The counts are an earlier delivery's.
    pub(crate) fn earlier(self) -> bool {
        match self {
            Written::NotYet { earlier } | Written::Yes { earlier } => earlier,
        }
    }
}

/// The pipeline execution the verdict belongs to: only one verified against the uploading
/// build (super::claims), the same condition as the by-execution copy.
fn verified_execution(meta: &ReportMeta) -> Option<PipelineExecution> {
    match (&meta.pipeline, &meta.execution_id, meta.execution_verified) {
        (Some(pipeline), Some(execution_id), true) => {
            Some(PipelineExecution { pipeline: pipeline.clone(), execution_id: execution_id.clone() })
        }
        _ => None,
    }
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Writes junit.xml, summary.md, verdict.json (and its by-execution copy) once per
    /// delivery, before any Security Hub call. The counts and `processed_at` describe the
    /// report version: from `record` (this version's, in the state), else from the
    /// verdict.json an earlier delivery of the same version wrote, else 0 (a stale or
    /// disabled delivery).
    pub(crate) async fn write_results_first(
        &self,
        r: &mut Results<'_>,
        record: Option<&AppliedResult>,
        stale: bool,
    ) -> Result<(), Transient> {
        if r.written.is_written() {
            return Ok(());
        }
        match record {
            Some(rec) => {
                r.verdict.findings_imported = rec.imported;
                r.verdict.findings_archived = rec.archived;
                r.verdict.processed_at = rec.processed_at.clone();
            }
            None => {
                if !self.adopt_earlier_verdict(r).await? {
                    r.verdict.findings_imported = 0;
                    r.verdict.findings_archived = 0;
                    if stale {
                        r.verdict.warnings.push(
                            "a newer report of the same target was already applied: Security Hub was left unchanged"
                                .to_string(),
                        );
                    }
                }
            }
        }
        self.write_results(r).await?;
        r.written = Written::Yes { earlier: r.written.earlier() };
        Ok(())
    }

    /// Takes the counts, `processed_at` and warnings of the `verdict.json` an earlier
    /// delivery of the same report version wrote, if there is one (true), so that this
    /// delivery writes it again byte for byte.
    pub(crate) async fn adopt_earlier_verdict(&self, r: &mut Results<'_>) -> Result<bool, Transient> {
        if r.written.earlier() {
            return Ok(true);
        }
        let Some(e) = self.earlier_verdict(&r.project, &r.build_id, &r.verdict.report).await? else {
            return Ok(false);
        };
        tracing::info!("report version already processed: verdict.json keeps its counts and processed_at");
        r.verdict.findings_imported = e.findings_imported;
        r.verdict.findings_archived = e.findings_archived;
        r.verdict.processed_at = e.processed_at;
        for w in e.warnings.into_iter().filter(|w| !w.ends_with(RETRY_NOTE)) {
            if !r.verdict.warnings.contains(&w) {
                r.verdict.warnings.push(w);
            }
        }
        r.written = Written::NotYet { earlier: true };
        Ok(true)
    }

    /// The verdict.json a delivery of the same report version (bucket, key, version id,
    /// ETag) already wrote, unless it is the failed verdict of a quarantined report.
    pub(crate) async fn earlier_verdict(
        &self,
        project: &str,
        build_id: &str,
        report: &ReportRef,
    ) -> Result<Option<Verdict>, Transient> {
        let bucket = report.bucket.clone().unwrap_or_default();
        let key = contract::verdict_key(project, build_id);
        let Some(fetched) = self.store.get_bytes(&bucket, &key, 16 * 1024 * 1024).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<Verdict>(&fetched.body)
            .ok()
            .filter(|v| v.schema == scangate_core::verdict::SCHEMA && &v.report == report && v.error.is_none()))
    }

    /// Writes junit.xml and summary.md, then verdict.json naming them (their SHA-256, so the
    /// runner hands on exactly these bytes) and the verified pipeline execution, if any.
    pub(crate) async fn write_results(&self, r: &mut Results<'_>) -> Result<(), Transient> {
        // A finding that cannot be read back (a spill file) may read on a later delivery.
        let unreadable = |e: scangate_core::source::SourceError| Transient(format!("results: {e}"));
        // One read of the findings for both (JUnit's worst gate-breaking ones, the summary's table).
        let (junit, summary) =
            scangate_core::results::junit_and_summary_from(&r.verdict, &r.evaluation, r.findings, &r.gate, 20)
                .map_err(unreadable)?;
        r.verdict.junit_sha256 = Some(content_sha256(junit.as_bytes()));
        r.verdict.summary_sha256 = Some(content_sha256(summary.as_bytes()));
        r.verdict.pipeline_execution = verified_execution(r.meta);
        let (project, build_id, meta, verdict) = (r.project.as_str(), r.build_id.as_str(), r.meta, &r.verdict);
        let bucket = verdict.report.bucket.clone().unwrap_or_default();
        let verdict_json = serde_json::to_vec_pretty(verdict).map_err(|e| Transient(format!("verdict: {e}")))?;
        // JUnit and summary first: a reader that sees verdict.json finds the others too.
        for (key, body, content_type) in [
            (contract::junit_key(project, build_id), junit.into_bytes(), "application/xml"),
            (contract::summary_key(project, build_id), summary.into_bytes(), "text/markdown"),
        ] {
            self.store.put(&bucket, &key, body, &self.put_options(content_type)).await?;
        }
        self.write_verdict_json(&bucket, project, build_id, meta, verdict_json).await
    }

    /// Writes (again) `verdict.json` and its by-execution copy.
    pub(super) async fn write_verdict(
        &self,
        project: &str,
        build_id: &str,
        meta: &ReportMeta,
        verdict: &Verdict,
    ) -> Result<(), Transient> {
        let bucket = verdict.report.bucket.clone().unwrap_or_default();
        let verdict_json = serde_json::to_vec_pretty(verdict).map_err(|e| Transient(format!("verdict: {e}")))?;
        self.write_verdict_json(&bucket, project, build_id, meta, verdict_json).await
    }

    async fn write_verdict_json(
        &self,
        bucket: &str,
        project: &str,
        build_id: &str,
        meta: &ReportMeta,
        verdict_json: Vec<u8>,
    ) -> Result<(), Transient> {
        self.store
            .put(
                bucket,
                &contract::verdict_key(project, build_id),
                verdict_json.clone(),
                &self.put_options("application/json"),
            )
            .await?;
        // Only for a pipeline execution verified against the uploading build (super::claims).
        let verified = (&meta.pipeline, &meta.execution_id, meta.execution_verified);
        if let (Some(pipeline), Some(execution), true) = verified {
            self.store
                .put(
                    bucket,
                    &contract::by_execution_verdict_key(pipeline, execution),
                    verdict_json,
                    &self.put_options("application/json"),
                )
                .await?;
        }
        Ok(())
    }
}

//! Quarantine: the copy of a report that cannot be processed and the reason beside it.
//! A refused report (its key or claims, super::claims) gets no results at all; any other
//! report that cannot be processed gets a failed verdict as well.

use super::results::{Results, Written};
use super::{Delivery, Outcome, Processor, ReportMeta, Transient};
use scangate_aws::codebuild::CodeBuildOps;
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract::{self, QuarantineKind};
use scangate_core::verdict::{rfc3339, Verdict};

/// The schema id of a quarantine reason.
pub(super) const QUARANTINE_SCHEMA: &str = "scangate.quarantine.v1";

/// `<quarantine copy>.reason.json`: why a report was quarantined, and which report it was
/// (the original key, also when the copy's name is hashed). The fields stand in the order
/// the reasons already stored have them (alphabetical: they were written from a JSON map).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct QuarantineReason {
    pub bucket: String,
    pub etag: Option<String>,
    pub key: String,
    /// Why, as a kind scripts can match (absent in reasons written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<QuarantineKind>,
    pub quarantined_at: String,
    pub reason: String,
    /// A failed verdict was written as well (false for a refused report: no results at all).
    pub results_written: bool,
    pub schema: String,
    pub version_id: Option<String>,
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Quarantines a report whose key or claims are refused: the copy and the reason, no
    /// results anywhere (its key may name another project's results folder), not retried.
    pub(crate) async fn refuse(&self, d: &Delivery<'_>, reason: String) -> Result<Outcome, Transient> {
        tracing::warn!(bucket = %d.obj.bucket, key = %d.obj.key, %reason, "report refused: quarantined without results");
        self.write_quarantine(d, QuarantineKind::Refused, &reason, false).await?;
        Ok(Outcome::Quarantined { reason })
    }

    /// The quarantine copy of a report and the reason beside it (`<copy>.reason.json`). The copy's
    /// key is hashed when `quarantine/<report key>` would not fit S3's key limit; the reason keeps
    /// the original key. `results_written` says whether a failed verdict is written as well.
    async fn write_quarantine(
        &self,
        d: &Delivery<'_>,
        kind: QuarantineKind,
        reason: &str,
        results_written: bool,
    ) -> Result<(), Transient> {
        let (obj, head) = (d.obj, d.head);
        let qkey = contract::quarantine_copy_key(&obj.key);
        self.store.copy(&obj.bucket, &obj.key, &obj.bucket, &qkey, self.config.kms_key_id.as_deref()).await?;
        let doc = QuarantineReason {
            bucket: obj.bucket.clone(),
            etag: head.etag.clone(),
            key: obj.key.clone(),
            kind: Some(kind),
            quarantined_at: rfc3339(d.now),
            reason: reason.to_string(),
            results_written,
            schema: QUARANTINE_SCHEMA.into(),
            version_id: head.version_id.clone(),
        };
        let body = serde_json::to_vec_pretty(&doc).map_err(|e| Transient(e.to_string()))?;
        let reason_key = contract::quarantine_copy_reason_key(&qkey);
        self.store.put(&obj.bucket, &reason_key, body, &self.put_options("application/json")).await?;
        Ok(())
    }

    pub(super) async fn quarantine(
        &self,
        d: &Delivery<'_>,
        meta: Option<&ReportMeta>,
        kind: QuarantineKind,
        reason: String,
    ) -> Result<Outcome, Transient> {
        tracing::warn!(bucket = %d.obj.bucket, key = %d.obj.key, kind = kind.as_str(), %reason, "report cannot be processed: quarantining");
        let now_s = rfc3339(d.now);
        self.write_quarantine(d, kind, &reason, true).await?;
        let gate = self.gate_for(meta);
        let verdict = Verdict::unprocessable(self.verdict_input(d, meta, &now_s), &gate, reason.clone());
        let evaluation = scangate_core::policy::Evaluation {
            passed: false,
            reasons: verdict.reasons.clone(),
            warnings: Vec::new(),
            checks: Vec::new(),
        };
        let (project, build_id) = self.results_dir_of(d);
        let meta = meta.cloned().unwrap_or_default();
        let mut results = Results {
            project,
            build_id,
            meta: &meta,
            verdict,
            evaluation,
            findings: &Vec::<scangate_core::Finding>::new(),
            gate,
            written: Written::NOTHING,
        };
        self.write_results(&mut results).await?;
        Ok(Outcome::Quarantined { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_reads_as_the_reasons_stored_before_it_was_typed() {
        let doc = QuarantineReason {
            bucket: "b".into(),
            etag: Some("\"e\"".into()),
            key: "scans/p/1/r.sarif".into(),
            kind: None,
            quarantined_at: "2026-11-23T08:00:00.000Z".into(),
            reason: "bad".into(),
            results_written: true,
            schema: QUARANTINE_SCHEMA.into(),
            version_id: None,
        };
        let stored = r#"{
  "bucket": "b",
  "etag": "\"e\"",
  "key": "scans/p/1/r.sarif",
  "quarantined_at": "2026-11-23T08:00:00.000Z",
  "reason": "bad",
  "results_written": true,
  "schema": "scangate.quarantine.v1",
  "version_id": null
}"#;
        let typed = serde_json::to_vec_pretty(&doc).expect("serializes");
        assert_eq!(String::from_utf8_lossy(&typed), stored, "byte for byte");
        assert_eq!(serde_json::from_str::<QuarantineReason>(stored).expect("reads"), doc);
        let typed = QuarantineReason { kind: Some(QuarantineKind::TooManyFindings), ..doc };
        let json = serde_json::to_value(&typed).expect("serializes");
        assert_eq!(json["kind"], "too_many_findings");
        assert_eq!(serde_json::from_value::<QuarantineReason>(json).expect("reads"), typed);
    }
}

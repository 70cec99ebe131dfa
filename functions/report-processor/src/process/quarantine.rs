//! Quarantine: the copy of a report that cannot be processed and the reason beside it.
//! A refused report (its key or claims, super::claims) gets no results at all; any other
//! report that cannot be processed gets a failed verdict as well.

use super::results::{Results, Written};
use super::{Delivery, Outcome, Processor, ReportMeta, Transient};
use scangate_aws::codebuild::{Publisher, ReportGroups};
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract::{self, results_dir};
use scangate_core::policy::GatePolicy;
use scangate_core::verdict::{rfc3339, Verdict};
use sha2::{Digest, Sha256};

/// Where a report whose key cannot be used as it is goes: `quarantine/_invalid-keys/<sha256>.sarif`.
pub const HASHED_QUARANTINE_PREFIX: &str = "quarantine/_invalid-keys/";

/// The quarantine copy's key: `quarantine/<key>`, or a hashed name when that would not fit
/// S3's limit or the key holds control characters (the original key is kept in the reason).
pub fn quarantine_copy_key(report_key: &str) -> String {
    if contract::quarantine_key_fits(report_key) {
        contract::quarantine_key(report_key)
    } else {
        format!("{HASHED_QUARANTINE_PREFIX}{}.sarif", hex::encode(Sha256::digest(report_key.as_bytes())))
    }
}

impl<S: ReportStore, K: FindingSink, P: ReportGroups + Publisher> Processor<S, K, P> {
    /// Quarantines a report whose key or claims are refused: the copy and the reason, no
    /// results anywhere (its key may name another project's results folder), not retried.
    pub(crate) async fn refuse(&self, d: &Delivery<'_>, reason: String) -> Result<Outcome, Transient> {
        tracing::warn!(bucket = %d.obj.bucket, key = %d.obj.key, %reason, "report refused: quarantined without results");
        self.write_quarantine(d, &reason, false).await?;
        Ok(Outcome::Quarantined { reason })
    }

    /// The quarantine copy of a report and the reason beside it (`<copy>.reason.json`). The copy's
    /// key is hashed when `quarantine/<report key>` would not fit S3's key limit; the reason keeps
    /// the original key. `results_written` says whether a failed verdict is written as well.
    async fn write_quarantine(&self, d: &Delivery<'_>, reason: &str, results_written: bool) -> Result<(), Transient> {
        let (obj, head) = (d.obj, d.head);
        let qkey = quarantine_copy_key(&obj.key);
        self.store.copy(&obj.bucket, &obj.key, &obj.bucket, &qkey, self.config.kms_key_id.as_deref()).await?;
        let doc = serde_json::json!({
            "schema": "scangate.quarantine.v1",
            "reason": reason,
            "bucket": obj.bucket,
            "key": obj.key,
            "version_id": head.version_id,
            "etag": head.etag,
            "quarantined_at": rfc3339(d.now),
            "results_written": results_written,
        });
        let body = serde_json::to_vec_pretty(&doc).map_err(|e| Transient(e.to_string()))?;
        self.store
            .put(&obj.bucket, &format!("{qkey}.reason.json"), body, &self.put_options("application/json"))
            .await?;
        Ok(())
    }

    pub(super) async fn quarantine(
        &self,
        d: &Delivery<'_>,
        meta: Option<&ReportMeta>,
        reason: String,
    ) -> Result<Outcome, Transient> {
        tracing::warn!(bucket = %d.obj.bucket, key = %d.obj.key, %reason, "report cannot be processed: quarantining");
        let now_s = rfc3339(d.now);
        self.write_quarantine(d, &reason, true).await?;
        let gate =
            GatePolicy { thresholds: meta.map_or(self.config.gate.thresholds, |m| m.thresholds), ..self.config.gate };
        let verdict = Verdict::unprocessable(self.verdict_input(d, meta, &now_s), &gate, reason.clone());
        let evaluation = scangate_core::policy::Evaluation {
            passed: false,
            reasons: verdict.reasons.clone(),
            warnings: Vec::new(),
            checks: Vec::new(),
        };
        let (project, build_id) = results_dir(&d.obj.key, &self.config.scan_prefix);
        let meta = meta.cloned().unwrap_or_default();
        let results = Results {
            project,
            build_id,
            meta: &meta,
            verdict,
            evaluation,
            findings: &[],
            gate,
            written: Written::NOTHING,
        };
        self.write_results(&results).await?;
        Ok(Outcome::Quarantined { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_keys_fit() {
        assert_eq!(quarantine_copy_key("scans/p/b/r.sarif"), "quarantine/scans/p/b/r.sarif");
        let long = format!("scans/p/b/{}.sarif", "x".repeat(1000));
        let q = quarantine_copy_key(&long);
        assert!(q.starts_with(HASHED_QUARANTINE_PREFIX) && q.len() + ".reason.json".len() <= 1024, "{q}");
        assert_ne!(q, quarantine_copy_key(&format!("{long}x")));
    }
}

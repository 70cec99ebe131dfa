//! The runner's AWS side: the token from Secrets Manager, report uploads with SSE-KMS,
//! ExpectedBucketOwner and metadata, and waiting for the report-processor's verdict.

use super::token::{token_from_secret_string, AccessToken};
use crate::error::{with_sources, CliError};
use scangate_aws::s3::{Condition, PutOptions, ReportStore, S3Store};
use scangate_aws::secrets::{SecretSource, SecretsManager};
use scangate_core::Verdict;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to upload where.
#[derive(Clone, Debug)]
pub(super) struct UploadPlan {
    pub bucket: String,
    pub kms_key_id: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub verdict_key: String,
    pub junit_key: String,
    /// (local file, object key); the SARIF first.
    pub files: Vec<(PathBuf, String)>,
    /// User metadata (without the `x-amz-meta-` prefix).
    pub metadata: Vec<(String, String)>,
}

/// What was uploaded.
#[derive(Clone, Debug)]
pub(super) struct Uploaded {
    pub verdict_key: String,
    /// The SARIF's key, version and ETag (the verdict must be about this object).
    pub sarif_key: Option<String>,
    pub sarif_version_id: Option<String>,
    pub sarif_etag: Option<String>,
    pub expected_bucket_owner: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(format!("cannot start the async runtime: {e}")))
}

/// Reads the Qualys token from Secrets Manager (plain string, or JSON with `accessToken`).
pub(super) fn fetch_token(secret_id: &str) -> Result<AccessToken, CliError> {
    let rt = runtime()?;
    let value = rt.block_on(async {
        let config = scangate_aws::clients::load_sdk_config().await;
        SecretsManager::from_config(&config).secret_string(secret_id).await
    });
    let value = value.map_err(|e| CliError::internal(format!("reading the Qualys token: {e}")))?;
    token_from_secret_string(value.expose())
        .map_err(|e| CliError::internal(format!("reading the Qualys token: secret {secret_id}: {e}")))
}

fn content_type(key: &str) -> &'static str {
    if key.ends_with(".sarif") || key.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// Uploads every file of the plan (the SARIF last, so the processor finds its companions in place).
pub(super) fn upload(plan: &UploadPlan) -> Result<Uploaded, CliError> {
    let rt = runtime()?;
    rt.block_on(async {
        let config = scangate_aws::clients::load_sdk_config().await;
        let owner = match &plan.expected_bucket_owner {
            Some(o) => o.clone(),
            None => caller_account(&config).await?,
        };
        let clients = scangate_aws::clients::Clients::new(&config);
        let store = S3Store::new(clients.s3, Some(owner.clone()));
        if plan.kms_key_id.is_none() {
            eprintln!(
                "scangate: warning: no --kms-key-id / REPORT_KMS_KEY_ID: the bucket's default encryption applies"
            );
        }
        let metadata: HashMap<String, String> =
            plan.metadata.iter().map(|(k, v)| (k.clone(), sanitize_metadata(v))).collect();
        let mut uploaded = Uploaded {
            verdict_key: plan.verdict_key.clone(),
            sarif_key: None,
            sarif_version_id: None,
            sarif_etag: None,
            expected_bucket_owner: Some(owner.clone()),
        };
        // Companions first, the SARIF (the processor's trigger) last.
        let mut order: Vec<&(PathBuf, String)> = plan.files.iter().skip(1).collect();
        order.extend(plan.files.first());
        for (path, key) in order {
            let body =
                std::fs::read(path).map_err(|e| CliError::internal(format!("reading {}: {e}", path.display())))?;
            let options = PutOptions {
                content_type: Some(content_type(key).to_string()),
                metadata: metadata.clone(),
                kms_key_id: plan.kms_key_id.clone(),
                condition: Condition::None,
            };
            let size = body.len();
            let put = store
                .put(&plan.bucket, key, body, &options)
                .await
                .map_err(|e| CliError::internal(format!("uploading {}: {e}", path.display())))?;
            eprintln!("scangate: uploaded {} ({size} bytes) to s3://{}/{key}", path.display(), plan.bucket);
            if plan.files.first().is_some_and(|(_, k)| k == key) {
                uploaded.sarif_key = Some(key.clone());
                uploaded.sarif_version_id = put.version_id;
                uploaded.sarif_etag = put.etag;
            }
        }
        Ok(uploaded)
    })
}

/// S3 user metadata must be US-ASCII: other characters become `?`, and values are capped.
fn sanitize_metadata(v: &str) -> String {
    v.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).take(512).collect()
}

async fn caller_account(config: &aws_config::SdkConfig) -> Result<String, CliError> {
    let sts = aws_sdk_sts::Client::new(config);
    match sts.get_caller_identity().send().await {
        Ok(out) => out.account.ok_or_else(|| CliError::internal("STS GetCallerIdentity returned no account")),
        Err(e) => Err(CliError::internal(format!(
            "cannot find this account for ExpectedBucketOwner (STS GetCallerIdentity: {}); set --expected-bucket-owner \
             / REPORT_BUCKET_OWNER",
            with_sources(&e)
        ))),
    }
}

/// Whether a verdict is about the object this run uploaded (a retried build may find an older one).
fn verdict_matches(v: &Verdict, up: &Uploaded) -> bool {
    if let Some(key) = &up.sarif_key {
        if !v.report.key.is_empty() && &v.report.key != key {
            return false;
        }
    }
    if let (Some(a), Some(b)) = (&v.report.version_id, &up.sarif_version_id) {
        return a == b;
    }
    match (&v.report.etag, &up.sarif_etag) {
        (Some(a), Some(b)) => a.trim_matches('"') == b.trim_matches('"'),
        _ => true,
    }
}

/// Polls for `verdict.json` until `wait` has passed; downloads `junit.xml` to `junit_path`
/// and prints `summary.md` when the processor wrote them.
pub(super) fn wait_for_verdict(
    plan: &UploadPlan,
    up: &Uploaded,
    wait: Duration,
    junit_path: &Path,
) -> Result<Verdict, CliError> {
    let rt = runtime()?;
    rt.block_on(async {
        let config = scangate_aws::clients::load_sdk_config().await;
        let clients = scangate_aws::clients::Clients::new(&config);
        let store = S3Store::new(clients.s3, up.expected_bucket_owner.clone());
        let started = Instant::now();
        let deadline = started + wait;
        eprintln!("scangate: waiting up to {}s for s3://{}/{}", wait.as_secs(), plan.bucket, plan.verdict_key);
        let mut delay = Duration::from_millis(500);
        let mut stale_seen = false;
        let verdict = loop {
            match store.get_bytes(&plan.bucket, &plan.verdict_key, 4 * 1024 * 1024).await {
                Ok(Some(f)) => match Verdict::from_json(&f.body) {
                    Ok(v) if verdict_matches(&v, up) => break v,
                    Ok(_) => {
                        if !stale_seen {
                            eprintln!("scangate: the verdict there is for an earlier upload; still waiting");
                            stale_seen = true;
                        }
                    }
                    Err(e) => {
                        return Err(CliError::internal(format!("s3://{}/{}: {e}", plan.bucket, plan.verdict_key)));
                    }
                },
                Ok(None) => {}
                Err(e) if e.is_transient() => eprintln!("scangate: reading the verdict: {e}; retrying"),
                Err(e) => return Err(CliError::internal(format!("reading the verdict: {e}"))),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(CliError::internal(format!(
                    "no verdict at s3://{}/{} after {}s (--wait / SCANGATE_WAIT). Is the report-processor deployed \
                     and subscribed to the bucket's scans/ prefix? Its logs and quarantine/ say why a report was \
                     not processed.",
                    plan.bucket,
                    plan.verdict_key,
                    wait.as_secs()
                )));
            }
            tokio::time::sleep(delay.min(deadline - now)).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        };
        eprintln!("scangate: verdict arrived after {:.1}s", started.elapsed().as_secs_f64());
        // The processor writes junit.xml and summary.md before the verdict, which names their SHA-256: only those
        // bytes are this report's (an object rewritten or written later under the same key is not handed on).
        let junit = fetch_soon(&store, &plan.bucket, &plan.junit_key).await;
        let junit = junit.filter(|body| {
            bound_to_verdict(body, verdict.junit_sha256.as_deref(), &plan.bucket, &plan.junit_key, "JUnit")
        });
        match junit {
            Some(body) => {
                if let Some(parent) = junit_path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    let _ = std::fs::create_dir_all(parent);
                }
                super::private::write_file(junit_path, &body).map_err(|e| {
                    CliError::usage(format!(
                        "--junit-path / SCANGATE_JUNIT_PATH: cannot write {}: {e}",
                        junit_path.display()
                    ))
                })?;
                eprintln!("scangate: JUnit report written to {}", junit_path.display());
            }
            None => eprintln!(
                "scangate: warning: no JUnit of this verdict at s3://{}/{}: none handed on",
                plan.bucket, plan.junit_key
            ),
        }
        if let Some(summary_key) = scangate_core::contract::summary_beside(&plan.verdict_key) {
            if let Ok(Some(s)) = store.get_bytes(&plan.bucket, &summary_key, 1024 * 1024).await {
                if bound_to_verdict(&s.body, verdict.summary_sha256.as_deref(), &plan.bucket, &summary_key, "summary") {
                    // summary.md as the processor wrote it, through the sanitizer again on its way to the log.
                    eprintln!("{}", scangate_core::text::display_text(&String::from_utf8_lossy(&s.body)));
                }
            }
        }
        Ok(verdict)
    })
}

/// Whether `body` is the file the verdict names by its SHA-256; says why not on stderr.
fn bound_to_verdict(body: &[u8], named: Option<&str>, bucket: &str, key: &str, what: &str) -> bool {
    let Some(named) = named else {
        eprintln!(
            "scangate: warning: the verdict names no {what} (no SHA-256 from the report-processor):              s3://{bucket}/{key} is not used"
        );
        return false;
    };
    let actual = scangate_core::verdict::content_sha256(body);
    if actual.eq_ignore_ascii_case(named) {
        return true;
    }
    eprintln!(
        "scangate: warning: s3://{bucket}/{key} is not the {what} of this verdict (SHA-256 {actual}, the verdict \
         names {named}): it was rewritten after the verdict, and is not used"
    );
    false
}

async fn fetch_soon(store: &S3Store, bucket: &str, key: &str) -> Option<Vec<u8>> {
    for attempt in 0..6u32 {
        if let Ok(Some(f)) = store.get_bytes(bucket, key, 64 * 1024 * 1024).await {
            return Some(f.body);
        }
        if attempt < 5 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use scangate_core::policy::{evaluate, Counts, GatePolicy, PolicyResult};
    use scangate_core::verdict::{ReportRef, VerdictInput};

    fn verdict(key: &str, version: Option<&str>, etag: Option<&str>) -> Verdict {
        let gate = GatePolicy::default();
        let e = evaluate(&Counts::default(), PolicyResult::None, &gate);
        let input = VerdictInput {
            report: ReportRef {
                bucket: None,
                key: key.into(),
                version_id: version.map(Into::into),
                etag: etag.map(Into::into),
            },
            ..Default::default()
        };
        Verdict::new(input, Counts::default(), PolicyResult::None, &gate, &e)
    }

    #[test]
    fn stale_verdicts_are_recognised() {
        let up = Uploaded {
            verdict_key: "results/p/b/verdict.json".into(),
            sarif_key: Some("scans/p/b/report.sarif".into()),
            sarif_version_id: Some("v2".into()),
            sarif_etag: Some("\"e2\"".into()),
            expected_bucket_owner: None,
        };
        assert!(verdict_matches(&verdict("scans/p/b/report.sarif", Some("v2"), None), &up));
        assert!(!verdict_matches(&verdict("scans/p/b/report.sarif", Some("v1"), None), &up));
        assert!(verdict_matches(&verdict("scans/p/b/report.sarif", None, Some("e2")), &up));
        assert!(!verdict_matches(&verdict("scans/p/b/report.sarif", None, Some("\"e1\"")), &up));
        assert!(!verdict_matches(&verdict("scans/p/b/other.sarif", None, None), &up));
        assert!(verdict_matches(&verdict("scans/p/b/report.sarif", None, None), &up));
    }

    #[test]
    fn metadata_is_ascii() {
        assert_eq!(sanitize_metadata("café\n1"), "caf??1");
        assert_eq!(sanitize_metadata(&"x".repeat(600)).len(), 512);
    }
}

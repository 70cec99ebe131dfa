//! `scangate doctor`: is this deployment ready for a first scan? One line per check (ok,
//! missing, failed or skipped) with a hint, from the same variables the runner reads (in a
//! scan project they are set by the stack). Exit 0 when every needed check is ok, 1 otherwise.
//! Read-only: nothing is downloaded, written or started, and the token is never printed.

use crate::exit;
use scangate_aws::readiness::{AwsReadiness, ProbeError, QueueTarget, Readiness};
use scangate_aws::secrets::{SecretError, SecretSource, SecretsManager};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// `scangate doctor`: every option has the runner's variable, so in a scan project it needs none.
#[derive(clap::Args, Debug)]
pub(crate) struct DoctorArgs {
    /// Secrets Manager secret holding the Qualys token (as for `scan`).
    #[arg(long, env = "QUALYS_SECRET_ID")]
    secret_id: Option<String>,
    /// Use this QScanner binary (as for `scan`).
    #[arg(long, env = "QSCANNER_PATH")]
    qscanner_path: Option<PathBuf>,
    /// QScanner's download URL (the stack's QScannerUrl).
    #[arg(long, env = "QSCANNER_URL")]
    qscanner_url: Option<String>,
    /// SHA-256 of the download (the stack's QScannerSha256).
    #[arg(long, env = "QSCANNER_SHA256")]
    qscanner_sha256: Option<String>,
    /// The runner accepts `<url>.sha256` from the download's host (as for `scan`).
    #[arg(long, env = "QSCANNER_TRUST_SAME_HOST_SHA256", default_value = "false", action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    trust_same_host_checksum: bool,
    /// The report bucket (the stack's ReportBucketName output).
    #[arg(long, env = "REPORT_BUCKET")]
    bucket: Option<String>,
    /// The account that must own it [default: this account, from STS].
    #[arg(long, env = "REPORT_BUCKET_OWNER")]
    expected_bucket_owner: Option<String>,
    /// The stack's KMS key ARN (the KmsKeyArn output), which uploads must name.
    #[arg(long, env = "REPORT_KMS_KEY_ID")]
    kms_key_id: Option<String>,
    /// Whether findings go to Security Hub (the stack's SecurityHubEnabled); false skips that check.
    #[arg(long, env = "SECURITY_HUB_ENABLED", default_value = "true", action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    security_hub: bool,
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    /// Not configured or not there: the first scan would fail.
    Missing,
    /// Configured, but the answer is wrong or could not be had.
    Failed,
    /// Not needed with this configuration.
    Skipped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        })
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do about it (empty when ok).
    pub hint: String,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, status: Status::Ok, detail: detail.into(), hint: String::new() }
    }
    fn bad(name: &'static str, status: Status, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check { name, status, detail: detail.into(), hint: hint.into() }
    }
}

/// Runs `scangate doctor`; returns the exit code.
pub(crate) fn run(args: DoctorArgs) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scangate doctor: error: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let checks = rt.block_on(async {
        let config = scangate_aws::clients::load_sdk_config().await;
        let probes = AwsReadiness::from_config(&config);
        let secrets = SecretsManager::from_config(&config);
        let token_env = std::env::var("QUALYS_ACCESS_TOKEN").ok();
        check_all(&args, token_env.as_deref(), &probes, &secrets).await
    });
    print!("{}", render(&checks));
    if ready(&checks) {
        println!("ready: a scan can run");
        exit::PASSED
    } else {
        println!("not ready: fix the lines marked missing or failed (docs/getting-started.md)");
        exit::INTERNAL
    }
}

/// Every needed check is ok (skipped ones are not needed).
pub(crate) fn ready(checks: &[Check]) -> bool {
    checks.iter().all(|c| matches!(c.status, Status::Ok | Status::Skipped))
}

pub(crate) fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!("{:<13} {:<8} {}\n", c.name, c.status.to_string(), c.detail));
        if !c.hint.is_empty() {
            out.push_str(&format!("{:<13} {:<8} hint: {}\n", "", "", c.hint));
        }
    }
    out
}

async fn check_all<R: Readiness, S: SecretSource>(
    args: &DoctorArgs,
    token_env: Option<&str>,
    probes: &R,
    secrets: &S,
) -> Vec<Check> {
    let nonempty = |o: &Option<String>| o.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut checks = vec![check_token(nonempty(&args.secret_id).as_deref(), token_env, secrets).await];
    checks.push(check_qscanner(
        args.qscanner_path.as_deref(),
        nonempty(&args.qscanner_url).as_deref(),
        nonempty(&args.qscanner_sha256).as_deref(),
        args.trust_same_host_checksum,
    ));
    let bucket = nonempty(&args.bucket);
    let kms = nonempty(&args.kms_key_id);
    match bucket {
        None => {
            let hint = "set REPORT_BUCKET / --bucket to the stack's ReportBucketName output (a scan project sets it)";
            checks.push(Check::bad("bucket", Status::Missing, "no report bucket", hint));
            checks.push(Check::bad("kms-key", Status::Skipped, "needs the bucket", ""));
            checks.push(Check::bad("queue", Status::Skipped, "needs the bucket", ""));
        }
        Some(bucket) => {
            let owner = match nonempty(&args.expected_bucket_owner) {
                Some(o) => Ok(o),
                None => probes.caller_account().await,
            };
            match owner {
                Err(e) => {
                    let hint = "set AWS credentials (or REPORT_BUCKET_OWNER); AWS_REGION names the stack's region";
                    checks.push(Check::bad("bucket", Status::Failed, format!("no AWS identity: {e}"), hint));
                    checks.push(Check::bad("kms-key", Status::Skipped, "needs the bucket", ""));
                    checks.push(Check::bad("queue", Status::Skipped, "needs the bucket", ""));
                }
                Ok(owner) => {
                    let reachable = check_bucket(&bucket, &owner, probes).await;
                    let usable = reachable.status == Status::Ok;
                    checks.push(reachable);
                    if usable {
                        checks.push(check_kms_key(&bucket, &owner, kms.as_deref(), probes).await);
                        checks.push(check_queue(&bucket, &owner, probes).await);
                    } else {
                        checks.push(Check::bad("kms-key", Status::Skipped, "needs the bucket", ""));
                        checks.push(Check::bad("queue", Status::Skipped, "needs the bucket", ""));
                    }
                }
            }
        }
    }
    checks.push(if args.security_hub {
        check_security_hub(probes).await
    } else {
        Check::bad("security-hub", Status::Skipped, "SECURITY_HUB_ENABLED=false: nothing is imported", "")
    });
    checks
}

/// The stack creates the secret with `{"note": "replace accessToken …", "accessToken": <random>}`.
fn is_stack_placeholder(value: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(value.trim())
        .ok()
        .and_then(|v| v.get("note").and_then(serde_json::Value::as_str).map(|n| n.contains("replace accessToken")))
        .unwrap_or(false)
}

/// Whether a secret's value holds a token as the runner reads it (`scan::token`): a plain string, or
/// JSON with a non-empty string `accessToken`. The error never contains the value.
fn secret_holds_token(value: &str) -> Result<(), &'static str> {
    let t = value.trim();
    if t.is_empty() {
        return Err("the secret value is empty");
    }
    if !t.starts_with('{') {
        return Ok(());
    }
    let v: serde_json::Value =
        serde_json::from_str(t).map_err(|_| "the secret value starts with '{' but is not JSON")?;
    match v.get("accessToken").and_then(serde_json::Value::as_str) {
        Some(a) if !a.trim().is_empty() => Ok(()),
        _ => Err("the secret value is JSON but has no non-empty string field \"accessToken\""),
    }
}

async fn check_token<S: SecretSource>(secret_id: Option<&str>, token_env: Option<&str>, secrets: &S) -> Check {
    const NAME: &str = "token";
    let put = "aws secretsmanager put-secret-value --secret-id <id> --secret-string '{\"accessToken\":\"<token>\"}'";
    if let Some(id) = secret_id {
        return match secrets.secret_string(id).await {
            Ok(v) if is_stack_placeholder(v.expose()) => Check::bad(
                NAME,
                Status::Missing,
                format!("secret {id} still holds the placeholder the stack created"),
                format!("put the Qualys access token into it: {put}"),
            ),
            Ok(v) => match secret_holds_token(v.expose()) {
                Ok(()) => Check::ok(NAME, format!("secret {id} holds a token (not shown)")),
                Err(why) => Check::bad(NAME, Status::Failed, format!("secret {id}: {why}"), put),
            },
            Err(e @ SecretError::NotFound { .. }) => Check::bad(
                NAME,
                Status::Missing,
                e.to_string(),
                "the stack's secret is qualys-<Name>-credentials in the stack's region (AWS_REGION)",
            ),
            Err(e) => Check::bad(
                NAME,
                Status::Failed,
                e.to_string(),
                "run with a role that may read the secret: the scan role, or a role in the stack's SecretAdminRoleArns",
            ),
        };
    }
    match token_env.map(str::trim).filter(|t| !t.is_empty()) {
        Some(_) => Check::ok(NAME, "QUALYS_ACCESS_TOKEN is set (not shown)"),
        None => Check::bad(
            NAME,
            Status::Missing,
            "neither QUALYS_SECRET_ID nor QUALYS_ACCESS_TOKEN is set",
            "set QUALYS_SECRET_ID to the stack's secret qualys-<Name>-credentials (a scan project sets it)",
        ),
    }
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A file QScanner is taken from: it must be there and, with a checksum, match it.
fn check_local_binary(path: &Path, sha256: Option<&str>, how: &str) -> Check {
    const NAME: &str = "qscanner";
    if !path.is_file() {
        return Check::bad(NAME, Status::Missing, format!("{how} {} is not a file", path.display()), "");
    }
    match sha256 {
        None => Check::ok(NAME, format!("{how} {} (no QSCANNER_SHA256: not verified)", path.display())),
        Some(want) => match sha256_of(path) {
            Ok(got) if got.eq_ignore_ascii_case(want) => {
                Check::ok(NAME, format!("{how} {} matches QSCANNER_SHA256", path.display()))
            }
            Ok(got) => Check::bad(
                NAME,
                Status::Failed,
                format!("{how} {} has SHA-256 {got}, not QSCANNER_SHA256 {want}", path.display()),
                "the runner refuses it: fix the checksum or the file",
            ),
            Err(e) => Check::bad(NAME, Status::Failed, format!("cannot read {}: {e}", path.display()), ""),
        },
    }
}

pub(crate) fn check_qscanner(
    path: Option<&Path>,
    url: Option<&str>,
    sha256: Option<&str>,
    trust_same_host: bool,
) -> Check {
    const NAME: &str = "qscanner";
    let stack_hint = "deploy the stack with QScannerUrl and QScannerSha256 (docs/getting-started.md, step 1), or set \
                      QSCANNER_URL and QSCANNER_SHA256";
    if let Some(s) = sha256.filter(|s| !is_sha256(s)) {
        return Check::bad(NAME, Status::Failed, format!("QSCANNER_SHA256 {s:?} is not 64 hex digits"), stack_hint);
    }
    if let Some(p) = path {
        return check_local_binary(p, sha256, "QSCANNER_PATH");
    }
    if let Some(url) = url {
        if !url.starts_with("https://") {
            return Check::bad(NAME, Status::Failed, "QSCANNER_URL is not an https:// URL", stack_hint);
        }
        let shown = url.split(['?', '#']).next().unwrap_or(url);
        return match sha256 {
            Some(s) => Check::ok(NAME, format!("download {shown} pinned to SHA-256 {}…", &s[..12])),
            None if trust_same_host => Check::ok(
                NAME,
                format!("download {shown}, checksum from its own host (QSCANNER_TRUST_SAME_HOST_SHA256: not pinned)"),
            ),
            None => Check::bad(
                NAME,
                Status::Missing,
                format!("download {shown} has no QSCANNER_SHA256: the runner refuses an unpinned download"),
                stack_hint,
            ),
        };
    }
    match find_on_path("qscanner") {
        Some(p) => check_local_binary(&p, sha256, "qscanner on PATH"),
        None => Check::bad(
            NAME,
            Status::Missing,
            "no QSCANNER_URL, no QSCANNER_PATH, no qscanner on PATH: the scan would exit 2 (\"no QScanner binary\")",
            stack_hint,
        ),
    }
}

async fn check_bucket<R: Readiness>(bucket: &str, owner: &str, probes: &R) -> Check {
    const NAME: &str = "bucket";
    match probes.bucket_exists(bucket, Some(owner)).await {
        Ok(()) => Check::ok(NAME, format!("{bucket} (owner {owner})")),
        Err(e @ ProbeError::NotFound { .. }) => Check::bad(
            NAME,
            Status::Missing,
            format!("{bucket}: {e}"),
            "check REPORT_BUCKET and AWS_REGION against the stack's outputs",
        ),
        Err(e) => {
            let permission =
                format!("s3:ListBucket on it, and the bucket must be owned by {owner} (REPORT_BUCKET_OWNER)");
            Check::bad(NAME, Status::Failed, format!("{bucket}: {e}"), denied_hint(&e, &permission))
        }
    }
}

async fn check_kms_key<R: Readiness>(bucket: &str, owner: &str, key: Option<&str>, probes: &R) -> Check {
    const NAME: &str = "kms-key";
    let Some(key) = key else {
        return Check::bad(
            NAME,
            Status::Missing,
            "no REPORT_KMS_KEY_ID: the bucket policy refuses uploads to scans/ that do not name the stack key",
            "set REPORT_KMS_KEY_ID / --kms-key-id to the stack's KmsKeyArn output (a scan project sets it)",
        );
    };
    match probes.bucket_kms_key(bucket, Some(owner)).await {
        Ok(Some(default)) if default == key => Check::ok(NAME, format!("{key} is the bucket's default key")),
        Ok(Some(default)) => Check::bad(
            NAME,
            Status::Failed,
            format!("REPORT_KMS_KEY_ID {key} is not the bucket's key {default}"),
            "use the full key ARN of the KmsKeyArn output: the bucket policy compares the text",
        ),
        Ok(None) => Check::bad(
            NAME,
            Status::Failed,
            format!("{bucket} has no default SSE-KMS key: not a scangate report bucket"),
            "",
        ),
        Err(e) => Check::bad(
            NAME,
            Status::Failed,
            e.to_string(),
            denied_hint(&e, "s3:GetEncryptionConfiguration on the bucket"),
        ),
    }
}

/// The notification the stack creates: objects under `scans/` ending in `.sarif` go to a queue.
fn notifies_reports(q: &QueueTarget) -> bool {
    let prefix_ok = q.prefix.as_deref().is_none_or(|p| "scans/".starts_with(p));
    let suffix_ok = q.suffix.as_deref().is_none_or(|s| ".sarif".ends_with(s));
    prefix_ok && suffix_ok
}

async fn check_queue<R: Readiness>(bucket: &str, owner: &str, probes: &R) -> Check {
    const NAME: &str = "queue";
    match probes.bucket_queues(bucket, Some(owner)).await {
        Ok(queues) => match queues.iter().find(|q| notifies_reports(q)) {
            Some(q) => Check::ok(NAME, format!("{bucket} sends new scans/*.sarif to {}", q.queue_arn)),
            None => Check::bad(
                NAME,
                Status::Missing,
                format!("{bucket} notifies no queue of new scans/*.sarif: no report would be processed"),
                "the stack's ReportBucket notification (scans/, .sarif) is missing: update the stack",
            ),
        },
        Err(e) => {
            Check::bad(NAME, Status::Failed, e.to_string(), denied_hint(&e, "s3:GetBucketNotification on the bucket"))
        }
    }
}

/// What to do about a probe that got no answer: a permission, or the connection.
fn denied_hint(e: &ProbeError, permission: &str) -> String {
    match e {
        ProbeError::AccessDenied { .. } => format!("the role needs {permission}"),
        _ => "check the AWS credentials, AWS_REGION (the stack's region) and the network".to_string(),
    }
}

async fn check_security_hub<R: Readiness>(probes: &R) -> Check {
    const NAME: &str = "security-hub";
    match probes.security_hub().await {
        Ok(arn) => Check::ok(NAME, format!("enabled ({arn})")),
        Err(e @ ProbeError::NotFound { .. }) => Check::bad(
            NAME,
            Status::Missing,
            format!("not enabled in this account and region: {e}"),
            "aws securityhub enable-security-hub (or deploy with SecurityHubEnabled=false and run with \
             SECURITY_HUB_ENABLED=false)",
        ),
        Err(e) => Check::bad(NAME, Status::Failed, e.to_string(), denied_hint(&e, "securityhub:DescribeHub")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qscanner_source_table() {
        let sha = "a".repeat(64);
        let cases: [(Option<&str>, Option<&str>, bool, Status); 5] = [
            (Some("https://example.com/qscanner.gz"), Some(&sha), false, Status::Ok),
            (Some("https://example.com/qscanner.gz"), None, false, Status::Missing),
            (Some("https://example.com/qscanner.gz"), None, true, Status::Ok),
            (Some("http://example.com/qscanner.gz"), Some(&sha), false, Status::Failed),
            (Some("https://example.com/qscanner.gz"), Some("abc"), false, Status::Failed),
        ];
        for (url, sum, trust, want) in cases {
            assert_eq!(check_qscanner(None, url, sum, trust).status, want, "{url:?} {sum:?} {trust}");
        }
    }

    #[test]
    fn a_local_binary_must_match_its_checksum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("qscanner");
        std::fs::write(&bin, b"binary").expect("write");
        let right = hex::encode(Sha256::digest(b"binary"));
        assert_eq!(check_qscanner(Some(&bin), None, Some(&right), false).status, Status::Ok);
        assert_eq!(check_qscanner(Some(&bin), None, Some(&"0".repeat(64)), false).status, Status::Failed);
        assert_eq!(check_qscanner(Some(&dir.path().join("none")), None, None, false).status, Status::Missing);
    }

    #[test]
    fn the_stack_placeholder_is_not_a_token() {
        assert!(is_stack_placeholder(
            r#"{"note":"replace accessToken with the Qualys access token","accessToken":"Zx81"}"#
        ));
        assert!(!is_stack_placeholder(r#"{"accessToken":"real"}"#));
        assert!(!is_stack_placeholder("plain-token"));
    }

    #[test]
    fn notification_filters() {
        let q = |p: Option<&str>, s: Option<&str>| QueueTarget {
            queue_arn: "arn".into(),
            prefix: p.map(str::to_string),
            suffix: s.map(str::to_string),
        };
        assert!(notifies_reports(&q(Some("scans/"), Some(".sarif"))));
        assert!(notifies_reports(&q(None, None)));
        assert!(!notifies_reports(&q(Some("results/"), Some(".sarif"))));
        assert!(!notifies_reports(&q(Some("scans/"), Some(".json"))));
    }

    #[test]
    fn skipped_checks_do_not_block() {
        let checks = vec![Check::ok("token", "x"), Check::bad("security-hub", Status::Skipped, "off", "")];
        assert!(ready(&checks));
        let checks = vec![Check::ok("token", "x"), Check::bad("queue", Status::Missing, "none", "fix")];
        assert!(!ready(&checks));
        assert!(render(&checks).contains("hint: fix"));
    }
}

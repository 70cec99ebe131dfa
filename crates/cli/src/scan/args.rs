//! The flags of `scangate scan` (clap): the subcommands, the option groups they share (QScanner,
//! filesystem, gate, upload) with their environment variables and help, the parsers that name
//! the flag in an error, and the defaults of the path flags.

use super::private;
use super::values::{self, List, Mode, Pod, ProxyUrl};
use crate::error::CliError;
use clap::{ArgAction, Args, Subcommand};
use scangate_core::lifecycle::ScanType;
use scangate_core::policy::{parse_bool, QualityFindings, ThresholdRequest, Thresholds};
use scangate_core::suppression::HonorSuppressions;
use std::path::{Path, PathBuf};

const EXIT_HELP: &str = "\
Exit status:
  0      passed (the scanner succeeded and, with --local/--wait, the gate passed)
  42     gate failed: a threshold crossed, or QScanner policy DENY (42) with FAIL_ON_POLICY_DENY=true,
         or policy AUDIT (43) with FAIL_ON_POLICY_AUDIT=true
  1-41   QScanner's own error, passed through (3,5-10 artifact access, 11-21 scan failed,
         30-39 output error, 40 get report failed, 41 policy evaluation failed); 1 and 2 are also
         the runner's own internal-error and bad-parameter codes, the message says which
  2      bad parameter (the message names the flag and its environment variable)
  124    QScanner did not finish within --timeout / SCAN_TIMEOUT; its whole process group was killed
  128+N  QScanner was killed by signal N
  143    the runner got SIGTERM/SIGINT while QScanner ran (a stopped build); QScanner's group was killed

Every option can also be set by the environment variable shown; a flag wins over the variable.
The Qualys token is read only from QUALYS_ACCESS_TOKEN or from Secrets Manager (--secret-id), never
from a flag, and reaches QScanner only through its environment.";

/// `scangate scan`: run QScanner (or take another scanner's SARIF), gate on it, upload it.
#[derive(Debug, Args)]
#[command(
    about = "Run QScanner in CodeBuild (or take another scanner's SARIF), gate on the result, upload the reports",
    long_about = "The CodeBuild runner. `scan image|repo|rootfs` obtains a SHA-256-verified QScanner, runs it \
with a timeout, maps its exit code and finds its SARIF/JSON/SBOM reports; `scan sarif` takes another scanner's \
report instead. Reports are uploaded to s3://REPORT_BUCKET/scans/<project>/<build-id>/ when a bucket is set. \
--local evaluates the SARIF in-process (the same evaluation as `scangate process`); --wait waits for the \
report-processor's verdict. The pipeline outputs are written to --outputs-file for `exported-variables`.",
    after_help = EXIT_HELP
)]
pub(crate) struct ScanArgs {
    /// Boxed: the subcommands carry many options, `scangate`'s command enum stays small.
    #[command(subcommand)]
    pub command: Box<ScanCommand>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScanCommand {
    /// Scan a container image (registry reference, or a local image through --storage-driver).
    #[command(after_help = EXIT_HELP)]
    Image(ImageArgs),
    /// Scan a source directory (dependency manifests, lock files, secrets).
    #[command(after_help = EXIT_HELP)]
    Repo(RepoArgs),
    /// Scan an unpacked root filesystem (an extracted Apptainer/SIF image, a VM image mount).
    #[command(after_help = EXIT_HELP)]
    Rootfs(RootfsArgs),
    /// Upload and gate on a SARIF report from any other scanner.
    #[command(after_help = EXIT_HELP)]
    Sarif(SarifArgs),
    /// Scan a mounted VM disk (a snapshot's copy, mounted read-only) under the VM's identity;
    /// Linux only: a Windows disk is refused (docs/vm-disks.md).
    #[command(after_help = EXIT_HELP)]
    VmDisk(Box<super::vm_disk::VmDiskArgs>),
    /// List this host's running containers (Apptainer/Singularity instances, processes in
    /// another root or mount namespace), or scan one through /proc/<pid>/root (docs/hpc.md).
    #[command(after_help = EXIT_HELP)]
    Running(Box<super::running::RunningArgs>),
    /// Print the pipeline outputs of the last scan as `export name=value` lines, read strictly from
    /// the outputs file (for a buildspec's `eval "$(scangate scan exports)"`; nothing is sourced).
    Exports(ExportsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExportsArgs {
    /// The outputs file the scan wrote [default: outputs.env in the work directory].
    #[arg(long, env = "SCANGATE_OUTPUTS_FILE", help_heading = "Outputs")]
    pub outputs_file: Option<PathBuf>,
    /// The runner's private work directory (required unless --outputs-file is given).
    #[arg(long, env = "SCANGATE_WORK_DIR", help_heading = "Outputs")]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ImageArgs {
    /// Image reference, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.2.
    #[arg(env = "IMAGE_ID", value_name = "IMAGE")]
    pub image: String,
    /// Where QScanner reads a local image: docker, containerd or none (registry).
    #[arg(long, env = "STORAGE_DRIVER", value_parser = values::parse_storage_driver, help_heading = "QScanner")]
    pub storage_driver: Option<String>,
    /// Platform of a multi-arch image, os/arch[/variant] (e.g. linux/amd64).
    #[arg(long, env = "SCAN_PLATFORM", value_parser = values::parse_platform, help_heading = "QScanner")]
    pub platform: Option<String>,
    #[command(flatten)]
    pub scanner: ScannerOpts,
    #[command(flatten)]
    pub gate: GateOpts,
    #[command(flatten)]
    pub upload: UploadOpts,
}

#[derive(Debug, Args)]
pub(crate) struct RepoArgs {
    /// Directory to scan.
    #[arg(env = "SCAN_PATH", value_name = "PATH", default_value = ".")]
    pub path: PathBuf,
    #[command(flatten)]
    pub fs: FsOpts,
    #[command(flatten)]
    pub scanner: ScannerOpts,
    #[command(flatten)]
    pub gate: GateOpts,
    #[command(flatten)]
    pub upload: UploadOpts,
}

#[derive(Debug, Args)]
pub(crate) struct RootfsArgs {
    /// Root filesystem directory to scan.
    #[arg(env = "ROOTFS_PATH", value_name = "PATH")]
    pub path: PathBuf,
    #[command(flatten)]
    pub fs: FsOpts,
    #[command(flatten)]
    pub scanner: ScannerOpts,
    #[command(flatten)]
    pub gate: GateOpts,
    #[command(flatten)]
    pub upload: UploadOpts,
}

#[derive(Debug, Args)]
pub(crate) struct SarifArgs {
    /// The SARIF 2.1.0 report to upload and gate on.
    #[arg(env = "SARIF_FILE", value_name = "FILE")]
    pub file: PathBuf,
    /// What was scanned (image reference, repository URL or path), recorded as scangate-target.
    #[arg(long, env = "SCANGATE_TARGET")]
    pub target: Option<String>,
    /// image, repo, rootfs or other.
    #[arg(long, env = "SCANGATE_SCAN_TYPE", default_value = "other", value_parser = named("--scan-type / SCANGATE_SCAN_TYPE", str::parse::<ScanType>))]
    pub scan_type: ScanType,
    /// The other scanner's exit code (recorded; 42 means policy DENY and 43 AUDIT, as QScanner's).
    #[arg(long, env = "SCANNER_EXIT_CODE", allow_negative_numbers = true)]
    pub scanner_exit_code: Option<i32>,
    #[command(flatten)]
    pub gate: GateOpts,
    #[command(flatten)]
    pub upload: UploadOpts,
}

/// QScanner options shared by image, repo and rootfs.
#[derive(Debug, Args)]
pub(crate) struct ScannerOpts {
    /// Secrets Manager secret holding the Qualys token (plain, or JSON with "accessToken"); without it the
    /// token is read from QUALYS_ACCESS_TOKEN.
    #[arg(long, env = "QUALYS_SECRET_ID", hide_env_values = true, help_heading = "Qualys")]
    pub secret_id: Option<String>,
    /// Qualys platform POD: US1 US2 US3 US4 EU1 EU2 EU3 IN1 CA1 AE1 UK1 AU1 KSA1 (not needed for inventory-only).
    #[arg(long, env = "QUALYS_POD", value_parser = values::parse_pod, help_heading = "Qualys")]
    pub pod: Option<Pod>,
    /// get-report (scan, upload, fetch the vulnerability report), evaluate-policy, scan-only, or
    /// inventory-only (local only: no token, no network; SBOMs).
    #[arg(long, env = "SCAN_MODE", default_value = "get-report", value_parser = values::parse_mode, help_heading = "QScanner")]
    pub mode: Mode,
    /// Comma-separated: pkg, fileinsight, secret.
    #[arg(long, env = "SCAN_TYPES", default_value = "pkg,fileinsight", value_parser = values::parse_scan_types, help_heading = "QScanner")]
    pub scan_types: List,
    /// Output formats, comma-separated: json, spdx, cyclonedx.
    #[arg(long, env = "SCAN_FORMAT", default_value = "json,spdx", value_parser = values::parse_formats, help_heading = "QScanner")]
    pub format: List,
    /// Report formats, comma-separated: table, sarif, gitlab (sarif is always added: the gate reads it).
    #[arg(long, env = "SCAN_REPORT_FORMAT", default_value = "table,sarif", value_parser = values::parse_report_formats, help_heading = "QScanner")]
    pub report_format: List,
    /// Scan without contacting the vulnerability database (QScanner --offline-scan); a bare flag means true.
    #[arg(long, env = "OFFLINE_SCAN", default_value = "false", value_parser = named("--offline-scan / OFFLINE_SCAN", parse_bool), action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "QScanner")]
    pub offline_scan: bool,
    /// HTTPS proxy for QScanner and the download (a proxy with credentials is passed to QScanner only
    /// through its environment).
    #[arg(long, env = "HTTPS_PROXY", hide_env_values = true, value_parser = values::parse_proxy, help_heading = "QScanner")]
    pub proxy: Option<ProxyUrl>,
    /// Directory QScanner writes its reports to [default: reports/ in the work directory].
    #[arg(long, env = "OUTPUT_DIR", help_heading = "QScanner")]
    pub output_dir: Option<PathBuf>,
    /// Seconds QScanner may run (also 15m, 2h); then its whole process group is killed (exit 124).
    #[arg(long, env = "SCAN_TIMEOUT", default_value = "1800", value_parser = values::parse_timeout, help_heading = "QScanner")]
    pub timeout: u64,
    /// Use this QScanner binary (no download).
    #[arg(long, env = "QSCANNER_PATH", help_heading = "QScanner binary")]
    pub qscanner_path: Option<PathBuf>,
    /// Download QScanner from this URL (https; gzip or plain binary).
    #[arg(long, env = "QSCANNER_URL", value_parser = values::parse_download_url, help_heading = "QScanner binary")]
    pub qscanner_url: Option<String>,
    /// SHA-256 of the download (with --qscanner-path, of that file; also checked for a qscanner found on
    /// PATH). A mismatch deletes the file and fails. Required for a download unless
    /// --trust-same-host-checksum.
    #[arg(long, env = "QSCANNER_SHA256", value_parser = values::parse_sha256, help_heading = "QScanner binary")]
    pub qscanner_sha256: Option<String>,
    /// Without --qscanner-sha256, accept <url>.sha256 from the download's own host (self-attestation: whoever
    /// controls the host controls the binary). Off by default.
    #[arg(long, env = "QSCANNER_TRUST_SAME_HOST_SHA256", default_value = "false", value_parser = named("--trust-same-host-checksum / QSCANNER_TRUST_SAME_HOST_SHA256", parse_bool),
          action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "BOOL", help_heading = "QScanner binary")]
    pub trust_same_host_checksum: bool,
    /// Where downloads are kept, by pinned checksum, re-verified before every use [default: ~/.cache/scangate/qscanner].
    #[arg(long, env = "QSCANNER_CACHE_DIR", help_heading = "QScanner binary")]
    pub cache_dir: Option<PathBuf>,
    /// Retries of a failed download request (network errors, HTTP 5xx/408/429), with exponential backoff.
    #[arg(long, env = "QSCANNER_DOWNLOAD_RETRIES", default_value = "4", value_parser = clap::value_parser!(u32).range(0..=10), help_heading = "QScanner binary")]
    pub download_retries: u32,
}

/// Options of filesystem scans (repo, rootfs).
#[derive(Debug, Args)]
pub(crate) struct FsOpts {
    /// What to record as the scanned target instead of the path (e.g. the SIF file a rootfs was extracted
    /// from, or the repository URL).
    #[arg(long = "target", env = "SCANGATE_TARGET", help_heading = "Upload")]
    pub target_name: Option<String>,
    /// Directories to skip, comma-separated.
    #[arg(long, env = "EXCLUDE_DIRS", value_parser = values::parse_exclude_dirs, help_heading = "QScanner")]
    pub exclude_dirs: Option<values::PathList>,
    /// Files to skip, comma-separated.
    #[arg(long, env = "EXCLUDE_FILES", value_parser = values::parse_exclude_files, help_heading = "QScanner")]
    pub exclude_files: Option<values::PathList>,
}

/// The gate and its outputs.
#[derive(Debug, Args)]
pub(crate) struct GateOpts {
    /// Maximum critical findings (-1 unlimited) [in-process default: 0].
    #[arg(long, env = "MAX_CRITICAL", value_parser = named("--max-* / MAX_*", Thresholds::parse_value), allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_critical: Option<i64>,
    /// Maximum high findings (-1 unlimited) [in-process default: -1].
    #[arg(long, env = "MAX_HIGH", value_parser = named("--max-* / MAX_*", Thresholds::parse_value), allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_high: Option<i64>,
    /// Maximum medium findings (-1 unlimited) [in-process default: -1].
    #[arg(long, env = "MAX_MEDIUM", value_parser = named("--max-* / MAX_*", Thresholds::parse_value), allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_medium: Option<i64>,
    /// Maximum low findings (-1 unlimited) [in-process default: -1].
    #[arg(long, env = "MAX_LOW", value_parser = named("--max-* / MAX_*", Thresholds::parse_value), allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_low: Option<i64>,
    /// Fail when QScanner's policy result is DENY (exit 42); a bare flag means true.
    #[arg(long, env = "FAIL_ON_POLICY_DENY", default_value = "true", value_parser = named("--fail-on-policy-deny / FAIL_ON_POLICY_DENY", parse_bool), action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "Gate")]
    pub fail_on_policy_deny: bool,
    /// Fail when QScanner's policy result is AUDIT (exit 43); otherwise AUDIT passes with a warning. A bare
    /// flag means true.
    #[arg(long, env = "FAIL_ON_POLICY_AUDIT", default_value = "false", value_parser = named("--fail-on-policy-audit / FAIL_ON_POLICY_AUDIT", parse_bool), action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "Gate")]
    pub fail_on_policy_audit: bool,
    /// Let a scan that did not complete (SARIF executionSuccessful false, or an error-level tool
    /// notification) pass on its findings with --local; by default it fails the gate. The
    /// report-processor's own ACCEPT_INCOMPLETE_SCAN decides its verdict (--wait). A bare flag means true.
    #[arg(long, env = "ACCEPT_INCOMPLETE_SCAN", default_value = "false", value_parser = named("--accept-incomplete-scan / ACCEPT_INCOMPLETE_SCAN", parse_bool), action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "Gate")]
    pub accept_incomplete_scan: bool,
    /// Quality findings (no security-severity, not from a security scanner) with --local: `report`
    /// counts them apart, `gate` counts them against the thresholds, `ignore` only counts them in
    /// verdict.json. The report-processor's own QUALITY_FINDINGS decides its verdict (--wait).
    #[arg(long, env = "QUALITY_FINDINGS", default_value = "report", value_parser = named("--quality-findings / QUALITY_FINDINGS", QualityFindings::parse),
          value_name = "gate|report|ignore", help_heading = "Gate")]
    pub quality_findings: QualityFindings,
    /// Count only findings a fix exists for with --local: a vulnerable package without a fixed
    /// version (ASFF FixAvailable NO) is counted apart (verdict not_fixable). The report-processor's
    /// own FAIL_ONLY_FIXABLE decides its verdict (--wait). A bare flag means true.
    #[arg(long, env = "FAIL_ONLY_FIXABLE", default_value = "false", value_parser = named("--fixable-only / FAIL_ONLY_FIXABLE", parse_bool), action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "Gate")]
    pub fixable_only: bool,
    /// Which SARIF suppressions take a finding out of the counts with --local: `external` (default)
    /// honours only suppressions kept outside the source, not the scanned repository's own `inSource`
    /// ones; `all` both, `none` neither. The report-processor's own HONOR_SUPPRESSIONS decides its
    /// verdict (--wait).
    #[arg(long, env = "HONOR_SUPPRESSIONS", default_value = "external", value_parser = named("--honor-suppressions / HONOR_SUPPRESSIONS", HonorSuppressions::parse),
          value_name = "none|external|all", help_heading = "Gate")]
    pub honor_suppressions: HonorSuppressions,
    /// Evaluate the SARIF in-process (same evaluation as `scangate process`) and exit with its verdict;
    /// no waiting for the processor then (SCANGATE_WAIT is ignored).
    #[arg(long, help_heading = "Gate")]
    pub local: bool,
    /// Wait up to SECONDS (also 15m, 2h) for the report-processor's verdict.json, then exit with its code;
    /// a bare --wait waits 900 seconds. `--wait 600` and `--wait=600` are the same.
    #[arg(long, env = "SCANGATE_WAIT", value_parser = values::parse_wait, num_args = 0..=1, require_equals = true,
          default_missing_value = "900", value_name = "SECONDS", help_heading = "Gate")]
    pub wait: Option<u64>,
    /// Where the JUnit report (--wait: the processor's junit.xml; --local: rendered here) is written.
    #[arg(long, env = "SCANGATE_JUNIT_PATH", help_heading = "Gate")]
    pub junit_path: Option<PathBuf>,
    /// Env file of pipeline outputs (vulnerability_count … verdict_key) for `exported-variables`
    /// [default: outputs.env in the work directory].
    #[arg(long, env = "SCANGATE_OUTPUTS_FILE", help_heading = "Outputs")]
    pub outputs_file: Option<PathBuf>,
    /// The runner's private directory (mode 0700, created when missing, never a symlink) for the outputs
    /// file, QScanner's reports and the JUnit report, outside the scanned checkout [default: a new
    /// directory scangate-… in $TMPDIR].
    #[arg(long, env = "SCANGATE_WORK_DIR", help_heading = "Outputs")]
    pub work_dir: Option<PathBuf>,
    /// Also print the outputs as `export name=value` lines on stdout (QScanner's stdout then goes to stderr).
    #[arg(long, help_heading = "Outputs")]
    pub print_exports: bool,
}

/// Where reports go.
#[derive(Debug, Args)]
pub(crate) struct UploadOpts {
    /// Report bucket; without one nothing is uploaded.
    #[arg(long, env = "REPORT_BUCKET", help_heading = "Upload")]
    pub bucket: Option<String>,
    /// KMS key for SSE-KMS (the stack's key: id, ARN or alias).
    #[arg(long, env = "REPORT_KMS_KEY_ID", help_heading = "Upload")]
    pub kms_key_id: Option<String>,
    /// Account that must own the bucket (ExpectedBucketOwner) [default: this account, from STS].
    #[arg(long, env = "REPORT_BUCKET_OWNER", help_heading = "Upload")]
    pub expected_bucket_owner: Option<String>,
    /// <project> in keys [default: the CodeBuild project, from CODEBUILD_BUILD_ID].
    #[arg(long, env = "SCANGATE_PROJECT", value_parser = values::parse_key_part, help_heading = "Upload")]
    pub project: Option<String>,
    /// <build-id> in keys [default: the CodeBuild build id's UUID, else local-<time>-<pid>].
    #[arg(long, env = "SCANGATE_BUILD_ID", value_parser = values::parse_key_part, help_heading = "Upload")]
    pub build_id: Option<String>,
    /// CodePipeline name, recorded as scangate-pipeline.
    #[arg(long, env = "SCANGATE_PIPELINE", help_heading = "Upload")]
    pub pipeline: Option<String>,
    /// CodePipeline execution id, recorded as scangate-pipeline-execution-id.
    #[arg(long, env = "SCANGATE_PIPELINE_EXECUTION_ID", help_heading = "Upload")]
    pub pipeline_execution_id: Option<String>,
    /// Source repository URL, recorded (without credentials) as scangate-source-repo-url: the lifecycle
    /// identity of repo scans [default: CODEBUILD_SOURCE_REPO_URL, empty in CodePipeline builds].
    #[arg(long, env = "SCANGATE_SOURCE_REPO_URL", help_heading = "Upload")]
    pub source_repo_url: Option<String>,
    /// Source branch, recorded as scangate-source-branch [default: CODEBUILD_WEBHOOK_HEAD_REF without refs/heads/].
    #[arg(long, env = "SCANGATE_SOURCE_BRANCH", help_heading = "Upload")]
    pub source_branch: Option<String>,
    /// CodePipeline source action the scanned source came from, recorded as scangate-source-action (with the
    /// pipeline name, the lifecycle identity of a pipeline repo scan that has no repository URL).
    #[arg(long, env = "SCANGATE_SOURCE_ACTION", help_heading = "Upload")]
    pub source_action: Option<String>,
}

impl GateOpts {
    /// Whether to wait for the processor's verdict: a positive --wait / SCANGATE_WAIT, and not --local.
    pub(super) fn waits(&self) -> bool {
        !self.local && self.wait.is_some_and(|w| w > 0)
    }

    /// The `--max-*` options given (the upload's `scangate-max-*` metadata, the local gate's thresholds).
    pub(super) fn threshold_request(&self) -> ThresholdRequest {
        ThresholdRequest {
            max_critical: self.max_critical,
            max_high: self.max_high,
            max_medium: self.max_medium,
            max_low: self.max_low,
        }
    }
}

/// A value parser whose error starts with `what`, the flag and its environment variable (the value
/// may come from either).
fn named<T: 'static>(
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |s| parse(s).map_err(|e| format!("{what}: {e}"))
}

/// Fills the defaults of the outputs file, the JUnit path and QScanner's output directory: files
/// in the private work directory, never in the (untrusted) working directory.
pub(super) fn resolve_paths(gate: &mut GateOpts, output_dir: Option<&mut Option<PathBuf>>) -> Result<(), CliError> {
    let dir_missing = output_dir.as_ref().is_some_and(|d| d.is_none());
    if gate.outputs_file.is_some() && gate.junit_path.is_some() && !dir_missing {
        return Ok(());
    }
    let work = private::work_dir(gate.work_dir.as_deref())
        .map_err(|e| CliError::usage(format!("--work-dir / SCANGATE_WORK_DIR: {e}")))?;
    if gate.work_dir.is_none() {
        eprintln!("scangate: private work directory {}", work.display());
    }
    if gate.outputs_file.is_none() {
        gate.outputs_file = Some(work.join(private::OUTPUTS_FILE));
    }
    if gate.junit_path.is_none() {
        gate.junit_path = Some(work.join(private::JUNIT_FILE));
    }
    if let Some(d) = output_dir.filter(|d| d.is_none()) {
        *d = Some(work.join(private::REPORTS_DIR));
    }
    Ok(())
}

impl GateOpts {
    pub(super) fn outputs_file(&self) -> &Path {
        self.outputs_file.as_deref().unwrap_or(Path::new(private::OUTPUTS_FILE))
    }

    pub(super) fn junit_path(&self) -> &Path {
        self.junit_path.as_deref().unwrap_or(Path::new(private::JUNIT_FILE))
    }
}

impl ScannerOpts {
    pub(super) fn output_dir(&self) -> &Path {
        self.output_dir.as_deref().unwrap_or(Path::new(private::REPORTS_DIR))
    }
}

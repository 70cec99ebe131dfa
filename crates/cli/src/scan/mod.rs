//! `scangate scan image|repo|rootfs|sarif`: the CodeBuild runner.
//!
//! It gets the Qualys token (environment or Secrets Manager), obtains a verified
//! QScanner, runs it in its own process group under a timeout, maps its exit code,
//! finds the reports it wrote, optionally evaluates them in-process (`--local`),
//! uploads them for the report-processor and waits for its verdict (`--wait`), and
//! writes the pipeline outputs. See docs/runner.md.

mod binary;
mod exec;
mod outputs;
mod private;
mod remote;
mod token;
mod values;

use clap::{ArgAction, Args, Subcommand};
use scangate_core::contract;
use scangate_core::evaluate::{self, Evaluated};
use scangate_core::lifecycle::{self, ScanType};
use scangate_core::policy::{GatePolicy, PolicyResult, Thresholds};
use scangate_core::verdict::{self, BuildRef, ReportRef, VerdictInput};
use scangate_core::{junit, Finding, Verdict};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use token::AccessToken;
use values::{List, Mode, Pod, ProxyUrl};

/// Runner exit codes besides the scanner's own (1–41), which pass through.
pub mod code {
    pub const PASSED: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const GATE_FAILED: i32 = 42;
    /// QScanner did not finish within the timeout; its process group was killed.
    pub const TIMEOUT: i32 = super::exec::EXIT_TIMEOUT;
}

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
pub struct ScanArgs {
    /// Boxed: the subcommands carry many options, `scangate`'s command enum stays small.
    #[command(subcommand)]
    pub command: Box<ScanCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
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
    /// Print the pipeline outputs of the last scan as `export name=value` lines, read strictly from
    /// the outputs file (for a buildspec's `eval "$(scangate scan exports)"`; nothing is sourced).
    Exports(ExportsArgs),
}

#[derive(Debug, Args)]
pub struct ExportsArgs {
    /// The outputs file the scan wrote [default: outputs.env in the work directory].
    #[arg(long, env = "SCANGATE_OUTPUTS_FILE", help_heading = "Outputs")]
    pub outputs_file: Option<PathBuf>,
    /// The runner's private work directory (required unless --outputs-file is given).
    #[arg(long, env = "SCANGATE_WORK_DIR", help_heading = "Outputs")]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
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
pub struct RepoArgs {
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
pub struct RootfsArgs {
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
pub struct SarifArgs {
    /// The SARIF 2.1.0 report to upload and gate on.
    #[arg(env = "SARIF_FILE", value_name = "FILE")]
    pub file: PathBuf,
    /// What was scanned (image reference, repository URL or path), recorded as scangate-target.
    #[arg(long, env = "SCANGATE_TARGET")]
    pub target: Option<String>,
    /// image, repo, rootfs or other.
    #[arg(long, env = "SCANGATE_SCAN_TYPE", default_value = "other", value_parser = parse_scan_type)]
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
pub struct ScannerOpts {
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
    #[arg(long, env = "OFFLINE_SCAN", default_value = "false", value_parser = parse_bool_offline, action = ArgAction::Set,
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
    #[arg(long, env = "QSCANNER_TRUST_SAME_HOST_SHA256", default_value = "false", value_parser = parse_bool_same_host,
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
pub struct FsOpts {
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
pub struct GateOpts {
    /// Maximum critical findings (-1 unlimited) [in-process default: 0].
    #[arg(long, env = "MAX_CRITICAL", value_parser = parse_threshold, allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_critical: Option<i64>,
    /// Maximum high findings (-1 unlimited) [in-process default: -1].
    #[arg(long, env = "MAX_HIGH", value_parser = parse_threshold, allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_high: Option<i64>,
    /// Maximum medium findings (-1 unlimited) [in-process default: -1].
    #[arg(long, env = "MAX_MEDIUM", value_parser = parse_threshold, allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_medium: Option<i64>,
    /// Maximum low findings (-1 unlimited) [in-process default: -1].
    #[arg(long, env = "MAX_LOW", value_parser = parse_threshold, allow_negative_numbers = true, value_name = "N", help_heading = "Gate")]
    pub max_low: Option<i64>,
    /// Fail when QScanner's policy result is DENY (exit 42); a bare flag means true.
    #[arg(long, env = "FAIL_ON_POLICY_DENY", default_value = "true", value_parser = parse_bool_deny, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "Gate")]
    pub fail_on_policy_deny: bool,
    /// Fail when QScanner's policy result is AUDIT (exit 43); otherwise AUDIT passes with a warning. A bare
    /// flag means true.
    #[arg(long, env = "FAIL_ON_POLICY_AUDIT", default_value = "false", value_parser = parse_bool_audit, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "Gate")]
    pub fail_on_policy_audit: bool,
    /// Let a scan that did not complete (SARIF executionSuccessful false, or an error-level tool
    /// notification) pass on its findings with --local; by default it fails the gate. The
    /// report-processor's own ACCEPT_INCOMPLETE_SCAN decides its verdict (--wait). A bare flag means true.
    #[arg(long, env = "ACCEPT_INCOMPLETE_SCAN", default_value = "false", value_parser = parse_bool_incomplete, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", help_heading = "Gate")]
    pub accept_incomplete_scan: bool,
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
pub struct UploadOpts {
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
    fn waits(&self) -> bool {
        !self.local && self.wait.is_some_and(|w| w > 0)
    }
}

fn parse_threshold(s: &str) -> Result<i64, String> {
    Thresholds::parse_value(s).map_err(|e| format!("--max-* / MAX_*: {e}"))
}

fn parse_bool_named(s: &str, what: &str) -> Result<bool, String> {
    scangate_core::policy::parse_bool(s).map_err(|e| format!("{what}: {e}"))
}

fn parse_bool_deny(s: &str) -> Result<bool, String> {
    parse_bool_named(s, "--fail-on-policy-deny / FAIL_ON_POLICY_DENY")
}

fn parse_bool_audit(s: &str) -> Result<bool, String> {
    parse_bool_named(s, "--fail-on-policy-audit / FAIL_ON_POLICY_AUDIT")
}

fn parse_bool_incomplete(s: &str) -> Result<bool, String> {
    parse_bool_named(s, "--accept-incomplete-scan / ACCEPT_INCOMPLETE_SCAN")
}

fn parse_bool_same_host(s: &str) -> Result<bool, String> {
    parse_bool_named(s, "--trust-same-host-checksum / QSCANNER_TRUST_SAME_HOST_SHA256")
}

fn parse_bool_offline(s: &str) -> Result<bool, String> {
    parse_bool_named(s, "--offline-scan / OFFLINE_SCAN")
}

fn parse_scan_type(s: &str) -> Result<ScanType, String> {
    s.parse::<ScanType>().map_err(|e| format!("--scan-type / SCANGATE_SCAN_TYPE: {e}"))
}

/// A failure with the exit code it maps to. Messages never contain the token.
#[derive(Debug)]
pub struct Fail {
    pub code: i32,
    pub message: String,
}

impl Fail {
    pub fn usage(m: impl Into<String>) -> Fail {
        Fail { code: code::USAGE, message: m.into() }
    }

    pub fn internal(m: impl Into<String>) -> Fail {
        Fail { code: code::INTERNAL, message: m.into() }
    }
}

/// Runs `scangate scan …`; returns the process exit code.
pub fn run(args: ScanArgs) -> i32 {
    let result = run_command(*args.command);
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("scangate scan: error: {}", f.message);
            f.code
        }
    }
}

/// Fills the defaults of the outputs file, the JUnit path and QScanner's output directory: files
/// in the private work directory, never in the (untrusted) working directory.
fn resolve_paths(gate: &mut GateOpts, output_dir: Option<&mut Option<PathBuf>>) -> Result<(), Fail> {
    let dir_missing = output_dir.as_ref().is_some_and(|d| d.is_none());
    if gate.outputs_file.is_some() && gate.junit_path.is_some() && !dir_missing {
        return Ok(());
    }
    let work = private::work_dir(gate.work_dir.as_deref())
        .map_err(|e| Fail::usage(format!("--work-dir / SCANGATE_WORK_DIR: {e}")))?;
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
    fn outputs_file(&self) -> &Path {
        self.outputs_file.as_deref().unwrap_or(Path::new(private::OUTPUTS_FILE))
    }

    fn junit_path(&self) -> &Path {
        self.junit_path.as_deref().unwrap_or(Path::new(private::JUNIT_FILE))
    }
}

impl ScannerOpts {
    fn output_dir(&self) -> &Path {
        self.output_dir.as_deref().unwrap_or(Path::new(private::REPORTS_DIR))
    }
}

/// `scangate scan exports`: the outputs file, read strictly, as `export` lines on stdout.
fn run_exports(a: &ExportsArgs) -> Result<i32, Fail> {
    let path = match (&a.outputs_file, &a.work_dir) {
        (Some(f), _) => f.clone(),
        (None, Some(w)) => {
            private::check_private_dir(w).map_err(|e| Fail::usage(format!("--work-dir / SCANGATE_WORK_DIR: {e}")))?;
            w.join(private::OUTPUTS_FILE)
        }
        (None, None) => {
            return Err(Fail::usage(
                "scan exports needs --work-dir / SCANGATE_WORK_DIR or --outputs-file / SCANGATE_OUTPUTS_FILE",
            ))
        }
    };
    let values = match private::read_regular(&path, 64 * 1024) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|e| {
                Fail::internal(format!("{}: not UTF-8 at byte {}", path.display(), e.utf8_error().valid_up_to()))
            })?;
            outputs::parse_env_file(&text).map_err(|e| Fail::internal(format!("{}: {e}", path.display())))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "scangate: {} does not exist (the scan did not get far); exporting scan_passed=false",
                path.display()
            );
            Vec::new()
        }
        Err(e) => return Err(Fail::internal(format!("{}: {e}", path.display()))),
    };
    print!("{}", outputs::exports_from(&values));
    Ok(code::PASSED)
}

fn run_command(command: ScanCommand) -> Result<i32, Fail> {
    match command {
        ScanCommand::Image(mut a) => {
            resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
            let extra = ImageExtra { storage_driver: a.storage_driver, platform: a.platform };
            run_qscanner(Target::Image(a.image), &a.scanner, Some(&extra), None, &a.gate, &a.upload)
        }
        ScanCommand::Repo(mut a) => {
            resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
            run_qscanner(Target::Repo(a.path), &a.scanner, None, Some(&a.fs), &a.gate, &a.upload)
        }
        ScanCommand::Rootfs(mut a) => {
            resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
            run_qscanner(Target::Rootfs(a.path), &a.scanner, None, Some(&a.fs), &a.gate, &a.upload)
        }
        ScanCommand::Sarif(mut a) => {
            resolve_paths(&mut a.gate, None)?;
            run_sarif(&a)
        }
        ScanCommand::Exports(a) => run_exports(&a),
    }
}

enum Target {
    Image(String),
    Repo(PathBuf),
    Rootfs(PathBuf),
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Target::Image(_) => "image",
            Target::Repo(_) => "repo",
            Target::Rootfs(_) => "rootfs",
        }
    }

    fn scan_type(&self) -> ScanType {
        match self {
            Target::Image(_) => ScanType::Image,
            Target::Repo(_) => ScanType::Repo,
            Target::Rootfs(_) => ScanType::Rootfs,
        }
    }

    fn value(&self) -> String {
        match self {
            Target::Image(s) => s.clone(),
            Target::Repo(p) | Target::Rootfs(p) => p.display().to_string(),
        }
    }
}

struct ImageExtra {
    storage_driver: Option<String>,
    platform: Option<String>,
}

/// The QScanner argument list (never the token).
fn qscanner_args(
    target: &Target,
    s: &ScannerOpts,
    image: Option<&ImageExtra>,
    fs: Option<&FsOpts>,
) -> Result<Vec<String>, Fail> {
    let mut a: Vec<String> = Vec::new();
    if let Some(pod) = &s.pod {
        a.extend(["--pod".into(), pod.as_str().to_string()]);
    }
    if let Some(p) = s.proxy.as_ref().filter(|p| !p.has_credentials()) {
        a.extend(["--proxy".into(), p.expose().to_string()]);
    }
    let mut report_formats = s.report_format.clone();
    if s.mode != Mode::InventoryOnly && !report_formats.contains("sarif") {
        report_formats.0.push("sarif".into());
    }
    a.extend(["--scan-types".into(), s.scan_types.joined()]);
    a.extend(["--mode".into(), s.mode.as_str().into()]);
    a.extend(["--format".into(), s.format.joined()]);
    a.extend(["--report-format".into(), report_formats.joined()]);
    a.extend(["--output-dir".into(), s.output_dir().display().to_string()]);
    if s.offline_scan {
        a.push("--offline-scan".into());
    }
    if let Some(img) = image {
        if let Some(d) = &img.storage_driver {
            a.extend(["--storage-driver".into(), d.clone()]);
        }
        if let Some(p) = &img.platform {
            a.extend(["--platform".into(), p.clone()]);
        }
    }
    if let Some(fs) = fs {
        if let Some(d) = fs.exclude_dirs.as_ref().map(|d| &d.0).filter(|d| !d.is_empty()) {
            a.extend(["--exclude-dirs".into(), d.join(",")]);
        }
        if let Some(f) = fs.exclude_files.as_ref().map(|f| &f.0).filter(|f| !f.is_empty()) {
            a.extend(["--exclude-files".into(), f.join(",")]);
        }
    }
    let value = target.value();
    values::check_target(target.kind(), &value).map_err(Fail::usage)?;
    a.extend([target.kind().to_string(), value]);
    Ok(a)
}

/// The token for a mode that needs one: Secrets Manager when a secret id is set, else QUALYS_ACCESS_TOKEN.
fn resolve_token(s: &ScannerOpts) -> Result<Option<AccessToken>, Fail> {
    if !s.mode.needs_platform() {
        return Ok(None);
    }
    if let Some(id) = s.secret_id.as_deref().filter(|i| !i.trim().is_empty()) {
        let t = remote::fetch_token(id.trim())?;
        eprintln!("scangate: Qualys token read from Secrets Manager secret {}", id.trim());
        return Ok(Some(t));
    }
    match std::env::var(token::TOKEN_ENV).ok().as_deref().and_then(AccessToken::new) {
        Some(t) => Ok(Some(t)),
        None => Err(Fail::usage(format!(
            "no Qualys token for --mode {}: set QUALYS_ACCESS_TOKEN or \
             --secret-id / QUALYS_SECRET_ID; only --mode inventory-only runs without one",
            s.mode
        ))),
    }
}

/// What besides the token is masked in QScanner's output: the proxy's credentials and the
/// user-info and query string of the download URL.
fn scanner_secrets(s: &ScannerOpts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = &s.proxy {
        out.extend(values::url_secrets(p.expose()));
    }
    if let Some(u) = &s.qscanner_url {
        out.extend(values::url_secrets(u));
    }
    out
}

fn run_qscanner(
    target: Target,
    s: &ScannerOpts,
    image: Option<&ImageExtra>,
    fs: Option<&FsOpts>,
    gate: &GateOpts,
    upload: &UploadOpts,
) -> Result<i32, Fail> {
    let t0 = Instant::now();
    if s.mode.needs_platform() && s.pod.is_none() {
        return Err(Fail::usage(format!(
            "--pod / QUALYS_POD is required for --mode {} (one of {})",
            s.mode,
            values::PODS.join(" ")
        )));
    }
    if gate.waits() && upload.bucket.is_none() {
        return Err(Fail::usage("--wait needs --bucket / REPORT_BUCKET (the verdict is read from the report bucket)"));
    }
    let args = qscanner_args(&target, s, image, fs)?;
    let token = resolve_token(s)?;
    let source = binary::BinarySource {
        path: s.qscanner_path.clone(),
        url: s.qscanner_url.clone(),
        sha256: s.qscanner_sha256.clone(),
        trust_same_host_checksum: s.trust_same_host_checksum,
        cache_dir: s.cache_dir.clone().unwrap_or_else(binary::default_cache_dir),
        retries: s.download_retries,
        proxy: s.proxy.clone(),
    };
    let bin = binary::obtain(&source)?;
    std::fs::create_dir_all(s.output_dir()).map_err(|e| {
        Fail::usage(format!("--output-dir / OUTPUT_DIR: cannot create {}: {e}", s.output_dir().display()))
    })?;
    let mut env = Vec::new();
    if let Some(p) = s.proxy.as_ref() {
        if p.has_credentials() {
            eprintln!("scangate: the proxy URL has credentials: passing it to QScanner through HTTPS_PROXY only");
        }
        env.push(("HTTPS_PROXY".to_string(), p.expose().to_string()));
        env.push(("https_proxy".to_string(), p.expose().to_string()));
    }
    let setup = t0.elapsed();
    eprintln!("scangate: setup took {:.2}s (QScanner: {})", setup.as_secs_f64(), bin.origin);
    eprintln!("scangate: running {} {}", bin.path.display(), args.join(" "));
    let since = SystemTime::now() - Duration::from_secs(2);
    let spec = exec::RunSpec {
        program: bin.path.clone(),
        args,
        token: token.clone(),
        env,
        secrets: scanner_secrets(s),
        timeout: Duration::from_secs(s.timeout),
        grace: Duration::from_secs(3),
        stdout_to_stderr: gate.print_exports,
    };
    bin.verify_before_exec()?;
    let (outcome, scan_time) =
        exec::run(&spec).map_err(|e| Fail::internal(format!("cannot start QScanner {}: {e}", bin.path.display())))?;
    tracing::debug!(setup_ms = setup.as_millis() as u64, scan_ms = scan_time.as_millis() as u64, "qscanner ran");
    let found = outputs::find(s.output_dir(), since);
    let mut outs = outputs::PipelineOutputs {
        sarif_path: found.sarif.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        json_path: found.json.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        sbom_path: found.sboms.first().map(|p| p.display().to_string()).unwrap_or_default(),
        policy_result: PolicyResult::None.as_str().to_string(),
        ..Default::default()
    };
    let scanner_code = match outcome {
        exec::Outcome::TimedOut => {
            eprintln!(
                "scangate scan: QScanner did not finish within {} s (--timeout / SCAN_TIMEOUT); its process group \
                 was killed. Exit {}.",
                s.timeout,
                code::TIMEOUT
            );
            return finish(code::TIMEOUT, &outs, gate);
        }
        exec::Outcome::Interrupted => {
            eprintln!(
                "scangate scan: stopped by a signal while QScanner ran; its process group was killed. Exit {}.",
                exec::EXIT_INTERRUPTED
            );
            return finish(exec::EXIT_INTERRUPTED, &outs, gate);
        }
        exec::Outcome::Signaled(sig) => {
            eprintln!("scangate scan: QScanner was killed by signal {sig}");
            return finish(128 + sig, &outs, gate);
        }
        exec::Outcome::Exited(c) => c,
    };
    eprintln!(
        "scangate: QScanner exited {scanner_code} ({}) after {:.1}s",
        exec::describe_exit(scanner_code),
        scan_time.as_secs_f64()
    );
    if !matches!(scanner_code, 0 | 42 | 43) {
        eprintln!(
            "scangate scan: QScanner failed: exit {scanner_code} ({}); passing its code through",
            exec::describe_exit(scanner_code)
        );
        return finish(scanner_code, &outs, gate);
    }
    for p in [&found.sarif, &found.json].into_iter().flatten().chain(found.sboms.iter()) {
        eprintln!("scangate: report {}", p.display());
    }
    let report_expected = matches!(s.mode, Mode::GetReport | Mode::EvaluatePolicy);
    let recorded = fs.and_then(|f| f.target_name.clone()).filter(|t| !t.trim().is_empty());
    let ctx = GateContext {
        scan_type: target.scan_type(),
        target: recorded.unwrap_or_else(|| target.value()),
        scanner_code: Some(scanner_code),
        sarif: found.sarif.clone(),
        uploads: found.sarif.iter().chain(found.json.iter()).chain(found.sboms.iter()).cloned().collect(),
        report_expected,
    };
    gate_and_upload(&ctx, gate, upload, &mut outs)
}

fn run_sarif(a: &SarifArgs) -> Result<i32, Fail> {
    if a.gate.waits() && a.upload.bucket.is_none() {
        return Err(Fail::usage("--wait needs --bucket / REPORT_BUCKET (the verdict is read from the report bucket)"));
    }
    if !a.file.is_file() {
        return Err(Fail::usage(format!("SARIF_FILE: {} is not a readable file", a.file.display())));
    }
    let mut outs = outputs::PipelineOutputs {
        sarif_path: a.file.display().to_string(),
        policy_result: PolicyResult::None.as_str().to_string(),
        ..Default::default()
    };
    let ctx = GateContext {
        scan_type: a.scan_type,
        target: a.target.clone().unwrap_or_default(),
        scanner_code: a.scanner_exit_code,
        sarif: Some(a.file.clone()),
        uploads: vec![a.file.clone()],
        report_expected: true,
    };
    gate_and_upload(&ctx, &a.gate, &a.upload, &mut outs)
}

struct GateContext {
    scan_type: ScanType,
    target: String,
    scanner_code: Option<i32>,
    sarif: Option<PathBuf>,
    uploads: Vec<PathBuf>,
    /// Whether a SARIF report must exist (not for scan-only / inventory-only).
    report_expected: bool,
}

fn gate_policy(g: &GateOpts) -> GatePolicy {
    let d = Thresholds::default();
    GatePolicy {
        thresholds: Thresholds {
            max_critical: g.max_critical.unwrap_or(d.max_critical),
            max_high: g.max_high.unwrap_or(d.max_high),
            max_medium: g.max_medium.unwrap_or(d.max_medium),
            max_low: g.max_low.unwrap_or(d.max_low),
        },
        fail_on_policy_deny: g.fail_on_policy_deny,
        fail_on_policy_audit: g.fail_on_policy_audit,
        accept_incomplete: g.accept_incomplete_scan,
    }
}

/// The CodeBuild build this runs in, from its environment.
fn build_ref(project: Option<&str>) -> BuildRef {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    BuildRef {
        arn: var("CODEBUILD_BUILD_ARN"),
        id: var("CODEBUILD_BUILD_ID"),
        project: project.map(str::to_string).or_else(codebuild_project),
        initiator: var("CODEBUILD_INITIATOR"),
        source_version: var("CODEBUILD_RESOLVED_SOURCE_VERSION").or_else(|| var("CODEBUILD_SOURCE_VERSION")),
    }
}

/// The CodeBuild project name: CODEBUILD_BUILD_ID is `<project>:<uuid>`.
fn codebuild_project() -> Option<String> {
    let id = std::env::var("CODEBUILD_BUILD_ID").ok()?;
    let (p, _) = id.split_once(':')?;
    values::parse_key_part(p).ok()
}

fn gate_and_upload(
    ctx: &GateContext,
    gate: &GateOpts,
    upload: &UploadOpts,
    outs: &mut outputs::PipelineOutputs,
) -> Result<i32, Fail> {
    let policy = gate_policy(gate);
    let scanner_policy = ctx.scanner_code.and_then(PolicyResult::from_exit_code);
    // The exit code without any evaluation: QScanner's policy result mapped by the FAIL_ON_POLICY_* switches.
    let mapped = match scanner_policy {
        Some(PolicyResult::Deny) if policy.fail_on_policy_deny => code::GATE_FAILED,
        Some(PolicyResult::Deny) => {
            eprintln!("scangate: warning: QScanner policy result is DENY, ignored (FAIL_ON_POLICY_DENY=false)");
            code::PASSED
        }
        Some(PolicyResult::Audit) if policy.fail_on_policy_audit => code::GATE_FAILED,
        Some(PolicyResult::Audit) => {
            eprintln!("scangate: warning: QScanner policy result is AUDIT: passing with a warning");
            code::PASSED
        }
        _ => code::PASSED,
    };
    if let Some(p) = scanner_policy {
        outs.policy_result = p.as_str().to_string();
    }
    let needs_report = gate.local || gate.waits() || upload.bucket.is_some();
    let Some(sarif_path) = ctx.sarif.as_ref() else {
        if ctx.report_expected && needs_report {
            return Err(Fail::internal(
                "QScanner succeeded but wrote no *-Report.sarif.json in --output-dir: nothing to gate on or upload",
            ));
        }
        if gate.local {
            eprintln!("scangate: no SARIF report in this mode; nothing to evaluate (--local)");
        }
        return finish(mapped, outs, gate);
    };
    // Evaluate in-process: always for the pipeline outputs; decisive only with --local.
    let evaluated = match evaluate_file(sarif_path, &policy, scanner_policy, ctx, upload) {
        Ok(e) => Some(e),
        Err(e) if gate.local => {
            return Err(Fail {
                code: if ctx.scanner_code.is_some() { code::INTERNAL } else { code::USAGE },
                message: e,
            })
        }
        Err(e) => {
            eprintln!("scangate: warning: {e} (the pipeline output counts are left empty)");
            None
        }
    };
    if let Some((ev, _)) = &evaluated {
        set_counts(outs, ev);
    }
    let mut final_code = mapped;
    if gate.local {
        if let Some((ev, findings)) = &evaluated {
            print_verdict(&ev.verdict, "in-process evaluation (--local)");
            let xml = junit::to_junit(&ev.verdict, &ev.evaluation, findings, &policy);
            write_text(gate.junit_path(), &xml, "--junit-path / SCANGATE_JUNIT_PATH")?;
            final_code = ev.verdict.exit_code();
        }
    }
    if let Some(bucket) = &upload.bucket {
        let plan = upload_plan(bucket, ctx, gate, upload)?;
        let uploaded = remote::upload(&plan)?;
        outs.verdict_key = uploaded.verdict_key.clone();
        if let Some(wait) = gate.wait.filter(|_| gate.waits()) {
            let verdict = remote::wait_for_verdict(&plan, &uploaded, Duration::from_secs(wait), gate.junit_path())?;
            print_verdict(&verdict, "report-processor verdict (--wait)");
            outs.policy_result = verdict.policy_result.as_str().to_string();
            set_verdict_counts(outs, &verdict);
            final_code = verdict.exit_code();
        }
    }
    finish(final_code, outs, gate)
}

fn evaluate_file(
    path: &Path,
    policy: &GatePolicy,
    scanner_policy: Option<PolicyResult>,
    ctx: &GateContext,
    upload: &UploadOpts,
) -> Result<(Evaluated, Vec<Finding>), String> {
    let report = scangate_core::read_sarif_file(path).map_err(|e| format!("cannot evaluate the SARIF report: {e}"))?;
    for w in report.warnings.iter().take(20) {
        eprintln!("scangate: reader warning: {}: {}", w.path, w.message);
    }
    let input = VerdictInput {
        report: ReportRef { bucket: None, key: path.display().to_string(), version_id: None, etag: None },
        target: Some(ctx.target.clone()).filter(|t| !t.is_empty()),
        scanner: None,
        build: Some(build_ref(upload.project.as_deref())),
        processed_at: verdict::now_rfc3339(),
    };
    let ev = evaluate::evaluate(&report, policy, scanner_policy, input);
    let mut findings = report.findings;
    findings.sort_by(Finding::worst_first);
    Ok((ev, findings))
}

fn set_counts(outs: &mut outputs::PipelineOutputs, ev: &Evaluated) {
    set_verdict_counts(outs, &ev.verdict);
    outs.policy_result = ev.policy_result.as_str().to_string();
}

fn set_verdict_counts(outs: &mut outputs::PipelineOutputs, v: &Verdict) {
    let c = &v.counts;
    outs.vulnerability_count = Some(c.total);
    outs.critical_count = Some(c.critical);
    outs.high_count = Some(c.high);
    outs.medium_count = Some(c.medium);
    outs.low_count = Some(c.low);
}

fn print_verdict(v: &Verdict, source: &str) {
    let c = &v.counts;
    eprintln!(
        "scangate: {source}: {}\n  counts: critical {} high {} medium {} low {} informational {} (total {})\n  \
         thresholds: max_critical {} max_high {} max_medium {} max_low {}; policy result {}",
        if v.passed { "PASSED" } else { "FAILED" },
        c.critical,
        c.high,
        c.medium,
        c.low,
        c.informational,
        c.total,
        v.thresholds.max_critical,
        v.thresholds.max_high,
        v.thresholds.max_medium,
        v.thresholds.max_low,
        v.policy_result
    );
    for r in &v.reasons {
        eprintln!("  reason: {r}");
    }
    for w in &v.warnings {
        eprintln!("  warning: {w}");
    }
}

fn write_text(path: &Path, text: &str, what: &str) -> Result<(), Fail> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    // Never through a symlink planted at `path` (a checkout may hold one): a new file renamed over it.
    private::write_file(path, text.as_bytes())
        .map_err(|e| Fail::usage(format!("{what}: cannot write {}: {e}", path.display())))
}

/// Writes the outputs file (and export lines) and returns the exit code.
fn finish(exit: i32, outs: &outputs::PipelineOutputs, gate: &GateOpts) -> Result<i32, Fail> {
    let mut outs = outs.clone();
    outs.scan_passed = exit == code::PASSED;
    write_text(gate.outputs_file(), &outs.env_file(), "--outputs-file / SCANGATE_OUTPUTS_FILE")?;
    if gate.print_exports {
        print!("{}", outs.exports());
    }
    eprintln!("scangate: pipeline outputs written to {}; exit {exit}", gate.outputs_file().display());
    Ok(exit)
}

/// `scans/<project>/<build-id>/`, the metadata, and what to upload.
fn upload_plan(bucket: &str, ctx: &GateContext, gate: &GateOpts, u: &UploadOpts) -> Result<remote::UploadPlan, Fail> {
    let build = build_ref(u.project.as_deref());
    let project = build.project.clone().unwrap_or_else(|| "local".to_string());
    let build_id = match &u.build_id {
        Some(b) => b.clone(),
        None => match build.id.as_deref() {
            Some(id) => values::parse_key_part(id.rsplit_once(':').map_or(id, |(_, uuid)| uuid))
                .map_err(|e| Fail::usage(format!("CODEBUILD_BUILD_ID: {e}")))?,
            None => format!(
                "local-{}-{}",
                SystemTime::UNIX_EPOCH.elapsed().map(|d| d.as_secs()).unwrap_or(0),
                std::process::id()
            ),
        },
    };
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    // The lifecycle identity of a source scan (docs/runner.md, "Lifecycle identity"): the
    // repository URL and branch, from the flags / SCANGATE_* variables, else from what
    // CodeBuild sets in a webhook or console build (empty in a CodePipeline build, where the
    // pipeline passes them, examples/pipeline.yml). Credentials never leave the build.
    let source_repo_url = u
        .source_repo_url
        .clone()
        .or_else(|| var("CODEBUILD_SOURCE_REPO_URL"))
        .map(|r| lifecycle::strip_url_credentials(&r));
    let source_branch = u
        .source_branch
        .clone()
        .or_else(|| var("CODEBUILD_WEBHOOK_HEAD_REF"))
        .map(|b| lifecycle::branch_name(&b).to_string());
    let pipeline = u
        .pipeline
        .clone()
        .or_else(|| var("CODEBUILD_INITIATOR").and_then(|i| i.strip_prefix("codepipeline/").map(str::to_string)));
    let metadata = contract::ReportMetadata {
        scan_type: Some(ctx.scan_type),
        scanned_at: Some(verdict::now_rfc3339()),
        target: Some(ctx.target.clone()),
        scanner_exit_code: ctx.scanner_code,
        build_arn: build.arn.clone(),
        initiator: build.initiator.clone(),
        source_version: build.source_version.clone(),
        source_repo_url,
        source_branch,
        source_action: u.source_action.clone(),
        pipeline,
        execution_id: u.pipeline_execution_id.clone(),
        thresholds: contract::ThresholdRequest {
            max_critical: gate.max_critical,
            max_high: gate.max_high,
            max_medium: gate.max_medium,
            max_low: gate.max_low,
        },
        // The processor publishes the JUnit into a report group unless this build has it in
        // hand for its own buildspec `reports:` (--wait downloads it, --local renders it).
        wait_seconds: gate.wait.filter(|_| gate.waits()),
        publish: (gate.local && build.arn.is_some()).then_some(false),
    }
    .to_pairs();
    let prefix = contract::scan_dir(&project, &build_id);
    let files = ctx
        .uploads
        .iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // The SARIF is the report the processor reads: always `<prefix>report.sarif`.
            let key_name = if Some(p) == ctx.sarif.as_ref() { contract::REPORT_OBJECT_NAME.to_string() } else { name };
            (p.clone(), format!("{prefix}{key_name}"))
        })
        .collect();
    Ok(remote::UploadPlan {
        bucket: bucket.to_string(),
        kms_key_id: u.kms_key_id.clone(),
        expected_bucket_owner: u.expected_bucket_owner.clone(),
        verdict_key: contract::verdict_key(&project, &build_id),
        junit_key: contract::junit_key(&project, &build_id),
        files,
        metadata,
    })
}

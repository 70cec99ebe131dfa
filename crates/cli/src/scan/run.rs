//! The QScanner step of `scan image|repo|rootfs`: the target, the QScanner argument list, the
//! Qualys token, the verified binary, the run under a timeout, its exit code and the reports it
//! wrote; then on to the gate.

use super::args::{FsOpts, GateOpts, ScannerOpts, UploadOpts};
use super::outputs::{self, finish};
use super::token::{self, AccessToken};
use super::values::{self, Mode};
use super::{binary, exec, gate_and_upload, remote, reports, GateContext};
use crate::error::CliError;
use crate::exit;
use scangate_core::host::HostFacts;
use scangate_core::lifecycle::ScanType;
use scangate_core::policy::PolicyResult;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};
pub(super) enum Target {
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

pub(super) struct ImageExtra {
    pub(super) storage_driver: Option<String>,
    pub(super) platform: Option<String>,
}

/// The QScanner argument list (never the token).
fn qscanner_args(
    target: &Target,
    s: &ScannerOpts,
    image: Option<&ImageExtra>,
    fs: Option<&FsOpts>,
) -> Result<Vec<String>, CliError> {
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
    values::check_target(target.kind(), &value).map_err(CliError::usage)?;
    a.extend([target.kind().to_string(), value]);
    Ok(a)
}

/// The token for a mode that needs one: Secrets Manager when a secret id is set, else QUALYS_ACCESS_TOKEN.
fn resolve_token(s: &ScannerOpts) -> Result<Option<AccessToken>, CliError> {
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
        None => Err(CliError::usage(format!(
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

pub(super) fn run_qscanner(
    target: Target,
    s: &ScannerOpts,
    image: Option<&ImageExtra>,
    fs: Option<&FsOpts>,
    gate: &GateOpts,
    upload: &UploadOpts,
    host: Option<&HostFacts>,
) -> Result<i32, CliError> {
    let t0 = Instant::now();
    if s.mode.needs_platform() && s.pod.is_none() {
        return Err(CliError::usage(format!(
            "--pod / QUALYS_POD is required for --mode {} (one of {})",
            s.mode,
            values::PODS.join(" ")
        )));
    }
    if gate.waits() && upload.bucket.is_none() {
        return Err(CliError::usage(
            "--wait needs --bucket / REPORT_BUCKET (the verdict is read from the report bucket)",
        ));
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
        CliError::usage(format!("--output-dir / OUTPUT_DIR: cannot create {}: {e}", s.output_dir().display()))
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
    let (outcome, scan_time) = exec::run(&spec)
        .map_err(|e| CliError::internal(format!("cannot start QScanner {}: {e}", bin.path.display())))?;
    tracing::debug!(setup_ms = setup.as_millis() as u64, scan_ms = scan_time.as_millis() as u64, "qscanner ran");
    let found = reports::find(s.output_dir(), since);
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
                exit::TIMEOUT
            );
            return finish(exit::TIMEOUT, &outs, gate);
        }
        exec::Outcome::Interrupted => {
            eprintln!(
                "scangate scan: stopped by a signal while QScanner ran; its process group was killed. Exit {}.",
                exit::INTERRUPTED
            );
            return finish(exit::INTERRUPTED, &outs, gate);
        }
        exec::Outcome::Signaled(sig) => {
            eprintln!("scangate scan: QScanner was killed by signal {sig}");
            return finish(exit::SIGNALED + sig, &outs, gate);
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
        host: host.filter(|h| !h.is_empty()).cloned(),
        offline_manifest: true,
    };
    gate_and_upload(&ctx, gate, upload, &mut outs)
}

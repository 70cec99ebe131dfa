//! `scangate scan image|repo|rootfs|sarif`: the CodeBuild runner.
//!
//! It gets the Qualys token (environment or Secrets Manager), obtains a verified
//! QScanner, runs it in its own process group under a timeout, maps its exit code,
//! finds the reports it wrote, optionally evaluates them in-process (`--local`),
//! uploads them for the report-processor and waits for its verdict (`--wait`), and
//! writes the pipeline outputs. See docs/runner.md.

mod args;
mod binary;
mod exec;
mod gate;
mod outputs;
mod private;
mod remote;
mod reports;
mod run;
mod token;
mod values;

pub use args::ScanArgs;
use args::{resolve_paths, ExportsArgs, GateOpts, ScanCommand};
use gate::{gate_and_upload, run_sarif, GateContext};
use run::{run_qscanner, ImageExtra, Target};
use scangate_core::evaluate::Evaluated;
use scangate_core::Verdict;
use std::path::Path;

/// Runner exit codes besides the scanner's own (1–41), which pass through.
pub mod code {
    pub const PASSED: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const GATE_FAILED: i32 = 42;
    /// QScanner did not finish within the timeout; its process group was killed.
    pub const TIMEOUT: i32 = super::exec::EXIT_TIMEOUT;
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

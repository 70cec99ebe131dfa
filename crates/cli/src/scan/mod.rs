//! `scangate scan image|repo|rootfs|sarif|exports`: the CodeBuild runner (docs/runner.md).
//!
//! This file holds `run` and the dispatch; each step has its own file:
//! - `args.rs`: the flags (clap), their help and environment variables, the path defaults;
//!   `values.rs`: the types and parsers of their values.
//! - `run.rs`: the QScanner step: the argument list, the Qualys token (`token.rs`, from the
//!   environment or Secrets Manager), a verified QScanner (`binary.rs`), the run in its own process
//!   group under a timeout with the output masked (`exec.rs`), the reports it wrote (`reports.rs`).
//! - `gate.rs`: the in-process evaluation (`--local`), the upload and the wait for the
//!   report-processor's verdict (`--wait`), over S3/STS/Secrets Manager in `remote.rs`.
//! - `outputs.rs`: the pipeline outputs file every run ends by writing, and `scan exports`;
//!   `private.rs`: the private work directory they live in.

mod args;
mod binary;
mod exec;
mod gate;
mod in_root;
mod offline;
mod os_detect;
mod outputs;
mod private;
mod remote;
mod reports;
mod run;
mod running;
mod token;
mod values;
mod vm_disk;

use crate::error::CliError;
pub(crate) use args::ScanArgs;
use args::{resolve_paths, ScanCommand};
use gate::{gate_and_upload, run_sarif, GateContext};
pub(crate) use offline::{run as run_upload, UploadArgs};
use outputs::run_exports;
use run::{run_qscanner, ImageExtra, Target};

/// Runs `scangate scan …`; returns the process exit code.
pub(crate) fn run(args: ScanArgs) -> i32 {
    let result = run_command(*args.command);
    match result {
        Ok(code) => code,
        Err(f) => {
            // An error can quote the report (a reader error's JSON path, a verdict from S3).
            eprintln!("scangate scan: error: {}", scangate_core::text::display_text(&f.message));
            f.code
        }
    }
}

fn run_command(command: ScanCommand) -> Result<i32, CliError> {
    match command {
        ScanCommand::Image(mut a) => {
            resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
            let extra = ImageExtra { storage_driver: a.storage_driver, platform: a.platform };
            run_qscanner(Target::Image(a.image), &a.scanner, Some(&extra), None, &a.gate, &a.upload, None)
        }
        ScanCommand::Repo(mut a) => {
            resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
            run_qscanner(Target::Repo(a.path), &a.scanner, None, Some(&a.fs), &a.gate, &a.upload, None)
        }
        ScanCommand::Rootfs(mut a) => {
            resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
            run_qscanner(Target::Rootfs(a.path), &a.scanner, None, Some(&a.fs), &a.gate, &a.upload, None)
        }
        ScanCommand::Sarif(mut a) => {
            resolve_paths(&mut a.gate, None)?;
            run_sarif(&a)
        }
        ScanCommand::VmDisk(a) => vm_disk::run(*a),
        ScanCommand::Running(a) => running::run(*a),
        ScanCommand::Exports(a) => run_exports(&a),
    }
}

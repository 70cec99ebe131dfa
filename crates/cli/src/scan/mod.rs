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

use crate::error::CliError;
pub use args::ScanArgs;
use args::{resolve_paths, ScanCommand};
use gate::{gate_and_upload, run_sarif, GateContext};
use outputs::run_exports;
use run::{run_qscanner, ImageExtra, Target};

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

fn run_command(command: ScanCommand) -> Result<i32, CliError> {
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

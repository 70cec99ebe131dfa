//! `scangate`: gate builds and pipelines on scanner findings, offline or in AWS CodeBuild.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

mod conventions;
mod doctor;
mod error;
mod exit;
mod process;
mod scan;
mod table;

const AFTER_HELP: &str = "\
Exit status:
  0   the gate passed
  42  the gate failed (a threshold crossed, or cloud policy DENY with FAIL_ON_POLICY_DENY=true)
  2   bad parameters or unreadable input
  1   internal error
  The runner (`scangate scan`) also passes QScanner's own error codes through (see `scangate scan --help`).

Documentation: README.md and docs/ in the scangate repository.";

/// `scangate --version`: the crate version and the commit it was built from (build.rs; "unknown" outside git).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SCANGATE_COMMIT"), ")");

#[derive(Parser)]
#[command(
    name = "scangate",
    version = VERSION,
    about = "Gate builds and pipelines on scanner findings (SARIF), and keep AWS Security Hub true.",
    long_about = "scangate turns SARIF scanner output (first of all the Qualys QScanner) into a pass/fail \
verdict, AWS Security Hub findings (ASFF) and JUnit reports for CodeBuild report groups.\n\n\
`scangate process` does the whole evaluation offline, with no AWS account.",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    verbosity: conventions::Verbosity,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at startup; boxing buys nothing
enum Command {
    /// Evaluate SARIF reports offline: summary table, verdict, and ASFF/JUnit/verdict files on request.
    Process(process::ProcessArgs),
    /// The CodeBuild runner: run QScanner (or take any SARIF), gate on it, upload the reports.
    Scan(scan::ScanArgs),
    /// Check that this deployment can scan: token, QScanner source and pin, bucket, key, queue, Security Hub.
    Doctor(doctor::DoctorArgs),
    /// Upload an offline scan (the reports and scangate-offline.json a scan without a bucket wrote)
    /// from a connected machine, keeping its scan time and target (docs/hpc.md).
    Upload(scan::UploadArgs),
    /// Print a shell completion script to standard output (e.g. `scangate completions bash > /etc/bash_completion.d/scangate`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(conventions::attach_optional_values(&Cli::command(), std::env::args_os()));
    conventions::init_logging(cli.verbosity);
    let code = match cli.command {
        Command::Process(args) => process::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Upload(args) => scan::run_upload(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "scangate", &mut std::io::stdout());
            exit::PASSED
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

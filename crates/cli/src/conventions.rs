//! Command-line conventions every `scangate` command shares (see docs/runner.md, "Command-line conventions"):
//!
//! - Options with an optional value (`--wait`, `--fail-on-policy-deny`, `--fail-on-policy-audit`,
//!   `--offline-scan`, …: every option declared `num_args = 0..=1, require_equals = true` with value name
//!   `SECONDS` or `BOOL`) accept `--opt=VALUE`, `--opt VALUE` and a bare `--opt`. The word after a bare
//!   `--opt` is taken as its value only when it *is* a value of that option (a duration for `--wait`, a
//!   boolean word for the others); anything else, e.g. the image to scan, stays an argument of its own.
//!   [`attach_optional_values`] rewrites `--opt VALUE` into `--opt=VALUE` before clap parses, and clap is
//!   told to take these values only after `=` (`require_equals`), so a bare `--opt` never eats a target.
//! - `-v`/`-q` (global, repeatable) set how much is logged to standard error ([`init_logging`]);
//!   `RUST_LOG`, when set, wins.

use std::ffi::OsString;
use tracing_subscriber::EnvFilter;

/// What a value of an option with an optional value looks like, told by its value name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    /// `value_name = "SECONDS"`: a duration such as `600` or `15m`.
    Duration,
    /// `value_name = "BOOL"`: a boolean word.
    Bool,
}

impl ValueKind {
    fn of(arg: &clap::Arg) -> Option<ValueKind> {
        match arg.get_value_names()?.first()?.as_str() {
            "SECONDS" => Some(ValueKind::Duration),
            "BOOL" => Some(ValueKind::Bool),
            _ => None,
        }
    }

    fn accepts(self, word: &str) -> bool {
        match self {
            ValueKind::Duration => is_duration_word(word),
            ValueKind::Bool => is_bool_word(word),
        }
    }
}

/// Whether `arg` is an option whose value may be omitted (and is then given only after `=` to clap).
fn is_optional_value(arg: &clap::Arg) -> bool {
    arg.get_long().is_some() && arg.is_require_equals_set() && arg.get_num_args().is_some_and(|r| r.min_values() == 0)
}

/// Every option with an optional value in `cmd` and its subcommands, as `--name`, with its kind.
fn optional_value_options(cmd: &clap::Command, out: &mut Vec<(String, ValueKind)>) {
    for arg in cmd.get_arguments().filter(|a| is_optional_value(a)) {
        if let (Some(long), Some(kind)) = (arg.get_long(), ValueKind::of(arg)) {
            out.push((format!("--{long}"), kind));
        }
    }
    for sub in cmd.get_subcommands() {
        optional_value_options(sub, out);
    }
}

/// `600`, `600s`, `15m`, `2h`: digits with an optional unit. Anything else (an image such as
/// `123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1`, a path) is not a `--wait` value.
fn is_duration_word(s: &str) -> bool {
    let digits = s.strip_suffix(['s', 'm', 'h']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The words `scangate_core::policy::parse_bool` accepts (true/false, yes/no, on/off, 1/0; any case).
fn is_bool_word(s: &str) -> bool {
    scangate_core::policy::parse_bool(s).is_ok()
}

/// Rewrites `--opt VALUE` into `--opt=VALUE` for every option of `cmd` (and its subcommands) whose value
/// may be omitted (`num_args = 0..=1`, `require_equals = true`, value name `SECONDS` or `BOOL`) when VALUE
/// is a value of that option; stops at `--` (everything after it is positional).
pub(crate) fn attach_optional_values(cmd: &clap::Command, args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut options = Vec::new();
    optional_value_options(cmd, &mut options);
    let mut out: Vec<OsString> = Vec::new();
    let mut iter = args.into_iter().peekable();
    let mut positional_only = false;
    while let Some(arg) = iter.next() {
        if positional_only {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            positional_only = true;
            out.push(arg);
            continue;
        }
        let kind = arg.to_str().and_then(|a| options.iter().find(|(name, _)| name == a)).map(|(_, kind)| *kind);
        if let Some(kind) = kind {
            if let Some(value) = iter.peek().and_then(|next| next.to_str()).filter(|v| kind.accepts(v)) {
                let mut joined = arg.clone();
                joined.push("=");
                joined.push(value);
                out.push(joined);
                iter.next();
                continue;
            }
        }
        out.push(arg);
    }
    out
}

/// Global verbosity flags, flattened into the top-level command.
#[derive(clap::Args, Debug, Clone, Copy)]
pub(crate) struct Verbosity {
    /// More log output on standard error (-v info, -vv debug, -vvv trace for every library too).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Logging")]
    pub verbose: u8,
    /// Less log output on standard error (-q errors only, -qq nothing). RUST_LOG, when set, wins over -v/-q.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose", help_heading = "Logging")]
    pub quiet: u8,
}

impl Verbosity {
    /// The tracing filter for these flags: scangate's own crates at the chosen level, libraries at `warn`
    /// (all at `trace` from -vvv on).
    pub(crate) fn filter_directives(self) -> String {
        let level = i16::from(self.verbose) - i16::from(self.quiet);
        let ours = match level {
            i16::MIN..=-2 => return "off".to_string(),
            -1 => return "error".to_string(),
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => return "trace".to_string(),
        };
        let crates = ["scangate", "scangate_cli", "scangate_core", "scangate_aws"];
        let mut s = String::from("warn");
        for c in crates {
            s.push_str(&format!(",{c}={ours}"));
        }
        s
    }
}

/// Installs the log subscriber: human-readable lines on standard error, no timestamps (CodeBuild and
/// terminals add their own). `RUST_LOG`, when set and valid, replaces the -v/-q level.
pub(crate) fn init_logging(v: Verbosity) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(v.filter_directives()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn attach(args: &[&str]) -> Vec<String> {
        attach_optional_values(&crate::Cli::command(), args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().expect("utf8"))
            .collect()
    }

    #[test]
    fn values_are_attached_only_when_they_are_values() {
        let table: &[(&[&str], &[&str])] = &[
            (&["--wait", "600", "img"], &["--wait=600", "img"]),
            (&["--wait", "15m"], &["--wait=15m"]),
            (&["--wait", "img"], &["--wait", "img"]),
            (
                &["--wait", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"],
                &["--wait", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"],
            ),
            (&["--wait", "m"], &["--wait", "m"]),
            (&["--wait"], &["--wait"]),
            (&["--wait=600", "img"], &["--wait=600", "img"]),
            (&["--wait", "--local"], &["--wait", "--local"]),
            (&["--fail-on-policy-deny", "false", "f.sarif"], &["--fail-on-policy-deny=false", "f.sarif"]),
            (&["--fail-on-policy-audit", "YES"], &["--fail-on-policy-audit=YES"]),
            (&["--fail-on-policy-audit", "f.sarif"], &["--fail-on-policy-audit", "f.sarif"]),
            (&["--offline-scan", "0", "img"], &["--offline-scan=0", "img"]),
            (&["--", "--wait", "600"], &["--", "--wait", "600"]),
            (&["--max-high", "600"], &["--max-high", "600"]),
        ];
        for (input, want) in table {
            assert_eq!(attach(input), *want, "{input:?}");
        }
    }

    #[test]
    fn every_optional_value_option_has_a_known_kind() {
        // An option added with `num_args = 0..=1, require_equals = true` but another value name would
        // silently stop taking `--opt VALUE`: give it value_name SECONDS or BOOL (or teach ValueKind).
        fn walk(cmd: &clap::Command, bad: &mut Vec<String>) {
            for arg in cmd.get_arguments().filter(|a| is_optional_value(a)) {
                if ValueKind::of(arg).is_none() {
                    bad.push(format!("{} --{}", cmd.get_name(), arg.get_long().unwrap_or_default()));
                }
            }
            cmd.get_subcommands().for_each(|s| walk(s, bad));
        }
        let mut bad = Vec::new();
        walk(&crate::Cli::command(), &mut bad);
        assert!(bad.is_empty(), "optional-value options without a SECONDS/BOOL value name: {bad:?}");
        let mut found = Vec::new();
        optional_value_options(&crate::Cli::command(), &mut found);
        for name in ["--wait", "--fail-on-policy-deny", "--fail-on-policy-audit", "--offline-scan"] {
            assert!(found.iter().any(|(n, _)| n == name), "{name} not found among {found:?}");
        }
    }

    #[test]
    fn verbosity_levels() {
        let f = |verbose, quiet| Verbosity { verbose, quiet }.filter_directives();
        assert!(f(0, 0).starts_with("warn,") && f(0, 0).contains("scangate=warn"));
        assert!(f(1, 0).contains("scangate=info") && f(1, 0).starts_with("warn,"));
        assert!(f(2, 0).contains("scangate_aws=debug"));
        assert_eq!(f(3, 0), "trace");
        assert_eq!(f(0, 1), "error");
        assert_eq!(f(0, 2), "off");
    }
}

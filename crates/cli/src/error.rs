//! The one failure type of every command: a message and the exit code it maps to.

use crate::exit;
use std::fmt;

/// A failure with the exit code it maps to. Messages never contain the Qualys token.
#[derive(Debug)]
pub(crate) struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    /// Bad parameters or unreadable input (exit 2).
    pub(crate) fn usage(m: impl Into<String>) -> CliError {
        CliError { code: exit::USAGE, message: m.into() }
    }

    /// An internal error (exit 1).
    pub(crate) fn internal(m: impl Into<String>) -> CliError {
        CliError { code: exit::INTERNAL, message: m.into() }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error and its sources, `outer: cause: cause`.
pub(crate) fn with_sources(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

//! The exit codes of every scangate command (docs/runner.md, "Exit status", lists them). The
//! runner (`scangate scan`) also passes QScanner's own codes (1–41) through.

/// The gate passed (or the command succeeded).
pub(crate) const PASSED: i32 = 0;
/// An internal error (a bug, or an environment failure scangate cannot attribute to input).
pub(crate) const INTERNAL: i32 = 1;
/// Bad parameters or unreadable input.
pub(crate) const USAGE: i32 = 2;
/// The gate failed: a threshold was crossed or the cloud policy said DENY.
pub(crate) const GATE_FAILED: i32 = 42;
/// The runner: QScanner did not finish within the timeout; its process group was killed (as GNU `timeout`).
pub(crate) const TIMEOUT: i32 = 124;
/// The runner: QScanner was killed by signal N, exit `SIGNALED + N`.
pub(crate) const SIGNALED: i32 = 128;
/// The runner was stopped by SIGTERM/SIGINT while QScanner ran (128 + SIGTERM).
pub(crate) const INTERRUPTED: i32 = 143;

//! Running QScanner: its own process group, a timeout that kills the whole group,
//! output streamed live with the token masked, and its exit code explained.

use super::token::{AccessToken, TOKEN_ENV};
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What to run.
pub struct RunSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set as QUALYS_ACCESS_TOKEN in the child's environment only; when `None`, the variable is removed.
    pub token: Option<AccessToken>,
    /// Extra environment for the child (e.g. a proxy with credentials, which must not go in argv).
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL on timeout.
    pub grace: Duration,
    /// Send the child's stdout to our stderr (when our stdout carries `export` lines).
    pub stdout_to_stderr: bool,
}

/// How the scanner ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
    TimedOut,
    /// The runner got SIGTERM or SIGINT (a stopped build): the scanner's group was killed.
    Interrupted,
}

/// Catches SIGTERM/SIGINT into a flag while the scanner runs (a second signal terminates at once).
fn stop_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // Order matters: the conditional default runs first and terminates only when the flag is already set.
        let _ = signal_hook::flag::register_conditional_default(sig, Arc::clone(&flag));
        let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
    }
    flag
}

/// SIGTERM to the group, up to `grace` for it to exit, then SIGKILL.
fn kill_group(child: &mut std::process::Child, pgid: rustix::process::Pid, grace: Duration) -> io::Result<()> {
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::TERM);
    let grace_end = Instant::now() + grace;
    while Instant::now() < grace_end {
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    let _ = child.wait();
    Ok(())
}

/// Runs the scanner; returns how it ended and its wall time.
pub fn run(spec: &RunSpec) -> io::Result<(Outcome, Duration)> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    match &spec.token {
        Some(t) => cmd.env(TOKEN_ENV, t.expose()),
        None => cmd.env_remove(TOKEN_ENV),
    };
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let stop = stop_flag();
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let pgid = rustix::process::Pid::from_child(&child);
    let secret = spec.token.as_ref().map(|t| t.expose().as_bytes().to_vec());
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut pumps = 0;
    if let Some(out) = child.stdout.take() {
        let secret = secret.clone();
        let tx = done_tx.clone();
        let to_stderr = spec.stdout_to_stderr;
        std::thread::spawn(move || {
            if to_stderr {
                pump(out, io::stderr(), secret.as_deref());
            } else {
                pump(out, io::stdout(), secret.as_deref());
            }
            let _ = tx.send(());
        });
        pumps += 1;
    }
    if let Some(err) = child.stderr.take() {
        let tx = done_tx.clone();
        std::thread::spawn(move || {
            pump(err, io::stderr(), secret.as_deref());
            let _ = tx.send(());
        });
        pumps += 1;
    }
    drop(done_tx);

    let deadline = started + spec.timeout;
    let outcome = loop {
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                (Some(c), _) => Outcome::Exited(c),
                (None, Some(s)) => Outcome::Signaled(s),
                (None, None) => Outcome::Exited(1),
            };
        }
        if stop.load(Ordering::Relaxed) {
            tracing::warn!(
                pgid = pgid.as_raw_nonzero().get(),
                "stop requested; terminating the scanner's process group"
            );
            kill_group(&mut child, pgid, spec.grace)?;
            break Outcome::Interrupted;
        }
        if Instant::now() >= deadline {
            tracing::warn!(pgid = pgid.as_raw_nonzero().get(), "scanner timed out; terminating its process group");
            kill_group(&mut child, pgid, spec.grace)?;
            break Outcome::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let elapsed = started.elapsed();
    // Whatever the scanner left behind in its group (background helpers) goes with it; this also
    // closes the pipes the output threads read. ESRCH (nobody left) is the normal case.
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    for _ in 0..pumps {
        if done_rx.recv_timeout(Duration::from_secs(5)).is_err() {
            tracing::warn!("scanner output stream did not close (a process outside its group holds it); moving on");
            break;
        }
    }
    Ok((outcome, elapsed))
}

/// Copies `src` to `dst` line by line (a line ends at `\n` or `\r`), masking `secret`.
fn pump(mut src: impl Read, mut dst: impl Write, secret: Option<&[u8]>) {
    let secret = secret.filter(|s| !s.is_empty());
    let keep = secret.map_or(0, |s| s.len() - 1);
    let mut pending: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut buf = [0u8; 8192];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        pending.extend_from_slice(&buf[..n]);
        let cut = match pending.iter().rposition(|b| *b == b'\n' || *b == b'\r') {
            Some(i) => i + 1,
            None if pending.len() > 64 * 1024 => pending.len() - keep,
            None => 0,
        };
        if cut > 0 {
            let chunk: Vec<u8> = pending.drain(..cut).collect();
            let _ = dst.write_all(&mask(&chunk, secret));
            let _ = dst.flush();
        }
    }
    if !pending.is_empty() {
        let _ = dst.write_all(&mask(&pending, secret));
        let _ = dst.flush();
    }
}

/// Replaces every occurrence of `secret` in `data` with `***`.
pub fn mask(data: &[u8], secret: Option<&[u8]>) -> Vec<u8> {
    let Some(s) = secret.filter(|s| !s.is_empty()) else {
        return data.to_vec();
    };
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(s) {
            out.extend_from_slice(b"***");
            i += s.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// The runner's exit code when the scanner timed out (as GNU `timeout`).
pub const EXIT_TIMEOUT: i32 = 124;
/// The runner's exit code when it was stopped by SIGTERM/SIGINT (128 + SIGTERM).
pub const EXIT_INTERRUPTED: i32 = 143;

/// What a QScanner exit code means (docs/qscanner.md).
pub fn describe_exit(code: i32) -> &'static str {
    match code {
        0 => "success",
        1 => "generic error",
        2 => "invalid parameter",
        3 | 5..=10 => "artifact or image access error",
        11..=21 => "scan failed",
        30..=39 => "output error",
        40 => "get report failed",
        41 => "policy evaluation failed",
        42 => "policy DENY",
        43 => "policy AUDIT",
        _ => "unknown exit code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secret() {
        assert_eq!(mask(b"tok abc tok", Some(b"tok")), b"*** abc ***".to_vec());
        assert_eq!(mask(b"abc", None), b"abc".to_vec());
        assert_eq!(mask(b"abc", Some(b"")), b"abc".to_vec());
    }

    #[test]
    fn pump_masks_across_reads() {
        // A reader that returns one byte at a time: the secret spans many reads.
        struct Slow(Vec<u8>, usize);
        impl Read for Slow {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let mut out = Vec::new();
        pump(Slow(b"line one s3cret\nprogress s3cret\rend s3cret".to_vec(), 0), &mut out, Some(b"s3cret"));
        assert_eq!(String::from_utf8_lossy(&out), "line one ***\nprogress ***\rend ***");
    }

    #[test]
    fn exit_descriptions() {
        assert_eq!(describe_exit(42), "policy DENY");
        assert_eq!(describe_exit(15), "scan failed");
        assert_eq!(describe_exit(7), "artifact or image access error");
        assert_eq!(describe_exit(99), "unknown exit code");
    }
}

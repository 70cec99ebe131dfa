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
pub(super) struct RunSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set as QUALYS_ACCESS_TOKEN in the child's environment only; when `None`, the variable is removed.
    pub token: Option<AccessToken>,
    /// Extra environment for the child (e.g. a proxy with credentials, which must not go in argv).
    pub env: Vec<(String, String)>,
    /// Further values masked in the scanner's output besides the token (proxy credentials, URL
    /// user-info and query strings).
    pub secrets: Vec<String>,
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL on timeout.
    pub grace: Duration,
    /// Send the child's stdout to our stderr (when our stdout carries `export` lines).
    pub stdout_to_stderr: bool,
}

/// How the scanner ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
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
pub(super) fn run(spec: &RunSpec) -> io::Result<(Outcome, Duration)> {
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
    let secrets: Vec<Vec<u8>> = spec
        .token
        .iter()
        .map(|t| t.expose().as_bytes().to_vec())
        .chain(spec.secrets.iter().map(|s| s.as_bytes().to_vec()))
        .collect();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut pumps = 0;
    if let Some(out) = child.stdout.take() {
        let secrets = secrets.clone();
        let tx = done_tx.clone();
        let to_stderr = spec.stdout_to_stderr;
        std::thread::spawn(move || {
            if to_stderr {
                pump(out, io::stderr(), &secrets);
            } else {
                pump(out, io::stdout(), &secrets);
            }
            let _ = tx.send(());
        });
        pumps += 1;
    }
    if let Some(err) = child.stderr.take() {
        let tx = done_tx.clone();
        std::thread::spawn(move || {
            pump(err, io::stderr(), &secrets);
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

/// Streams bytes through, replacing every occurrence of any secret with `***`, whatever
/// the chunking and line length: the last `longest secret − 1` bytes are held back until
/// more input (or the end) shows whether they start a secret. Output is released at every
/// line end (`\n`, `\r`) when no secret contains one, so progress lines stay live.
pub(super) struct Masker {
    /// Longest first, so that a secret containing another is masked whole.
    secrets: Vec<Vec<u8>>,
    /// Bytes that can still be the start of a secret.
    hold: usize,
    /// Whether a line end can never be inside a secret (then a line end is a safe cut).
    line_safe: bool,
    pending: Vec<u8>,
}

impl Masker {
    pub(super) fn new<S: AsRef<[u8]>>(secrets: &[S]) -> Masker {
        let mut list: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_ref().to_vec()).filter(|s| !s.is_empty()).collect();
        list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        list.dedup();
        let hold = list.first().map_or(0, |s| s.len() - 1);
        let line_safe = list.iter().all(|s| !s.iter().any(|b| *b == b'\n' || *b == b'\r'));
        Masker { secrets: list, hold, line_safe, pending: Vec::with_capacity(16 * 1024) }
    }

    /// Takes `data`; appends to `out` what can be released (masked).
    pub(super) fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(data);
        let mut cut = self.pending.len().saturating_sub(self.hold);
        if self.line_safe {
            if let Some(i) = self.pending.iter().rposition(|b| *b == b'\n' || *b == b'\r') {
                cut = cut.max(i + 1);
            }
        }
        self.release(cut, out);
    }

    /// The end of the stream: releases everything held.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        self.release(self.pending.len(), out);
    }

    /// Masks and releases `pending[..cut]` (a secret starting before `cut` is masked whole, even
    /// when it extends past `cut`: every such secret is complete in `pending`, see `hold`).
    fn release(&mut self, cut: usize, out: &mut Vec<u8>) {
        let mut i = 0;
        'scan: while i < cut {
            for s in &self.secrets {
                if self.pending[i..].starts_with(s) {
                    out.extend_from_slice(b"***");
                    i += s.len();
                    continue 'scan;
                }
            }
            out.push(self.pending[i]);
            i += 1;
        }
        self.pending.drain(..i);
    }
}

/// Copies `src` to `dst`, masking every secret (see [`Masker`]).
fn pump(mut src: impl Read, mut dst: impl Write, secrets: &[Vec<u8>]) {
    let mut masker = Masker::new(secrets);
    let mut buf = [0u8; 8192];
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        masker.push(&buf[..n], &mut out);
        if !out.is_empty() {
            let _ = dst.write_all(&out);
            let _ = dst.flush();
            out.clear();
        }
    }
    masker.finish(&mut out);
    if !out.is_empty() {
        let _ = dst.write_all(&out);
        let _ = dst.flush();
    }
}

/// What a QScanner exit code means (docs/qscanner.md).
pub(super) fn describe_exit(code: i32) -> &'static str {
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

    /// Replaces every occurrence of `secret` in `data` with `***`.
    fn mask(data: &[u8], secret: Option<&[u8]>) -> Vec<u8> {
        let mut m = Masker::new(&secret.into_iter().collect::<Vec<_>>());
        let mut out = Vec::with_capacity(data.len());
        m.push(data, &mut out);
        m.finish(&mut out);
        out
    }

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
        pump(Slow(b"line one s3cret\nprogress s3cret\rend s3cret".to_vec(), 0), &mut out, &[b"s3cret".to_vec()]);
        assert_eq!(String::from_utf8_lossy(&out), "line one ***\nprogress ***\rend ***");
    }

    /// Runs `data` through a masker in the given chunk sizes (cycled).
    fn masked_in_chunks(data: &[u8], secrets: &[Vec<u8>], chunks: &[usize]) -> Vec<u8> {
        let mut m = Masker::new(secrets);
        let mut out = Vec::new();
        let mut at = 0;
        for size in chunks.iter().cycle() {
            if at >= data.len() {
                break;
            }
            let end = (at + size.max(&1)).min(data.len());
            m.push(&data[at..end], &mut out);
            at = end;
        }
        m.finish(&mut out);
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn long_line_straddling_any_cut_is_masked() {
        // The old pump cut a line longer than 64 KiB and masked each piece alone.
        let secret = b"tok-0123456789abcdef".to_vec();
        let mut line = vec![b'x'; 64 * 1024 - 7];
        line.extend_from_slice(&secret);
        line.extend(std::iter::repeat_n(b'y', 70 * 1024));
        for chunk in [1, 7, 8192, 64 * 1024, 200 * 1024] {
            let out = masked_in_chunks(&line, std::slice::from_ref(&secret), &[chunk]);
            assert!(!contains(&out, &secret), "chunk {chunk}");
            assert!(!contains(&out, b"tok-0123456789"), "a piece of the secret leaked (chunk {chunk})");
            assert_eq!(out.len(), line.len() - secret.len() + 3);
        }
    }

    #[test]
    fn several_secrets_longest_first() {
        let secrets = [b"user:pa55word".to_vec(), b"pa55word".to_vec()];
        let out = masked_in_chunks(b"proxy http://user:pa55word@p and pa55word", &secrets, &[3]);
        assert_eq!(String::from_utf8_lossy(&out), "proxy http://***@p and ***");
    }

    #[test]
    fn line_ends_release_output_at_once() {
        let mut m = Masker::new(&[b"0123456789".to_vec()]);
        let mut out = Vec::new();
        m.push(b"progress 10%\r", &mut out);
        assert_eq!(out, b"progress 10%\r".to_vec(), "a finished line is not held back");
        out.clear();
        m.push(b"tail 01234", &mut out);
        assert_eq!(out, b"t".to_vec(), "only what cannot start a secret is released");
        out.clear();
        m.finish(&mut out);
        assert_eq!(out, b"ail 01234".to_vec());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// For any secrets, text (with secrets planted anywhere, lines of any length) and chunking,
        /// no secret survives, and the result is the same as masking the whole text at once.
        #[test]
        fn no_chunking_leaks_a_secret(
            secrets in proptest::collection::vec(proptest::collection::vec(
                proptest::sample::select(b"abcd01\n".to_vec()), 1..40), 1..4),
            pieces in proptest::collection::vec((0usize..4, proptest::collection::vec(
                proptest::sample::select(b"abcd01\n\r x".to_vec()), 0..300)), 0..40),
            chunks in proptest::collection::vec(1usize..5000, 1..20),
        ) {
            let mut text = Vec::new();
            for (which, filler) in &pieces {
                text.extend_from_slice(filler);
                if let Some(s) = secrets.get(*which) {
                    text.extend_from_slice(s);
                }
            }
            let out = masked_in_chunks(&text, &secrets, &chunks);
            for s in &secrets {
                proptest::prop_assert!(!contains(&out, s), "secret {:?} in output", String::from_utf8_lossy(s));
            }
            proptest::prop_assert_eq!(out, masked_in_chunks(&text, &secrets, &[text.len().max(1)]));
        }
    }

    #[test]
    fn exit_descriptions() {
        assert_eq!(describe_exit(42), "policy DENY");
        assert_eq!(describe_exit(15), "scan failed");
        assert_eq!(describe_exit(7), "artifact or image access error");
        assert_eq!(describe_exit(99), "unknown exit code");
    }
}

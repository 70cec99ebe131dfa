//! Inputs the fuzzers found (crashes, once fixed) or reached (new coverage), and inputs known to
//! be tricky for the SARIF reader's scanner (escapes across buffer boundaries, trailing bytes),
//! run through the very checks the fuzz targets run (fuzz/checks/*.rs): a panic or a broken
//! invariant fails the test.
//!
//! Each directory tests/fuzz-regressions/<target>/ holds the inputs and `expected.txt`, one line
//! per input: `<file> <ok|err> <text the outcome contains>` (tab-separated). Add a crash found by
//! `make fuzz` there after fixing it; see docs/fuzzing.md.

#[path = "../../../fuzz/checks/events.rs"]
mod events;
#[path = "../../../fuzz/checks/gate_params.rs"]
mod gate_params;
#[path = "../../../fuzz/checks/sarif_reader.rs"]
mod sarif_reader;
#[path = "../../../fuzz/checks/text_sanitize.rs"]
mod text_sanitize;

use scangate_core::sarif::read_sarif;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

type Check = fn(&[u8]) -> Result<String, String>;

const MANIFEST: &str = "expected.txt";

/// Parses `expected.txt`: file name → (expect ok, text the outcome contains).
fn manifest(dir: &Path) -> BTreeMap<String, (bool, String)> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).expect("expected.txt in every regression directory");
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.splitn(3, '\t');
        let (Some(file), Some(kind), Some(contains)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("{}:{}: expected <file>\\t<ok|err>\\t<text>", dir.join(MANIFEST).display(), n + 1);
        };
        let ok = match kind {
            "ok" => true,
            "err" => false,
            other => panic!("{}:{}: outcome {other:?} is not ok or err", dir.join(MANIFEST).display(), n + 1),
        };
        assert!(out.insert(file.to_string(), (ok, contains.to_string())).is_none(), "{file} listed twice");
    }
    out
}

fn target_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions").join(target)
}

fn run_dir(target: &str, check: Check) {
    let dir = target_dir(target);
    let mut expected = manifest(&dir);
    let mut seen = 0;
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("regression directory exists") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name").to_string();
        if name == MANIFEST {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable input");
        // A panic here (the parser's or a broken invariant in the check) fails the test.
        let outcome = check(&bytes);
        eprintln!("{target}/{name}: {outcome:?}");
        seen += 1;
        let Some((want_ok, contains)) = expected.remove(&name) else {
            wrong.push(format!("{name} is not in expected.txt; its outcome is {outcome:?}"));
            continue;
        };
        match (&outcome, want_ok) {
            (Ok(text), true) | (Err(text), false) if text.contains(&contains) => {}
            (Ok(text), true) | (Err(text), false) => {
                wrong.push(format!("{name}: {text:?} does not contain {contains:?}"))
            }
            _ => wrong.push(format!("{name}: expected {}, got {outcome:?}", if want_ok { "ok" } else { "an error" })),
        }
    }
    assert!(wrong.is_empty(), "{target}:\n{}", wrong.join("\n"));
    assert!(expected.is_empty(), "{target}: expected.txt lists missing files {:?}", expected.keys());
    assert!(seen >= 5, "{target}: only {seen} regression inputs");
}

#[test]
fn events_regressions() {
    run_dir("events", events::check);
}

#[test]
fn gate_params_regressions() {
    run_dir("gate_params", gate_params::check);
}

#[test]
fn sarif_reader_regressions() {
    run_dir("sarif_reader", sarif_reader::check);
}

#[test]
fn text_sanitize_regressions() {
    run_dir("text_sanitize", text_sanitize::check);
}

/// Hands out the input one byte at a time: the scanner refills its buffer at every offset.
struct OneByte<'a>(&'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

#[test]
fn sarif_reader_inputs_read_alike_a_byte_at_a_time() {
    let dir = target_dir("sarif_reader");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("regression directory exists") {
        let path = entry.expect("directory entry").path();
        if path.file_name().is_some_and(|n| n == MANIFEST) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable");
        let whole = read_sarif(bytes.as_slice(), "r").map_err(|e| e.to_string());
        let slow = read_sarif(OneByte(&bytes), "r").map_err(|e| e.to_string());
        assert_eq!(whole, slow, "{}", path.display());
        n += 1;
    }
    assert!(n >= 2, "the regression inputs are there");
}

#[test]
fn sarif_reader_known_outcomes() {
    let dir = target_dir("sarif_reader");
    let r = scangate_core::read_sarif_file(&dir.join("escapes-at-every-offset.sarif")).expect("valid");
    assert_eq!(r.findings[0].rule_id, "r\\".into());
    assert_eq!(r.findings[0].scanner.name, "a\\\"b");
    assert_eq!(r.findings[0].title, "\\\\\"}");
    match scangate_core::read_sarif_file(&dir.join("trailing-comma-after-log.sarif")) {
        Err(scangate_core::SarifError::Json { line: 1, message, .. }) => assert!(message.contains("trailing")),
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

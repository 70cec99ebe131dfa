//! Inputs that once broke the reader or are known to be tricky for its scanner (escapes across
//! buffer boundaries, trailing bytes), and any crash the fuzzer finds (`scripts/fuzz.sh`).
//! Each must read or fail cleanly, and give the same answer when read a byte at a time.

use scangate_core::sarif::read_sarif;
use std::io::Read;

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
fn regression_inputs_read_or_fail_cleanly() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("tests/regressions exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "md") {
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
fn known_outcomes() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions"));
    let r = scangate_core::read_sarif_file(&dir.join("escapes-at-every-offset.sarif")).expect("valid");
    assert_eq!(r.findings[0].rule_id, "r\\");
    assert_eq!(r.findings[0].scanner.name, "a\\\"b");
    assert_eq!(r.findings[0].title, "\\\\\"}");
    match scangate_core::read_sarif_file(&dir.join("trailing-comma-after-log.sarif")) {
        Err(scangate_core::SarifError::Json { line: 1, message, .. }) => assert!(message.contains("trailing")),
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

//! Any bytes given to the SARIF reader give a report or an error, never a panic, a hang or an
//! out-of-memory; and reading in small chunks gives the same answer as reading at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scangate_core::sarif::read_sarif;
use std::io::Read;

/// Hands out the input a few bytes at a time so the scanner's buffer refills mid-value.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 = self.1 % 7 + 1;
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = read_sarif(data, "fuzz").map_err(|e| e.to_string());
    let trickled = read_sarif(Trickle(data, 0), "fuzz").map_err(|e| e.to_string());
    assert_eq!(whole, trickled, "chunked reading must not change the result");
});

//! Any bytes given to the SARIF reader give a report or an error, never a panic, a hang or an
//! out-of-memory; and reading in small chunks gives the same answer as reading at once.
//! The checks are in fuzz/checks/sarif_reader.rs (the regression test runs them too).
#![no_main]

#[path = "../checks/sarif_reader.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::check(data);
});

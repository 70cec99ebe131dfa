//! Any bytes given to the report-processor's event parser give an event or an error, never a
//! panic, and what it parses matches an independent reading (fuzz/checks/events.rs, which the
//! regression test runs too).
#![no_main]

#[path = "../checks/events.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::check(data);
});

//! The sanitizer for human-facing report text on any input: nothing that drives a terminal,
//! reorders or hides text, or makes a Markdown link survives (fuzz/checks/text_sanitize.rs).
#![no_main]

#[path = "../checks/text_sanitize.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::check(data);
});

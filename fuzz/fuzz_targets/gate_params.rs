//! The pipeline gate's parameter, token and verdict handling on any input, never a panic,
//! within CodePipeline's limits (fuzz/checks/gate_params.rs, which the regression test runs too).
#![no_main]

#[path = "../checks/gate_params.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::check(data);
});

//! scangate-bench as a library: [`synth`], synthetic QScanner-shaped SARIF of any size, for
//! the benchmarks and the large-report tests of the other crates.

pub mod synth;

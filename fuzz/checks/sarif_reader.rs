//! What the `sarif_reader` fuzz target checks, shared with crates/core/tests/fuzz_regressions.rs.
//!
//! Any bytes give a report or an error, never a panic; and reading in small chunks gives the same
//! answer as reading at once; the report-processor's reader, which spills the findings to the
//! temp dir, gives the same findings (read back from its files) and the same error; warnings
//! name their JSON path. Returns the outcome: `Ok` with the findings (rule and severity) and the
//! warnings' paths, or the error.

use scangate_core::sarif::{read_sarif, read_sarif_spilled, ReadLimits};
use scangate_core::source::FindingSource;
use scangate_core::Finding;
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

pub(crate) fn check(data: &[u8]) -> Result<String, String> {
    let whole = read_sarif(data, "fuzz").map_err(|e| e.to_string());
    let trickled = read_sarif(Trickle(data, 0), "fuzz").map_err(|e| e.to_string());
    assert_eq!(whole, trickled, "chunked reading must not change the result");
    let spilled = read_sarif_spilled(data, "fuzz", ReadLimits::default(), &std::env::temp_dir());
    match (&whole, spilled) {
        (Ok(report), Ok(s)) => {
            let back = |source: &dyn FindingSource| {
                let mut out: Vec<Finding> = Vec::new();
                source.for_each_finding(&mut |_, f| out.push(f.clone())).map(|()| out).map_err(|e| e.to_string())
            };
            assert_eq!(back(&s.findings), Ok(report.findings.clone()), "the spilled findings read back the same");
            assert_eq!(back(&s.suppressed), Ok(report.suppressed.clone()), "the spilled suppressed read back the same");
            assert_eq!(s.report.results_read, report.results_read);
        }
        (Err(e), Err(spilled)) => assert_eq!(e, &spilled.to_string(), "the same error either way"),
        (whole, spilled) => panic!("the readers disagree: {whole:?} / {:?}", spilled.map(|s| s.report.results_read)),
    }
    let report = whole?;
    // (One result may give several findings, one per vulnerable package: no bound from results_read.)
    assert!(report.warnings.len() <= report.warning_count, "warnings kept but not counted");
    for w in &report.warnings {
        assert!(!w.path.is_empty(), "a warning without a path: {w:?}");
    }
    let findings: Vec<String> = report.findings.iter().map(|f| format!("{}:{:?}", f.rule_id, f.severity)).collect();
    if report.results_read == 0 {
        assert!(findings.is_empty(), "findings without any result read: {findings:?}");
    }
    let warnings: Vec<&str> = report.warnings.iter().map(|w| w.path.as_str()).collect();
    Ok(format!(
        "{} results, findings {findings:?}, {} warnings {warnings:?}",
        report.results_read, report.warning_count
    ))
}

//! Human summary (`summary.md`). (Being written; this is the public contract.)

use crate::finding::Finding;
use crate::verdict::Verdict;

/// Markdown summary: verdict, reasons, counts per severity, the worst findings.
pub fn markdown(_verdict: &Verdict, _findings: &[Finding], _worst: usize) -> String {
    String::new()
}

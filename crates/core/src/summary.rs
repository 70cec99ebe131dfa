//! Human summary (`summary.md`): verdict, reasons, counts per severity against the
//! thresholds, policy result, what was scanned, and a table of the worst findings.
//!
//! Every piece of report-derived text is bounded and goes through
//! [`crate::text::markdown_inline`] (control characters, terminal escapes and bidi controls
//! replaced, line breaks joined, `|` `[` `]` `` ` `` `\` escaped, `<`/`>` as entities, bare URLs
//! kept from autolinking), so the summary stays readable and small whatever the report holds,
//! and no report text becomes a link, an image or HTML.

use crate::finding::Finding;
use crate::severity::Severity;
use crate::source::{FindingSource, SourceError};
use crate::text::{markdown_inline, truncate_chars};
use crate::verdict::Verdict;
use crate::worst::{self, Selected};
use std::convert::Infallible;
use std::fmt::Write as _;

/// At most this many rows in the worst-findings table, whatever the caller asks.
pub const MAX_WORST_ROWS: usize = 500;
/// At most this many reasons or warnings are listed (the rest are counted).
const MAX_LISTED: usize = 20;
const MAX_LINE_CHARS: usize = 500;
const MAX_CELL_CHARS: usize = 160;
const MAX_CVES_SHOWN: usize = 3;

/// Markdown summary: verdict, reasons, counts per severity, the worst findings.
pub fn markdown(verdict: &Verdict, findings: &[Finding], worst: usize) -> String {
    let rows = rows(worst, findings.len());
    // Findings in memory are always read: no error to handle.
    let Ok(md) =
        render(verdict, rows, findings.len(), || Ok::<_, Infallible>(worst::in_slice(findings, rows, &|_| true)));
    md
}

/// [`markdown`] over findings read one at a time (a report whose findings are not all in
/// memory): the same text; at most `worst` (and [`MAX_WORST_ROWS`]) findings are held.
pub fn markdown_from(verdict: &Verdict, findings: &dyn FindingSource, worst: usize) -> Result<String, SourceError> {
    let rows = rows(worst, findings.len());
    render(verdict, rows, findings.len(), || worst::in_source(findings, rows, &|_| true))
}

/// The rows of the worst-findings table: `worst` asked for, of `total` findings.
pub(crate) fn rows(worst: usize, total: usize) -> usize {
    worst.min(MAX_WORST_ROWS).min(total)
}

/// The summary, with a table of the `rows` worst of `total` findings from `select` (not
/// called without rows), or `select`'s error.
pub(crate) fn render<'a, E>(
    verdict: &Verdict,
    rows: usize,
    total: usize,
    select: impl FnOnce() -> Result<Selected<'a>, E>,
) -> Result<String, E> {
    let mut out = String::new();
    let status = if verdict.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(out, "## scangate: {status}\n");
    if verdict.passed {
        let _ =
            writeln!(out, "**Verdict: PASSED**: no threshold exceeded and the policy result does not fail the gate.");
    } else {
        let n = verdict.reasons.len();
        let _ = writeln!(out, "**Verdict: FAILED** ({n} reason{}):\n", if n == 1 { "" } else { "s" });
        list(&mut out, &verdict.reasons);
    }
    if !verdict.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:\n");
        list(&mut out, &verdict.warnings);
    }

    let _ = writeln!(out, "\n| Severity | Count | Max | Result |\n|---|---:|---:|---|");
    for severity in Severity::ALL_DESC {
        let count = verdict.counts.get(severity);
        let (max, result) = if severity == Severity::Informational {
            ("-".to_string(), "-")
        } else {
            let max = verdict.thresholds.max_for(severity);
            if max < 0 {
                ("unlimited".to_string(), "ok")
            } else if count > max as u64 {
                (max.to_string(), "**FAIL**")
            } else {
                (max.to_string(), "ok")
            }
        };
        let _ = writeln!(out, "| {} | {count} | {max} | {result} |", severity.label());
    }
    let _ = writeln!(out, "| Total | {} | | |", verdict.counts.total);
    if let Some(note) = verdict.quality_note() {
        let _ = writeln!(out, "\nQuality findings: {}", cell(&note, MAX_LINE_CHARS));
    }
    if let Some(note) = verdict.waived_note() {
        let _ = writeln!(out, "\nWaived: {}", cell(&note, MAX_LINE_CHARS * 4));
    }
    if let Some(note) = verdict.not_fixable_note() {
        let _ = writeln!(out, "\nWithout a fix: {}", cell(&note, MAX_LINE_CHARS));
    }

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "- Policy result: {} (FAIL_ON_POLICY_DENY={}, FAIL_ON_POLICY_AUDIT={})",
        verdict.policy_result, verdict.fail_on_policy_deny, verdict.fail_on_policy_audit
    );
    if let Some(target) = &verdict.target {
        let _ = writeln!(out, "- Target: {}", cell(target, MAX_LINE_CHARS));
    }
    if let Some(host) = verdict.host.as_ref().filter(|h| !h.is_empty()) {
        let _ = writeln!(out, "- Host: {}", cell(&host.describe(), MAX_LINE_CHARS));
    }
    if let Some(scanner) = &verdict.scanner {
        let name = match &scanner.version {
            Some(v) => format!("{} {v}", scanner.name),
            None => scanner.name.clone(),
        };
        let _ = writeln!(out, "- Scanner: {}", cell(&name, MAX_LINE_CHARS));
    }
    let report = match &verdict.report.bucket {
        Some(b) => format!("s3://{b}/{}", verdict.report.key),
        None => verdict.report.key.clone(),
    };
    if !report.trim().is_empty() {
        let _ = writeln!(out, "- Report: {}", cell(&report, MAX_LINE_CHARS));
    }
    if let Some(arn) = verdict.build.as_ref().and_then(|b| b.arn.as_ref()) {
        let _ = writeln!(out, "- Build: {}", cell(arn, MAX_LINE_CHARS));
    }
    if verdict.findings_imported > 0 || verdict.findings_archived > 0 {
        let _ = writeln!(
            out,
            "- Security Hub: {} to import, {} to archive (the outcome is in hub.json)",
            verdict.findings_imported, verdict.findings_archived
        );
    }
    let _ = writeln!(out, "- Processed at: {}", cell(&verdict.processed_at, MAX_LINE_CHARS));

    if rows > 0 {
        let sorted = select()?;
        let _ = writeln!(out, "\n### Worst findings ({rows} of {total})\n");
        let _ = writeln!(out, "| Severity | Rule | CVEs | Package or location | Title |\n|---|---|---|---|---|");
        for f in &sorted.worst {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                f.severity.label(),
                cell(&f.rule_id, MAX_CELL_CHARS),
                cves(f),
                cell(&affected(f), MAX_CELL_CHARS),
                cell(&f.title, MAX_CELL_CHARS),
            );
        }
    }
    Ok(out)
}

fn list(out: &mut String, items: &[String]) {
    for item in items.iter().take(MAX_LISTED) {
        let _ = writeln!(out, "- {}", cell(item, MAX_LINE_CHARS));
    }
    if items.len() > MAX_LISTED {
        let _ = writeln!(out, "- … and {} more", items.len() - MAX_LISTED);
    }
}

fn cves(f: &Finding) -> String {
    let mut s = f.cves.iter().take(MAX_CVES_SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if f.cves.len() > MAX_CVES_SHOWN {
        let _ = write!(s, " +{} more", f.cves.len() - MAX_CVES_SHOWN);
    }
    cell(&s, MAX_CELL_CHARS)
}

/// `openssl 3.0.4 → 3.0.5` for packages (`→ no fix` when none is known), `path:line` for files.
fn affected(f: &Finding) -> String {
    match &f.package {
        Some(p) => {
            let installed = p.installed_version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
            match &p.fixed_version {
                Some(fixed) => format!("{}{installed} → {fixed}", p.name),
                None => format!("{}{installed} → no fix", p.name),
            }
        }
        None => f.affected(),
    }
}

/// Text fit for one Markdown table cell or list line: bounded, then through the one sanitizer
/// in its Markdown form ([`markdown_inline`]: one line, no control characters, terminal
/// escapes or bidi controls, no link, image, autolink, raw HTML or table break).
fn cell(s: &str, max_chars: usize) -> String {
    let s = truncate_chars(s, max_chars);
    let out = markdown_inline(&s);
    let trimmed = out.trim();
    if trimmed.is_empty() {
        "-".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_bounded() {
        assert_eq!(cell("a|b\nc<d>\u{7}", 100), "a\\|b c&lt;d&gt;\u{FFFD}");
        assert_eq!(cell("[x](https://e.example) \u{1b}[2J", 100), "\\[x\\](https\\://e.example) \u{FFFD}");
        assert_eq!(cell("  ", 100), "-");
        // 50 characters as rendered; the truncation marker's brackets are escaped in the source.
        let cut = cell(&"x".repeat(10_000), 50);
        assert!(cut.chars().count() <= 52 && cut.ends_with("…\\[truncated by scangate\\]"), "{cut}");
    }
}

//! The terminal table `scangate process --format table` prints: the report and scanner, the
//! counts against the thresholds, the cloud policy, the worst findings and the verdict. Every
//! text from the report goes through the one sanitizer ([`display_line`]).

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use scangate_core::evaluate::Evaluated;
use scangate_core::finding::Finding;
use scangate_core::policy::PolicyResult;
use scangate_core::sarif;
use scangate_core::text::{display_line, display_text};
use scangate_core::verdict::Verdict;
use scangate_core::Severity;
use std::io::IsTerminal;
use std::path::PathBuf;

/// What the table shows besides the evaluation: the files read and how many worst findings.
pub(crate) struct TableInput<'a> {
    pub files: &'a [PathBuf],
    pub runs: &'a [sarif::RunSummary],
    pub results_read: usize,
    /// At most this many findings in "Worst findings" (0: none).
    pub worst: usize,
}

/// The whole table, as printed.
pub(crate) fn render_table(input: &TableInput<'_>, evaluated: &Evaluated, findings: &[Finding]) -> String {
    let v = &evaluated.verdict;
    let mut s = header(input, v);
    s.push_str(&counts_table(evaluated).to_string());
    s.push('\n');
    if let Some(note) = v.quality_note() {
        s.push_str(&format!("Quality:  {note}\n"));
    }
    if let Some(note) = v.waived_note() {
        s.push_str(&format!("Waived:   {}\n", scangate_core::text::display_line(&note)));
    }
    if let Some(note) = v.not_fixable_note() {
        s.push_str(&format!("No fix:   {}\n", scangate_core::text::display_line(&note)));
    }
    s.push_str(&format!("\nCloud policy: {} — {}\n", v.policy_result, policy_effect(v)));
    if !findings.is_empty() && input.worst > 0 {
        let shown = findings.len().min(input.worst);
        s.push_str(&format!("\nWorst findings ({shown} of {}):\n", findings.len()));
        s.push_str(&worst_table(&findings[..shown]).to_string());
        s.push('\n');
    }
    s.push_str(&verdict_lines(v));
    s
}

/// Report, scanner, target and how many results were read.
fn header(input: &TableInput<'_>, v: &Verdict) -> String {
    let scanners: Vec<String> = input
        .runs
        .iter()
        .map(|r| match &r.scanner.version {
            Some(ver) => format!("{} {}", r.scanner.name, ver),
            None => r.scanner.name.clone(),
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    format!(
        "Report:   {}\nScanner:  {}\nTarget:   {}\nResults:  {} read, {} findings after deduplication\n\n",
        display_line(&input.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")),
        if scanners.is_empty() { "(none)".to_string() } else { display_line(&scanners.join(", ")).into_owned() },
        display_line(v.target.as_deref().unwrap_or("(not named in the report)")),
        input.results_read,
        v.counts.total,
    )
}

/// One row a severity: its count, what is allowed and whether it passed; then the total.
fn counts_table(evaluated: &Evaluated) -> Table {
    let v = &evaluated.verdict;
    let mut counts = new_table();
    counts.set_header(vec!["Severity", "Findings", "Allowed", "Result"]);
    for severity in Severity::ALL_DESC {
        let count = v.counts.get(severity);
        let check = evaluated.evaluation.checks.iter().find(|c| c.severity == severity);
        let (allowed, result) = match check {
            Some(c) if c.max < 0 => ("unlimited".to_string(), "ok"),
            Some(c) => (c.max.to_string(), if c.passed { "ok" } else { "FAIL" }),
            None => ("not limited".to_string(), ""),
        };
        counts.add_row(vec![
            Cell::new(severity.label()),
            Cell::new(count).set_alignment(CellAlignment::Right),
            Cell::new(allowed).set_alignment(CellAlignment::Right),
            Cell::new(result),
        ]);
    }
    counts.add_row(vec![
        Cell::new("TOTAL"),
        Cell::new(v.counts.total).set_alignment(CellAlignment::Right),
        Cell::new(""),
        Cell::new(""),
    ]);
    counts
}

/// What the cloud policy result did to the gate.
fn policy_effect(v: &Verdict) -> &'static str {
    match v.policy_result {
        PolicyResult::Deny if v.fail_on_policy_deny => "fails the gate (FAIL_ON_POLICY_DENY=true)",
        PolicyResult::Deny => "ignored (FAIL_ON_POLICY_DENY=false)",
        PolicyResult::Audit if v.fail_on_policy_audit => "fails the gate (FAIL_ON_POLICY_AUDIT=true)",
        PolicyResult::Audit => "passes with a warning (FAIL_ON_POLICY_AUDIT=false)",
        PolicyResult::Allow => "allows",
        PolicyResult::None => "no cloud policy was evaluated",
    }
}

/// The findings shown, worst first (the caller sorted and cut them).
fn worst_table(shown: &[Finding]) -> Table {
    let mut worst = new_table();
    worst.set_header(vec!["Severity", "Rule", "CVE", "Affected", "Fixed in", "Title"]);
    for f in shown {
        let cves = match f.cves.len() {
            0 => String::new(),
            1 => f.cves[0].clone(),
            n => format!("{} +{}", f.cves[0], n - 1),
        };
        let fixed = f.package.as_ref().and_then(|p| p.fixed_version.clone()).unwrap_or_default();
        worst.add_row(vec![
            Cell::new(f.severity.label()),
            Cell::new(clip(&f.rule_id, 40)),
            Cell::new(clip(&cves, 40)),
            Cell::new(clip(&f.affected(), 50)),
            Cell::new(clip(&fixed, 24)),
            Cell::new(clip(&f.title, 80)),
        ]);
    }
    worst
}

/// `Verdict: PASSED|FAILED`, then its reasons (`-`) and warnings (`!`).
fn verdict_lines(v: &Verdict) -> String {
    let mut s = format!("\nVerdict: {}\n", if v.passed { "PASSED" } else { "FAILED" });
    for r in &v.reasons {
        s.push_str(&format!("  - {}\n", display_line(r)));
    }
    for w in &v.warnings {
        s.push_str(&format!("  ! {}\n", display_line(w)));
    }
    s
}

fn table_width() -> u16 {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&w: &u16| w >= 60).unwrap_or(120)
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(table_width());
    if !std::io::stdout().is_terminal() {
        t.force_no_tty();
    }
    t
}

/// The first line, at most `max` characters, for a table cell; through the one sanitizer
/// ([`display_line`]): no control character, terminal escape or bidi control reaches the terminal.
fn clip(s: &str, max: usize) -> String {
    let text = display_text(s);
    let line = display_line(text.lines().next().unwrap_or(""));
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

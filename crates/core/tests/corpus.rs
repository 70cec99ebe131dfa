//! Every file of the SARIF corpus (tests/corpus/sarif), with its expected outcome.
//!
//! The severity counts were computed independently of the Rust reader, by a throwaway Python
//! script that reads each file with `json.load` and applies docs/design.md's rules (Qualys severity,
//! then security-severity, then result level / rule default level / `warning`) and the dedup key
//! of `finding::DedupKey` (scanner, rule id, package name+version | location uri+line |
//! fingerprint | message, packages from QScanner `vulnerableSoftware`, Trivy-style message lines,
//! osv-scanner messages, Grype/Anchore rule help and purls). The warning counts were checked by
//! hand or by the same script (e.g. Anchore: 428 results whose `ruleIndex` points at a rule with
//! another id; Trivy fs: 17 results with a `ruleIndex` into `rules: null`).

use scangate_core::finding::FindingClass;
use scangate_core::sarif::{read_sarif_file, SarifError};
use scangate_core::Counts;
use std::path::PathBuf;

#[derive(Debug)]
enum Expect {
    /// critical, high, medium, low, informational, total (every finding read, security and
    /// quality), warnings, and how many of the total are quality findings
    Valid([u64; 6], usize, u64),
    /// A JSON syntax error at this line and column.
    Json(usize, usize),
    /// Not SARIF, at this JSON path.
    NotSarif(&'static str),
}

use Expect::*;

const TABLE: &[(&str, Expect)] = &[
    // Every result carries `suppressions: [{"kind": "external"}]` (no status): all suppressed
    // (SARIF 2.1.0 §3.35.3); they are in `Report::suppressed`.
    ("anchore-scan-action-2020-large.sarif", Valid([0, 0, 0, 0, 0, 0], 428, 0)),
    ("checkov-docs-example.sarif", Json(106, 2)),
    // No `tool` at all: the scanner is unknown, so nothing says these are security findings.
    ("checkov-openapi-results.sarif", Valid([0, 12, 0, 0, 0, 12], 13, 12)),
    ("codeql-action-INVALID-sarif.sarif", NotSarif("runs[0].results")),
    ("codeql-action-INVALID-uri.sarif", Valid([0, 0, 1, 0, 0, 1], 0, 1)),
    ("codeql-action-fingerprinting2-input.sarif", Valid([0, 0, 1, 0, 0, 1], 0, 1)),
    ("codeql-action-tool-names.sarif", Valid([0, 0, 0, 0, 0, 0], 2, 0)),
    ("codeql-action-valid-sarif.sarif", Valid([0, 0, 0, 3, 0, 3], 0, 3)),
    // 216 results of CodeQL's quality queries (no security-severity, no `security` tag).
    ("codeql-javascript-juice-shop-3mb.sarif", Valid([19, 115, 43, 202, 0, 379], 0, 216)),
    ("codeql-javascript-tag-sarif-large.sarif", Valid([0, 0, 0, 0, 0, 0], 0, 0)),
    ("eslint-sarif-formatter-own-input.sarif", Valid([0, 2, 2, 0, 0, 4], 0, 4)),
    ("eslint-codacy-cli.sarif", Valid([0, 4, 0, 0, 0, 4], 0, 4)),
    ("gitleaks-simple.sarif", Valid([0, 0, 1, 0, 0, 1], 1, 0)),
    ("grype-dir-snapshot.sarif", Valid([0, 2, 0, 0, 0, 2], 0, 0)),
    ("grype-empty-chainguard.sarif", Valid([0, 0, 0, 0, 0, 0], 0, 0)),
    ("grype-image-snapshot.sarif", Valid([0, 2, 0, 0, 0, 2], 0, 0)),
    ("jscpd-clone-own-input.sarif", Valid([0, 0, 1, 0, 0, 1], 0, 1)),
    ("osv-scanner-aliases-max-severity.sarif", Valid([0, 0, 1, 0, 0, 1], 0, 0)),
    ("osv-scanner-full-empty-arrays.sarif", Valid([0, 1, 1, 0, 0, 2], 0, 0)),
    ("osv-scanner-multi-ecosystem.sarif", Valid([0, 0, 6, 0, 0, 6], 0, 0)),
    ("osv-scanner-no-sources.sarif", Valid([0, 0, 0, 0, 0, 0], 0, 0)),
    ("osv-scanner-path-injection.sarif", Valid([0, 0, 1, 0, 0, 1], 0, 0)),
    ("osv-scanner-vuln-and-license.sarif", Valid([0, 0, 1, 0, 0, 1], 0, 0)),
    // Every ruff result is `error`; A002 on `list` and `id` share line 6 and are one finding
    // (the dedup key is rule and location). S105 is a bandit rule, but ruff writes no
    // security-severity: quality, like the rest.
    ("ruff-builtins-own-input.sarif", Valid([0, 6, 0, 0, 0, 6], 0, 6)),
    ("sarifsdk-INVALID-deserialization-error.sarif", Valid([0, 0, 1, 0, 0, 1], 1, 1)),
    ("sarifsdk-INVALID-index-inconsistent.sarif", Valid([0, 0, 3, 0, 0, 3], 7, 3)),
    ("sarifsdk-INVALID-json-syntax-error.sarif", Json(3, 3)),
    ("sarifsdk-INVALID-ruleid-inconsistent.sarif", Valid([0, 0, 3, 0, 0, 3], 3, 3)),
    ("snyk-cliv2-testdata.sarif", Valid([0, 1, 1, 0, 0, 2], 1, 0)),
    // Two results are suppressed (kind external, no status; "suppressions": null is not).
    ("snyk-code-acceptance-large.sarif", Valid([0, 3, 6, 0, 0, 9], 0, 0)),
    ("snyk-code-sample.sarif", Valid([0, 3, 4, 0, 0, 7], 0, 0)),
    ("snyk-container-result.sarif", Valid([0, 0, 1, 0, 0, 1], 0, 0)),
    ("snyk-iac-integrated.sarif", Valid([0, 0, 4, 0, 0, 4], 0, 0)),
    ("trivy-debug-results-2021.sarif", Valid([0, 64, 46, 14, 0, 124], 60, 0)),
    ("trivy-fs-codacy-expected.sarif", Valid([0, 10, 6, 1, 0, 17], 17, 0)),
    ("trivy-image-alpine-310.sarif", Valid([0, 0, 4, 0, 0, 4], 0, 0)),
    ("trivy-image-ghas-test.sarif", Valid([13, 8, 0, 0, 0, 21], 0, 0)),
    ("trivy-template-results-2020.sarif", Valid([0, 4, 0, 0, 0, 4], 0, 0)),
];

fn corpus_dir() -> PathBuf {
    let dir = scangate_testkit::fixtures::corpus_dir();
    assert!(
        dir.is_dir(),
        "the SARIF corpus is missing: expected a directory at {} (tests/corpus/sarif in the repository)",
        dir.display()
    );
    dir
}

fn corpus_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("the corpus directory can be listed")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sarif"))
        .collect();
    names.sort();
    names
}

#[test]
fn table_covers_every_corpus_file() {
    let files = corpus_files();
    let rows: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
    let missing: Vec<&String> = files.iter().filter(|f| !rows.contains(&f.as_str())).collect();
    let stale: Vec<&&str> = rows.iter().filter(|r| !files.iter().any(|f| f == **r)).collect();
    assert!(missing.is_empty(), "corpus files without a row in TABLE (add their expected outcome): {missing:?}");
    assert!(stale.is_empty(), "TABLE rows for files that are not in the corpus: {stale:?}");
}

#[test]
fn every_corpus_file_reads_as_expected() {
    let dir = corpus_dir();
    let mut failures = Vec::new();
    for (name, expect) in TABLE {
        let got = read_sarif_file(&dir.join(name));
        let ok = match (expect, &got) {
            (Valid(counts, warnings, quality), Ok(r)) => {
                let c = Counts::of(&r.findings);
                let have = [c.critical, c.high, c.medium, c.low, c.informational, c.total];
                let q = r.findings.iter().filter(|f| f.class == FindingClass::Quality).count() as u64;
                let good = have == *counts && r.warning_count == *warnings && q == *quality;
                if !good {
                    failures.push(format!(
                        "{name}: expected counts {counts:?}, {warnings} warnings and {quality} quality, got {have:?}, {} \
                         warnings and {q} quality: {:?}",
                        r.warning_count,
                        r.warnings.iter().take(5).collect::<Vec<_>>()
                    ));
                }
                // Invariants of every valid report.
                for f in &r.findings {
                    if f.title.trim().is_empty() || f.description.trim().is_empty() || f.occurrences == 0 {
                        failures
                            .push(format!("{name}: finding {} has an empty title/description or 0 occurrences", f.id));
                    }
                }
                let all = || r.findings.iter().chain(&r.suppressed);
                let occ: u64 = all().map(|f| u64::from(f.occurrences)).sum();
                if occ > r.results_read as u64 * 8 || (r.results_read > 0 && all().next().is_none()) {
                    failures.push(format!("{name}: {occ} occurrences from {} results", r.results_read));
                }
                continue;
            }
            (Json(line, column), Err(SarifError::Json { line: l, column: c, message, .. })) => {
                (line, column) == (l, c) && !message.is_empty()
            }
            (NotSarif(path), Err(SarifError::NotSarif { path: p, message, .. })) => path == p && !message.is_empty(),
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: expected {expect:?}, got {:?}", got.map(|r| r.findings.len())));
        }
    }
    assert!(failures.is_empty(), "{} corpus file(s) misread:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn juice_shop_rules_from_extensions_are_resolved() {
    let r = read_sarif_file(&corpus_dir().join("codeql-javascript-juice-shop-3mb.sarif")).expect("juice shop reads");
    assert!(r.findings.iter().all(|f| *f.title != *f.rule_id), "every CodeQL result found its rule in tool.extensions");
    assert_eq!(r.runs[0].rules, 200);
}

#[test]
fn trivy_image_target_and_packages() {
    let r = read_sarif_file(&corpus_dir().join("trivy-image-alpine-310.sarif")).expect("trivy reads");
    assert!(!r.target.repo_tags.is_empty() || r.target.image_name.is_some(), "{:?}", r.target);
    assert!(r.findings.iter().all(|f| f.package.is_some() && !f.cves.is_empty()));
}

// ---------------------------------------------------------------- our QScanner fixtures

fn fixture(name: &str) -> scangate_core::Report {
    let path = scangate_testkit::fixtures::path(name);
    read_sarif_file(&path).unwrap_or_else(|e| panic!("fixture {name} must read: {e}"))
}

fn counts(r: &scangate_core::Report) -> [u64; 6] {
    let c = Counts::of(&r.findings);
    [c.critical, c.high, c.medium, c.low, c.informational, c.total]
}

#[test]
fn qscanner_image_fixture() {
    use scangate_core::{evaluate, FindingKind, GatePolicy, PolicyResult, Severity};
    let r = fixture("qscanner-image.sarif");
    // Counted independently (Python, docs/design.md rules): 3 critical (log4j in two packages, zlib), 4 high, ...
    assert_eq!(counts(&r), [3, 4, 3, 2, 1, 13]);
    assert_eq!(r.warning_count, 0, "{:?}", r.warnings);
    assert_eq!(r.results_read, 11);
    assert_eq!(r.policy_result, PolicyResult::Deny);
    assert_eq!(r.target.repo_tags, vec!["123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.4.2".to_string()]);
    assert_eq!(r.target.image_name.as_deref(), Some("shop/web"));
    let log4j: Vec<_> = r.findings.iter().filter(|f| f.rule_id == "qid-376157".into()).collect();
    assert_eq!(log4j.len(), 2, "one result, two vulnerable packages");
    assert!(log4j.iter().all(|f| f.severity == Severity::Critical && *f.cves == ["CVE-2021-44228", "CVE-2021-45046"]));
    let zlib = r.findings.iter().find(|f| f.rule_id == "qid-179944".into()).expect("zlib finding");
    assert_eq!(zlib.occurrences, 2);
    assert!(zlib.layer.as_deref().is_some_and(|l| l.starts_with("sha256:")));
    let secret = r.findings.iter().find(|f| f.kind == FindingKind::Secret).expect("a secret finding");
    assert!(secret.package.is_none());
    assert_eq!(secret.location.as_ref().map(|l| (l.uri.as_str(), l.start_line)), Some(("app/config/.env", Some(3))));
    let with_fix = r.findings.iter().filter(|f| f.package.as_ref().is_some_and(|p| p.fixed_version.is_some())).count();
    assert!(with_fix >= 8, "most packages have a fixed version ({with_fix})");
    let eval = evaluate(&Counts::of(&r.findings), r.policy_result, &GatePolicy::default());
    assert!(!eval.passed, "default thresholds (max_critical 0) and DENY fail the gate");
}

#[test]
fn qscanner_image_fixed_fixture_drops_exactly_the_fixed_cve() {
    let before = fixture("qscanner-image.sarif");
    let after = fixture("qscanner-image-fixed.sarif");
    assert_eq!(counts(&after), [2, 4, 3, 2, 1, 12]);
    let ids =
        |r: &scangate_core::Report| r.findings.iter().map(|f| f.id.clone()).collect::<std::collections::BTreeSet<_>>();
    let gone: Vec<String> = ids(&before).difference(&ids(&after)).cloned().collect();
    assert_eq!(gone.len(), 1);
    let f = before.findings.iter().find(|f| f.id == gone[0]).expect("the removed finding");
    assert_eq!(*f.cves, ["CVE-2022-37434"]);
    assert!(ids(&after).is_subset(&ids(&before)), "finding ids are stable between scans");
}

#[test]
fn qscanner_repo_fixture() {
    use scangate_core::{evaluate, GatePolicy, PolicyResult};
    let r = fixture("qscanner-repo.sarif");
    assert_eq!(counts(&r), [0, 1, 3, 1, 0, 5]);
    assert_eq!(r.policy_result, PolicyResult::Allow);
    assert!(r.target.repo_tags.is_empty() && r.target.image_id.is_none());
    let uris: std::collections::BTreeSet<&str> =
        r.findings.iter().filter_map(|f| f.location.as_ref().map(|l| l.uri.as_str())).collect();
    assert_eq!(uris, ["package.json", "requirements.txt"].into_iter().collect());
    assert!(evaluate(&Counts::of(&r.findings), r.policy_result, &GatePolicy::default()).passed);
}

// ---------------------------------------------------------------- findings as their tools wrote them

fn strict_gate(quality: scangate_core::policy::QualityFindings) -> scangate_core::GatePolicy {
    scangate_core::GatePolicy {
        thresholds: scangate_core::policy::Thresholds { max_high: 0, ..Default::default() },
        quality,
        ..Default::default()
    }
}

fn evaluated(
    name: &str,
    quality: scangate_core::policy::QualityFindings,
) -> (scangate_core::Report, scangate_core::Verdict) {
    let mut r = read_sarif_file(&corpus_dir().join(name)).expect("reads");
    let e = scangate_core::evaluate::evaluate(&mut r, &strict_gate(quality), None, Default::default());
    (r, e.verdict)
}

#[test]
fn linter_results_are_quality_findings_that_do_not_fail_a_max_high_0_gate_by_default() {
    use scangate_core::policy::QualityFindings;
    for name in
        ["ruff-builtins-own-input.sarif", "eslint-sarif-formatter-own-input.sarif", "jscpd-clone-own-input.sarif"]
    {
        let (r, v) = evaluated(name, QualityFindings::Report);
        assert!(v.passed, "{name}: a linter's report does not fail a security gate by default: {:?}", v.reasons);
        assert_eq!(v.counts.total, 0, "{name}: nothing counted against the thresholds");
        assert!(r.findings.is_empty(), "{name}: nothing for Security Hub");
        assert_eq!(v.quality_counts.total, r.quality.len() as u64, "{name}: counted under their own heading");
        assert!(v.warnings.iter().any(|w| w.contains("quality finding")), "{name}: {:?}", v.warnings);
        // Asked to gate them, the same report fails (the error-level ones are HIGH), and they
        // stay in `findings`, which is what Security Hub receives.
        let (r, v) = evaluated(name, QualityFindings::Gate);
        assert_eq!(v.passed, v.counts.high == 0, "{name}: {:?}", v.reasons);
        assert!(r.quality.is_empty() && !r.findings.is_empty());
        let (r, v) = evaluated(name, QualityFindings::Ignore);
        assert!(v.passed && r.findings.is_empty() && v.quality_counts.total > 0, "{name}");
    }
    let (_, v) = evaluated("ruff-builtins-own-input.sarif", QualityFindings::Gate);
    assert!(!v.passed, "ruff marks everything error: HIGH when gated");
    // Dedup and lifecycle keys do not depend on the class: the same ids either way.
    let ids = |q| {
        let (r, _) = evaluated("ruff-builtins-own-input.sarif", q);
        let mut ids: Vec<String> = r.findings.iter().chain(&r.quality).map(|f| f.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(QualityFindings::Gate), ids(QualityFindings::Report));
}

#[test]
fn a_result_with_security_severity_still_fails_the_gate() {
    use scangate_core::policy::QualityFindings;
    // CodeQL's security queries carry security-severity; its quality queries do not.
    let (r, v) = evaluated("codeql-javascript-juice-shop-3mb.sarif", QualityFindings::Report);
    assert!(!v.passed, "security findings still count");
    assert_eq!((v.counts.total, v.quality_counts.total), (379 - 216, 216));
    assert!(r.findings.iter().all(|f| f.cvss_score.is_some()), "every counted finding has a security-severity");
    // Security scanners are security by construction, whatever their rules carry.
    let (r, _) = evaluated("trivy-debug-results-2021.sarif", QualityFindings::Report);
    assert!(r.quality.is_empty() && !r.findings.is_empty());
}

#[test]
fn titles_name_the_instance_and_links_name_the_related_location() {
    let r = read_sarif_file(&corpus_dir().join("ruff-builtins-own-input.sarif")).expect("reads");
    let titles: Vec<&str> = r.findings.iter().map(|f| f.title.as_str()).collect();
    assert!(titles.contains(&"Variable `sum` is shadowing a Python builtin"), "{titles:?}");
    assert!(titles.contains(&"`os` imported but unused"), "{titles:?}");
    let a001 = r.findings.iter().find(|f| f.rule_id == "A001".into()).expect("A001");
    assert!(
        a001.description.starts_with("Variable `sum` is shadowing a Python builtin\n\n## What it does"),
        "{}",
        a001.description
    );
    let r = read_sarif_file(&corpus_dir().join("jscpd-clone-own-input.sarif")).expect("reads");
    assert_eq!(r.findings[0].title, "Duplicated code block (35 tokens), duplicated at b.js:4");
    let r = read_sarif_file(&corpus_dir().join("codeql-javascript-juice-shop-3mb.sarif")).expect("reads");
    let redos = r.findings.iter().find(|f| f.title.starts_with("This regular expression (")).expect("a ReDoS finding");
    assert!(!redos.title.contains("]("), "markdown links are resolved: {}", redos.title);
    assert!(r.findings.iter().all(|f| !f.title.contains("](") && !f.description.contains("](")));
}

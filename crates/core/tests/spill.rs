//! The reader spilling its findings to a file ([`read_sarif_spilled`]) gives exactly what it
//! gives in memory ([`read_sarif_limited`]): every SARIF file of the repository (corpus,
//! fixtures, fuzz regressions) and generated reports with duplicates and suppressions read to
//! the same report, findings and suppressed findings equal element by element, and the same
//! error when one is refused, caps included (except the text cap, which spilled is the spill
//! cap).

use proptest::prelude::*;
use scangate_core::sarif::{read_sarif_limited, read_sarif_spilled, ReadLimits, Report, SarifError};
use scangate_core::FindingSource;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn temp_dir() -> PathBuf {
    std::env::temp_dir()
}

/// The findings of a spill, read in order and by position (both must agree).
fn collect(s: &dyn FindingSource) -> Vec<scangate_core::Finding> {
    let mut out = Vec::new();
    s.for_each_finding(&mut |i, f| {
        assert_eq!(i, out.len(), "in order");
        out.push(f.clone());
    })
    .expect("the spill reads back");
    for (i, f) in out.iter().enumerate() {
        assert_eq!(&*s.get(i).expect("in range"), f, "get({i}) is what the sequential read gave");
    }
    assert!(s.get(out.len()).is_err(), "past the end");
    out
}

fn spilled(bytes: &[u8], limits: ReadLimits) -> Result<Report, String> {
    let s = read_sarif_spilled(bytes, "test.sarif", limits, &temp_dir()).map_err(|e| e.to_string())?;
    assert!(s.report.findings.is_empty() && s.report.suppressed.is_empty(), "the findings are in the spills");
    let mut r = s.report.clone();
    r.findings = collect(&s.findings);
    r.suppressed = collect(&s.suppressed);
    Ok(r)
}

fn in_memory(bytes: &[u8], limits: ReadLimits) -> Result<Report, String> {
    read_sarif_limited(bytes, "test.sarif", limits).map_err(|e| e.to_string())
}

fn sarif_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries {
        let path = e.expect("a directory entry").path();
        if path.is_dir() {
            sarif_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "sarif") {
            out.push(path);
        }
    }
}

#[test]
fn every_sarif_file_of_the_repository_reads_the_same_spilled() {
    let root = scangate_testkit::fixtures::repo_root();
    let mut files = Vec::new();
    for dir in ["tests", "crates/core/tests"] {
        sarif_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() >= 40, "the corpus and fixtures: {} files", files.len());
    let mut valid = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("readable");
        let memory = in_memory(&bytes, ReadLimits::default());
        assert_eq!(spilled(&bytes, ReadLimits::default()), memory, "{}", path.display());
        if let Ok(r) = &memory {
            valid += 1;
            // Under the caps a real reader runs with, too.
            let limits = ReadLimits {
                max_findings: Some(r.findings.len() + r.suppressed.len()),
                count_quality: Some(10_000),
                max_held_bytes: Some(32 << 20),
                ..ReadLimits::default()
            };
            assert_eq!(spilled(&bytes, limits), in_memory(&bytes, limits), "{} capped", path.display());
        }
    }
    assert!(valid >= 30, "{valid} valid files");
}

/// A result: rule (0..6: rules 0-2 security, 3-5 quality), where (0..4), a suppression
/// (none, or its kind, status and justification), a CVSS score.
type Res = (u8, u8, Option<(u8, u8, Option<u8>)>, Option<u8>);

fn doc(results: &[Res]) -> Vec<u8> {
    let rules: Vec<Value> = (0..6)
        .map(|i| {
            let mut r = json!({"id": format!("R{i}"), "shortDescription": {"text": format!("rule {i}")},
                "help": {"text": format!("help of rule {i}: {}", "x".repeat(i * 50))}, "helpUri": format!("https://e/{i}")});
            if i < 3 {
                r["properties"] = json!({"security-severity": format!("{}.{}", 4 + i, i), "tags": ["security", format!("t{i}")]});
            }
            r
        })
        .collect();
    let results: Vec<Value> = results
        .iter()
        .map(|&(rule, at, suppression, score)| {
            let level = ["error", "warning", "note"][usize::from(at % 3)];
            let mut r = json!({"ruleId": format!("R{rule}"), "level": level,
                "message": {"text": format!("m{at}")},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("f{}.c", at % 2)}, "region": {"startLine": at}}}]});
            if let Some((kind, status, justification)) = suppression {
                let mut s = json!({});
                if kind > 0 {
                    let kind = ["", "inSource", "external", "other"][usize::from(kind)];
                    s["kind"] = json!(kind);
                }
                if status > 0 {
                    let status = ["", "accepted", "underReview"][usize::from(status)];
                    s["status"] = json!(status);
                }
                if let Some(j) = justification {
                    s["justification"] = json!(format!("reviewed {j}"));
                }
                r["suppressions"] = json!([s]);
            }
            if let Some(score) = score {
                r["properties"] = json!({"security-severity": f64::from(score) / 7.0});
            }
            r
        })
        .collect();
    let doc = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "semgrep", "version": "1.0", "rules": rules}}, "results": results}]});
    serde_json::to_vec(&doc).expect("a Value serializes")
}

fn result() -> impl Strategy<Value = Res> {
    (0u8..6, 0u8..4, prop::option::of((0u8..4, 0u8..3, prop::option::of(0u8..2))), prop::option::of(0u8..80))
}

proptest! {
    /// Generated reports with duplicates (few distinct results), suppressed findings merged
    /// from several results, findings both suppressed and not, quality findings kept or
    /// counted apart, and CVSS scores that are not short decimals: the same report.
    #[test]
    fn generated_reports_read_the_same_spilled(results in prop::collection::vec(result(), 0..40), count_quality in any::<bool>()) {
        let bytes = doc(&results);
        let limits = ReadLimits { count_quality: count_quality.then_some(1000), ..ReadLimits::default() };
        let memory = in_memory(&bytes, limits);
        prop_assert!(memory.is_ok());
        prop_assert_eq!(spilled(&bytes, limits), memory);
    }

    /// Caps hit spilled answer as in memory: the same error, or the same report.
    #[test]
    fn caps_answer_the_same_spilled(results in prop::collection::vec(result(), 0..40), max_findings in 0usize..12, quality in prop::option::of(0usize..6), held in prop::option::of(4_000u64..20_000)) {
        let bytes = doc(&results);
        let limits = ReadLimits { max_findings: Some(max_findings), count_quality: quality, max_held_bytes: held, ..ReadLimits::default() };
        prop_assert_eq!(spilled(&bytes, limits), in_memory(&bytes, limits));
    }
}

/// The text cap bounds what memory holds; spilled, the findings' text is on disk and the
/// spill cap bounds it instead: a rule's long help in the description of each of its 200
/// findings (4 MB from a 45 KB document) is refused under a spill cap of 1 MB, read whole
/// under one it fits, and the text cap does not apply.
#[test]
fn the_spill_cap_stands_for_the_text_cap() {
    let help = "h".repeat(20_000);
    let results: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"ruleId":"R","message":{{"text":"m{i}"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"f{i}.py"}}}}}}]}}"#))
        .collect();
    let doc = format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"trivy","rules":[{{"id":"R","help":{{"text":"{help}"}}}}]}}}},"results":[{}]}}]}}"#,
        results.join(",")
    );
    let limits = |text: Option<u64>, spill: Option<u64>| ReadLimits {
        max_text_bytes: text,
        max_spill_bytes: spill,
        ..ReadLimits::default()
    };
    let dir = temp_dir();
    match read_sarif_spilled(doc.as_bytes(), "test.sarif", limits(None, Some(1_000_000)), &dir) {
        Err(e @ SarifError::TooMuchSpill { limit: 1_000_000, .. }) => {
            assert_eq!(e.to_string(), "test.sarif: its findings take more than 1000000 bytes of the temp dir")
        }
        other => panic!("expected TooMuchSpill, got {other:?}"),
    }
    assert!(
        matches!(in_memory(doc.as_bytes(), limits(Some(1_000_000), None)), Err(e) if e.contains("more than 1000000 bytes of text"))
    );
    let s = read_sarif_spilled(doc.as_bytes(), "test.sarif", limits(Some(1_000_000), Some(5_000_000)), &dir)
        .expect("fits the spill cap; the text cap is not the spilled reader's");
    assert!(s.bytes() > 4_000_000 && s.bytes() <= 5_000_000, "{}", s.bytes());
    let read = collect(&s.findings);
    assert_eq!(read, in_memory(doc.as_bytes(), ReadLimits::default()).expect("valid").findings);
    // The help text itself is written once and shared again when read back.
    let h = read[0].help_text.clone().expect("the rule's help");
    assert!(read.iter().all(|f| f.help_text.as_ref().is_some_and(|x| Arc::ptr_eq(x, &h))));
}

/// An error writing the spill is an error of its own (transient, like reading), not a panic:
/// here the temp dir does not exist.
#[test]
fn a_spill_that_cannot_be_written_is_an_error() {
    let bytes = doc(&[(0, 0, None, None)]);
    let missing = temp_dir().join("scangate-no-such-dir/below");
    match read_sarif_spilled(bytes.as_slice(), "test.sarif", ReadLimits::default(), &missing) {
        Err(e @ SarifError::Spill { .. }) => {
            assert!(e.to_string().starts_with("test.sarif: cannot write its findings to the temp dir: "), "{e}")
        }
        other => panic!("expected Spill, got {other:?}"),
    }
}

/// The attack on what a spilled read holds per finding: findings written without a
/// justification and repeated with a long one make the reader remember each later
/// justification (the file cannot be changed in place). Those are charged against
/// `max_held_bytes`: 2 000 of 400 bytes are refused under 256 KiB, naming them, and read
/// exactly as in memory under a cap they fit.
#[test]
fn later_justifications_are_charged_against_the_held_cap() {
    let j = "j".repeat(400);
    let result = |i: usize, justification: Option<&str>| {
        let mut s = json!({"kind": "external"});
        if let Some(j) = justification {
            s["justification"] = json!(j);
        }
        json!({"ruleId": "R0", "message": {"text": "m"}, "suppressions": [s],
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("f{i}.c")}}}]})
    };
    let results: Vec<String> =
        (0..2_000).flat_map(|i| [result(i, None), result(i, Some(&j))]).map(|r| r.to_string()).collect();
    // The tool first (written by hand: without serde_json's preserve_order keys are sorted).
    let doc = format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"gitleaks"}}}},"results":[{}]}}]}}"#,
        results.join(",")
    );
    let bytes = doc.into_bytes();
    let held = |cap: u64| ReadLimits { max_held_bytes: Some(cap), ..ReadLimits::default() };
    match read_sarif_spilled(bytes.as_slice(), "test.sarif", held(256 << 10), &temp_dir()) {
        Err(SarifError::TooLarge { what, limit, .. }) => {
            assert_eq!(limit, 256 << 10);
            assert!(what.contains("justification of finding") && what.contains("later suppression"), "{what}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let memory = in_memory(&bytes, held(4 << 20)).expect("fits");
    assert_eq!(memory.suppressed.len(), 2_000);
    assert!(memory
        .suppressed
        .iter()
        .all(|f| f.suppression.as_ref().and_then(|s| s.justification.as_deref()) == Some(&j)));
    assert_eq!(spilled(&bytes, held(4 << 20)), Ok(memory));
}

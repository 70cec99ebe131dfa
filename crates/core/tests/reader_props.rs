//! Properties of the SARIF reader: it never panics, reading in small chunks gives the same
//! answer as reading at once (the scanner's buffer boundaries are invisible), duplicated results
//! only double occurrences, and the order of results does not change which findings exist.

use proptest::prelude::*;
use scangate_core::sarif::{read_sarif, read_sarif_capped, read_sarif_spilled, ReadLimits, Report, SarifError};
use scangate_core::FindingSource;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::io::Read;

/// Keys the reader looks at, so random objects hit its code paths.
const KEYS: &[&str] = &[
    "version",
    "runs",
    "tool",
    "driver",
    "extensions",
    "name",
    "version",
    "rules",
    "id",
    "shortDescription",
    "fullDescription",
    "help",
    "text",
    "markdown",
    "helpUri",
    "defaultConfiguration",
    "level",
    "properties",
    "security-severity",
    "severity",
    "cve-ids",
    "tags",
    "qds",
    "purls",
    "results",
    "ruleId",
    "ruleIndex",
    "rule",
    "index",
    "toolComponent",
    "message",
    "locations",
    "physicalLocation",
    "artifactLocation",
    "uri",
    "region",
    "startLine",
    "fingerprints",
    "partialFingerprints",
    "vulnerableSoftware",
    "installedVersion",
    "fixedVersion",
    "layerSHA",
    "artifacts",
    "location",
    "policyResult",
    "imageID",
    "repoTags",
    "x",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-20i64..20).prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        prop_oneof![
            Just("2.1.0".to_string()),
            Just("error".to_string()),
            Just("note".to_string()),
            Just("7.5".to_string()),
            Just("CVE-2024-12345".to_string()),
            Just("DENY".to_string()),
            "\\PC{0,12}",
            "[a-z\u{1f}\"\\\\\n é日]{0,8}",
        ]
        .prop_map(Value::String),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

/// A SARIF-shaped document whose fields are sometimes of the wrong type.
fn sarif_shaped() -> impl Strategy<Value = Value> {
    let field = || prop_oneof![4 => Just(None), 1 => any_json().prop_map(Some)];
    let rule = (0u8..4, field(), field()).prop_map(|(i, a, b)| {
        let mut r = json!({"id": format!("R{i}"), "shortDescription": {"text": "t"}, "properties": {"security-severity": "8.0"}});
        if let Some(a) = a {
            r["properties"]["severity"] = a;
        }
        if let Some(b) = b {
            r["defaultConfiguration"] = b;
        }
        r
    });
    let result = (0u8..5, field(), field(), field(), field()).prop_map(|(i, a, b, c, d)| {
        let mut r = json!({"ruleId": format!("R{i}"), "message": {"text": format!("m{i}")}});
        for (k, v) in [("level", a), ("ruleIndex", b), ("locations", c), ("properties", d)] {
            if let Some(v) = v {
                r[k] = v;
            }
        }
        r
    });
    (prop::collection::vec(rule, 0..4), prop::collection::vec(result, 0..8), field(), field(), any::<bool>()).prop_map(
        |(rules, results, tool_extra, run_extra, results_first)| {
            let mut run = Map::new();
            let tool = tool_extra.unwrap_or_else(|| json!({"driver": {"name": "T", "rules": rules}}));
            if results_first {
                run.insert("results".into(), Value::Array(results));
                run.insert("tool".into(), tool);
            } else {
                run.insert("tool".into(), tool);
                run.insert("results".into(), Value::Array(results));
            }
            if let Some(p) = run_extra {
                run.insert("properties".into(), p);
            }
            json!({"version": "2.1.0", "runs": [Value::Object(run)]})
        },
    )
}

/// Hands out the document in chunks of the given sizes (cycled), to cross buffer boundaries.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    n: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.n % self.sizes.len()].max(1);
        self.n += 1;
        let k = want.min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

fn outcome(r: Result<Report, SarifError>) -> Result<Report, String> {
    r.map_err(|e| e.to_string())
}

/// [`read_sarif_spilled`], its findings read back into the report.
fn read_spilled(r: impl Read) -> Result<Report, String> {
    let s = read_sarif_spilled(r, "doc", ReadLimits::default(), &std::env::temp_dir()).map_err(|e| e.to_string())?;
    let all = |src: &dyn FindingSource| {
        let mut out = Vec::new();
        src.for_each_finding(&mut |_, f| out.push(f.clone())).map(|()| out).map_err(|e| e.to_string())
    };
    Ok(Report { findings: all(&s.findings)?, suppressed: all(&s.suppressed)?, ..s.report })
}

fn read_both(bytes: &[u8], sizes: Vec<usize>) -> (Result<Report, String>, Result<Report, String>) {
    let whole = outcome(read_sarif(bytes, "doc"));
    let chunked = outcome(read_sarif(Chunked { data: bytes, sizes, n: 0 }, "doc"));
    (whole, chunked)
}

fn ids(r: &Report) -> BTreeSet<String> {
    r.findings.iter().map(|f| f.id.clone()).collect()
}

/// A well-typed document: results with packages, locations or only messages, some repeated.
fn valid_doc() -> impl Strategy<Value = (Value, Vec<Value>)> {
    let result = (0u8..4, 0u8..3, 0u8..3, prop::option::of(1u8..4)).prop_map(|(rule, kind, what, line)| {
        let mut r = json!({"ruleId": format!("R{rule}"), "message": {"text": format!("message {what}")}});
        match kind {
            0 => {
                r["properties"] = json!({"vulnerableSoftware": [
                    {"name": format!("pkg{what}"), "installedVersion": "1.0"},
                    {"name": "shared", "installedVersion": "2.0"}]})
            }
            1 => {
                r["locations"] =
                    json!([{"physicalLocation": {"artifactLocation": {"uri": format!("f{what}.c")}, "region": {"startLine": line}}}])
            }
            _ => {}
        }
        r
    });
    prop::collection::vec(result, 0..12).prop_map(|results| {
        let rules: Vec<Value> = (0..4)
            .map(|i| json!({"id": format!("R{i}"), "properties": {"severity": i + 1, "tags": ["vulnerability"]}}))
            .collect();
        (json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "QScanner", "rules": rules}}}]}), results)
    })
}

fn with_results(doc: &Value, results: Vec<Value>) -> Vec<u8> {
    let mut d = doc.clone();
    d["runs"][0]["results"] = Value::Array(results);
    serde_json::to_vec_pretty(&d).expect("a Value serializes")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_json_value_reads_or_errs_and_chunking_is_invisible(v in any_json(), sizes in prop::collection::vec(1usize..9, 1..4)) {
        let bytes = serde_json::to_vec(&v).expect("a Value serializes");
        let (whole, chunked) = read_both(&bytes, sizes);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn sarif_shaped_documents_with_random_field_types(v in sarif_shaped(), sizes in prop::collection::vec(1usize..7, 1..4), pretty in any::<bool>()) {
        let bytes = if pretty { serde_json::to_vec_pretty(&v) } else { serde_json::to_vec(&v) }.expect("serializes");
        let (whole, chunked) = read_both(&bytes, sizes);
        if let Ok(r) = &whole {
            prop_assert!(r.warnings.len() <= scangate_core::sarif::MAX_KEPT_WARNINGS);
            prop_assert!(r.warning_count >= r.warnings.len());
            for f in &r.findings {
                prop_assert!(!f.title.is_empty() && !f.description.is_empty() && f.occurrences >= 1);
            }
        }
        prop_assert_eq!(whole, chunked);
    }

    /// Spilling the findings to a file is invisible: the same report or the same error.
    #[test]
    fn sarif_shaped_documents_read_the_same_spilled(v in sarif_shaped(), sizes in prop::collection::vec(1usize..7, 1..4)) {
        let bytes = serde_json::to_vec(&v).expect("serializes");
        let memory = outcome(read_sarif(bytes.as_slice(), "doc"));
        prop_assert_eq!(read_spilled(Chunked { data: &bytes, sizes, n: 0 }), memory);
    }

    #[test]
    fn any_bytes_read_or_err(bytes in prop::collection::vec(any::<u8>(), 0..300), sizes in prop::collection::vec(1usize..5, 1..3)) {
        let (whole, chunked) = read_both(&bytes, sizes);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn broken_documents_read_or_err((doc, results) in valid_doc(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = with_results(&doc, results);
        let n = bytes.len();
        let at = flip.index(n);
        bytes[at] = byte;
        let (whole, chunked) = read_both(&bytes, vec![3]);
        prop_assert_eq!(whole, chunked);
        bytes.truncate(cut.index(n));
        let (whole, chunked) = read_both(&bytes, vec![2, 5]);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn duplicated_results_double_occurrences((doc, results) in valid_doc()) {
        let once = read_sarif(with_results(&doc, results.clone()).as_slice(), "once").expect("valid document");
        let doubled: Vec<Value> = results.iter().flat_map(|r| [r.clone(), r.clone()]).collect();
        let twice = read_sarif(with_results(&doc, doubled).as_slice(), "twice").expect("valid document");
        prop_assert_eq!(once.findings.len(), twice.findings.len());
        for (a, b) in once.findings.iter().zip(&twice.findings) {
            prop_assert_eq!(&a.id, &b.id);
            prop_assert_eq!(a.occurrences * 2, b.occurrences);
            let mut b2 = b.clone();
            b2.occurrences = a.occurrences;
            prop_assert_eq!(a, &b2);
        }
        prop_assert_eq!(once.results_read * 2, twice.results_read);
    }

    /// `MAX_FINDINGS`' reader: a cap the document fits is invisible, and a cap below its
    /// distinct findings (suppressed ones included) always refuses it, naming the cap.
    #[test]
    fn the_finding_cap_is_invisible_when_it_fits_and_refuses_below((doc, results) in valid_doc()) {
        let bytes = with_results(&doc, results);
        let full = read_sarif(bytes.as_slice(), "doc").expect("valid document");
        let capped = read_sarif_capped(bytes.as_slice(), "doc", 1_000_000).expect("fits");
        prop_assert_eq!(&capped, &full);
        let distinct = full.findings.len() + full.suppressed.len();
        if let Some(below) = distinct.checked_sub(1) {
            match read_sarif_capped(bytes.as_slice(), "doc", below) {
                Err(SarifError::TooManyFindings { limit, .. }) => prop_assert_eq!(limit, below),
                other => prop_assert!(false, "expected TooManyFindings at {}, got {:?}", below, other.map(|r| r.findings.len())),
            }
        }
    }

    #[test]
    fn result_order_does_not_change_the_findings((doc, results) in valid_doc(), seed in any::<u64>()) {
        let a = read_sarif(with_results(&doc, results.clone()).as_slice(), "a").expect("valid document");
        let mut shuffled = results;
        // Fisher-Yates with a small LCG: deterministic from the seed.
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (s >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        let b = read_sarif(with_results(&doc, shuffled).as_slice(), "b").expect("valid document");
        prop_assert_eq!(ids(&a), ids(&b));
        let occ = |r: &Report| r.findings.iter().map(|f| (f.id.clone(), f.occurrences)).collect::<BTreeSet<_>>();
        prop_assert_eq!(occ(&a), occ(&b));
    }
}

#[test]
fn deeply_nested_input_is_an_error_not_a_crash() {
    for doc in [
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!(r#"{{"version":"2.1.0","runs":[{{"results":[{}1{}]}}]}}"#, "[".repeat(50_000), "]".repeat(50_000)),
        format!(r#"{{"version":"2.1.0","runs":[{{"x":{}}}]}}"#, "{\"a\":".repeat(50_000)),
    ] {
        let _ = read_sarif(doc.as_bytes(), "deep");
    }
}

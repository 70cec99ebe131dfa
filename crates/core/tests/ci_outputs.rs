//! GitHub code scanning SARIF (crates/core/src/ci/code_scanning.rs): the rendered document
//! (snapshot), its limits and the note when findings are left out.

use scangate_core::ci::{self, code_scanning};
use scangate_core::finding::{Finding, FindingClass, FindingKind, Location, Package, Scanner};
use scangate_core::severity::{Severity, SeveritySource};
use serde_json::Value;

fn finding(n: usize, severity: Severity) -> Finding {
    Finding {
        id: format!("{n:064x}"),
        rule_id: format!("qid-{}", 100_000 + n),
        title: format!("Vulnerability {n}"),
        description: format!("Description of vulnerability {n}"),
        severity,
        severity_source: SeveritySource::Qualys,
        severity_original: "4".into(),
        kind: FindingKind::Vulnerability,
        class: FindingClass::Security,
        cves: vec![format!("CVE-2026-{:04}", n)],
        cvss_score: None,
        cvss_vector: None,
        package: Some(Package {
            name: format!("lib{n}"),
            installed_version: Some("1.0.0".into()),
            fixed_version: Some("1.0.1".into()),
            purl: None,
        }),
        layer: None,
        location: None,
        help_uri: None,
        help_text: None,
        tags: vec![],
        scanner: Scanner { name: "QScanner".into(), version: Some("4.2.0".into()) },
        qds: None,
        fingerprint: None,
        occurrences: 1,
        exception: None,
    }
}

fn sample() -> Vec<Finding> {
    let mut critical = finding(1, Severity::Critical);
    critical.cvss_score = Some(9.8);
    critical.title = "OpenSSL heap corruption".into();
    critical.help_uri = Some("https://www.openssl.org/news/secadv/20220705.txt".into());
    let mut secret = finding(2, Severity::High);
    secret.kind = FindingKind::Secret;
    secret.rule_id = "aws-access-token".into();
    secret.title = "AWS access key".into();
    secret.package = None;
    secret.cves.clear();
    secret.location = Some(Location { uri: "config/app settings.env".into(), start_line: Some(3) });
    let mut quality = finding(3, Severity::Medium);
    quality.class = FindingClass::Quality;
    vec![finding(4, Severity::Low), quality, secret, critical]
}

#[test]
fn code_scanning_one_run_per_target_worst_first() {
    let category = ci::category("image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.2");
    let r = code_scanning::render(
        &sample(),
        &category,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.2",
        "QScanner",
        &code_scanning::GITHUB,
    );
    assert!(r.trimmed.is_none());
    let run = &r.sarif["runs"][0];
    assert_eq!(r.sarif["runs"].as_array().map(Vec::len), Some(1));
    assert_eq!(run["automationDetails"]["id"], "scangate/image/123456789012.dkr.ecr.us-east-1.amazonaws.com-app-1.2/");
    let rules: Vec<&str> =
        run["results"].as_array().expect("results").iter().filter_map(|r| r["ruleId"].as_str()).collect();
    assert_eq!(rules, ["qid-100001", "aws-access-token", "qid-100004"], "worst first; quality findings stay out");
    // An image reference must not read as a URI scheme; a space is encoded.
    let uris: Vec<&str> = run["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str())
        .collect();
    assert_eq!(uris[0], "123456789012.dkr.ecr.us-east-1.amazonaws.com/app%3A1.2");
    assert_eq!(uris[1], "config/app%20settings.env");
    insta::assert_snapshot!("code_scanning_sarif", serde_json::to_string_pretty(&r.sarif).expect("json"));
}

#[test]
fn code_scanning_trims_to_the_result_limit_with_a_note() {
    let findings: Vec<Finding> =
        (0..40).map(|n| finding(n, if n % 7 == 0 { Severity::Critical } else { Severity::Low })).collect();
    let limits = code_scanning::Limits { max_results: 10, ..code_scanning::GITHUB };
    let r = code_scanning::render(&findings, "scangate/image/app/", "app:1", "QScanner", &limits);
    let t = r.trimmed.expect("trimmed");
    assert_eq!((t.total, t.kept), (40, 10));
    assert!(t.reason.contains("10 results per run"), "{}", t.reason);
    let run = &r.sarif["runs"][0];
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 10);
    let criticals = results.iter().filter(|r| r["level"] == "error").count();
    assert_eq!(criticals, 6, "all six critical findings (0, 7, ... 35) are kept before any low one");
    let note = run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"].as_str().expect("note");
    assert!(note.contains("kept the 10 worst of 40"), "{note}");
    assert_eq!(run["properties"]["scangate"]["findings"], 40);
}

#[test]
fn code_scanning_halves_until_the_gzipped_file_fits() {
    // Incompressible-ish descriptions so the size limit, not the result limit, decides.
    let findings: Vec<Finding> = (0..200)
        .map(|n| {
            let mut f = finding(n, Severity::High);
            f.description = (0..400).map(|i| format!("{:x}", (n * 7919 + i * 104_729) % 65_521)).collect();
            f
        })
        .collect();
    let full = code_scanning::render(&findings, "c/", "t", "QScanner", &code_scanning::GITHUB);
    assert!(full.trimmed.is_none());
    let limit = full.gzip_bytes / 3;
    let limits = code_scanning::Limits { max_gzip_bytes: limit, ..code_scanning::GITHUB };
    let r = code_scanning::render(&findings, "c/", "t", "QScanner", &limits);
    assert!(r.gzip_bytes <= limit, "{} > {limit}", r.gzip_bytes);
    let t = r.trimmed.expect("trimmed");
    assert!(t.kept > 0 && t.kept < 200 && t.reason.contains("gzip"), "{t:?}");
    assert_eq!(r.sarif["runs"][0]["results"].as_array().map(Vec::len), Some(t.kept));
}

#[test]
fn code_scanning_stays_within_githubs_documented_limits() {
    let mut f = finding(1, Severity::Critical);
    f.tags = (0..50).map(|i| format!("tag-{i}")).collect();
    let r = code_scanning::render(&[f], "c/", "t", "QScanner", &code_scanning::GITHUB);
    let rule = &r.sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert!(rule["properties"]["tags"].as_array().map(Vec::len).unwrap_or(0) <= 10);
    assert_eq!(code_scanning::GITHUB.max_results, 5_000);
    assert_eq!(code_scanning::GITHUB.max_gzip_bytes, 10_000_000);
    let sev: f64 = rule["properties"]["security-severity"].as_str().and_then(|s| s.parse().ok()).expect("number");
    assert!(sev > 9.0, "a critical finding without CVSS lands in GitHub's critical band: {sev}");
    let _: &Value = &r.sarif;
}

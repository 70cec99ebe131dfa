//! GitHub code scanning SARIF (crates/core/src/ci/code_scanning.rs) and the GitLab container
//! scanning report (crates/core/src/ci/gitlab.rs): the rendered documents (snapshots), their
//! limits and the note when findings are left out. The GitLab report's validation against
//! GitLab's published schema is in ci/tests/test_ci.py (Python's jsonschema, pinned).

use scangate_core::ci::{self, code_scanning, gitlab};
use scangate_core::finding::{Finding, FindingClass, FindingKind, Location, Package, Scanner};
use scangate_core::severity::{Severity, SeveritySource};
use serde_json::Value;

fn finding(n: usize, severity: Severity) -> Finding {
    Finding {
        rule_id: format!("qid-{}", 100_000 + n).into(),
        title: format!("Vulnerability {n}"),
        description: format!("Description of vulnerability {n}"),
        severity_source: SeveritySource::Qualys,
        severity_original: "4".into(),
        cves: vec![format!("CVE-2026-{:04}", n)].into(),
        package: Some(
            Package {
                name: format!("lib{n}"),
                installed_version: Some("1.0.0".into()),
                fixed_version: Some("1.0.1".into()),
                purl: None,
            }
            .into(),
        ),
        ..scangate_testkit::findings::finding(&format!("{n:064x}"), severity, FindingKind::Vulnerability)
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
    secret.cves = Default::default();
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

fn gitlab_scan(scanner: &Scanner) -> gitlab::ScanInfo<'_> {
    let at = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("2026-01-01T00:00:00Z");
    gitlab::ScanInfo {
        scanner,
        analyzer_version: "0.1.0",
        start_time: at,
        end_time: at + time::Duration::seconds(42),
        completed: true,
    }
}

#[test]
fn gitlab_report_of_the_qscanner_fixture() {
    let report = scangate_core::sarif::read_sarif_file(&scangate_testkit::fixtures::path("qscanner-image.sarif"))
        .expect("the fixture reads");
    let scanner = report.runs[0].scanner.clone();
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.4.2";
    let r = gitlab::render(&report.findings, image, &gitlab_scan(&scanner), &gitlab::DEFAULT);
    assert!(r.trimmed.is_none());
    let doc = &r.report;
    assert_eq!(doc["version"], gitlab::SCHEMA_VERSION);
    assert_eq!(doc["scan"]["type"], "container_scanning");
    assert_eq!(doc["scan"]["status"], "success");
    assert_eq!(doc["scan"]["scanner"]["vendor"]["name"], "Qualys");
    assert_eq!(
        (doc["scan"]["start_time"].as_str(), doc["scan"]["end_time"].as_str()),
        (Some("2026-01-01T00:00:00"), Some("2026-01-01T00:00:42"))
    );
    let vulns = doc["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(vulns.len(), report.findings.iter().filter(|f| f.class == FindingClass::Security).count());
    let log4shell = vulns.iter().find(|v| v["identifiers"][0]["value"] == "376157").expect("QID 376157");
    assert_eq!(log4shell["severity"], "Critical");
    assert_eq!(log4shell["identifiers"][0]["type"], "qid", "the scanner's rule is the primary identifier");
    let cves: Vec<&str> =
        log4shell["identifiers"].as_array().expect("ids")[1..].iter().filter_map(|i| i["value"].as_str()).collect();
    assert_eq!(cves, ["CVE-2021-44228", "CVE-2021-45046"]);
    assert_eq!(log4shell["location"]["image"], image);
    assert!(log4shell["solution"].as_str().is_some_and(|s| s.contains(" to 2.17.1")), "{}", log4shell["solution"]);
    insta::assert_snapshot!("gitlab_container_scanning_report", serde_json::to_string_pretty(doc).expect("json"));
}

#[test]
fn gitlab_report_severities_worst_first_without_quality_findings() {
    let scanner = Scanner { name: "QScanner".into(), version: None };
    let r = gitlab::render(&sample(), "app:1", &gitlab_scan(&scanner), &gitlab::DEFAULT);
    let vulns = r.report["vulnerabilities"].as_array().expect("vulnerabilities");
    let sev: Vec<&str> = vulns.iter().filter_map(|v| v["severity"].as_str()).collect();
    assert_eq!(sev, ["Critical", "High", "Low"], "quality findings stay out");
    // A secret has no package: it is located by its file, with no solution.
    assert_eq!(vulns[1]["location"]["dependency"]["package"]["name"], "config/app settings.env");
    assert!(vulns[1].get("solution").is_none());
    assert_eq!(vulns[1]["identifiers"][0]["type"], "scanner_rule");
    assert_eq!(r.report["scan"]["scanner"]["version"], "unknown", "the schema requires a version");
    let info = finding(9, Severity::Informational);
    let r = gitlab::render(&[info], "app:1", &gitlab_scan(&scanner), &gitlab::DEFAULT);
    assert_eq!(r.report["vulnerabilities"][0]["severity"], "Info");
}

#[test]
fn gitlab_report_trims_to_the_cap_with_a_note() {
    let findings: Vec<Finding> =
        (0..40).map(|n| finding(n, if n % 7 == 0 { Severity::Critical } else { Severity::Low })).collect();
    let scanner = Scanner { name: "QScanner".into(), version: Some("4.2.0".into()) };
    let limits = gitlab::Limits { max_vulnerabilities: 10, ..gitlab::DEFAULT };
    let r = gitlab::render(&findings, "app:1", &gitlab_scan(&scanner), &limits);
    let t = r.trimmed.clone().expect("trimmed");
    assert_eq!((t.total, t.kept), (40, 10));
    let vulns = r.report["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(vulns.len(), 10);
    assert_eq!(vulns.iter().filter(|v| v["severity"] == "Critical").count(), 6, "every critical before any low");
    let msg = &r.report["scan"]["messages"][0];
    assert_eq!(msg["level"], "warn");
    assert!(msg["value"].as_str().is_some_and(|m| m.contains("kept the 10 worst of 40")), "{msg}");
    let all = gitlab::render(&findings, "app:1", &gitlab_scan(&scanner), &gitlab::DEFAULT);
    assert!(all.trimmed.is_none() && all.report["scan"].get("messages").is_none());
}

#[test]
fn gitlab_report_keeps_hostile_strings_within_the_schema() {
    let mut f = finding(1, Severity::High);
    f.title = "t".repeat(1000);
    f.description = "d".repeat(100_000);
    f.help_uri = Some("javascript:alert(1)".into());
    f.rule_id = "CVE-2026-0001".into();
    f.cves = vec!["CVE-2026-0001".into(), "not-a-cve".into()].into();
    if let Some(p) = f.package.as_mut() {
        p.fixed_version = Some("9".repeat(10_000));
    }
    let scanner = Scanner { name: "\u{202e}".into(), version: Some(String::new()) };
    let mut incomplete = gitlab_scan(&scanner);
    incomplete.completed = false;
    let r = gitlab::render(&[f], "", &incomplete, &gitlab::DEFAULT);
    let v = &r.report["vulnerabilities"][0];
    assert_eq!(v["name"].as_str().map(|s| s.chars().count()), Some(255));
    assert_eq!(v["description"].as_str().map(|s| s.chars().count()), Some(gitlab::DEFAULT.max_description_chars));
    assert!(v["solution"].as_str().is_some_and(|s| s.chars().count() <= 7_000));
    assert!(v.get("links").is_none(), "a URL the schema refuses is left out");
    let ids: Vec<&str> = v["identifiers"].as_array().expect("ids").iter().filter_map(|i| i["value"].as_str()).collect();
    assert_eq!(ids, ["CVE-2026-0001"], "the CVE rule once; what is not a CVE is no cve identifier");
    assert_eq!(v["location"]["image"], "target", "the schema requires a non-empty image");
    assert_eq!(r.report["scan"]["status"], "failure");
    assert_eq!(r.report["scan"]["scanner"]["id"], "unknown");
}

//! Golden and behaviour tests for the ASFF, JUnit and Markdown renderers.
//!
//! Snapshots (tests/snapshots/) are the spec: review them by eye before accepting.

use scangate_core::asff::{self, AsffContext, FindingStub};
use scangate_core::finding::{Finding, FindingKind, Location, Package, Scanner};
use scangate_core::lifecycle::{target_identity, LifecycleKey, ScanType};
use scangate_core::policy::{evaluate, Counts, Evaluation, GatePolicy, PolicyResult, Thresholds};
use scangate_core::severity::{Severity, SeveritySource};
use scangate_core::verdict::{BuildRef, ReportRef, Verdict, VerdictInput};
use scangate_core::{junit, summary};
use scangate_testkit::findings::finding as base;
use scangate_testkit::fixtures;
use serde_json::Value;
use std::collections::HashSet;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const T0: &str = "2026-01-02T03:04:05.000Z";
const T1: &str = "2026-01-03T03:04:05.000Z";

fn ctx(scan_type: ScanType, target: &str) -> AsffContext {
    AsffContext {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        partition: "aws".into(),
        scan_type,
        target: target.into(),
        lifecycle: LifecycleKey::new(
            ACCOUNT,
            REGION,
            scan_type,
            &target_identity(scan_type, Some(target), None, None, None),
        ),
        codebuild_project: Some("qualys-codebuild-image-us-east-1".into()),
        build_arn: Some(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:build/qualys-codebuild-image-us-east-1:0b1c")),
        updated_at: T1.into(),
        created_at: Some(T0.into()),
        report_uri: Some("s3://reports/scans/app/0b1c/report.sarif".into()),
        host: None,
    }
}

/// A Qualys-style vulnerability: QID rule, two CVEs, package with a fix, layer, QDS.
fn qualys_vuln() -> Finding {
    Finding {
        rule_id: "qid-379216".into(),
        title: "OpenSSL Multiple Vulnerabilities (OpenSSL Security Advisory 20220705)".into(),
        description: "OpenSSL 3.0.4 on x86_64 has a heap memory corruption in RSA.\nUpgrade.".into(),
        severity: Severity::Critical,
        severity_source: SeveritySource::Qualys,
        severity_original: "5".into(),
        cves: vec!["CVE-2022-2274".into(), "CVE-2022-2097".into()].into(),
        cvss_score: Some(9.8),
        cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        package: Some(
            Package {
                name: "openssl".into(),
                installed_version: Some("3.0.4-r0".into()),
                fixed_version: Some("3.0.5-r0".into()),
                purl: Some("pkg:apk/alpine/openssl@3.0.4-r0".into()),
            }
            .into(),
        ),
        layer: Some("sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1".into()),
        help_uri: Some("https://www.openssl.org/news/secadv/20220705.txt".into()),
        tags: vec!["vulnerability".into(), "os-package".into()].into(),
        qds: Some(95.0),
        occurrences: 2,
        exception: None,
        suppression: None,
        ..base(&"a".repeat(64), Severity::Critical, FindingKind::Vulnerability)
    }
}

fn secret() -> Finding {
    Finding {
        rule_id: "aws-access-token".into(),
        title: "AWS access key".into(),
        description: "Identified a pattern that may indicate AWS credentials".into(),
        location: Some(Location { uri: "config/settings.py".into(), start_line: Some(12) }),
        help_text: Some("Rotate the key and remove it from the history.".into()),
        scanner: Scanner { name: "gitleaks".into(), version: None }.into(),
        ..base(&"b".repeat(64), Severity::High, FindingKind::Secret)
    }
}

fn code() -> Finding {
    Finding {
        rule_id: "js/sql-injection".into(),
        title: "Database query built from user-controlled sources".into(),
        description: String::new(),
        severity_original: "warning".into(),
        location: Some(Location { uri: "routes/search.ts".into(), start_line: Some(23) }),
        help_uri: Some("not a valid URI".into()),
        scanner: Scanner { name: "CodeQL".into(), version: Some("2.9.2".into()) }.into(),
        ..base(&"c".repeat(64), Severity::Medium, FindingKind::Code)
    }
}

fn pretty(findings: &[Finding], ctx: &AsffContext) -> String {
    let rendered: Vec<_> = findings.iter().map(|f| asff::render(f, ctx)).collect();
    serde_json::to_string_pretty(&rendered).expect("serialize")
}

// ---------------------------------------------------------------------------------------
// Limit checks shared by every ASFF test.

const REQUIRED: [&str; 13] = [
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
    "FindingProviderFields",
];

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn walk_strings(v: &Value, path: &str, check: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => check(path, s),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| walk_strings(x, &format!("{path}[{i}]"), check)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            check(&format!("{path}.<key>"), k);
            walk_strings(x, &format!("{path}.{k}"), check)
        }),
        _ => {}
    }
}

/// Asserts everything Security Hub would reject a finding for.
fn assert_valid_asff(f: &Value) {
    let size = serde_json::to_vec(f).expect("serialize").len();
    assert!(size <= asff::MAX_FINDING_BYTES, "finding is {size} bytes");
    for key in REQUIRED {
        assert!(f.get(key).is_some(), "missing {key}: {f}");
    }
    assert_eq!(f["SchemaVersion"], "2018-10-08");
    assert_eq!(f["AwsAccountId"], ACCOUNT);
    assert_eq!(f["ProductArn"], format!("arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"));
    assert!(matches!(f["RecordState"].as_str(), Some("ACTIVE" | "ARCHIVED")));
    assert!(chars(&f["Id"]) <= 512 && chars(&f["Id"]) > 0);
    assert!(chars(&f["GeneratorId"]) <= 512 && chars(&f["GeneratorId"]) > 0);
    assert!(chars(&f["Title"]) <= 256);
    assert!(chars(&f["Description"]) <= 1024);
    let types = f["Types"].as_array().expect("Types");
    assert!(!types.is_empty() && types.len() <= 50);
    assert_eq!(f["FindingProviderFields"]["Types"], f["Types"]);
    assert!(f["FindingProviderFields"]["Severity"]["Label"].is_string());
    let label = f["Severity"]["Label"].as_str().expect("label");
    assert!(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&label));
    assert!(f["Severity"]["Normalized"].as_u64().is_some_and(|n| n <= 100));
    if let Some(text) = f.pointer("/Remediation/Recommendation/Text") {
        assert!(chars(text) <= 512);
    }
    if let Some(url) = f.pointer("/Remediation/Recommendation/Url") {
        assert!(url.as_str().is_some_and(|u| asff::valid_url(u).is_some()), "bad url {url}");
    }
    if let Some(pf) = f.get("ProductFields") {
        let pf = pf.as_object().expect("ProductFields object");
        assert!(pf.len() <= 50);
        for (k, v) in pf {
            assert!(k.chars().count() <= 128 && chars(v) <= 2048 && chars(v) > 0, "{k}");
        }
    }
    let resources = f["Resources"].as_array().expect("Resources");
    assert!(!resources.is_empty() && resources.len() <= 32);
    for r in resources {
        for key in ["Type", "Id", "Partition", "Region"] {
            assert!(r[key].as_str().is_some_and(|s| !s.trim().is_empty()), "resource {key}: {r}");
        }
        if let Some(other) = r.pointer("/Details/Other") {
            let other = other.as_object().expect("Other object");
            assert!(other.len() <= 50);
            assert!(other.values().all(|v| chars(v) <= 1024));
        }
    }
    for v in f.get("Vulnerabilities").and_then(Value::as_array).into_iter().flatten() {
        assert!(v["Id"].as_str().is_some_and(|s| !s.trim().is_empty()));
        if let Some(fa) = v.get("FixAvailable") {
            assert!(["YES", "NO", "PARTIAL"].contains(&fa.as_str().expect("FixAvailable")));
        }
        for u in v.get("ReferenceUrls").and_then(Value::as_array).into_iter().flatten() {
            assert!(u.as_str().is_some_and(|u| asff::valid_url(u).is_some()));
        }
    }
    walk_strings(f, "$", &mut |path, s| {
        assert!(s.chars().count() < 32768, "{path} has {} chars", s.chars().count());
        // Security Hub's pattern for strings is `.*\S.*`: no empty or blank strings.
        assert!(!s.trim().is_empty(), "{path} is blank");
    });
}

fn assert_all_valid(findings: &[Finding], ctx: &AsffContext) -> Vec<Value> {
    let mut buf = Vec::new();
    asff::write_asff_array(findings, ctx, &mut buf).expect("write");
    let arr: Vec<Value> = serde_json::from_slice(&buf).expect("write_asff_array writes a JSON array");
    assert_eq!(arr.len(), findings.len());
    let mut ids = HashSet::new();
    for f in &arr {
        assert_valid_asff(f);
        assert!(ids.insert(f["Id"].as_str().expect("id").to_string()), "duplicate id {}", f["Id"]);
    }
    arr
}

// ---------------------------------------------------------------------------------------
// ASFF: hand-built findings.

#[test]
fn asff_ecr_image_vulnerability() {
    let ctx = ctx(ScanType::Image, "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.4.2@sha256:0123abcd");
    let findings = [qualys_vuln()];
    assert_all_valid(&findings, &ctx);
    insta::assert_snapshot!("asff_ecr_image_vulnerability", pretty(&findings, &ctx));
}

/// A suppressed finding stays a finding in Security Hub: ACTIVE, its severity unchanged, its
/// suppression (honoured or not) and justification in ProductFields; no Workflow, Note or
/// UserDefinedFields (BatchImportFindings cannot change those once the finding exists).
/// Becoming suppressed changes the content hash, so a rescan updates the finding.
#[test]
fn asff_suppressed_finding_stays_visible_with_its_justification() {
    use scangate_core::suppression::{Suppression, SuppressionKind};
    let ctx = ctx(ScanType::Repo, "https://github.com/example/shop.git#main");
    let mut honoured = code();
    honoured.severity = Severity::Critical;
    let mut s = Suppression::new([SuppressionKind::External], Some("Accepted risk: test fixture only (SEC-1234)"));
    s.honoured = true;
    honoured.suppression = Some(Box::new(s));
    let mut ignored = secret();
    ignored.suppression =
        Some(Box::new(Suppression::new([SuppressionKind::InSource], Some("nosec: the author says it is fine"))));
    let findings = [honoured.clone(), ignored];
    let arr = assert_all_valid(&findings, &ctx);
    for f in &arr {
        assert_eq!(f["RecordState"], "ACTIVE", "{f}");
        for absent in ["Workflow", "Note", "UserDefinedFields"] {
            assert!(f.get(absent).is_none(), "{absent} in {f}");
        }
    }
    assert_eq!(arr[0]["Severity"]["Label"], "CRITICAL");
    assert_eq!(arr[0]["ProductFields"]["scangate/Suppressed"], "true");
    assert_eq!(
        arr[0]["ProductFields"]["scangate/SuppressionJustification"],
        "Accepted risk: test fixture only (SEC-1234)"
    );
    assert_eq!(arr[1]["ProductFields"]["scangate/Suppressed"], "false");
    assert_eq!(arr[1]["ProductFields"]["scangate/SuppressionKinds"], "inSource");
    let mut plain = honoured.clone();
    plain.suppression = None;
    assert_ne!(asff::content_hash(&plain, &ctx), asff::content_hash(&honoured, &ctx));
    insta::assert_snapshot!("asff_suppressed_finding", pretty(&findings, &ctx));
}

#[test]
fn asff_repo_secret_and_code() {
    let mut ctx = ctx(ScanType::Repo, "https://github.com/example/shop.git#main");
    ctx.codebuild_project = None;
    ctx.build_arn = None;
    let findings = [secret(), code()];
    let arr = assert_all_valid(&findings, &ctx);
    // An invalid help URI never reaches Security Hub.
    assert!(arr[1].get("Remediation").is_none(), "{}", arr[1]);
    // A blank description falls back to the title.
    assert_eq!(arr[1]["Description"], arr[1]["Title"]);
    insta::assert_snapshot!("asff_repo_secret_and_code", pretty(&findings, &ctx));
}

#[test]
fn asff_types_per_kind() {
    let cases = [
        (qualys_vuln(), "Software and Configuration Checks/Vulnerabilities/CVE"),
        (base("1", Severity::Low, FindingKind::Vulnerability), "Software and Configuration Checks/Vulnerabilities"),
        (secret(), "Sensitive Data Identifications/Passwords"),
        (
            base("2", Severity::Low, FindingKind::Misconfiguration),
            "Software and Configuration Checks/AWS Security Best Practices",
        ),
        (base("3", Severity::Low, FindingKind::License), "Software and Configuration Checks"),
        (code(), "Software and Configuration Checks"),
    ];
    let ctx = ctx(ScanType::Other, "/tmp/rootfs");
    for (f, want) in cases {
        let v = asff::to_asff(&f, &ctx);
        assert_eq!(v["Types"][0], want, "{}", f.rule_id);
    }
}

#[test]
fn asff_container_resource_for_non_ecr_images() {
    let ctx = ctx(ScanType::Image, "docker.io/library/nginx:1.25");
    let v = asff::to_asff(&qualys_vuln(), &ctx);
    assert_eq!(v["Resources"][0]["Type"], "Container");
    assert_eq!(v["Resources"][0]["Details"]["Container"]["ImageName"], "docker.io/library/nginx:1.25");
    assert_eq!(v["Resources"][1]["Type"], "AwsCodeBuildProject");
    assert_eq!(
        v["Resources"][1]["Id"],
        "arn:aws:codebuild:us-east-1:123456789012:project/qualys-codebuild-image-us-east-1"
    );
}

#[test]
fn asff_vulnerability_details() {
    let ctx = ctx(ScanType::Image, "nginx:1");
    let v = asff::to_asff(&qualys_vuln(), &ctx);
    let vulns = v["Vulnerabilities"].as_array().expect("Vulnerabilities");
    assert_eq!(vulns.len(), 2);
    assert_eq!(vulns[0]["Id"], "CVE-2022-2274");
    assert_eq!(vulns[0]["FixAvailable"], "YES");
    assert_eq!(vulns[0]["VulnerablePackages"][0]["FixedInVersion"], "3.0.5-r0");
    assert_eq!(vulns[0]["VulnerablePackages"][0]["PackageManager"], "apk");
    assert_eq!(vulns[0]["Cvss"][0]["Version"], "3.1");
    assert_eq!(vulns[0]["Cvss"][0]["BaseScore"], 9.8);
    assert_eq!(v["Remediation"]["Recommendation"]["Text"], "Upgrade openssl from 3.0.4-r0 to 3.0.5-r0 or later.");

    let mut unfixed = qualys_vuln();
    if let Some(p) = unfixed.package.as_mut() {
        p.fixed_version = None;
    }
    let v = asff::to_asff(&unfixed, &ctx);
    assert_eq!(v["Vulnerabilities"][0]["FixAvailable"], "NO");
    assert!(v["Vulnerabilities"][0]["VulnerablePackages"][0].get("FixedInVersion").is_none());
    assert!(v.pointer("/Remediation/Recommendation/Text").is_none());

    // An advisory without a CVE is still a Vulnerability, named by the rule.
    let mut ghsa = base("9", Severity::High, FindingKind::Vulnerability);
    ghsa.rule_id = "GHSA-jfh8-c2jp-5v3q".into();
    ghsa.package = Some(
        Package { name: "log4j-core".into(), installed_version: Some("2.14.1".into()), ..Default::default() }.into(),
    );
    let v = asff::to_asff(&ghsa, &ctx);
    assert_eq!(v["Vulnerabilities"][0]["Id"], "GHSA-jfh8-c2jp-5v3q");
}

#[test]
fn asff_is_deterministic() {
    let ctx = ctx(ScanType::Image, "nginx:1");
    let findings = [qualys_vuln(), secret(), code()];
    let mut a = Vec::new();
    let mut b = Vec::new();
    asff::write_asff_array(&findings, &ctx, &mut a).expect("write");
    asff::write_asff_array(&findings, &ctx, &mut b).expect("write");
    assert_eq!(a, b);
    // Same finding id in the same lifecycle gives the same ASFF id; another lifecycle, another.
    let other = self::ctx(ScanType::Image, "postgres:16");
    assert_eq!(asff::finding_id(&ctx, &findings[0]), asff::to_asff(&findings[0], &ctx)["Id"]);
    assert_ne!(asff::finding_id(&ctx, &findings[0]), asff::finding_id(&other, &findings[0]));
}

#[test]
fn asff_huge_inputs_stay_within_limits() {
    let ctx = ctx(ScanType::Rootfs, &"/very/long/path".repeat(5000));
    let mut f = qualys_vuln();
    f.description = "D".repeat(2 * 1024 * 1024);
    f.title = "T\u{1}".repeat(100_000);
    f.cves = (0..10_000).map(|i| format!("CVE-2024-{i:05}")).collect();
    if let Some(p) = f.package.as_mut() {
        p.name = "n".repeat(100 * 1024);
        p.installed_version = Some("\u{1f}".repeat(50_000));
        p.fixed_version = Some("é".repeat(50_000));
    }
    f.rule_id = "r".repeat(100_000).into();
    f.help_text = Some("h".repeat(1_000_000).into());
    f.location = Some(Location { uri: "\"".repeat(100_000), start_line: Some(1) });
    f.tags = (0..10_000).map(|i| format!("tag-{i}")).collect();
    f.id = "x".repeat(10_000);
    let v = asff::to_asff(&f, &ctx);
    assert_valid_asff(&v);
    assert!(v["Description"].as_str().expect("desc").ends_with(scangate_core::text::TRUNCATION_MARKER));
    assert!(!v["Vulnerabilities"].as_array().expect("vulns").is_empty());
    assert_eq!(v["ProductFields"]["scangate/CveCount"], "10000");

    // Worst case: every string is a character JSON escapes six-fold.
    let nasty = "\u{1}".repeat(100 * 1024);
    let mut g = f.clone();
    g.title = nasty.clone();
    g.description = nasty.clone();
    g.rule_id = nasty.clone().into();
    g.severity_original = nasty.clone().into();
    g.scanner = Scanner { name: nasty.clone(), version: Some(nasty.clone()) }.into();
    g.layer = Some(nasty.clone());
    g.help_text = Some(nasty.clone().into());
    g.cvss_vector = Some(nasty.clone().into());
    g.package = Some(
        Package {
            name: nasty.clone(),
            installed_version: Some(nasty.clone()),
            fixed_version: Some(nasty.clone()),
            purl: Some(nasty.clone()),
        }
        .into(),
    );
    g.cves = (0..10_000).map(|i| format!("{nasty}{i}")).take(200).collect();
    g.tags = vec![nasty.clone()].into();
    g.location = Some(Location { uri: nasty.clone(), start_line: None });
    let mut nasty_ctx = ctx.clone();
    nasty_ctx.target = nasty.clone();
    nasty_ctx.report_uri = Some(nasty.clone());
    nasty_ctx.build_arn = Some(nasty.clone());
    nasty_ctx.codebuild_project = Some(nasty.clone());
    let v = asff::to_asff(&g, &nasty_ctx);
    let size = serde_json::to_vec(&v).expect("serialize").len();
    assert!(size <= asff::FINDING_BYTES_BUDGET, "{size} bytes");
    walk_strings(&v, "$", &mut |path, s| assert!(s.chars().count() < 32768, "{path}"));
}

#[test]
fn asff_archived_keeps_identity() {
    let ctx = ctx(ScanType::Image, "nginx:1");
    let f = qualys_vuln();
    let active = asff::to_asff(&f, &ctx);
    let archived = asff::archived(&f, &ctx);
    assert_valid_asff(&archived);
    assert_eq!(archived["RecordState"], "ARCHIVED");
    assert_eq!(active["RecordState"], "ACTIVE");
    assert_eq!(archived["Id"], active["Id"]);

    // From the state file only: a stub survives a JSON round trip and renders a full finding.
    let stub = FindingStub::new(&f, &ctx);
    let json = serde_json::to_string(&stub).expect("stub json");
    let back: FindingStub = serde_json::from_str(&json).expect("stub parse");
    assert_eq!(back, stub);
    let mut later = ctx.clone();
    later.updated_at = "2026-02-01T00:00:00.000Z".into();
    later.created_at = None;
    let from_stub = asff::archived_from_stub(&back, &later);
    assert_valid_asff(&from_stub);
    assert_eq!(from_stub["Id"], active["Id"]);
    assert_eq!(from_stub["GeneratorId"], active["GeneratorId"]);
    assert_eq!(from_stub["Types"], active["Types"]);
    assert_eq!(from_stub["Title"], active["Title"]);
    assert_eq!(from_stub["Severity"]["Label"], "CRITICAL");
    assert_eq!(from_stub["CreatedAt"], T0, "the first import's CreatedAt is kept");
    assert_eq!(from_stub["UpdatedAt"], "2026-02-01T00:00:00.000Z");
    assert_eq!(from_stub["RecordState"], "ARCHIVED");
    assert_eq!(from_stub["Resources"][0]["Id"], active["Resources"][0]["Id"]);
    insta::assert_snapshot!("asff_stub", serde_json::to_string_pretty(&stub).expect("json"));

    // A damaged stub still renders a valid finding.
    let empty: FindingStub = serde_json::from_str(
        r#"{"id":"","title":"  ","severity":"LOW","types":[],"generator_id":"","resource":{"type":"","id":"","partition":"","region":""}}"#,
    )
    .expect("parse");
    assert_valid_asff(&asff::archived_from_stub(&empty, &later));
}

// ---------------------------------------------------------------------------------------
// JUnit.

fn verdict_for(findings: &[Finding], policy: PolicyResult, gate: &GatePolicy) -> (Verdict, Evaluation) {
    let counts = Counts::of(findings);
    let evaluation = evaluate(&counts, policy, gate);
    let input = VerdictInput {
        report: ReportRef {
            bucket: Some("reports".into()),
            key: "scans/app/0b1c/report.sarif".into(),
            version_id: None,
            etag: None,
        },
        target: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.4.2".into()),
        scanner: Some(Scanner { name: "QScanner".into(), version: Some("4.2.0".into()) }),
        build: Some(BuildRef {
            arn: Some(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:build/app:0b1c")),
            ..Default::default()
        }),
        processed_at: T1.into(),
    };
    (Verdict::new(input, counts, policy, gate, &evaluation), evaluation)
}

/// Parses with a real XML 1.0 parser; returns (suite name, case name, failed) per case.
fn parse_junit(xml: &str) -> Vec<(String, String, bool)> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"));
    let mut cases = Vec::new();
    for suite in doc.descendants().filter(|n| n.has_tag_name("testsuite")) {
        for case in suite.children().filter(|n| n.has_tag_name("testcase")) {
            let failed = case.children().any(|n| n.has_tag_name("failure"));
            cases.push((
                suite.attribute("name").unwrap_or("").to_string(),
                case.attribute("name").unwrap_or("").to_string(),
                failed,
            ));
        }
    }
    cases
}

#[test]
fn junit_failed_gate() {
    let gate = GatePolicy {
        thresholds: Thresholds { max_critical: 0, max_high: 0, max_medium: -1, max_low: 5 },
        ..GatePolicy::default()
    };
    let findings = vec![code(), secret(), qualys_vuln()];
    let (verdict, evaluation) = verdict_for(&findings, PolicyResult::Deny, &gate);
    let xml = junit::to_junit(&verdict, &evaluation, &findings, &gate);
    let cases = parse_junit(&xml);
    let failed: Vec<&str> = cases.iter().filter(|c| c.2).map(|c| c.1.as_str()).collect();
    assert_eq!(
        failed,
        vec![
            "max_critical",
            "max_high",
            "cloud policy",
            "qid-379216 openssl 3.0.4-r0",
            "aws-access-token config/settings.py:12"
        ],
        "the medium code finding is under an unlimited threshold, so it is not a failed case"
    );
    assert_eq!(xml, junit::to_junit(&verdict, &evaluation, &findings, &gate), "deterministic");
    insta::assert_snapshot!("junit_failed_gate", xml);
}

#[test]
fn junit_passed_gate() {
    let gate = GatePolicy::default();
    let findings = vec![code(), secret()];
    let (verdict, evaluation) = verdict_for(&findings, PolicyResult::Audit, &gate);
    assert!(verdict.passed);
    let xml = junit::to_junit(&verdict, &evaluation, &findings, &gate);
    let cases = parse_junit(&xml);
    assert_eq!(cases.len(), 5);
    assert!(cases.iter().all(|c| !c.2), "{xml}");
    insta::assert_snapshot!("junit_passed_gate", xml);
}

#[test]
fn junit_caps_cases_at_500() {
    let gate = GatePolicy::default();
    let findings: Vec<Finding> = (0..1200)
        .map(|i| {
            let mut f = qualys_vuln();
            f.id = format!("{i:064}");
            f.rule_id = format!("qid-{i}").into();
            f
        })
        .collect();
    let (verdict, evaluation) = verdict_for(&findings, PolicyResult::None, &gate);
    let xml = junit::to_junit(&verdict, &evaluation, &findings, &gate);
    let cases = parse_junit(&xml);
    assert_eq!(cases.len(), junit::MAX_CASES);
    let last = cases.last().expect("cases");
    assert_eq!(last.1, "706 more findings", "1200 findings, 5 gate cases, 494 listed");
    assert!(last.2);
}

#[test]
fn junit_bounds_messages() {
    let gate = GatePolicy::default();
    let mut f = qualys_vuln();
    f.title = "t".repeat(20_000);
    f.description = "d".repeat(2_000_000);
    f.cves = (0..10_000).map(|i| format!("CVE-2024-{i:05}")).collect();
    let findings = vec![f];
    let (verdict, evaluation) = verdict_for(&findings, PolicyResult::None, &gate);
    let xml = junit::to_junit(&verdict, &evaluation, &findings, &gate);
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let failure = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .find(|n| n.attribute("type") == Some("CRITICAL"))
        .expect("finding failure");
    let message = failure.attribute("message").expect("message");
    assert!(message.chars().count() <= junit::MAX_MESSAGE_CHARS);
    assert!(message.ends_with(scangate_core::text::TRUNCATION_MARKER));
    let body = failure.text().unwrap_or("");
    assert!(body.chars().count() <= junit::MAX_MESSAGE_CHARS, "{}", body.chars().count());
    assert!(xml.len() < 100_000, "{} bytes", xml.len());
}

#[test]
fn junit_unprocessable_report() {
    let gate = GatePolicy::default();
    let input = VerdictInput { processed_at: "not a time".into(), ..Default::default() };
    let verdict = Verdict::unprocessable(input, &gate, "bad\u{0}json at byte 12".into());
    let evaluation = evaluate(&Counts::default(), PolicyResult::None, &gate);
    let xml = junit::to_junit(&verdict, &evaluation, &[], &gate);
    let cases = parse_junit(&xml);
    assert_eq!(cases[0].1, "report processed");
    assert!(cases[0].2);
    assert!(!xml.contains("timestamp="), "an unparseable time is left out: {xml}");
}

mod junit_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any text in any field still gives valid XML 1.0 with at most 500 cases.
        #[test]
        fn any_text_gives_valid_xml(
            texts in proptest::collection::vec(any::<String>(), 1..40),
            count in 0usize..700,
            target in any::<String>(),
        ) {
            let findings: Vec<Finding> = (0..count)
                .map(|i| {
                    let t = |k: usize| texts[(i + k) % texts.len()].clone();
                    let mut f = base(&format!("{i:064}"), Severity::Critical, FindingKind::Vulnerability);
                    f.rule_id = t(0).into();
                    f.title = t(1);
                    f.description = t(2);
                    std::sync::Arc::make_mut(&mut f.scanner).name = t(3);
                    f.cves = vec![t(4)].into();
                    f.package = Some(Package { name: t(5), installed_version: Some(t(6)), fixed_version: Some(t(7)), purl: None }.into());
                    f.help_uri = Some(t(8).into());
                    f
                })
                .collect();
            let gate = GatePolicy::default();
            let (mut verdict, evaluation) = verdict_for(&findings, PolicyResult::Deny, &gate);
            verdict.target = Some(target);
            let xml = junit::to_junit(&verdict, &evaluation, &findings, &gate);
            let doc = roxmltree::Document::parse(&xml);
            prop_assert!(doc.is_ok(), "{:?}", doc.err());
            let cases = parse_junit(&xml);
            prop_assert!(cases.len() <= junit::MAX_CASES);
            prop_assert_eq!(cases.iter().filter(|c| c.0 == "findings").count(), count.min(junit::MAX_CASES - 5));
        }
    }
}

#[test]
fn asff_content_hash_ignores_time_and_build() {
    let ctx = ctx(ScanType::Image, "nginx:1");
    let f = qualys_vuln();
    let mut next = ctx.clone();
    next.updated_at = "2027-01-01T00:00:00.000Z".into();
    next.created_at = None;
    next.report_uri = Some("s3://reports/scans/app/9999/report.sarif".into());
    next.build_arn = None;
    assert_eq!(asff::content_hash(&f, &ctx), asff::content_hash(&f, &next));
    let mut changed = f.clone();
    if let Some(p) = changed.package.as_mut() {
        p.fixed_version = Some("3.0.6-r0".into());
    }
    assert_ne!(asff::content_hash(&f, &ctx), asff::content_hash(&changed, &ctx));
    assert_eq!(asff::content_hash(&f, &ctx).len(), 64);
}

#[test]
fn asff_content_hash_ignores_the_sighting_and_sighting_hash_sees_it() {
    let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app";
    let ctx1 = ctx(ScanType::Image, &format!("{ecr}:1.0@sha256:aaaa"));
    // The next build: new tag and digest, build, report, scanner version, layer.
    let mut ctx2 = ctx(ScanType::Image, &format!("{ecr}:1.1@sha256:bbbb"));
    assert_eq!(ctx1.lifecycle, ctx2.lifecycle, "one lifecycle for both tags");
    ctx2.build_arn = Some(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:build/qualys-codebuild-image-us-east-1:9z9z"));
    ctx2.report_uri = Some("s3://reports/scans/app/9z9z/report.sarif".into());
    ctx2.updated_at = "2027-01-01T00:00:00.000Z".into();
    let f = qualys_vuln();
    let mut f2 = f.clone();
    std::sync::Arc::make_mut(&mut f2.scanner).version = Some("4.3.0".into());
    f2.layer = Some("sha256:0000".into());
    // The ASFF does show the new sighting (so `IMPORT_ON=sighting` has something to carry).
    assert_ne!(asff::to_asff(&f, &ctx1)["Resources"], asff::to_asff(&f2, &ctx2)["Resources"]);
    assert_eq!(asff::content_hash(&f, &ctx1), asff::content_hash(&f2, &ctx2), "same vulnerability, new sighting");
    assert_ne!(asff::sighting_hash(&f, &ctx1), asff::sighting_hash(&f2, &ctx2));
    assert_eq!(asff::sighting_hash(&f, &ctx1), asff::sighting_hash(&f, &ctx1.clone()));
    assert_eq!(asff::sighting_hash(&f, &ctx1).len(), 64);
    // Each single sighting field moves the sighting hash and not the content hash.
    let mut only_build = ctx1.clone();
    only_build.build_arn = None;
    let mut only_tag = ctx1.clone();
    only_tag.target = format!("{ecr}:1.2");
    for (name, c) in [("build", &only_build), ("tag", &only_tag)] {
        assert_eq!(asff::content_hash(&f, &ctx1), asff::content_hash(&f, c), "{name}");
        assert_ne!(asff::sighting_hash(&f, &ctx1), asff::sighting_hash(&f, c), "{name}");
    }
    // What describes the vulnerability moves the content hash.
    let mut severity = f.clone();
    severity.severity = Severity::High;
    let mut installed = f.clone();
    if let Some(p) = installed.package.as_mut() {
        p.installed_version = Some("3.0.5-r0".into());
    }
    let mut cvss = f.clone();
    cvss.cvss_score = Some(7.5);
    let mut text = f.clone();
    text.description.push_str(" More.");
    for (name, changed) in
        [("severity", &severity), ("installed version", &installed), ("cvss", &cvss), ("text", &text)]
    {
        assert_ne!(asff::content_hash(&f, &ctx1), asff::content_hash(changed, &ctx1), "{name}");
        assert_eq!(asff::sighting_hash(&f, &ctx1), asff::sighting_hash(changed, &ctx1), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Markdown summary.

#[test]
fn summary_failed_gate() {
    let gate = GatePolicy {
        thresholds: Thresholds { max_critical: 0, max_high: 0, max_medium: -1, max_low: 5 },
        ..GatePolicy::default()
    };
    let mut odd = code();
    odd.title = "Pipes | and\nnewlines <b>bold</b>".into();
    let findings = vec![odd, secret(), qualys_vuln()];
    let (verdict, _) = verdict_for(&findings, PolicyResult::Deny, &gate);
    let md = summary::markdown(&verdict, &findings, 10);
    assert!(md.contains("Pipes \\| and newlines &lt;b&gt;bold&lt;/b&gt;"), "{md}");
    // Worst first, whatever order the findings came in.
    let critical = md.find("| CRITICAL | qid-379216").expect("critical row");
    let medium = md.find("| MEDIUM | js/sql-injection").expect("medium row");
    assert!(critical < medium);
    insta::assert_snapshot!("summary_failed_gate", md);
}

#[test]
fn summary_passed_and_bounded() {
    let gate = GatePolicy::default();
    let (verdict, _) = verdict_for(&[], PolicyResult::Audit, &gate);
    let md = summary::markdown(&verdict, &[], 10);
    assert!(md.contains("## scangate: PASSED"));
    assert!(!md.contains("Worst findings"));
    insta::assert_snapshot!("summary_passed", md);

    let findings: Vec<Finding> = (0..2000)
        .map(|i| {
            let mut f = qualys_vuln();
            f.id = format!("{i:064}");
            f.title = "T".repeat(100_000);
            f.description = "D".repeat(100_000);
            f
        })
        .collect();
    let (verdict, _) = verdict_for(&findings, PolicyResult::None, &gate);
    let md = summary::markdown(&verdict, &findings, usize::MAX);
    let rows = md.lines().filter(|l| l.starts_with("| CRITICAL | qid")).count();
    assert_eq!(rows, summary::MAX_WORST_ROWS);
    assert!(md.len() < 500 * 1024, "{} bytes", md.len());
}

// ---------------------------------------------------------------------------------------
// Golden files over the shared SARIF corpus and the QScanner fixture.

/// Reads a report and renders ASFF, JUnit and the summary with a fixed context; checks every
/// ASFF finding against the limits and snapshots all three.
fn golden(name: &str, path: &std::path::Path, scan_type: ScanType, fallback_target: &str) {
    let report = scangate_core::read_sarif_file(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    golden_report(name, &report, scan_type, fallback_target);
}

fn golden_report(name: &str, report: &scangate_core::Report, scan_type: ScanType, fallback_target: &str) {
    let target = report
        .target
        .repo_tags
        .first()
        .cloned()
        .or_else(|| report.target.image_name.clone())
        .unwrap_or_else(|| fallback_target.to_string());
    let ctx = ctx(scan_type, &target);
    let mut findings = report.findings.clone();
    findings.sort_by(Finding::worst_first);
    assert!(!findings.is_empty(), "{name}: no findings");
    assert_all_valid(&findings, &ctx);

    // Strict enough that most corpus files fail, so the findings suite is exercised.
    let gate = GatePolicy {
        thresholds: Thresholds { max_critical: 0, max_high: 0, max_medium: 0, max_low: -1 },
        ..GatePolicy::default()
    };
    let (mut verdict, evaluation) = verdict_for(&findings, report.policy_result, &gate);
    verdict.target = Some(target.clone());
    verdict.scanner = report.runs.first().map(|r| r.scanner.clone());
    let xml = junit::to_junit(&verdict, &evaluation, &findings, &gate);
    parse_junit(&xml);
    let md = summary::markdown(&verdict, &findings, 10);

    let snap = name.trim_end_matches(".sarif").replace('-', "_");
    insta::assert_snapshot!(format!("corpus_asff_{snap}"), pretty(&findings, &ctx));
    insta::assert_snapshot!(format!("corpus_junit_{snap}"), xml);
    insta::assert_snapshot!(format!("corpus_summary_{snap}"), md);
}

#[test]
fn corpus_trivy_image_alpine_310() {
    golden(
        "trivy-image-alpine-310.sarif",
        &fixtures::corpus("trivy-image-alpine-310.sarif"),
        ScanType::Image,
        "alpine:3.10",
    );
}

#[test]
fn corpus_grype_image_snapshot() {
    golden(
        "grype-image-snapshot.sarif",
        &fixtures::corpus("grype-image-snapshot.sarif"),
        ScanType::Image,
        "user-input",
    );
}

#[test]
fn corpus_osv_scanner_multi_ecosystem() {
    golden(
        "osv-scanner-multi-ecosystem.sarif",
        &fixtures::corpus("osv-scanner-multi-ecosystem.sarif"),
        ScanType::Repo,
        "https://github.com/example/app.git#main",
    );
}

#[test]
fn corpus_snyk_code_sample() {
    golden(
        "snyk-code-sample.sarif",
        &fixtures::corpus("snyk-code-sample.sarif"),
        ScanType::Repo,
        "https://github.com/example/app.git#main",
    );
}

#[test]
fn corpus_codeql_action_valid_sarif() {
    golden(
        "codeql-action-valid-sarif.sarif",
        &fixtures::corpus("codeql-action-valid-sarif.sarif"),
        ScanType::Repo,
        "https://github.com/example/app.git#main",
    );
}

#[test]
fn corpus_gitleaks_simple() {
    golden(
        "gitleaks-simple.sarif",
        &fixtures::corpus("gitleaks-simple.sarif"),
        ScanType::Repo,
        "https://github.com/example/app.git#main",
    );
}

/// The QScanner fixture is written by the SARIF reader's owner; the test runs once it exists.
#[test]
fn fixture_qscanner_image() {
    let path = &fixtures::path("qscanner-image.sarif");
    if !path.exists() {
        eprintln!("skipped: {} does not exist yet", path.display());
        return;
    }
    golden(
        "qscanner-image.sarif",
        path,
        ScanType::Image,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.4.2",
    );
}

mod asff_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Any text in any field still renders an ASFF finding Security Hub accepts.
        #[test]
        fn any_text_gives_valid_asff(
            texts in proptest::collection::vec(any::<String>(), 12),
            cves in proptest::collection::vec(any::<String>(), 0..5),
            score in proptest::option::of(any::<f64>()),
            qds in proptest::option::of(any::<f64>()),
            line in proptest::option::of(any::<u64>()),
            image in prop_oneof![Just(ScanType::Image), Just(ScanType::Repo), Just(ScanType::Other)],
            ecr in any::<bool>(),
        ) {
            let t = |i: usize| texts[i].clone();
            let target = if ecr { format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{}", t(0)) } else { t(0) };
            let mut c = ctx(image, &target);
            c.codebuild_project = Some(t(1));
            c.report_uri = Some(t(2));
            let mut f = base(&t(3), Severity::High, FindingKind::Vulnerability);
            f.rule_id = t(4).into();
            f.title = t(5);
            f.description = t(6);
            f.severity_original = t(7).into();
            f.cves = cves.into();
            f.cvss_score = score;
            f.cvss_vector = Some(t(8).into());
            f.qds = qds;
            f.scanner = Scanner { name: t(9), version: Some(t(10)) }.into();
            f.package = Some(Package { name: t(11), installed_version: Some(t(8)), fixed_version: Some(t(9)), purl: Some(t(10)) }.into());
            f.location = Some(Location { uri: t(2), start_line: line });
            f.help_uri = Some(t(1).into());
            f.help_text = Some(t(4).into());
            f.layer = Some(t(5));
            assert_valid_asff(&asff::to_asff(&f, &c));
            assert_valid_asff(&asff::archived_from_stub(&FindingStub::new(&f, &c), &c));
        }
    }
}

/// A QScanner-shaped report (the shape docs/qscanner.md describes: Qualys severity, QID
/// rules with `cve-ids` and `qds`, `vulnerableSoftware` with layers, ECR `repoTags`, a DENY
/// policy result, a secret), read by the real reader and rendered end to end.
#[test]
fn qscanner_shaped_report() {
    let sarif = r#"{"version":"2.1.0","runs":[{
      "tool":{"driver":{"name":"QScanner","version":"4.3.0","rules":[
        {"id":"qid-379216","name":"OpenSSLMultipleVulnerabilities",
         "shortDescription":{"text":"OpenSSL Multiple Vulnerabilities (OpenSSL Security Advisory 20220705)"},
         "fullDescription":{"text":"OpenSSL 3.0.4 has a heap memory corruption with RSA private key operations."},
         "help":{"text":"Upgrade OpenSSL to 3.0.5 or later."},
         "helpUri":"https://www.openssl.org/news/secadv/20220705.txt",
         "properties":{"severity":5,"cve-ids":["CVE-2022-2274","CVE-2022-2097"],"qds":95,"tags":["vulnerability"]}},
        {"id":"qid-1000001","name":"AwsAccessKey",
         "shortDescription":{"text":"AWS access key in a file"},
         "properties":{"severity":4,"tags":["secret"]}}]}},
      "results":[
        {"ruleId":"qid-379216","level":"error","message":{"text":"openssl 3.0.4-r0 is vulnerable"},
         "locations":[{"physicalLocation":{"artifactLocation":{"uri":"usr/lib/libssl.so.3"}}}],
         "properties":{"QID":379216,"vulnerableSoftware":[
           {"name":"openssl","installedVersion":"3.0.4-r0","fixedVersion":"3.0.5-r0","layerSHA":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},
           {"name":"libcrypto3","installedVersion":"3.0.4-r0","layerSHA":"sha256:1111111111111111111111111111111111111111111111111111111111111111"}]}},
        {"ruleId":"qid-1000001","level":"error","message":{"text":"AWS access key found"},
         "locations":[{"physicalLocation":{"artifactLocation":{"uri":"app/config/settings.py"},"region":{"startLine":12}}}]}],
      "properties":{"imageID":"sha256:2222222222222222222222222222222222222222222222222222222222222222","imageName":"team/app",
         "repoTags":["123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.4.2"],
         "layerInfo":[{"sha":"sha256:1111111111111111111111111111111111111111111111111111111111111111","createdBy":"apk add openssl"}],
         "policyResult":"DENY"}}]}"#;
    let report = scangate_core::read_sarif(sarif.as_bytes(), "qscanner-shaped").expect("read");
    assert_eq!(report.policy_result, PolicyResult::Deny);
    golden_report("qscanner-shaped", &report, ScanType::Image, "unused");
}

/// The QScanner repository-scan fixture (ALLOW, findings in files), when it exists.
#[test]
fn fixture_qscanner_repo() {
    let path = &fixtures::path("qscanner-repo.sarif");
    if !path.exists() {
        eprintln!("skipped: {} does not exist yet", path.display());
        return;
    }
    golden("qscanner-repo.sarif", path, ScanType::Repo, "https://github.com/example/shop.git#main");
}

// ---------------------------------------------------------------------------------------
// Findings read as their tools wrote them: no output names a rule template.

/// `{0}` or `{name}`: a placeholder of a message or rule template that was not filled.
fn unfilled_placeholder(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let tail = &rest[i + 1..];
        if let Some(stripped) = tail.strip_prefix('{') {
            rest = stripped;
            continue;
        }
        let len = tail.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
        if len > 0 && tail.as_bytes().get(len) == Some(&b'}') {
            return Some(&rest[i..i + len + 2]);
        }
        rest = tail;
    }
    None
}

#[test]
fn no_output_of_any_corpus_file_has_an_unfilled_placeholder() {
    use scangate_core::evaluate;
    use scangate_core::policy::QualityFindings;
    let dir = fixtures::corpus_dir();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("the corpus can be listed")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sarif"))
        .collect();
    files.sort();
    files.extend(["qscanner-image.sarif", "qscanner-repo.sarif"].map(fixtures::path));
    let mut checked = 0;
    let mut problems = Vec::new();
    for path in &files {
        let Ok(mut report) = scangate_core::read_sarif_file(path) else { continue };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Every finding is rendered: quality findings too (QUALITY_FINDINGS=gate), suppressed ones as well.
        let gate = GatePolicy { quality: QualityFindings::Gate, ..GatePolicy::default() };
        report.findings.extend(report.suppressed.clone());
        let evaluated = evaluate::evaluate(&mut report, &gate, None, VerdictInput::default());
        let ctx = ctx(ScanType::Repo, "repo");
        for f in &report.findings {
            checked += 1;
            for (what, text) in [("title", &f.title), ("description", &f.description)] {
                if let Some(p) = unfilled_placeholder(text) {
                    problems.push(format!("{name}: {} {what} has {p}: {text:.120}", f.rule_id));
                }
            }
            let asff = asff::to_asff(f, &ctx);
            for field in ["Title", "Description"] {
                let text = asff[field].as_str().unwrap_or_default();
                if let Some(p) = unfilled_placeholder(text) {
                    problems.push(format!("{name}: ASFF {field} of {} has {p}", f.rule_id));
                }
            }
        }
        let strict =
            GatePolicy { thresholds: Thresholds { max_high: 0, max_medium: 0, max_low: 0, max_critical: 0 }, ..gate };
        let xml = junit::to_junit(&evaluated.verdict, &evaluated.evaluation, &report.findings, &strict);
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{name}: invalid XML: {e}"));
        for failure in doc.descendants().filter(|n| n.has_tag_name("failure")) {
            let message = failure.attribute("message").unwrap_or_default();
            if let Some(p) = unfilled_placeholder(message) {
                problems.push(format!("{name}: JUnit failure {message:.120} has {p}"));
            }
        }
        for line in summary::markdown(&evaluated.verdict, &report.findings, 500).lines().filter(|l| l.starts_with("| "))
        {
            if let Some(p) = unfilled_placeholder(line) {
                problems.push(format!("{name}: summary row has {p}: {line:.120}"));
            }
        }
    }
    assert!(checked > 700, "the corpus was read ({checked} findings)");
    assert!(problems.is_empty(), "{} unfilled placeholder(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn quality_findings_in_security_hub_are_code_quality_and_low_or_informational() {
    use scangate_core::finding::FindingClass;
    let ctx = ctx(ScanType::Repo, "repo");
    let mut lint = base("lint", Severity::High, FindingKind::Code);
    lint.class = FindingClass::Quality;
    let v = asff::to_asff(&lint, &ctx);
    assert_eq!(v["Types"][0], "Software and Configuration Checks/Code Quality");
    assert_eq!(v["Severity"]["Label"], "LOW", "an error-level lint result is LOW in Security Hub");
    assert_eq!(v["Severity"]["Original"], "error", "the level is kept");
    assert_eq!(v["FindingProviderFields"]["Severity"]["Label"], "LOW");
    lint.severity = Severity::Medium;
    assert_eq!(asff::to_asff(&lint, &ctx)["Severity"]["Label"], "INFORMATIONAL");
    assert_valid_asff(&asff::to_asff(&lint, &ctx));
    // A security finding keeps its severity and type.
    let code = base("sast", Severity::High, FindingKind::Code);
    let v = asff::to_asff(&code, &ctx);
    assert_eq!(
        (v["Types"][0].as_str(), v["Severity"]["Label"].as_str()),
        (Some(asff::types::SOFTWARE_CHECK), Some("HIGH"))
    );
}

use super::build::{cve_ids, package_from_lines};
use super::*;
use crate::finding::{FindingKind, Scanner};
use crate::severity::{Severity, SeveritySource};

fn read(doc: &str) -> Report {
    match read_sarif(doc.as_bytes(), "test.sarif") {
        Ok(r) => r,
        Err(e) => panic!("expected the document to read, got {e}"),
    }
}

fn read_err(doc: &str) -> SarifError {
    match read_sarif(doc.as_bytes(), "test.sarif") {
        Ok(r) => panic!("expected an error, got a report with {} findings", r.findings.len()),
        Err(e) => e,
    }
}

fn by_rule<'a>(r: &'a Report, rule: &str) -> Vec<&'a Finding> {
    r.findings.iter().filter(|f| f.rule_id == rule.into()).collect()
}

#[test]
fn results_before_rules_are_resolved_when_the_run_closes() {
    let r = read(
        r#"{"version":"2.1.0","runs":[{
          "results":[
            {"ruleId":"R1","message":{"text":"first line\nsecond"},
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.py"},"region":{"startLine":3}}}]},
            {"ruleIndex":1,"message":{"text":"by index"}}
          ],
          "tool":{"driver":{"name":"Late","version":"1.0","rules":[
            {"id":"R1","shortDescription":{"text":"Rule one"},"fullDescription":{"text":"Long one"},
             "defaultConfiguration":{"level":"error"},"helpUri":"https://example.invalid/r1",
             "help":{"text":"Fix it"}},
            {"id":"R2","name":"RuleTwo","defaultConfiguration":{"level":"note"}}]}}
        }]}"#,
    );
    assert_eq!(r.findings.len(), 2, "{:?}", r.warnings);
    let f = &r.findings[0];
    assert_eq!(
        (&*f.rule_id, f.title.as_str(), f.description.as_str()),
        ("R1", "first line", "first line\nsecond\n\nLong one"),
        "the message names the instance; the rule's description follows it"
    );
    assert_eq!(
        (f.severity, f.severity_source, &*f.severity_original),
        (Severity::High, SeveritySource::Level, "error")
    );
    assert_eq!(f.help_uri.as_deref(), Some("https://example.invalid/r1"));
    assert_eq!(f.help_text.as_deref(), Some("Fix it"));
    assert_eq!(f.location.as_ref().map(|l| (l.uri.as_str(), l.start_line)), Some(("a.py", Some(3))));
    assert_eq!(f.scanner.name, "Late");
    assert_eq!(f.scanner.version.as_deref(), Some("1.0"));
    let g = &r.findings[1];
    assert_eq!((&*g.rule_id, g.title.as_str(), g.severity), ("R2", "by index", Severity::Low));
    assert_eq!(g.description, "by index", "no fullDescription: the message");
    assert_eq!(r.warning_count, 0, "{:?}", r.warnings);
    assert_eq!(r.runs, vec![RunSummary { scanner: Scanner::clone(&f.scanner), rules: 2, results: 2 }]);
}

#[test]
fn rule_index_into_extensions_via_tool_component() {
    let r = read(
        r#"{"version":"2.1.0","runs":[{
          "tool":{"driver":{"name":"CodeQL","semanticVersion":"2.9.2","rules":[]},
                  "extensions":[{"name":"codeql/other","rules":[{"id":"x/other"}]},
                                {"name":"codeql/javascript-queries","rules":[
                                   {"id":"js/a","shortDescription":{"text":"A"},"properties":{"security-severity":"9.8","tags":["security"]}},
                                   {"id":"js/b","shortDescription":{"text":"B"},"defaultConfiguration":{"level":"note"}}]}]},
          "results":[
            {"ruleId":"js/b","rule":{"id":"js/b","index":1,"toolComponent":{"index":1}},"message":{"text":"m"}},
            {"rule":{"id":"js/a","index":0,"toolComponent":{"name":"codeql/javascript-queries"}},"message":{"text":"m"}},
            {"rule":{"index":0,"toolComponent":{"index":7}},"ruleId":"js/a","message":{"text":"m2"}}
          ]}]}"#,
    );
    let b = by_rule(&r, "js/b");
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].title.as_str(), b[0].severity), ("m", Severity::Low));
    assert_eq!(b[0].description, "m\n\nB", "the rule's short description follows the message");
    let a = by_rule(&r, "js/a");
    assert_eq!(a.len(), 2, "different messages, no location: two findings");
    assert_eq!(
        (a[0].title.as_str(), a[0].severity, a[0].severity_source),
        ("m", Severity::Critical, SeveritySource::SecuritySeverity)
    );
    assert_eq!(a[0].cvss_score, Some(9.8));
    assert_eq!(a[0].kind, FindingKind::Code, "a CodeQL query is code even when tagged security");
    assert_eq!(a[0].scanner.version.as_deref(), Some("2.9.2"));
    assert_eq!(a[1].description, "m2\n\nA", "bad toolComponent index: found by id");
    assert_eq!(r.warning_count, 1, "{:?}", r.warnings);
    assert_eq!(r.warnings[0].path, "runs[0].results[2].rule.toolComponent.index");
}

#[test]
fn artifact_index_resolves_even_when_artifacts_come_after_results() {
    let r = read(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"ESLint"}},
          "results":[
            {"ruleId":"no-eval","level":"error","message":{"text":"eval"},
             "locations":[{"physicalLocation":{"artifactLocation":{"index":1},"region":{"startLine":7}}}]},
            {"ruleId":"no-eval","level":"error","message":{"text":"eval"},
             "locations":[{"physicalLocation":{"artifactLocation":{"index":5}}}]}],
          "artifacts":[{"location":{"uri":"a.js"}},{"location":{"uri":"src/b.js"}}]}]}"#,
    );
    assert_eq!(r.findings.len(), 2);
    let l = r.findings[0].location.as_ref().map(|l| (l.uri.as_str(), l.start_line));
    assert_eq!(l, Some(("src/b.js", Some(7))));
    assert!(r.findings[1].location.is_none());
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].path, "runs[0].results[1].locations[0].physicalLocation.artifactLocation.index");
}

#[test]
fn level_fallback_chain() {
    let r = read(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T","rules":[
            {"id":"ERR","defaultConfiguration":{"level":"error"}},
            {"id":"NODEF"}]}},
          "results":[
            {"ruleId":"ERR","level":"note","message":{"text":"result level wins"}},
            {"ruleId":"ERR","message":{"text":"rule default"}},
            {"ruleId":"NODEF","message":{"text":"warning by default"}},
            {"ruleId":"ERR","level":"bogus","message":{"text":"bad level falls back"}},
            {"ruleId":"ERR","level":42,"message":{"text":"wrong type falls back"}},
            {"ruleId":"NODEF","level":"none","message":{"text":"none"}}]}]}"#,
    );
    let got: Vec<(Severity, &str)> = r.findings.iter().map(|f| (f.severity, &*f.severity_original)).collect();
    assert_eq!(
        got,
        vec![
            (Severity::Low, "note"),
            (Severity::High, "error"),
            (Severity::Medium, "warning"),
            (Severity::High, "error"),
            (Severity::High, "error"),
            (Severity::Informational, "none"),
        ]
    );
    let paths: Vec<&str> = r.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, vec!["runs[0].results[3].level", "runs[0].results[4].level"]);
}

#[test]
fn security_severity_number_string_null_garbage() {
    let r = read(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T","rules":[
            {"id":"NUM","properties":{"security-severity":9.1}},
            {"id":"STR","properties":{"security-severity":" 7.5 "}},
            {"id":"NULL","properties":{"security-severity":null},"defaultConfiguration":{"level":"note"}},
            {"id":"GARBAGE","properties":{"security-severity":"high"},"defaultConfiguration":{"level":"error"}},
            {"id":"RANGE","properties":{"security-severity":42}},
            {"id":"OBJ","properties":{"security-severity":{"v":1}}},
            {"id":"RES","properties":{"security-severity":"2.0"}}]}},
          "results":[
            {"ruleId":"NUM","message":{"text":"a"}},
            {"ruleId":"STR","message":{"text":"a"}},
            {"ruleId":"NULL","message":{"text":"a"}},
            {"ruleId":"GARBAGE","message":{"text":"a"}},
            {"ruleId":"RANGE","message":{"text":"a"}},
            {"ruleId":"OBJ","message":{"text":"a"}},
            {"ruleId":"RES","message":{"text":"a"},"properties":{"security-severity":"0.0"}}]}]}"#,
    );
    let got: Vec<(&str, Severity, SeveritySource)> =
        r.findings.iter().map(|f| (&*f.rule_id, f.severity, f.severity_source)).collect();
    assert_eq!(
        got,
        vec![
            ("NUM", Severity::Critical, SeveritySource::SecuritySeverity),
            ("STR", Severity::High, SeveritySource::SecuritySeverity),
            ("NULL", Severity::Low, SeveritySource::Level),
            ("GARBAGE", Severity::High, SeveritySource::Level),
            ("RANGE", Severity::Medium, SeveritySource::Level),
            ("OBJ", Severity::Medium, SeveritySource::Level),
            ("RES", Severity::Informational, SeveritySource::SecuritySeverity),
        ]
    );
    assert_eq!(r.findings[1].severity_original, "7.5".into());
    let paths: Vec<&str> = r.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "runs[0].tool.driver.rules[3].properties.security-severity",
            "runs[0].tool.driver.rules[4].properties.security-severity",
            "runs[0].tool.driver.rules[5].properties.security-severity",
        ]
    );
}

const QSCANNER: &str = r#"{"version":"2.1.0","runs":[{
  "tool":{"driver":{"name":"QScanner","version":"4.2.0","rules":[
    {"id":"qid-375474","name":"OpenSSL Multiple Vulnerabilities","shortDescription":{"text":"OpenSSL vulns"},
     "fullDescription":{"text":"OpenSSL has flaws"},"help":{"text":"Upgrade openssl"},"helpUri":"https://qualys.example/375474",
     "properties":{"severity":5,"cve-ids":["cve-2023-0286","CVE-2023-0215","CVE-2023-0286"],"qds":95,"tags":["vulnerability"]}},
    {"id":"qid-9001","name":"AWS key in file","properties":{"severity":"4","tags":["secret"]}}]}},
  "results":[
    {"ruleId":"qid-375474","level":"error","message":{"text":"openssl vulnerable"},
     "locations":[{"physicalLocation":{"artifactLocation":{"uri":"usr/lib/libssl.so.3"}}}],
     "properties":{"QID":375474,"vulnerableSoftware":[
        {"name":"openssl","installedVersion":"3.0.2","fixedVersion":"3.0.13","layerSHA":"sha256:aaa"},
        {"name":"libssl3","installedVersion":"3.0.2","fixedVersion":"3.0.13","layerSHA":"sha256:bbb"},
        {"installedVersion":"1"}]}},
    {"ruleId":"qid-9001","level":"warning","message":{"text":"secret found"},
     "locations":[{"physicalLocation":{"artifactLocation":{"uri":"app/config.env"},"region":{"startLine":4}}}]}],
  "properties":{"imageID":"sha256:img","imageName":"shop/web","repoTags":["123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.4.2"],
     "repoDigests":["shop/web@sha256:d"],"layerInfo":[{"sha":"sha256:aaa","createdBy":"RUN apt-get"}],"policyResult":"DENY"}}]}"#;

#[test]
fn qscanner_multi_package_result_gives_one_finding_per_package() {
    let r = read(QSCANNER);
    let v = by_rule(&r, "qid-375474");
    assert_eq!(v.len(), 2, "{:?}", r.warnings);
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let pk: Vec<Row> = v
        .iter()
        .map(|f| {
            let p = f.package.as_ref().expect("a QScanner vulnerability has a package");
            (p.name.as_str(), p.installed_version.as_deref(), p.fixed_version.as_deref(), f.layer.as_deref())
        })
        .collect();
    assert_eq!(
        pk,
        vec![
            ("openssl", Some("3.0.2"), Some("3.0.13"), Some("sha256:aaa")),
            ("libssl3", Some("3.0.2"), Some("3.0.13"), Some("sha256:bbb"))
        ]
    );
    for f in &v {
        assert_eq!(
            (f.severity, f.severity_source, &*f.severity_original),
            (Severity::Critical, SeveritySource::Qualys, "5")
        );
        assert_eq!(f.cves, vec!["CVE-2023-0286".to_string(), "CVE-2023-0215".to_string()].into());
        assert_eq!(f.qds, Some(95.0));
        assert_eq!(f.kind, FindingKind::Vulnerability);
        // One message for two packages names neither in particular: the rule's title, the message
        // first in the description.
        assert_eq!(f.title, "CVE-2023-0286: OpenSSL vulns", "the rule's title, with the CVE it does not name");
        assert!(f.description.starts_with("openssl vulnerable"), "{}", f.description);
    }
    assert_ne!(v[0].id, v[1].id);
    let s = by_rule(&r, "qid-9001");
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].kind, s[0].severity), (FindingKind::Secret, Severity::High));
    assert!(s[0].package.is_none());
    assert_eq!(r.policy_result, PolicyResult::Deny);
    assert_eq!(r.target.image_id.as_deref(), Some("sha256:img"));
    assert_eq!(r.target.repo_tags, vec!["123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.4.2".to_string()]);
    assert_eq!(r.warnings.len(), 1, "the nameless package is reported");
    assert_eq!(r.warnings[0].path, "runs[0].results[0].properties.vulnerableSoftware[2]");
}

#[test]
fn duplicate_results_merge_and_count_occurrences() {
    let doc = QSCANNER.replace(
        r#""results":["#,
        r#""results":[{"ruleId":"qid-9001","message":{"text":"again"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"app/config.env"},"region":{"startLine":4}}}]},"#,
    );
    let r = read(&doc);
    assert_eq!(r.findings.len(), 3);
    assert_eq!(r.findings[0].rule_id, "qid-9001".into(), "order of first appearance");
    assert_eq!(r.findings[0].occurrences, 2);
    assert_eq!(r.results_read, 3);
}

#[test]
fn cve_extraction() {
    assert_eq!(cve_ids("ANCHOREVULN_CVE-2019-18276_dpkg_bash"), vec!["CVE-2019-18276"]);
    assert_eq!(
        cve_ids("cve-2021-44228 and CVE-2021-44228, CVE-2022-1234567."),
        vec!["CVE-2021-44228", "CVE-2022-1234567"]
    );
    assert!(cve_ids("XCVE-2021-44228 CVE-21-1234 CVE-2021-123 CVE-2021x1234 CVE-").is_empty());
    assert_eq!(cve_ids("é CVE-2020-0001é"), vec!["CVE-2020-0001"]);
    let r = read(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Trivy","rules":[
            {"id":"CVE-2019-1549","name":"OsPackageVulnerability","help":{"text":"see CVE-2000-0001"}},
            {"id":"js/x","help":{"text":"like CVE-2017-5638"}}]}},
          "results":[
            {"ruleId":"CVE-2019-1549","message":{"text":"Package: libssl1.1\nInstalled Version: 1.1.1c-r0\nVulnerability CVE-2019-1549\nFixed Version: 1.1.1d-r0"}},
            {"ruleId":"js/x","message":{"text":"m"}}]}]}"#,
    );
    assert_eq!(*r.findings[0].cves, ["CVE-2019-1549"], "help text CVEs only when nothing better names one");
    assert_eq!(r.findings[0].kind, FindingKind::Vulnerability);
    let p = r.findings[0].package.as_ref().expect("package from the Trivy message");
    assert_eq!(
        (p.name.as_str(), p.installed_version.as_deref(), p.fixed_version.as_deref()),
        ("libssl1.1", Some("1.1.1c-r0"), Some("1.1.1d-r0"))
    );
    assert_eq!(*r.findings[1].cves, ["CVE-2017-5638"]);
    assert_eq!(r.findings[1].kind, FindingKind::Code, "a CVE mentioned in help does not make code a vulnerability");
}

#[test]
fn package_lines() {
    let p = package_from_lines("Vulnerability CVE-1\nPackage: bash\nVersion: 4.3\nFix Version: None", true)
        .expect("grype help");
    assert_eq!((p.name.as_str(), p.installed_version.as_deref(), p.fixed_version), ("bash", Some("4.3"), None));
    assert!(package_from_lines("Package: libssl\nFixed Version: 1", true).is_none());
}

#[test]
fn errors_name_what_is_wrong() {
    match read_err("{\n  \"version\": \"2.1.0\",\n  ,\n}") {
        SarifError::Json { line, column, .. } => assert_eq!((line, column), (3, 3)),
        e => panic!("expected a JSON error, got {e}"),
    }
    match read_err(r#"{"version":"2.1.0","runs":[]} ,"#) {
        SarifError::Json { line, .. } => assert_eq!(line, 1),
        e => panic!("expected a JSON error, got {e}"),
    }
    let cases = [
        (r#"[1,2]"#, "$", "an array"),
        (r#"null"#, "$", "null"),
        (r#"{"version":"2.1.0"}"#, "runs", "missing"),
        (r#"{"version":"2.1.0","runs":{}}"#, "runs", "an object"),
        (r#"{"version":"2.0.0","runs":[]}"#, "version", "2.0.0"),
        (r#"{"runs":[],"version":"1.0"}"#, "version", "1.0"),
        (r#"{"version":2.1,"runs":[]}"#, "version", "a number"),
        (
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":42}]}"#,
            "runs[0].results",
            "a number",
        ),
        (r#"{"version":"2.1.0","runs":[{},7]}"#, "runs[1]", "a number"),
    ];
    for (doc, want_path, want_msg) in cases {
        match read_err(doc) {
            SarifError::NotSarif { path, message, source_name } => {
                assert_eq!(path, want_path, "{doc}");
                assert!(message.contains(want_msg), "{doc}: {message}");
                assert_eq!(source_name, "test.sarif");
            }
            e => panic!("{doc}: expected NotSarif, got {e}"),
        }
    }
    let r = read(r#"{"runs":[]}"#);
    assert_eq!(
        r.warnings,
        vec![ReadWarning { path: "version".into(), message: "missing; read as SARIF 2.1.0".into() }]
    );
}

#[test]
fn wrong_typed_fields_inside_a_result_do_not_abort() {
    let r = read(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T","rules":[{"id":"A"}]}},
          "results":[
            {"ruleId":"A","ruleIndex":"zero","message":null,"locations":{"x":1},"fingerprints":[1],
             "properties":{"tags":"secret","vulnerableSoftware":7,"severity":"9"}},
            {"ruleId":5,"ruleIndex":99,"message":{"text":"m"},"locations":[null]},
            {"ruleId":"A","rule":"A","level":"error","message":{"text":"x"},
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":3},"region":{"startLine":-4}}}]},
            null, 7, "text"]}]}"#,
    );
    assert_eq!(r.findings.len(), 3);
    assert_eq!(r.results_read, 3);
    assert_eq!(r.runs[0].results, 6);
    let paths: Vec<&str> = r.warnings.iter().map(|w| w.path.as_str()).collect();
    for want in [
        "runs[0].results[0].ruleIndex",
        "runs[0].results[0].locations",
        "runs[0].results[0].fingerprints",
        "runs[0].results[0].properties.tags",
        "runs[0].results[0].properties.vulnerableSoftware",
        "runs[0].results[0].properties.severity",
        "runs[0].results[1].ruleId",
        "runs[0].results[1].ruleIndex",
        "runs[0].results[1].locations[0]",
        "runs[0].results[2].rule",
        "runs[0].results[2].locations[0].physicalLocation.artifactLocation",
        "runs[0].results[2].locations[0].physicalLocation.region.startLine",
        "runs[0].results[3]",
        "runs[0].results[4]",
        "runs[0].results[5]",
    ] {
        assert!(paths.contains(&want), "no warning at {want}: {paths:#?}");
    }
    for f in &r.findings {
        assert!(!f.title.is_empty() && !f.description.is_empty());
    }
}

#[test]
fn warnings_are_capped_but_counted() {
    let results: Vec<&str> = std::iter::repeat_n("null", MAX_KEPT_WARNINGS + 50).collect();
    let doc = format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"T"}}}},"results":[{}]}}]}}"#,
        results.join(",")
    );
    let r = read(&doc);
    assert_eq!(r.warnings.len(), MAX_KEPT_WARNINGS);
    assert_eq!(r.warning_count, MAX_KEPT_WARNINGS + 50);
}

#[test]
fn scanners_stay_apart_and_kinds_follow_the_tool() {
    let r = read(
        r#"{"version":"2.1.0","runs":[
          {"tool":{"driver":{"name":"gitleaks"}},"results":[{"ruleId":"r","message":{"text":"m"}}]},
          {"tool":{"driver":{"name":"checkov"}},"results":[{"ruleId":"r","message":{"text":"m"}}]},
          {"tool":{"driver":{"name":"osv-scanner","rules":[{"id":"LicenseViolation"}]}},
           "results":[{"ruleId":"LicenseViolation","message":{"text":"Package 'left-pad@1.0.0' has license"}}]},
          {"tool":{"driver":{"name":"osv-scanner"}},
           "results":[{"ruleId":"GHSA-aaaa-bbbb-cccc","message":{"text":"Package '@scope/pkg@2.0.1' is vulnerable to 'GHSA-aaaa-bbbb-cccc'."}}]}]}"#,
    );
    let kinds: Vec<FindingKind> = r.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![FindingKind::Secret, FindingKind::Misconfiguration, FindingKind::License, FindingKind::Vulnerability]
    );
    assert_ne!(r.findings[0].id, r.findings[1].id);
    let p = r.findings[3].package.as_ref().expect("osv package");
    assert_eq!((p.name.as_str(), p.installed_version.as_deref()), ("@scope/pkg", Some("2.0.1")));
    assert_eq!(r.runs.len(), 4);
}

#[test]
fn io_errors_are_io() {
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    assert!(matches!(read_sarif(Broken, "x"), Err(SarifError::Io { .. })));
}

#[test]
fn a_utf8_byte_order_mark_is_skipped() {
    let doc = "\u{feff}{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"T\"}},\"results\":[{\"ruleId\":\"r\",\"message\":{\"text\":\"m\"}}]}]}";
    let r = read(doc);
    assert_eq!(r.findings.len(), 1);
    match read_err("\u{feff}[") {
        SarifError::Json { line, column, .. } => assert_eq!((line, column), (1, 1), "columns count after the mark"),
        e => panic!("expected a JSON error, got {e}"),
    }
}

#[test]
fn message_id_and_arguments_resolve_from_message_strings() {
    // The shape of SARIF 2.1.0 §3.11.7's example: the result names a message string of its
    // rule and gives the arguments; the driver has global strings for rules without one.
    let r = read(
        r#"{"version":"2.1.0","runs":[{
          "tool":{"driver":{"name":"CodeScanner","globalMessageStrings":{
              "shared":{"text":"Shared text about '{0}'."}},
            "rules":[{"id":"CA2101","shortDescription":{"text":"Specify marshaling"},
              "messageStrings":{"default":{"text":"Variable '{0}' was used without being initialized. {{braces}} stay."},
                                "linked":{"text":"Tainted by [this value](1) in '{0}'."}}},
              {"id":"CA2102","fullDescription":{"text":"Rule help"}}]}},
          "artifacts":[{"location":{"uri":"lib/sink.c"}}],
          "results":[
            {"ruleId":"CA2101","message":{"id":"default","arguments":["count"]},
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"},"region":{"startLine":1}}}]},
            {"ruleId":"CA2101","message":{"id":"linked","arguments":["main"]},
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"},"region":{"startLine":2}}}],
             "relatedLocations":[{"id":1,"physicalLocation":{"artifactLocation":{"uri":"src/in.c"},"region":{"startLine":40}}}]},
            {"ruleId":"CA2102","message":{"id":"shared","arguments":["x"]},
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"},"region":{"startLine":3}}}]},
            {"ruleId":"CA2102","message":{"id":"missing"},
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"},"region":{"startLine":4}}}]},
            {"ruleId":"CA2102","message":{"markdown":"See [the sink](2) and **bold**"},
             "relatedLocations":[{"id":2,"physicalLocation":{"artifactLocation":{"index":0}}}],
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"},"region":{"startLine":5}}}]}
          ]}]}"#,
    );
    let titles: Vec<&str> = r.findings.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Variable 'count' was used without being initialized. {braces} stay.",
            "Tainted by this value (src/in.c:40) in 'main'.",
            "Shared text about 'x'.",
            "CA2102",
            "See the sink (lib/sink.c) and **bold**",
        ]
    );
    assert_eq!(
        r.findings[0].description,
        "Variable 'count' was used without being initialized. {braces} stay.\n\nSpecify marshaling"
    );
    assert_eq!(r.findings[2].description, "Shared text about 'x'.\n\nRule help");
    assert_eq!(r.warning_count, 1, "{:?}", r.warnings);
    assert_eq!(r.warnings[0].path, "runs[0].results[3].message.id");
    assert_eq!(r.findings[3].description, "Rule help", "no message: the rule's help");
    // The dedup key is what it was: the message id does not enter it (the location does).
    assert!(r.findings.iter().all(|f| f.location.is_some()));
}

#[test]
fn rule_templates_never_become_titles() {
    // ruff writes the rule's template (`{name}`) as its descriptions and the filled text in
    // the result; a result without a message falls back to the rule's name or id.
    let r = read(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"ruff","rules":[
            {"id":"A001","shortDescription":{"text":"Variable `{name}` is shadowing a Python builtin"},
             "help":{"text":"Variable `{name}` is shadowing a Python builtin"},"properties":{"name":"builtin-variable-shadowing"}}]}},
          "results":[
            {"ruleId":"A001","level":"error","message":{"text":"Variable `sum` is shadowing a Python builtin"},
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.py"},"region":{"startLine":1}}}]},
            {"ruleId":"A001","level":"error",
             "locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.py"},"region":{"startLine":2}}}]}]}]}"#,
    );
    assert_eq!(r.findings[0].title, "Variable `sum` is shadowing a Python builtin");
    assert_eq!(r.findings[0].description, "Variable `sum` is shadowing a Python builtin");
    assert_eq!((r.findings[1].title.as_str(), r.findings[1].description.as_str()), ("A001", "A001"));
    assert!(r.findings.iter().all(|f| f.class == crate::finding::FindingClass::Quality));
}

#[test]
fn security_severity_or_a_security_tag_makes_a_linter_result_a_security_finding() {
    use crate::finding::FindingClass;
    let r = read(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"ESLint","rules":[
            {"id":"style"},{"id":"sec-tag","properties":{"tags":["Security"]}},
            {"id":"sec-sev","properties":{"security-severity":"7.5"}}]}},
          "results":[
            {"ruleId":"style","level":"error","message":{"text":"a"}},
            {"ruleId":"sec-tag","level":"error","message":{"text":"b"}},
            {"ruleId":"sec-sev","level":"note","message":{"text":"c"}},
            {"ruleId":"style","level":"error","message":{"text":"d"},"properties":{"security-severity":"9.1"}}]}]}"#,
    );
    let classes: Vec<FindingClass> = r.findings.iter().map(|f| f.class).collect();
    assert_eq!(
        classes,
        [FindingClass::Quality, FindingClass::Security, FindingClass::Security, FindingClass::Security]
    );
}

/// `read_sarif_capped`: the cap counts distinct findings (a repeated result is one), the
/// suppressed ones included; a document over it is refused with the cap named, whatever
/// comes after the result that crossed it.
#[test]
fn the_finding_cap_counts_distinct_findings_and_refuses_beyond_it() {
    let result = |uri: &str, suppressed: bool| {
        let suppressions = if suppressed { r#","suppressions":[{"kind":"inSource"}]"# } else { "" };
        format!(
            r#"{{"ruleId":"R","message":{{"text":"m"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"{uri}"}}}}}}]{suppressions}}}"#
        )
    };
    let doc = |results: &[String]| {
        format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"t"}}}},"results":[{}]}}]}}"#,
            results.join(",")
        )
    };
    let three = doc(&[result("a.py", false), result("b.py", false), result("a.py", false), result("c.py", true)]);
    let r = read_sarif_capped(three.as_bytes(), "test.sarif", 3).expect("three distinct findings fit a cap of 3");
    assert_eq!((r.findings.len(), r.suppressed.len(), r.results_read), (2, 1, 4));
    assert_eq!(r, read(&three), "under its cap the read is the uncapped read");
    match read_sarif_capped(three.as_bytes(), "test.sarif", 2) {
        Err(e @ SarifError::TooManyFindings { limit: 2, .. }) => {
            assert_eq!(e.to_string(), "test.sarif: more than 2 distinct findings (suppressed ones included)")
        }
        other => panic!("expected TooManyFindings, got {other:?}"),
    }
    let many: Vec<String> = (0..50).map(|i| result(&format!("f{i}.py"), false)).collect();
    assert!(matches!(
        read_sarif_capped(doc(&many).as_bytes(), "test.sarif", 10),
        Err(SarifError::TooManyFindings { limit: 10, .. })
    ));
    assert_eq!(read_sarif_capped(doc(&many).as_bytes(), "test.sarif", 50).expect("fits").findings.len(), 50);
}

/// A document of `results` (security results carry a `security-severity`; `suppressed` ones
/// an accepted in-source suppression) from a linter that is not a security scanner.
fn mixed_doc(results: &[(u8, bool, bool)]) -> String {
    let one = |&(file, security, suppressed): &(u8, bool, bool)| {
        let props = if security { r#","properties":{"security-severity":"7.5"}"# } else { "" };
        let suppressions = if suppressed { r#","suppressions":[{"kind":"inSource"}]"# } else { "" };
        let level = ["error", "warning", "note"][usize::from(file % 3)];
        format!(
            r#"{{"ruleId":"R{}","level":"{level}","message":{{"text":"m"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"f{file}.py"}}}}}}]{props}{suppressions}}}"#,
            u8::from(security)
        )
    };
    let results: Vec<String> = results.iter().map(one).collect();
    format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"ruff"}}}},"results":[{}]}}]}}"#,
        results.join(",")
    )
}

fn limited(doc: &str, limits: ReadLimits) -> Result<Report, SarifError> {
    read_sarif_limited(doc.as_bytes(), "test.sarif", limits)
}

/// Counting quality findings apart (`ReadLimits::count_quality`) changes what the reader
/// holds, never the evaluation: the verdict (quality counts by severity included) and the
/// findings every output receives are those of a read that keeps them, whatever the mix of
/// classes, repeats and suppressions.
mod counting_quality_apart {
    use super::*;
    use crate::finding::FindingClass;
    use crate::policy::{GatePolicy, QualityFindings};
    use crate::verdict::VerdictInput;
    use proptest::prelude::*;

    fn evaluated(mut r: Report) -> (crate::verdict::Verdict, Report) {
        let gate = GatePolicy { quality: QualityFindings::Report, ..GatePolicy::default() };
        let e = crate::evaluate::evaluate(&mut r, &gate, None, VerdictInput::default());
        (e.verdict, r)
    }

    proptest! {
        #[test]
        fn gives_the_verdict_of_a_read_that_keeps_them(
            results in proptest::collection::vec((0u8..12, any::<bool>(), any::<bool>()), 0..40)
        ) {
            let doc = mixed_doc(&results);
            let (kept_verdict, kept) = evaluated(read(&doc));
            let counted = limited(&doc, ReadLimits { max_findings: None, count_quality: Some(1000), max_text_bytes: None, max_held_bytes: None, max_spill_bytes: None })
                .expect("under the caps");
            prop_assert!(counted.findings.iter().all(|f| f.class == FindingClass::Security));
            let (counted_verdict, counted) = evaluated(counted);
            prop_assert_eq!(&counted_verdict, &kept_verdict);
            prop_assert_eq!(&counted.findings, &kept.findings);
            prop_assert_eq!(&counted.suppressed, &kept.suppressed);
            // Suppressed findings are kept whole (a suppression that is not honoured makes one
            // a finding again when evaluating); the unsuppressed quality ones are only counted.
            prop_assert_eq!(counted.quality_counted.total + counted.quality.len() as u64, kept.quality.len() as u64);
            prop_assert!(counted.quality.iter().all(|f| f.suppression.is_some()));
        }
    }

    #[test]
    fn quality_findings_are_not_held_and_not_counted_against_max_findings() {
        // 3 distinct security findings, 30 distinct quality ones (each twice), one suppressed
        // quality finding that also occurs unsuppressed (a finding) and one only suppressed.
        let mut results: Vec<(u8, bool, bool)> = (0..3).map(|f| (f, true, false)).collect();
        results.extend((0..30).flat_map(|f| [(f, false, false), (f, false, false)]));
        results.extend([(5, false, true), (200, false, true)]);
        let doc = mixed_doc(&results);
        // Suppressed findings are held until the end of the document (then the one that also
        // occurs unsuppressed is dropped): 5 held at most.
        let limits = ReadLimits {
            max_findings: Some(5),
            count_quality: Some(30),
            max_text_bytes: None,
            max_held_bytes: None,
            max_spill_bytes: None,
        };
        let r = limited(&doc, limits).expect("5 held (3 + 2 suppressed), 30 counted");
        assert_eq!((r.findings.len(), r.suppressed.len(), r.quality_counted.total), (3, 1, 30));
        assert_eq!(r.quality_counted.plus(&Counts::default()), r.quality_counted);
        assert_eq!(
            (r.quality_counted.high, r.quality_counted.medium, r.quality_counted.low),
            (10, 10, 10),
            "error / warning / note, each file's level"
        );
        // Keeping them, the same document is over the cap of 5.
        assert!(matches!(
            limited(
                &doc,
                ReadLimits {
                    max_findings: Some(5),
                    count_quality: None,
                    max_text_bytes: None,
                    max_held_bytes: None,
                    max_spill_bytes: None
                }
            ),
            Err(SarifError::TooManyFindings { limit: 5, .. })
        ));
        match limited(
            &doc,
            ReadLimits {
                max_findings: Some(5),
                count_quality: Some(29),
                max_text_bytes: None,
                max_held_bytes: None,
                max_spill_bytes: None,
            },
        ) {
            Err(e @ SarifError::TooManyQualityFindings { limit: 29, .. }) => {
                assert_eq!(e.to_string(), "test.sarif: more than 29 distinct quality findings")
            }
            other => panic!("expected TooManyQualityFindings, got {other:?}"),
        }
        // The security cap still holds while quality findings are counted apart.
        assert!(matches!(
            limited(
                &doc,
                ReadLimits {
                    max_findings: Some(4),
                    count_quality: Some(30),
                    max_text_bytes: None,
                    max_held_bytes: None,
                    max_spill_bytes: None,
                }
            ),
            Err(SarifError::TooManyFindings { limit: 4, .. })
        ));
    }
}

/// The attack `ReadLimits::max_text_bytes` stops: a rule's long help text is copied into the
/// description of each of its findings, so 200 short results referencing a rule with 20 000
/// bytes of help make the findings hold about 4 MB from a document of about 45 KB. Under a cap
/// of 1 MB the document is refused with the cap named; a cap it fits reads it whole. The help
/// text itself is shared by the findings (held and counted once), not copied.
#[test]
fn a_long_rule_text_copied_into_many_findings_is_capped() {
    let help = "h".repeat(20_000);
    let results: Vec<String> = (0..200)
        .map(|i| {
            format!(
                r#"{{"ruleId":"R","message":{{"text":"m{i}"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"f{i}.py"}}}}}}]}}"#
            )
        })
        .collect();
    let doc = format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"trivy","rules":[{{"id":"R","help":{{"text":"{help}"}}}}]}}}},"results":[{}]}}]}}"#,
        results.join(",")
    );
    assert!(doc.len() < 50_000, "{}", doc.len());
    let cap = |bytes: u64| ReadLimits { max_text_bytes: Some(bytes), ..ReadLimits::default() };
    match limited(&doc, cap(1_000_000)) {
        Err(e @ SarifError::TooMuchText { limit: 1_000_000, .. }) => {
            assert!(e.to_string().starts_with("test.sarif: its findings hold more than 1000000 bytes of text"), "{e}")
        }
        other => panic!("expected TooMuchText, got {other:?}"),
    }
    let r = limited(&doc, cap(20_000_000)).expect("fits 20 MB");
    assert_eq!(r.findings.len(), 200);
    let held: usize = r.findings.iter().map(|f| f.description.len()).sum();
    assert!(held > 4_000_000, "{held}: the help copied into each finding's description");
    let help = r.findings[0].help_text.as_ref().expect("the rule's help");
    assert!(
        r.findings.iter().all(|f| f.help_text.as_ref().is_some_and(|h| std::sync::Arc::ptr_eq(h, help))),
        "one help text, shared"
    );
    // Counted once: 200 descriptions of 20 000 bytes fit 4.1 MB; the help, once more, too.
    assert_eq!(limited(&doc, cap(4_100_000)).map(|r| r.findings.len()).ok(), Some(200));
    assert_eq!(r, read(&doc), "under its cap the read is the uncapped read");
}

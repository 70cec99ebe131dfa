//! Table tests for scope matching and expiry (time injected), document errors, VEX products,
//! and a proptest over expiry dates and paths.

use super::*;
use crate::finding::{Finding, FindingKind, Location, Package, Scanner};
use crate::severity::{Severity, SeveritySource};
use proptest::prelude::*;
use time::macros::date;

const TODAY: Date = date!(2026 - 12 - 01);

fn finding(rule: &str, cves: &[&str], purl: Option<&str>, uri: Option<&str>) -> Finding {
    Finding {
        id: format!("id-{rule}-{}", purl.unwrap_or("")),
        severity_source: SeveritySource::SecuritySeverity,
        severity_original: "8.1".into(),
        kind: FindingKind::Vulnerability,
        cves: cves.iter().map(|c| c.to_string()).collect(),
        package: purl.map(|p| {
            Package {
                name: "openssl".into(),
                installed_version: Some("3.0.2".into()),
                fixed_version: None,
                purl: Some(p.into()),
            }
            .into()
        }),
        location: uri.map(|u| Location { uri: u.into(), start_line: Some(1) }),
        scanner: Scanner { name: "QScanner".into(), version: None }.into(),
        ..Finding::plain(rule, Severity::High)
    }
}

fn subject() -> Subject {
    Subject {
        images: vec!["123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api:1.4".into()],
        digests: vec![format!("sha256:{}", "a".repeat(64))],
        repository: Some("https://github.com/Example/Shop.git".into()),
        branch: Some("refs/heads/main".into()),
    }
}

fn waivers_doc(scope: &str, expires: &str) -> Vec<u8> {
    format!(
        r#"{{"schema":"scangate.waivers.v1","waivers":[{{"id":"CVE-2024-0001","scope":{scope},
        "reason":"not reachable","owner":"sec@example.com","expires":"{expires}"}}]}}"#
    )
    .into_bytes()
}

fn waivers(scope: &str, expires: &str) -> Exceptions {
    let doc = WaiversDocument::parse(&waivers_doc(scope, expires), "policy/waivers.json", TODAY, 90)
        .unwrap_or_else(|e| panic!("{scope}: {e}"));
    Exceptions { waivers: vec![doc], ..Default::default() }
}

#[test]
fn scope_matching_table() {
    let img = r#""123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api""#;
    let purl = Some("pkg:deb/debian/openssl@3.0.2?arch=amd64");
    // (scope, finding rule, finding cves, purl, uri, applies)
    type Row<'a> = (String, &'a str, &'a [&'a str], Option<&'a str>, Option<&'a str>, bool);
    let table: &[Row] = &[
        (format!(r#"{{"image":{img}}}"#), "qid-1", &["CVE-2024-0001"], purl, None, true),
        (format!(r#"{{"image":{img}}}"#), "CVE-2024-0001", &[], purl, None, true),
        (format!(r#"{{"image":{img}}}"#), "cve-2024-0001", &[], purl, None, true),
        (format!(r#"{{"image":{img}}}"#), "qid-1", &["CVE-2024-0002"], purl, None, false),
        (
            r#"{"image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web"}"#.into(),
            "qid-1",
            &["CVE-2024-0001"],
            purl,
            None,
            false,
        ),
        (r#"{"repository":"git@github.com:example/shop.git"}"#.into(), "qid-1", &["CVE-2024-0001"], purl, None, true),
        (
            r#"{"repository":"https://github.com/example/shop","branch":"main"}"#.into(),
            "qid-1",
            &["CVE-2024-0001"],
            purl,
            None,
            true,
        ),
        (
            r#"{"repository":"https://github.com/example/shop","branch":"release"}"#.into(),
            "qid-1",
            &["CVE-2024-0001"],
            purl,
            None,
            false,
        ),
        (r#"{"repository":"https://github.com/example/other"}"#.into(), "qid-1", &["CVE-2024-0001"], purl, None, false),
        (r#"{"purl":"pkg:deb/debian/openssl"}"#.into(), "qid-1", &["CVE-2024-0001"], purl, None, true),
        (r#"{"purl":"pkg:deb/debian/openssl@3.0.2"}"#.into(), "qid-1", &["CVE-2024-0001"], purl, None, true),
        (r#"{"purl":"pkg:deb/debian/openssl@3.0.3"}"#.into(), "qid-1", &["CVE-2024-0001"], purl, None, false),
        (r#"{"purl":"pkg:deb/debian/openssl"}"#.into(), "qid-1", &["CVE-2024-0001"], None, None, false),
        (r#"{"path":"src/**/*.js"}"#.into(), "qid-1", &["CVE-2024-0001"], None, Some("src/lib/a/b.js"), true),
        (r#"{"path":"src/**/*.js"}"#.into(), "qid-1", &["CVE-2024-0001"], None, Some("file:///src/b.js"), true),
        (r#"{"path":"src/*.js"}"#.into(), "qid-1", &["CVE-2024-0001"], None, Some("src/lib/b.js"), false),
        (r#"{"path":"src/**/*.js"}"#.into(), "qid-1", &["CVE-2024-0001"], None, None, false),
        // Every field given must match.
        (format!(r#"{{"image":{img},"purl":"pkg:npm/left-pad"}}"#), "qid-1", &["CVE-2024-0001"], purl, None, false),
        (
            format!(r#"{{"image":{img},"purl":"pkg:deb/debian/openssl"}}"#),
            "qid-1",
            &["CVE-2024-0001"],
            purl,
            None,
            true,
        ),
    ];
    for (i, (scope, rule, cves, purl, uri, applies)) in table.iter().enumerate() {
        let ex = waivers(scope, "2026-12-31");
        let mut findings = vec![finding(rule, cves, *purl, *uri)];
        let (audit, _) = ex.apply(&mut findings, &subject(), TODAY);
        assert_eq!(findings[0].exception.is_some(), *applies, "row {i}: {scope}");
        assert_eq!(audit.applied.len(), usize::from(*applies), "row {i}");
    }
}

#[test]
fn expiry_table() {
    let scope = r#"{"purl":"pkg:deb/debian/openssl"}"#;
    // (today, applies, warns that it expires soon)
    let table = [
        (date!(2026 - 12 - 01), true, false),
        (date!(2026 - 12 - 17), true, false),
        (date!(2026 - 12 - 18), true, true),
        (date!(2026 - 12 - 31), true, true),
        (date!(2027 - 01 - 01), false, false),
        (date!(2027 - 06 - 01), false, false),
    ];
    let ex = waivers(scope, "2026-12-31");
    for (today, applies, soon) in table {
        let mut findings = vec![finding("qid-1", &["CVE-2024-0001"], Some("pkg:deb/debian/openssl@1"), None)];
        let (audit, warnings) = ex.apply(&mut findings, &subject(), today);
        assert_eq!(findings[0].exception.is_some(), applies, "{today}");
        assert_eq!(warnings.iter().any(|w| w.contains("expires on 2026-12-31")), soon, "{today}: {warnings:?}");
        assert_eq!(!audit.expired.is_empty(), !applies, "{today}");
        if !applies {
            assert!(warnings.iter().any(|w| w.contains("expired on 2026-12-31") && w.contains("count again")));
        }
    }
}

#[test]
fn expired_waiver_counts_again_in_the_verdict() {
    use crate::evaluate::{apply_exceptions, evaluate};
    use crate::policy::GatePolicy;
    let ex = waivers(r#"{"purl":"pkg:deb/debian/openssl"}"#, "2026-12-31");
    let mut f = finding("qid-1", &["CVE-2024-0001"], Some("pkg:deb/debian/openssl@1"), None);
    f.severity = Severity::Critical;
    let mut report = crate::sarif::Report { findings: vec![f], ..Default::default() };
    let gate = GatePolicy::default();
    apply_exceptions(&mut report, &gate, &ex, &subject(), date!(2026 - 12 - 31));
    let on_last_day = evaluate(&mut report.clone(), &gate, None, Default::default());
    assert!(on_last_day.verdict.passed, "{:?}", on_last_day.verdict.reasons);
    assert_eq!((on_last_day.verdict.counts.critical, on_last_day.verdict.waived.critical), (0, 1));
    let audit = on_last_day.verdict.exceptions.as_ref().expect("audit");
    assert_eq!(audit.applied[0].reference, "waivers[0]");
    assert_eq!(
        audit.documents[0].sha256,
        sha256_hex(&waivers_doc(r#"{"purl":"pkg:deb/debian/openssl"}"#, "2026-12-31"))
    );
    apply_exceptions(&mut report, &gate, &ex, &subject(), date!(2027 - 01 - 01));
    let day_after = evaluate(&mut report.clone(), &gate, None, Default::default());
    assert!(!day_after.verdict.passed);
    assert_eq!((day_after.verdict.counts.critical, day_after.verdict.waived.critical), (1, 0));
    assert_eq!(day_after.verdict.exceptions.as_ref().expect("audit").expired.len(), 1);
}

#[test]
fn document_errors_name_file_and_path() {
    let parse = |text: &str| WaiversDocument::parse(text.as_bytes(), "waivers.yaml", TODAY, 90);
    let ok = "schema: scangate.waivers.v1\nwaivers:\n  - id: CVE-2024-0001\n    scope: {image: shop/api}\n    reason: r\n    owner: o\n    expires: 2026-12-31\n";
    let doc = parse(ok).expect("YAML waivers parse");
    assert_eq!(doc.waivers[0].scope.image.as_deref(), Some("shop/api"));
    assert_eq!(doc.waivers[0].expires, date!(2026 - 12 - 31));
    let table: &[(&str, &str, &str)] = &[
        ("scope: {image: shop/api}", "scope: {}", "$.waivers[0].scope"),
        ("scope: {image: shop/api}", "scope: {branch: main}", "$.waivers[0].scope.branch"),
        ("scope: {image: shop/api}", "scope: {image: 'shop/api:1.4'}", "$.waivers[0].scope.image"),
        ("scope: {image: shop/api}", "scope: {image: shop/api, tag: x}", "$.waivers[0].scope.tag"),
        ("scope: {image: shop/api}", "scope: {purl: openssl}", "$.waivers[0].scope.purl"),
        ("    expires: 2026-12-31\n", "", "$.waivers[0].expires"),
        ("expires: 2026-12-31", "expires: 2027-03-02", "$.waivers[0].expires"),
        ("expires: 2026-12-31", "expires: 31/12/2026", "$.waivers[0].expires"),
        ("expires: 2026-12-31", "expires: 2026-12-31\n    created: 2026-01-01", "$.waivers[0].expires"),
        ("    reason: r\n", "", "$.waivers[0].reason"),
        ("    owner: o\n", "    owner: ''\n", "$.waivers[0].owner"),
        ("schema: scangate.waivers.v1", "schema: scangate.waivers.v2", "$.schema"),
        ("    scope: {image: shop/api}\n", "", "$.waivers[0].scope"),
    ];
    for (from, to, path) in table {
        let text = ok.replace(from, to);
        let e = parse(&text).expect_err(&text);
        assert_eq!(e.file, "waivers.yaml");
        assert_eq!(&e.path, path, "{text}\n{e}");
        assert!(e.to_string().starts_with(&format!("waivers.yaml: at {path}: ")), "{e}");
    }
    let e = WaiversDocument::parse(b"{\"schema\": ", "w.json", TODAY, 90).expect_err("truncated JSON");
    assert!(e.message.contains("line 1"), "{e}");
    // The policy maximum is the caller's: 30 days refuses what 90 accepts.
    assert!(WaiversDocument::parse(ok.as_bytes(), "w.yaml", TODAY, 29).is_err());
}

fn vex(product: &str, status: &str, extra: &str) -> VexDocument {
    let text = format!(
        r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"sec@example.com",
        "timestamp":"2026-11-01T00:00:00Z","statements":[{{"vulnerability":{{"name":"CVE-2024-0001"}},
        "products":[{{"@id":"{product}"}}],"status":"{status}"{extra}}}]}}"#
    );
    VexDocument::parse(text.as_bytes(), "policy/vex.json").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn vex_products_and_statuses() {
    let ours = format!("pkg:oci/api@sha256%3A{}", "a".repeat(64));
    let other = format!("sha256:{}", "b".repeat(64));
    let just = r#","justification":"vulnerable_code_not_in_execute_path""#;
    let purl = Some("pkg:deb/debian/openssl@3.0.2");
    // (product, status, extra, exempted, audited)
    let table: &[(&str, &str, &str, bool, bool)] = &[
        (&ours, "not_affected", just, true, true),
        (&other, "not_affected", just, false, false),
        (&ours, "fixed", "", true, true),
        (&ours, "affected", r#","action_statement":"upgrade""#, false, true),
        (&ours, "under_investigation", "", false, true),
        ("pkg:deb/debian/openssl", "not_affected", just, true, true),
        ("pkg:deb/debian/openssl@3.0.1", "not_affected", just, false, false),
    ];
    for (product, status, extra, exempted, audited) in table {
        let ex = Exceptions { vex: vec![vex(product, status, extra)], ..Default::default() };
        let mut findings = vec![finding("qid-1", &["CVE-2024-0001"], purl, None)];
        let (audit, _) = ex.apply(&mut findings, &subject(), TODAY);
        assert_eq!(findings[0].exception.is_some(), *exempted, "{product} {status}");
        assert_eq!(!audit.applied.is_empty(), *audited, "{product} {status}");
        if *exempted {
            let e = findings[0].exception.as_ref().expect("exception");
            assert_eq!(e.kind, ExceptionKind::Vex);
            assert_eq!(e.owner.as_deref(), Some("sec@example.com"));
        }
    }
    // not_affected needs a justification or an impact statement; errors name the path.
    let bad = br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":["sha256:ab"],"status":"not_affected"}]}"#;
    let e = VexDocument::parse(bad, "vex.json").expect_err("no justification");
    assert_eq!(e.path, "$.statements[0].justification");
    let bad = br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":["latest"],"status":"fixed"}]}"#;
    assert_eq!(VexDocument::parse(bad, "vex.json").expect_err("not a digest").path, "$.statements[0].products[0]");
}

#[test]
fn latest_vex_statement_wins_and_waiver_comes_first() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let text = format!(
        r#"{{"@context":"https://openvex.dev/ns/v0.2.0","statements":[
        {{"vulnerability":"CVE-2024-0001","products":["{digest}"],"status":"affected","timestamp":"2026-11-02T00:00:00Z"}},
        {{"vulnerability":"CVE-2024-0001","products":["{digest}"],"status":"not_affected","impact_statement":"x","timestamp":"2026-11-01T00:00:00Z"}}]}}"#
    );
    let doc = VexDocument::parse(text.as_bytes(), "vex.json").expect("parses");
    let ex = Exceptions { vex: vec![doc], ..Default::default() };
    let mut findings = vec![finding("qid-1", &["CVE-2024-0001"], None, None)];
    ex.apply(&mut findings, &subject(), TODAY);
    assert!(findings[0].exception.is_none(), "the later `affected` statement overrides the earlier not_affected");

    let mut both = waivers(r#"{"image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api"}"#, "2026-12-31");
    both.vex = ex.vex.clone();
    both.apply(&mut findings, &subject(), TODAY);
    assert_eq!(findings[0].exception.as_ref().map(|e| e.kind), Some(ExceptionKind::Waiver));
}

#[test]
fn refused_document_applies_nothing_and_says_so() {
    let ex = Exceptions {
        refused: vec!["s3://b/policy/waivers.yaml: at $.waivers[0].scope: unscoped".into()],
        ..Default::default()
    };
    let mut findings = vec![finding("qid-1", &["CVE-2024-0001"], None, None)];
    let (audit, warnings) = ex.apply(&mut findings, &subject(), TODAY);
    assert!(findings[0].exception.is_none());
    assert_eq!(audit.refused.len(), 1);
    assert!(warnings[0].contains("refused"), "{warnings:?}");
}

#[test]
fn normalizations() {
    assert_eq!(image_repository("docker.io/library/nginx:1.25@sha256:ab"), "nginx");
    assert_eq!(image_repository("registry:5000/team/app"), "registry:5000/team/app");
    assert_eq!(image_repository("registry:5000/team/app:2"), "registry:5000/team/app");
    assert_eq!(repository_url("git@github.com:Org/App.git"), "github.com/org/app");
    assert_eq!(repository_url("https://user@github.com/org/app/"), "github.com/org/app");
    assert_eq!(repository_url("ssh://git@host:2222/org/app.git"), "host:2222/org/app");
    assert!(glob_match("**/*.js", "a.js"));
    assert!(glob_match("**", "a/b/c"));
    assert!(glob_match("a/?.txt", "a/b.txt"));
    assert!(!glob_match("a/?.txt", "a//.txt"));
    assert!(!glob_match("*.js", "dir/a.js"));
}

proptest! {
    /// A waiver applies exactly through its last day, whatever the day and the expiry.
    #[test]
    fn waiver_applies_through_its_last_day(expiry_in in 0i64..=90, today_offset in -5i64..200) {
        let expires = TODAY + time::Duration::days(expiry_in);
        let text = waivers_doc(r#"{"purl":"pkg:deb/debian/openssl"}"#, &format_date(expires));
        let doc = WaiversDocument::parse(&text, "w.json", TODAY, 90).expect("within 90 days");
        let ex = Exceptions { waivers: vec![doc], ..Default::default() };
        let today = TODAY + time::Duration::days(today_offset);
        let mut findings = vec![finding("qid", &["CVE-2024-0001"], Some("pkg:deb/debian/openssl@9"), None)];
        let (audit, _) = ex.apply(&mut findings, &subject(), today);
        prop_assert_eq!(findings[0].exception.is_some(), today <= expires);
        prop_assert_eq!(audit.expired.len(), usize::from(today > expires));
    }

    /// A waiver for another vulnerability or another image never applies.
    #[test]
    fn other_id_or_image_never_applies(id in "CVE-20[0-9]{2}-[0-9]{4,5}", image in "[a-z]{1,8}/[a-z]{1,8}") {
        prop_assume!(id != "CVE-2024-0001");
        let scope = format!(r#"{{"image":"{image}"}}"#);
        let ex = waivers(&scope, "2026-12-31");
        let mut findings = vec![finding("qid", &[id.as_str()], None, None)];
        ex.apply(&mut findings, &subject(), TODAY);
        prop_assert!(findings[0].exception.is_none());
        let mut findings = vec![finding("qid", &["CVE-2024-0001"], None, None)];
        ex.apply(&mut findings, &subject(), TODAY);
        prop_assert!(findings[0].exception.is_none(), "{} is not the subject's image", image);
    }

    /// `**` at the front matches every path; a literal pattern matches only itself.
    #[test]
    fn glob_properties(path in "[a-z]{1,5}(/[a-z]{1,5}){0,4}\\.js", other in "[a-z]{1,5}") {
        prop_assert!(glob_match("**/*.js", &path));
        prop_assert!(glob_match("**", &path));
        prop_assert!(glob_match(&path, &path));
        let longer = format!("{}{}", path, other);
        prop_assert!(!glob_match(&longer, &path));
    }
}

#[test]
fn a_verified_image_keeps_only_its_own_repositorys_digests() {
    let mine = format!("registry.example/shop/web@sha256:{}", "a".repeat(64));
    let other = format!("registry.example/shop/admin@sha256:{}", "b".repeat(64));
    let target = crate::sarif::TargetInfo {
        image_name: Some("registry.example/shop/admin:1".into()),
        repo_tags: vec!["registry.example/shop/admin:1".into()],
        repo_digests: vec![mine.clone(), other],
        ..Default::default()
    };
    let s = Subject::verified_image("registry.example/shop/web:2", &target);
    assert_eq!(s.images, vec!["registry.example/shop/web:2".to_string()], "the report's own names are not taken");
    assert_eq!(s.digests, vec![format!("sha256:{}", "a".repeat(64))]);
    assert_eq!(s.digest_set(), s.digests);
    let none = Subject::verified_image("registry.example/shop/api:1", &target);
    assert!(none.digests.is_empty(), "no digest of another repository: {none:?}");
}

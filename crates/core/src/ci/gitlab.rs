//! GitLab container scanning report (`gl-container-scanning-report.json`), in the format of
//! GitLab's published security report schema 15.2.1 (`ci/gitlab/schemas/`, vendored with its
//! source and licence), which the merge request's security widget and the vulnerability report
//! read (docs/ci/gitlab.md).
//!
//! One vulnerability per security finding, worst first (the gate summary's order), up to
//! [`Limits::max_vulnerabilities`]; whatever is left out is said in the report itself (a `warn`
//! entry in `scan.messages`) and in [`Rendered::trimmed`]. Every string from the report goes
//! through the one sanitizer (crate::text: one line; descriptions and solutions, which GitLab
//! renders as Markdown, in its Markdown form, so no link, image or HTML forms from report text)
//! and is cut to the schema's bound; a link that the schema's URL pattern would refuse is left
//! out. A hostile report can neither make GitLab reject the whole file nor plant a link in it.

use crate::finding::{Finding, FindingClass, Scanner};
use crate::severity::Severity;
use crate::text::{display_line, markdown_inline, truncate_chars};
use serde_json::{json, Map, Value};

/// The schema version the report declares and is validated against.
pub const SCHEMA_VERSION: &str = "15.2.1";
/// Where GitLab publishes that schema.
pub const SCHEMA_URL: &str = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.2.1/dist/container-scanning-report-format.json";

/// The bounds of a rendered report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Vulnerabilities per report.
    pub max_vulnerabilities: usize,
    /// Characters of a vulnerability's description (the schema allows 1 MiB; a long advisory
    /// text adds nothing the link does not).
    pub max_description_chars: usize,
}

/// scangate's bounds: the worst 5 000 findings (the number GitHub code scanning shows too), and
/// descriptions of at most 16 000 characters.
pub const DEFAULT: Limits = Limits { max_vulnerabilities: 5_000, max_description_chars: 16_000 };

/// The schema's own bounds on strings.
const MAX_NAME_CHARS: usize = 255;
const MAX_SOLUTION_CHARS: usize = 7_000;

/// What the scan was: the tool that produced the findings, the times and whether it completed.
#[derive(Clone, Debug)]
pub struct ScanInfo<'a> {
    /// The scanner named in the report (`QScanner`, `Trivy`, …).
    pub scanner: &'a Scanner,
    /// scangate's version (the analyzer that turned the scanner's report into this one).
    pub analyzer_version: &'a str,
    pub start_time: time::OffsetDateTime,
    pub end_time: time::OffsetDateTime,
    /// False when the scanner said the scan did not complete: GitLab shows the scan as failed.
    pub completed: bool,
}

/// What the report left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trimmed {
    pub total: usize,
    pub kept: usize,
}

impl Trimmed {
    /// The note the report and the job log carry.
    pub fn note(&self) -> String {
        format!(
            "scangate kept the {} worst of {} findings in this GitLab security report; every finding is in \
             Security Hub and the scangate summary",
            self.kept, self.total
        )
    }
}

/// A rendered report.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub report: Value,
    pub trimmed: Option<Trimmed>,
}

/// Report text shown as plain text: one line, sanitized, at most `max` characters.
fn line(s: &str, max: usize) -> String {
    truncate_chars(&display_line(s), max).into_owned()
}

/// Report text that GitLab renders as Markdown: the sanitizer's Markdown form, at most `max`
/// characters (cut after escaping, so the bound holds).
fn markdown(s: &str, max: usize) -> String {
    truncate_chars(&markdown_inline(s), max).into_owned()
}

/// Identifier values and names: one line, at most 1 000 characters.
const MAX_ID_CHARS: usize = 1_000;

/// A URL the schema's `^(https?|ftp)://.+` accepts and that carries no whitespace, control or
/// invisible character, else nothing.
fn schema_url(u: &str) -> Option<&str> {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://")).or_else(|| u.strip_prefix("ftp://"))?;
    let clean = !u.chars().any(|c| c.is_whitespace() || crate::text::is_unsafe_char(c));
    (!rest.is_empty() && clean).then_some(u)
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Informational => "Info",
    }
}

fn is_cve(id: &str) -> bool {
    let mut parts = id.splitn(3, '-');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(c), Some(y), Some(n)) if c.eq_ignore_ascii_case("cve")
            && y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())
            && n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit())
    )
}

fn cve_identifier(cve: &str) -> Value {
    // is_cve has checked it is ASCII letters, digits and dashes.
    let cve = cve.to_ascii_uppercase();
    json!({ "type": "cve", "name": cve, "value": cve, "url": format!("https://nvd.nist.gov/vuln/detail/{cve}") })
}

/// The scanner's rule first (GitLab's primary identifier, stable across scans), then each CVE.
/// A Qualys rule (`qid-376157`, or a bare number from QScanner) is a `qid`; a rule that is a CVE
/// is a `cve`; anything else is the scanner's own rule.
fn identifiers(f: &Finding, qualys: bool) -> Vec<Value> {
    let rule = f.rule_id.trim();
    let rule = if rule.is_empty() { f.id.as_str() } else { rule };
    let mut out = Vec::with_capacity(1 + f.cves.len());
    let qid = rule.strip_prefix("qid-").or_else(|| rule.strip_prefix("QID-")).unwrap_or(rule);
    if is_cve(rule) {
        out.push(cve_identifier(rule));
    } else if qualys && !qid.is_empty() && qid.bytes().all(|b| b.is_ascii_digit()) {
        out.push(json!({
            "type": "qid",
            "name": format!("QID {qid}"),
            "value": qid,
            "url": format!("https://qualysguard.qualys.com/qids/{qid}"),
        }));
    } else {
        let rule = line(rule, MAX_ID_CHARS);
        let mut id = json!({ "type": "scanner_rule", "name": rule, "value": rule });
        if let Some(u) = f.help_uri.as_deref().and_then(schema_url) {
            id["url"] = json!(u);
        }
        out.push(id);
    }
    for cve in f.cves.iter() {
        if is_cve(cve) && !cve.eq_ignore_ascii_case(rule) {
            out.push(cve_identifier(cve));
        }
    }
    out
}

/// The operating system of a package, from its package URL's `distro` qualifier (`debian-11`)
/// or its OS namespace (`pkg:apk/alpine/…`), else `unknown`: the schema requires one.
fn operating_system(f: &Finding) -> String {
    let Some(purl) = f.package.as_ref().and_then(|p| p.purl.as_deref()) else {
        return "unknown".into();
    };
    if let Some((_, q)) = purl.split_once('?') {
        for pair in q.split('&') {
            if let Some(d) = pair.strip_prefix("distro=").filter(|d| !d.is_empty()) {
                return line(d, 100);
            }
        }
    }
    let rest = purl.strip_prefix("pkg:").unwrap_or("");
    let mut parts = rest.split('/');
    match (parts.next(), parts.next()) {
        (Some("deb" | "rpm" | "apk" | "alpm"), Some(ns)) if !ns.is_empty() && !ns.contains('@') => line(ns, 100),
        _ => "unknown".into(),
    }
}

fn vulnerability(f: &Finding, image: &str, qualys: bool, limits: &Limits) -> Value {
    let (package, version) = match &f.package {
        Some(p) => (line(&p.name, MAX_ID_CHARS), line(p.installed_version.as_deref().unwrap_or(""), MAX_ID_CHARS)),
        // A finding without a package (a secret, a misconfiguration) is located by its file.
        None => (
            line(
                f.location.as_ref().map(|l| l.uri.as_str()).filter(|u| !u.is_empty()).unwrap_or(&f.rule_id),
                MAX_ID_CHARS,
            ),
            String::new(),
        ),
    };
    let description = if f.description.is_empty() { &f.title } else { &f.description };
    let mut v = json!({
        "id": f.id,
        "name": line(&f.title, MAX_NAME_CHARS),
        "description": markdown(description, limits.max_description_chars),
        "severity": severity(f.severity),
        "identifiers": identifiers(f, qualys),
        "location": {
            "dependency": { "package": { "name": package }, "version": version },
            "operating_system": operating_system(f),
            "image": image,
        },
    });
    if let Some(p) = &f.package {
        if let Some(fixed) = p.fixed_version.as_deref().filter(|v| !v.is_empty()) {
            let from = p.installed_version.as_deref().map(|v| format!(" from {v}")).unwrap_or_default();
            v["solution"] =
                json!(markdown(&format!("Upgrade {}{from} to {fixed} or later.", p.name), MAX_SOLUTION_CHARS));
        }
    }
    if let Some(u) = f.help_uri.as_deref().and_then(schema_url) {
        v["links"] = json!([{ "url": u }]);
    }
    v
}

/// `yyyy-mm-ddThh:mm:ss` in UTC, the schema's time format.
fn gitlab_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year().clamp(0, 9999),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A lowercase id for the scanner (`qscanner`): its name's ASCII letters, digits, `-` and `_`.
fn scanner_id(name: &str) -> String {
    let id: String = name
        .chars()
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_ascii_lowercase())
            } else if c == ' ' {
                Some('-')
            } else {
                None
            }
        })
        .take(64)
        .collect();
    if id.is_empty() {
        "unknown".into()
    } else {
        id
    }
}

fn is_qualys(s: &Scanner) -> bool {
    let n = s.name.to_ascii_lowercase();
    n.contains("qscanner") || n.contains("qualys")
}

/// Renders the security findings of one scanned target (quality findings stay out, as in
/// code scanning) as a GitLab container scanning report. `image` is the scanned target, which
/// GitLab shows as the image (a repository scan names the repository there).
pub fn render(findings: &[Finding], image: &str, scan: &ScanInfo<'_>, limits: &Limits) -> Rendered {
    let mut sorted: Vec<&Finding> = findings.iter().filter(|f| f.class == FindingClass::Security).collect();
    sorted.sort_by(|a, b| Finding::worst_first(a, b));
    let total = sorted.len();
    let kept = total.min(limits.max_vulnerabilities);
    let image = if image.trim().is_empty() { "target" } else { image };
    let image = line(image, 1000);
    let qualys = is_qualys(scan.scanner);
    let vulnerabilities: Vec<Value> = sorted[..kept].iter().map(|f| vulnerability(f, &image, qualys, limits)).collect();
    let trimmed = (kept < total).then_some(Trimmed { total, kept });

    let scanner_name = if scan.scanner.name.trim().is_empty() { "unknown" } else { scan.scanner.name.as_str() };
    let scanner_version = scan.scanner.version.as_deref().filter(|v| !v.trim().is_empty()).unwrap_or("unknown");
    let vendor = if qualys { "Qualys" } else { scanner_name };
    let analyzer_version = if scan.analyzer_version.is_empty() { "unknown" } else { scan.analyzer_version };
    let mut scan_obj = Map::new();
    scan_obj.insert(
        "analyzer".into(),
        json!({ "id": "scangate", "name": "scangate", "version": analyzer_version, "vendor": { "name": "scangate" } }),
    );
    scan_obj.insert(
        "scanner".into(),
        json!({
            "id": scanner_id(scanner_name),
            "name": line(scanner_name, MAX_NAME_CHARS),
            "version": line(scanner_version, 100),
            "vendor": { "name": line(vendor, MAX_NAME_CHARS) },
        }),
    );
    scan_obj.insert("type".into(), json!("container_scanning"));
    scan_obj.insert("start_time".into(), json!(gitlab_time(scan.start_time)));
    scan_obj.insert("end_time".into(), json!(gitlab_time(scan.end_time)));
    scan_obj.insert("status".into(), json!(if scan.completed { "success" } else { "failure" }));
    if let Some(t) = &trimmed {
        scan_obj.insert("messages".into(), json!([{ "level": "warn", "value": t.note() }]));
    }
    let mut report = json!({
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URL,
        "scan": Value::Object(scan_obj),
        "vulnerabilities": vulnerabilities,
    });
    // The same bytes whichever serde_json features the build unifies.
    report.sort_all_objects();
    Rendered { report, trimmed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_the_schema_accepts() {
        assert_eq!(schema_url("https://x.example/a"), Some("https://x.example/a"));
        assert_eq!(schema_url("ftp://h"), Some("ftp://h"));
        assert_eq!(schema_url("https://"), None);
        assert_eq!(schema_url("javascript:alert(1)"), None);
        assert_eq!(schema_url("file:///etc/passwd"), None);
        assert_eq!(schema_url("https://a.example/\u{1b}]8;;x"), None);
        assert_eq!(schema_url("https://a.example/ b"), None);
    }

    #[test]
    fn cves_are_recognised_strictly() {
        assert!(is_cve("CVE-2021-44228"));
        assert!(is_cve("cve-2021-1234"));
        assert!(!is_cve("CVE-21-44228"));
        assert!(!is_cve("CVE-2021-12"));
        assert!(!is_cve("GHSA-xxxx-yyyy-zzzz"));
    }

    #[test]
    fn times_are_second_precision_utc() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_767_225_600)
            .expect("valid") // 2026-01-01T00:00:00Z
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).expect("offset"));
        assert_eq!(gitlab_time(t), "2026-01-01T00:00:00");
    }

    #[test]
    fn scanner_ids_are_slugs() {
        assert_eq!(scanner_id("QScanner"), "qscanner");
        assert_eq!(scanner_id("Snyk Open Source"), "snyk-open-source");
        assert_eq!(scanner_id("\u{202e}"), "unknown");
    }
}

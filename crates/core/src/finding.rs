//! The normalized finding: one per (scanner, rule, affected package or location) after dedup.

use crate::severity::{Severity, SeveritySource};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The tool that produced a finding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scanner {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What a finding is about; drives the ASFF `Types` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A known vulnerability (CVE or advisory) in a package.
    Vulnerability,
    /// A secret or credential found in a file.
    Secret,
    /// A licence policy violation.
    License,
    /// An infrastructure-as-code or configuration check.
    Misconfiguration,
    /// A code-quality or static-analysis result.
    Code,
}

/// Whether a finding is about security or about code quality (README, "How findings are
/// counted"). Security findings count against the thresholds and go to Security Hub; quality
/// findings are counted apart and follow `QUALITY_FINDINGS` (`gate`, `report`, `ignore`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingClass {
    /// The rule or result has a `security-severity` or a Qualys severity, a `security` tag,
    /// the finding is a vulnerability or a secret, or the tool is a security scanner by
    /// construction.
    #[default]
    Security,
    /// Anything else: a linter's style, correctness or duplication result.
    Quality,
}

/// An affected package.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Package URL, when the scanner gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// Where in the scanned artifact a finding was found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_line: Option<u64>,
}

/// One normalized, deduplicated finding.
///
/// A report holds one per distinct finding, so it is kept small: what comes from the rule (its
/// texts, tags and CVEs) and the scanner are shared between the findings of one rule or run
/// (`Arc`: serialized exactly like the plain values), the rarely present package is boxed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id: see [`finding_id`]. 64 lowercase hex characters.
    pub id: String,
    /// Shared with the other findings of its rule when the result names the rule's own id.
    pub rule_id: Arc<str>,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub severity_source: SeveritySource,
    /// The severity value as the report wrote it (`5`, `9.8`, `error`); the reader shares equal
    /// values between findings.
    pub severity_original: Arc<str>,
    pub kind: FindingKind,
    /// Security or code quality; findings written before the field existed read as security.
    #[serde(default)]
    pub class: FindingClass,
    /// CVE ids, upper case, deduplicated, in report order. Shared with the other findings of
    /// its rule when the result adds none.
    pub cves: Arc<[String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<Arc<str>>,
    /// Boxed: most findings of a linter or a SAST tool have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<Box<Package>>,
    /// Container image layer digest, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<Arc<str>>,
    /// Remediation or help text from the rule (shared by its findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_text: Option<Arc<str>>,
    /// The rule's tags, then the result's; shared with the other findings of its rule when the
    /// result adds none.
    pub tags: Arc<[String]>,
    /// Shared by the findings of a run.
    pub scanner: Arc<Scanner>,
    /// Qualys Detection Score (0–100), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qds: Option<f64>,
    /// The result's first fingerprint or partial fingerprint, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// How many SARIF results collapsed into this finding.
    pub occurrences: u32,
    /// The waiver or VEX statement that takes this finding out of the counts, set by
    /// [`crate::waivers::Exceptions::apply`]; the reader leaves it empty. A finding with an
    /// exception stays in Security Hub, with the exception in its ProductFields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Box<crate::waivers::Exception>>,
    /// What the result's SARIF `suppressions` said (kinds, justification), when it had any
    /// accepted ones; whether `HONOR_SUPPRESSIONS` honoured them is set by
    /// [`crate::suppression::apply`]. Shown in Security Hub either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Box<crate::suppression::Suppression>>,
}

/// What identifies a finding across scans of the same target.
///
/// The key is (scanner name, rule id, affected thing) where the affected thing is
/// the package (name and installed version) when there is one, else the location
/// (uri and line), else the fingerprint, else the message. It does not include the
/// scanner version, so an upgraded scanner does not re-create every finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey(pub String);

/// Appends the text of a [`DedupKey`] to `out`: `scanner␟rule␟affected`, where the affected
/// thing is `pkg␟name␟version`, else `loc␟uri␟line`, else `fp␟fingerprint`, else
/// `msg␟message` (␟ is U+001F, the unit separator, so no field can forge another's
/// boundary). The reader calls it once per result into a reused buffer.
pub(crate) fn write_dedup_key(
    out: &mut String,
    scanner: &str,
    rule_id: &str,
    package: Option<&Package>,
    location: Option<&Location>,
    fingerprint: Option<&str>,
    message: &str,
) {
    const SEP: char = '\u{1f}';
    out.push_str(scanner);
    out.push(SEP);
    out.push_str(rule_id);
    out.push(SEP);
    if let Some(p) = package {
        out.push_str("pkg");
        out.push(SEP);
        out.push_str(&p.name);
        out.push(SEP);
        out.push_str(p.installed_version.as_deref().unwrap_or(""));
    } else if let Some(l) = location {
        out.push_str("loc");
        out.push(SEP);
        out.push_str(&l.uri);
        out.push(SEP);
        if let Some(n) = l.start_line {
            use std::fmt::Write;
            // Writing into a String cannot fail.
            let _ = write!(out, "{n}");
        }
    } else if let Some(fp) = fingerprint {
        out.push_str("fp");
        out.push(SEP);
        out.push_str(fp);
    } else {
        out.push_str("msg");
        out.push(SEP);
        out.push_str(message);
    }
}

impl DedupKey {
    #[cfg(test)]
    fn new(
        scanner: &str,
        rule_id: &str,
        package: Option<&Package>,
        location: Option<&Location>,
        fingerprint: Option<&str>,
        message: &str,
    ) -> DedupKey {
        let mut key = String::new();
        write_dedup_key(&mut key, scanner, rule_id, package, location, fingerprint, message);
        DedupKey(key)
    }

    /// The stable finding id: SHA-256 of the key, hex.
    pub fn finding_id(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// The plain finding core's own tests build theirs from (`Finding { title: …, ..Finding::plain(…) }`),
/// so that a new field is added here once rather than in every test's literal. (Tests outside
/// the crate have `scangate_testkit::findings::finding`.)
#[cfg(test)]
impl Finding {
    /// Finding `id` of `severity`: a code finding of rule `id`, title and description `id`,
    /// severity from a SARIF level (`error`), scanner `t`, one occurrence, nothing optional set.
    pub(crate) fn plain(id: &str, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            rule_id: id.into(),
            title: id.into(),
            description: id.into(),
            severity,
            severity_source: SeveritySource::Level,
            severity_original: "error".into(),
            kind: FindingKind::Code,
            class: FindingClass::default(),
            cves: Vec::new().into(),
            cvss_score: None,
            cvss_vector: None,
            package: None,
            layer: None,
            location: None,
            help_uri: None,
            help_text: None,
            tags: Vec::new().into(),
            scanner: Scanner { name: "t".into(), version: None }.into(),
            qds: None,
            fingerprint: None,
            occurrences: 1,
            exception: None,
            suppression: None,
        }
    }
}

impl Finding {
    /// Whether a fix is available, as the ASFF `FixAvailable` says: `Some(true)` for an
    /// affected package with a fixed version, `Some(false)` for one without, `None` when the
    /// finding is not about a package (a secret, a misconfiguration, a code result: fixed by
    /// changing the code, so `FAIL_ONLY_FIXABLE` still counts it).
    pub fn fix_available(&self) -> Option<bool> {
        let p = self.package.as_ref().filter(|p| !p.name.trim().is_empty())?;
        Some(p.fixed_version.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }

    /// Orders findings worst first: severity, then CVSS score, then id (stable).
    pub fn worst_first(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.cvss_score.unwrap_or(-1.0).total_cmp(&a.cvss_score.unwrap_or(-1.0)))
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.id.cmp(&b.id))
    }

    /// Sorts `findings` by [`Finding::worst_first`], stably: the same order as
    /// `findings.sort_by(Finding::worst_first)`, but the sort moves 4-byte indices rather than
    /// the findings (a few hundred bytes each), and each finding is then moved once.
    pub fn sort_worst_first(findings: &mut [Finding]) {
        let Ok(n) = u32::try_from(findings.len()) else {
            findings.sort_by(Finding::worst_first);
            return;
        };
        let mut order: Vec<u32> = (0..n).collect();
        order.sort_by(|&a, &b| Finding::worst_first(&findings[a as usize], &findings[b as usize]));
        // Position j takes the finding that was at order[j]: each cycle of the permutation is
        // followed once, with swaps; a done position points at itself.
        for i in 0..findings.len() {
            let mut j = i;
            loop {
                let k = order[j] as usize;
                order[j] = j as u32;
                if k == i {
                    break;
                }
                findings.swap(j, k);
                j = k;
            }
        }
    }

    /// A short name of what is affected: `openssl 3.0.2`, `src/app.js:12`, or the rule.
    pub fn affected(&self) -> String {
        if let Some(p) = &self.package {
            match &p.installed_version {
                Some(v) => [p.name.as_str(), " ", v].concat(),
                None => p.name.clone(),
            }
        } else if let Some(l) = &self.location {
            match l.start_line {
                Some(n) => format!("{}:{}", l.uri, n),
                None => l.uri.clone(),
            }
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranked(severity: u8, cvss: Option<u8>, rule: u8, id: u8, title: usize) -> Finding {
        let severity = [Severity::Informational, Severity::Low, Severity::Medium, Severity::High, Severity::Critical]
            [usize::from(severity % 5)];
        Finding {
            rule_id: format!("rule-{rule}").into(),
            title: title.to_string(),
            description: String::new(),
            severity_original: "".into(),
            cvss_score: cvss.map(|c| f64::from(c) / 2.0),
            scanner: Scanner::default().into(),
            ..Finding::plain(&format!("id-{id}"), severity)
        }
    }

    proptest! {
        /// Few distinct keys, so ties are common: the titles (all distinct) show that ties
        /// keep their order as in the standard library's stable sort.
        #[test]
        fn sort_worst_first_is_the_stable_sort(
            keys in prop::collection::vec((0u8..5, prop::option::of(0u8..3), 0u8..3, 0u8..3), 0..80),
        ) {
            let findings: Vec<Finding> =
                keys.iter().enumerate().map(|(i, &(s, c, r, id))| ranked(s, c, r, id, i)).collect();
            let mut expected = findings.clone();
            expected.sort_by(Finding::worst_first);
            let mut ours = findings;
            Finding::sort_worst_first(&mut ours);
            let titles = |v: &[Finding]| v.iter().map(|f| f.title.clone()).collect::<Vec<_>>();
            prop_assert_eq!(titles(&ours), titles(&expected));
        }
    }

    #[test]
    fn key_prefers_package_then_location() {
        let pkg = Package { name: "openssl".into(), installed_version: Some("3.0.2".into()), ..Default::default() };
        let loc = Location { uri: "a.txt".into(), start_line: Some(3) };
        let a = DedupKey::new("QScanner", "qid-1", Some(&pkg), Some(&loc), None, "m1");
        let b = DedupKey::new("QScanner", "qid-1", Some(&pkg), None, Some("fp"), "m2");
        assert_eq!(a, b, "package identity wins over location and message");
        let c = DedupKey::new("QScanner", "qid-1", None, Some(&loc), None, "m1");
        assert_ne!(a, c);
        assert_eq!(a.finding_id().len(), 64);
    }

    #[test]
    fn key_text_per_branch_is_fixed() {
        // Finding ids are the SHA-256 of this text: a change here re-creates every finding
        // in Security Hub, so the exact text of each branch is pinned.
        let pkg = Package { name: "openssl".into(), installed_version: Some("3.0.2".into()), ..Default::default() };
        let unversioned = Package { name: "zlib".into(), installed_version: None, ..Default::default() };
        let loc = Location { uri: "a/b.c".into(), start_line: Some(12) };
        let no_line = Location { uri: "é".into(), start_line: None };
        type Case<'a> = (Option<&'a Package>, Option<&'a Location>, Option<&'a str>, &'a str);
        let cases: [Case; 6] = [
            (Some(&pkg), Some(&loc), Some("fp:1"), "QScanner\u{1f}qid-1\u{1f}pkg\u{1f}openssl\u{1f}3.0.2"),
            (Some(&unversioned), None, None, "QScanner\u{1f}qid-1\u{1f}pkg\u{1f}zlib\u{1f}"),
            (None, Some(&loc), Some("fp:1"), "QScanner\u{1f}qid-1\u{1f}loc\u{1f}a/b.c\u{1f}12"),
            (None, Some(&no_line), None, "QScanner\u{1f}qid-1\u{1f}loc\u{1f}é\u{1f}"),
            (None, None, Some("fp:1"), "QScanner\u{1f}qid-1\u{1f}fp\u{1f}fp:1"),
            (None, None, None, "QScanner\u{1f}qid-1\u{1f}msg\u{1f}message\nwith lines"),
        ];
        for (package, location, fingerprint, expected) in cases {
            let key = DedupKey::new("QScanner", "qid-1", package, location, fingerprint, "message\nwith lines");
            assert_eq!(key.0, expected);
            // Appending into a reused buffer (the reader's path) gives the same text.
            let mut reused = String::from("stale");
            reused.clear();
            write_dedup_key(&mut reused, "QScanner", "qid-1", package, location, fingerprint, "message\nwith lines");
            assert_eq!(reused, expected);
        }
    }

    #[test]
    fn key_fields_cannot_forge_boundaries() {
        let a = DedupKey::new("s", "r", None, Some(&Location { uri: "x".into(), start_line: Some(12) }), None, "");
        let b =
            DedupKey::new("s", "r", None, Some(&Location { uri: "x\u{1f}1".into(), start_line: Some(2) }), None, "");
        assert_ne!(a.finding_id(), b.finding_id());
    }
}

//! The plain finding the tests build theirs from (`Finding { rule_id: …, ..finding(…) }`), so a
//! new field of [`Finding`] is added here once rather than in every test's builder.

use scangate_core::finding::{Finding, FindingClass, FindingKind, Scanner};
use scangate_core::severity::{Severity, SeveritySource};

/// A security finding `id` of `kind` and `severity` from QScanner 4.2.0, with rule `rule-<id>`,
/// title `Title of <id>`, description `Description of <id>`, severity from a SARIF level
/// (`error`), one occurrence, and nothing optional set.
pub fn finding(id: &str, severity: Severity, kind: FindingKind) -> Finding {
    Finding {
        id: id.into(),
        rule_id: format!("rule-{id}").into(),
        title: format!("Title of {id}"),
        description: format!("Description of {id}"),
        severity,
        severity_source: SeveritySource::Level,
        severity_original: "error".into(),
        kind,
        class: FindingClass::Security,
        cves: Default::default(),
        cvss_score: None,
        cvss_vector: None,
        package: None,
        layer: None,
        location: None,
        help_uri: None,
        help_text: None,
        tags: Default::default(),
        scanner: Scanner { name: "QScanner".into(), version: Some("4.2.0".into()) }.into(),
        qds: None,
        fingerprint: None,
        occurrences: 1,
        exception: None,
        suppression: None,
    }
}

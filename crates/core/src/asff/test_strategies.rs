//! Proptest strategies for arbitrary findings and contexts, shared by the size-bound
//! test (budget.rs) and the array-writer tests (writer.rs).

use super::AsffContext;
use crate::finding::{Finding, FindingKind, Location, Package, Scanner};
use crate::lifecycle::{LifecycleKey, ScanType};
use crate::severity::{Severity, SeveritySource};
use proptest::prelude::*;

/// Text that JSON escapes heavily (controls become `\u00XX`, six bytes each), multi-byte
/// characters, plain words, blanks, and now and then something long enough to hit a cap.
fn text() -> BoxedStrategy<String> {
    let escaped = prop_oneof![(0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('a')), Just('"'), Just('\\')];
    let any_char = prop_oneof![
        4 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('a')),
        1 => Just('é'),
        1 => Just('😀'),
        1 => Just('a'),
    ];
    // Controls JSON writes as `\u00XX` (six bytes), not \b \t \n \f \r.
    let six_fold = prop_oneof![0u32..8, Just(11u32), 14u32..0x20].prop_map(|c| char::from_u32(c).unwrap_or('a'));
    prop_oneof![
        4 => prop::collection::vec(escaped, 0..64).prop_map(String::from_iter),
        3 => "\\PC{0,40}",
        2 => "[a-z0-9 ./:-]{0,20}",
        1 => Just(String::new()),
        1 => prop::collection::vec(any_char, 1000..3000).prop_map(String::from_iter),
        1 => prop::collection::vec(six_fold, 1000..3000).prop_map(String::from_iter),
    ]
    .boxed()
}

fn opt_text() -> BoxedStrategy<Option<String>> {
    prop::option::of(text()).boxed()
}

fn url() -> impl Strategy<Value = Option<String>> {
    prop_oneof![text().prop_map(Some), "https://[a-z]{1,12}\\.example/[!-~]{0,300}".prop_map(Some), Just(None)]
}

pub(super) fn finding() -> BoxedStrategy<Finding> {
    (
        (text(), text(), text(), text(), text(), 0usize..5, 0usize..3, 0usize..5),
        (
            prop::collection::vec(prop_oneof![text(), "CVE-20[0-9]{2}-[0-9]{4,7}"], 0..120),
            prop::option::of(prop_oneof![0.0f64..=10.0, Just(f64::NAN), Just(1e300)]),
            opt_text(),
            prop::option::of((
                text(),
                opt_text(),
                opt_text(),
                prop_oneof![opt_text(), Just(Some("pkg:npm/x@1".into()))],
            )),
            opt_text(),
            prop::option::of((text(), prop::option::of(any::<u64>()))),
            url(),
            opt_text(),
        ),
        (prop::collection::vec(text(), 0..8), text(), opt_text(), prop::option::of(any::<f64>()), 0u32..100_000),
    )
        .prop_map(|(a, b, c)| {
            let (id, rule_id, title, description, severity_original, sev, source, kind) = a;
            let (cves, cvss_score, cvss_vector, package, layer, location, help_uri, help_text) = b;
            let (tags, scanner_name, scanner_version, qds, occurrences) = c;
            Finding {
                id,
                rule_id: rule_id.into(),
                title,
                description,
                severity: Severity::ALL_DESC[sev],
                severity_source: [SeveritySource::Qualys, SeveritySource::SecuritySeverity, SeveritySource::Level]
                    [source],
                severity_original: severity_original.into(),
                kind: [
                    FindingKind::Vulnerability,
                    FindingKind::Secret,
                    FindingKind::License,
                    FindingKind::Misconfiguration,
                    FindingKind::Code,
                ][kind],
                class: Default::default(),
                cves: cves.into(),
                cvss_score,
                cvss_vector: cvss_vector.map(Into::into),
                package: package.map(|(name, installed_version, fixed_version, purl)| {
                    Box::new(Package { name, installed_version, fixed_version, purl })
                }),
                layer,
                location: location.map(|(uri, start_line)| Location { uri, start_line }),
                help_uri: help_uri.map(Into::into),
                help_text: help_text.map(Into::into),
                tags: tags.into(),
                scanner: Scanner { name: scanner_name, version: scanner_version }.into(),
                qds,
                fingerprint: None,
                occurrences,

                exception: None,
                suppression: None,
            }
        })
        .boxed()
}

pub(super) fn context() -> BoxedStrategy<AsffContext> {
    (
        0usize..4,
        prop_oneof![
            text(),
            "[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]{1,12}\\.amazonaws\\.com/[!-~]{1,200}(:[a-z0-9.]{1,10})?(@sha256:[0-9a-f]{1,64})?"
        ],
        opt_text(),
        opt_text(),
        opt_text(),
        text(),
    )
        .prop_map(|(scan_type, target, project, build_arn, report_uri, identity)| {
            let scan_type = [ScanType::Image, ScanType::Repo, ScanType::Rootfs, ScanType::Other][scan_type];
            AsffContext {
                account_id: "123456789012".into(),
                region: "eu-west-1".into(),
                partition: "aws".into(),
                scan_type,
                target,
                lifecycle: LifecycleKey::new("123456789012", "eu-west-1", scan_type, &identity),
                codebuild_project: project,
                build_arn,
                updated_at: "2026-01-31T12:00:00Z".into(),
                created_at: None,
                report_uri,
                host: None,
            }
        })
        .boxed()
}

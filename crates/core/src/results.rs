//! A report's results texts, `junit.xml` and `summary.md`, over findings read one at a time
//! (a report whose findings are not all in memory): one read of the findings selects both the
//! JUnit's worst gate-breaking findings and the summary's worst findings.

use crate::finding::Finding;
use crate::policy::{Evaluation, GatePolicy};
use crate::source::{FindingSource, SourceError};
use crate::verdict::Verdict;
use crate::{junit, summary, worst};
use std::convert::Infallible;

/// [`junit::to_junit_from`] and [`summary::markdown_from`] (`worst` rows) in one read of
/// `findings`: the same bytes as each; at most [`junit::MAX_CASES`] and
/// [`summary::MAX_WORST_ROWS`] findings are held.
pub fn junit_and_summary_from(
    verdict: &Verdict,
    evaluation: &Evaluation,
    findings: &dyn FindingSource,
    gate: &GatePolicy,
    worst: usize,
) -> Result<(String, String), SourceError> {
    let cases = junit::Cases::new(verdict, evaluation, gate);
    let (total, rows) = (findings.len(), summary::rows(worst, findings.len()));
    let breaks = |f: &Finding| cases.breaks(f);
    let (breaking, table) = worst::two_in_source(findings, (cases.room(), &breaks), (rows, &|_| true))?;
    let junit = cases.finish(breaking);
    let Ok(summary) = summary::render(verdict, rows, total, || Ok::<_, Infallible>(table));
    Ok((junit, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::evaluate;
    use crate::finding::Package;
    use crate::policy::Thresholds;
    use crate::sarif::Report;
    use crate::severity::Severity;
    use crate::source::Chain;
    use crate::verdict::VerdictInput;
    use crate::waivers::{Exception, ExceptionKind};
    use proptest::prelude::*;
    use std::borrow::Cow;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// A source that counts its reads: whole passes and findings got by position.
    struct Counted<'a>(&'a dyn FindingSource, AtomicUsize, AtomicUsize);

    impl FindingSource for Counted<'_> {
        fn len(&self) -> usize {
            self.0.len()
        }

        fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError> {
            self.2.fetch_add(1, Relaxed);
            self.0.get(i)
        }

        fn for_each_finding(&self, f: &mut dyn FnMut(usize, &Finding)) -> Result<(), SourceError> {
            self.1.fetch_add(1, Relaxed);
            self.0.for_each_finding(f)
        }
    }

    prop_compose! {
        fn finding()(severity in 0usize..5, score in prop_oneof![Just(None), (0u8..4).prop_map(|s| Some(f64::from(s) * 3.0))],
                     rule in 0usize..4, waived in any::<bool>(), package in 0usize..3) -> Finding {
            let mut f = Finding::plain("x", Severity::ALL_DESC[severity]);
            f.cvss_score = score;
            f.rule_id = format!("rule-{rule}").into();
            f.package = (package > 0).then(|| Box::new(Package {
                name: "openssl".into(),
                installed_version: Some("3.0.2".into()),
                fixed_version: (package == 2).then(|| "3.0.3".into()),
                purl: None,
            }));
            if waived {
                f.exception = Some(Box::new(Exception {
                    kind: ExceptionKind::Waiver,
                    reference: "waivers[0]".into(),
                    id: f.rule_id.to_string(),
                    reason: "r".into(),
                    owner: None,
                    expires: None,
                    status: None,
                    document_sha256: "0".repeat(64),
                }));
            }
            f
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// One read gives the bytes of JUnit and the summary from memory, with fewer and more
        /// gate-breaking findings than JUnit's cases and summary rows, waived findings and
        /// FAIL_ONLY_FIXABLE; the source is read once, in order, none by position.
        #[test]
        fn one_read_gives_the_junit_and_summary_of_memory(
            findings in proptest::collection::vec(finding(), 0..40),
            copies in prop_oneof![Just(1usize), Just(30)],
            split in 0usize..1200,
            max in proptest::collection::vec(-1i64..3, 4),
            fixable_only in any::<bool>(),
            worst in prop_oneof![Just(0usize), Just(1), Just(20), Just(600)],
        ) {
            // Up to 1 200 findings: more than JUnit's 500 cases break the gate.
            let findings: Vec<Finding> = (0..copies)
                .flat_map(|c| findings.iter().enumerate().map(move |(i, f)| (c, i, f)))
                .map(|(c, i, f)| {
                    let mut f = f.clone();
                    f.id = format!("f{c}-{i}");
                    f.title = format!("finding {c} {i}");
                    f
                })
                .collect();
            let thresholds = Thresholds { max_critical: max[0], max_high: max[1], max_medium: max[2], max_low: max[3] };
            let gate = GatePolicy { thresholds, fixable_only, ..GatePolicy::default() };
            let mut report = Report { findings, ..Report::default() };
            let input = VerdictInput { processed_at: "2026-12-01T10:00:00Z".into(), ..VerdictInput::default() };
            let e = evaluate(&mut report, &gate, None, input);
            let findings = report.findings;
            let (a, b) = findings.split_at(split.min(findings.len()));
            let (a, b) = (a.to_vec(), b.to_vec());
            let chain = Chain(&a, &b);
            let counted = Counted(&chain, AtomicUsize::new(0), AtomicUsize::new(0));
            let (xml, md) = junit_and_summary_from(&e.verdict, &e.evaluation, &counted, &gate, worst).expect("in memory");
            prop_assert_eq!((counted.1.load(Relaxed), counted.2.load(Relaxed)), (1, 0), "one read, in order");
            prop_assert_eq!(&xml, &junit::to_junit(&e.verdict, &e.evaluation, &findings, &gate));
            prop_assert_eq!(&md, &summary::markdown(&e.verdict, &findings, worst));
        }
    }
}

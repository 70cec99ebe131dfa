//! The worst findings of a report without sorting (or holding) all of them: a bounded
//! selection over findings read one at a time, in the order of a stable sort by
//! [`Finding::worst_first`] (equal findings in report order), for the JUnit cases and the
//! summary's table.

use crate::finding::Finding;
use crate::source::{FindingSource, SourceError};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The worst findings that matched, worst first, and how many matched in all.
#[derive(Debug)]
pub struct Selected<'a> {
    pub worst: Vec<Cow<'a, Finding>>,
    pub matched: usize,
}

/// A finding and its report position: ordered worst first, then by position (greatest: the
/// first to leave a full selection).
struct Ranked<'a> {
    position: usize,
    finding: Cow<'a, Finding>,
}

fn rank(a: (&Finding, usize), b: (&Finding, usize)) -> Ordering {
    Finding::worst_first(a.0, b.0).then(a.1.cmp(&b.1))
}

impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        rank((&self.finding, self.position), (&other.finding, other.position))
    }
}

impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked<'_> {}

/// The `n` worst findings offered so far: a heap of at most `n + 1`, so memory is bounded by
/// `n` whatever the number offered. Findings must be offered in report order.
pub struct Worst<'a> {
    n: usize,
    offered: usize,
    heap: BinaryHeap<Ranked<'a>>,
}

impl<'a> Worst<'a> {
    pub fn new(n: usize) -> Worst<'a> {
        Worst { n, offered: 0, heap: BinaryHeap::with_capacity(n.min(4096) + 1) }
    }

    /// Whether a finding at `position` would be kept (before it is copied).
    fn would_keep(&self, f: &Finding, position: usize) -> bool {
        match self.heap.peek() {
            _ if self.n == 0 => false,
            _ if self.heap.len() < self.n => true,
            Some(least) => rank((f, position), (&least.finding, least.position)) == Ordering::Less,
            None => true,
        }
    }

    fn keep(&mut self, finding: Cow<'a, Finding>, position: usize) {
        self.heap.push(Ranked { position, finding });
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    /// Offers the next finding (copied only when kept).
    pub fn offer(&mut self, f: &Finding) {
        let position = self.offered;
        self.offered += 1;
        if self.would_keep(f, position) {
            self.keep(Cow::Owned(f.clone()), position);
        }
    }

    /// Offers the next finding, borrowed (findings in memory).
    pub fn offer_borrowed(&mut self, f: &'a Finding) {
        let position = self.offered;
        self.offered += 1;
        if self.would_keep(f, position) {
            self.keep(Cow::Borrowed(f), position);
        }
    }

    /// The kept findings, worst first, and how many were offered.
    pub fn finish(self) -> Selected<'a> {
        Selected { worst: self.heap.into_sorted_vec().into_iter().map(|r| r.finding).collect(), matched: self.offered }
    }
}

/// The `n` worst of the findings in memory that `keep` accepts.
pub fn in_slice<'a>(findings: &'a [Finding], n: usize, keep: &dyn Fn(&Finding) -> bool) -> Selected<'a> {
    let mut worst = Worst::new(n);
    for f in findings.iter().filter(|f| keep(f)) {
        worst.offer_borrowed(f);
    }
    worst.finish()
}

/// The `n` worst of the findings of `source` that `keep` accepts, read once in order.
pub fn in_source(
    source: &dyn FindingSource,
    n: usize,
    keep: &dyn Fn(&Finding) -> bool,
) -> Result<Selected<'static>, SourceError> {
    let mut worst = Worst::new(n);
    source.for_each_finding(&mut |_, f| {
        if keep(f) {
            worst.offer(f);
        }
    })?;
    Ok(worst.finish())
}

/// [`in_source`] for two selections over one read of `source`: each finding is offered to each
/// selection whose filter accepts it (and copied for each that keeps it). (`n`, filter) each.
pub fn two_in_source(
    source: &dyn FindingSource,
    a: (usize, &dyn Fn(&Finding) -> bool),
    b: (usize, &dyn Fn(&Finding) -> bool),
) -> Result<(Selected<'static>, Selected<'static>), SourceError> {
    let (mut first, mut second) = (Worst::new(a.0), Worst::new(b.0));
    source.for_each_finding(&mut |_, f| {
        if a.1(f) {
            first.offer(f);
        }
        if b.1(f) {
            second.offer(f);
        }
    })?;
    Ok((first.finish(), second.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;
    use proptest::prelude::*;

    prop_compose! {
        /// Few distinct severities, scores, rules and ids: many ties.
        fn finding()(severity in 0usize..5, score in prop_oneof![Just(None), (0u8..3).prop_map(|s| Some(f64::from(s) * 4.5))],
                     rule in 0usize..3, id in 0usize..3) -> Finding {
            let mut f = Finding::plain(&format!("id-{id}"), Severity::ALL_DESC[severity]);
            f.cvss_score = score;
            f.rule_id = format!("rule-{rule}").into();
            f
        }
    }

    fn marked(findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .enumerate()
            .map(|(i, mut f)| {
                // Not part of the order: tells equal findings apart.
                f.title = i.to_string();
                f
            })
            .collect()
    }

    proptest! {
        #[test]
        fn the_n_worst_are_a_stable_sort_then_take(
            findings in proptest::collection::vec(finding(), 0..60).prop_map(marked),
            n in 0usize..70,
            odd in any::<bool>(),
        ) {
            let keep = |f: &Finding| !odd || f.title.parse::<usize>().is_ok_and(|i| i % 2 == 1);
            let mut sorted: Vec<&Finding> = findings.iter().filter(|f| keep(f)).collect();
            sorted.sort_by(|a, b| Finding::worst_first(a, b));
            let want: Vec<&str> = sorted.iter().take(n).map(|f| f.title.as_str()).collect();
            let titles = |s: &Selected<'_>| s.worst.iter().map(|f| f.title.clone()).collect::<Vec<_>>();
            let from_slice = in_slice(&findings, n, &keep);
            let from_source = in_source(&findings, n, &keep).expect("in memory");
            prop_assert_eq!(titles(&from_slice), want.clone());
            prop_assert_eq!(titles(&from_source), want);
            prop_assert_eq!((from_slice.matched, from_source.matched), (sorted.len(), sorted.len()));
        }
    }

    #[test]
    fn at_most_n_plus_one_are_held() {
        let mut worst = Worst::new(3);
        for i in 0..100 {
            // Each one worse than the last: every offer enters.
            let mut f = Finding::plain(&format!("{i:03}"), Severity::High);
            f.cvss_score = Some(f64::from(i));
            worst.offer(&f);
            assert!(worst.heap.len() <= 3);
        }
        let kept = worst.finish();
        let ids: Vec<&str> = kept.worst.iter().map(|f| f.id.as_str()).collect();
        assert_eq!((ids, kept.matched), (vec!["099", "098", "097"], 100));
        assert!(Worst::new(0).finish().worst.is_empty());
    }

    /// JUnit and the summary read from a source (here two lists chained) are the bytes of
    /// those from memory, truncation included (more gate-breaking findings than cases).
    #[test]
    fn junit_and_summary_from_a_source_are_those_from_memory() {
        use crate::policy::{evaluate, Counts, GatePolicy, PolicyResult};
        use crate::source::Chain;
        use crate::verdict::{Verdict, VerdictInput};
        let findings: Vec<Finding> = (0..700)
            .map(|i| {
                let mut f = Finding::plain(&format!("id-{}", i % 7), Severity::ALL_DESC[i % 4]);
                f.cvss_score = (i % 3 > 0).then_some((i % 5) as f64);
                f.rule_id = format!("rule-{}", i % 11).into();
                f.title = format!("finding {i}");
                f
            })
            .collect();
        let (a, b) = findings.split_at(250);
        let (a, b) = (a.to_vec(), b.to_vec());
        let thresholds = crate::policy::Thresholds { max_critical: 0, max_high: 0, max_medium: 0, max_low: 0 };
        let gate = GatePolicy { thresholds, ..GatePolicy::default() };
        let counts = Counts::of(&findings);
        let evaluation = evaluate(&counts, PolicyResult::None, &gate);
        let verdict = Verdict::new(VerdictInput::default(), counts, PolicyResult::None, &gate, &evaluation);
        let xml = crate::junit::to_junit(&verdict, &evaluation, &findings, &gate);
        assert!(xml.contains("more findings"), "truncated");
        let from = crate::junit::to_junit_from(&verdict, &evaluation, &Chain(&a, &b), &gate).expect("in memory");
        assert_eq!(from, xml);
        for rows in [0, 1, 20, 699, 700, 900] {
            let md = crate::summary::markdown(&verdict, &findings, rows);
            let from = crate::summary::markdown_from(&verdict, &Chain(&a, &b), rows).expect("in memory");
            assert_eq!(from, md, "{rows} rows");
        }
    }
}

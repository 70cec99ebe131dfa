//! The streamed evaluation ([`evaluate_from`]) against the in-memory one ([`apply_exceptions`]
//! then [`evaluate`]) over generated reports: exceptions (waivers valid, expiring and
//! expired, VEX exempting and not), suppressions of each kind under each
//! `HONOR_SUPPRESSIONS`, security and quality classes under each `QUALITY_FINDINGS`,
//! `FAIL_ONLY_FIXABLE`, prior exception marks and quality findings kept apart earlier.

use super::*;
use crate::finding::{Location, Package};
use crate::policy::Thresholds;
use crate::severity::Severity;
use crate::source::SourceError;
use crate::suppression::{HonorSuppressions, Suppression, SuppressionKind};
use crate::waivers::{Exception, ExceptionKind, VexDocument, WaiversDocument};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::borrow::Cow;
use time::macros::date;

const PARSED_ON: time::Date = date!(2026 - 12 - 01);
const PURL: &str = "pkg:deb/debian/openssl@3.0.2";

fn exceptions() -> Exceptions {
    let waivers = format!(
        r#"{{"schema":"scangate.waivers.v1","waivers":[
        {{"id":"CVE-2024-0001","scope":{{"purl":"pkg:deb/debian/openssl"}},"reason":"r1","owner":"a@example.com","expires":"2026-12-10"}},
        {{"id":"rule-b","scope":{{"path":"src/**"}},"reason":"r2","owner":"b@example.com","expires":"2026-12-31"}},
        {{"id":"CVE-2024-0002","scope":{{"purl":"{PURL}"}},"reason":"r3","owner":"c@example.com","expires":"2026-12-02"}}]}}"#
    );
    let vex = format!(
        r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"sec@example.com",
        "timestamp":"2026-11-01T00:00:00Z","statements":[
        {{"vulnerability":{{"name":"CVE-2024-0002"}},"products":[{{"@id":"{PURL}"}}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}},
        {{"vulnerability":{{"name":"CVE-2024-0003"}},"products":[{{"@id":"{PURL}"}}],"status":"affected","action_statement":"upgrade"}}]}}"#
    );
    Exceptions {
        waivers: vec![WaiversDocument::parse(waivers.as_bytes(), "policy/waivers.json", PARSED_ON, 90).expect("valid")],
        vex: vec![VexDocument::parse(vex.as_bytes(), "policy/vex.json").expect("valid")],
        refused: Vec::new(),
    }
}

prop_compose! {
    fn finding()(
        severity in 0usize..5,
        quality in any::<bool>(),
        rule in 0usize..3,
        cve in 0usize..4,
        package in 0usize..3,
        in_src in any::<bool>(),
        marked in any::<bool>(),
        kinds in proptest::collection::vec(0usize..3, 0..3),
        suppression in any::<bool>(),
    ) -> Finding {
        let mut f = Finding::plain("x", Severity::ALL_DESC[severity]);
        if quality {
            f.class = FindingClass::Quality;
        }
        f.rule_id = ["rule-a", "rule-b", "rule-c"][rule].into();
        if cve > 0 {
            f.cves = vec![format!("CVE-2024-000{cve}")].into();
        }
        f.package = match package {
            0 => None,
            n => Some(Box::new(Package {
                name: "openssl".into(),
                installed_version: Some("3.0.2".into()),
                fixed_version: (n == 2).then(|| "3.0.3".into()),
                purl: Some(PURL.into()),
            })),
        };
        f.location = Some(Location { uri: if in_src { "src/a.c" } else { "lib/a.c" }.into(), start_line: Some(1) });
        // A mark from an earlier application: kept without exceptions, replaced with them.
        if marked {
            f.exception = Some(Box::new(Exception {
                kind: ExceptionKind::Waiver,
                reference: "waivers[9]".into(),
                id: "earlier".into(),
                reason: "earlier".into(),
                owner: None,
                expires: None,
                status: None,
                document_sha256: "0".repeat(64),
            }));
        }
        let kinds = kinds.into_iter().map(|k| [SuppressionKind::InSource, SuppressionKind::External, SuppressionKind::Unknown][k]);
        if suppression {
            f.suppression = Some(Box::new(Suppression::new(kinds, Some("why"))));
        }
        f
    }
}

fn numbered(mut findings: Vec<Finding>, prefix: &str) -> Vec<Finding> {
    for (i, f) in findings.iter_mut().enumerate() {
        f.id = format!("{prefix}{i}");
    }
    findings
}

prop_compose! {
    fn report()(
        findings in proptest::collection::vec(finding(), 0..40),
        suppressed in proptest::collection::vec(finding(), 0..12),
        quality in proptest::collection::vec(finding(), 0..3),
        counted in 0u64..3,
        incomplete in any::<bool>(),
        warning_count in 0usize..3,
        policy in 0usize..4,
    ) -> Report {
        let mut quality_counted = Counts::default();
        for _ in 0..counted {
            quality_counted.add(Severity::Low);
        }
        Report {
            findings: numbered(findings, "f"),
            suppressed: numbered(suppressed, "s"),
            quality: numbered(quality, "q"),
            quality_counted,
            incomplete: if incomplete { vec!["run 0 failed".into()] } else { Vec::new() },
            warning_count,
            policy_result: [PolicyResult::None, PolicyResult::Allow, PolicyResult::Audit, PolicyResult::Deny][policy],
            ..Report::default()
        }
    }
}

prop_compose! {
    fn gate()(
        quality in 0usize..3,
        suppressions in 0usize..3,
        fixable_only in any::<bool>(),
        accept_incomplete in any::<bool>(),
        max in proptest::collection::vec(-1i64..4, 4),
    ) -> GatePolicy {
        GatePolicy {
            quality: [QualityFindings::Report, QualityFindings::Ignore, QualityFindings::Gate][quality],
            suppressions: [HonorSuppressions::None, HonorSuppressions::External, HonorSuppressions::All][suppressions],
            fixable_only,
            accept_incomplete,
            thresholds: Thresholds { max_critical: max[0], max_high: max[1], max_medium: max[2], max_low: max[3] },
            ..GatePolicy::default()
        }
    }
}

/// What an evaluation left: its result and the three lists.
#[derive(Debug, PartialEq)]
struct Outcome {
    verdict: Verdict,
    evaluation: Evaluation,
    counts: Counts,
    policy_result: PolicyResult,
    findings: Vec<Finding>,
    suppressed: Vec<Finding>,
    quality: Vec<Finding>,
}

fn in_memory(report: &Report, gate: &GatePolicy, exceptions: ExceptionsIn<'_>) -> Outcome {
    let mut r = report.clone();
    if let Some((e, subject, today)) = exceptions {
        apply_exceptions(&mut r, gate, e, subject, today);
    }
    let e = evaluate(&mut r, gate, Some(PolicyResult::Audit), VerdictInput::default());
    Outcome {
        verdict: e.verdict,
        evaluation: e.evaluation,
        counts: e.counts,
        policy_result: e.policy_result,
        findings: r.findings,
        suppressed: r.suppressed,
        quality: r.quality,
    }
}

fn streamed(report: &Report, gate: &GatePolicy, exceptions: ExceptionsIn<'_>, owned: bool) -> Outcome {
    let (mut findings, mut suppressed, mut quality) = (Vec::new(), Vec::new(), report.quality.clone());
    let (f_in, s_in): (Input<'_>, Input<'_>) = if owned {
        (report.findings.clone().into(), report.suppressed.clone().into())
    } else {
        (Input::Source(&report.findings), Input::Source(&report.suppressed))
    };
    let e = evaluate_from(
        f_in,
        s_in,
        report,
        gate,
        exceptions,
        Some(PolicyResult::Audit),
        VerdictInput::default(),
        &mut |group, f| {
            match group {
                Group::Findings => findings.push(f.into_owned()),
                Group::Suppressed => suppressed.push(f.into_owned()),
                Group::Quality => quality.push(f.into_owned()),
            }
            Ok::<(), std::convert::Infallible>(())
        },
    )
    .expect("in memory");
    Outcome {
        verdict: e.verdict,
        evaluation: e.evaluation,
        counts: e.counts,
        policy_result: e.policy_result,
        findings,
        suppressed,
        quality,
    }
}

/// The counts and lists of the evaluation as whole-list steps (as it was before the
/// per-finding pass, commit 1829839, but with exceptions after suppressions), as an oracle:
/// `suppression::apply` (the unhonoured go back to `report.findings`), exceptions over
/// `report.findings`, the quality split of whole lists, then counts over them. (counts, waived,
/// not fixable, quality counts, suppressed, unhonoured, findings, suppressed, quality.)
type Before = (Counts, Counts, Counts, Counts, u64, u64, Vec<Finding>, Vec<Finding>, Vec<Finding>);

fn before(report: &Report, gate: &GatePolicy, exceptions: ExceptionsIn<'_>) -> Before {
    let mut r = report.clone();
    let unhonoured = crate::suppression::apply(&mut r, gate.suppressions) as u64;
    match exceptions {
        Some((e, _, _)) if e.is_empty() => r.findings.iter_mut().for_each(|f| f.exception = None),
        Some((e, subject, today)) => {
            e.apply(&mut r.findings, subject, today);
        }
        None => {}
    }
    let gated = gate.quality == QualityFindings::Gate;
    if !gated {
        let (security, quality): (Vec<Finding>, Vec<Finding>) =
            std::mem::take(&mut r.findings).into_iter().partition(|f| f.class == FindingClass::Security);
        r.findings = security;
        r.quality.extend(quality);
    }
    let considered = || r.findings.iter().filter(|f| gated || f.class == FindingClass::Security);
    let waived = Counts::of(considered().filter(|f| f.exception.is_some()));
    let not_fixable = Counts::of(considered().filter(|f| f.exception.is_none() && f.fix_available() == Some(false)));
    let counts = Counts::of(
        considered()
            .filter(|f| f.exception.is_none())
            .filter(|f| !gate.fixable_only || f.fix_available() != Some(false)),
    );
    let quality = Counts::of(r.findings.iter().chain(&r.quality).filter(|f| f.class == FindingClass::Quality))
        .plus(&r.quality_counted);
    (counts, waived, not_fixable, quality, r.suppressed.len() as u64, unhonoured, r.findings, r.suppressed, r.quality)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_streamed_evaluation_is_the_in_memory_one(
        report in report(),
        gate in gate(),
        which in 0usize..3,
        today in prop_oneof![Just(date!(2026 - 12 - 01)), Just(date!(2026 - 12 - 05)), Just(date!(2026 - 12 - 20))],
        owned in any::<bool>(),
    ) {
        let (full, none, subject) = (exceptions(), Exceptions::default(), Subject::default());
        let given: ExceptionsIn<'_> = match which {
            0 => None,
            1 => Some((&none, &subject, today)),
            _ => Some((&full, &subject, today)),
        };
        let want = in_memory(&report, &gate, given);
        let got = streamed(&report, &gate, given, owned);
        let v = &want.verdict;
        let now = (want.counts, v.waived, v.not_fixable, v.quality_counts, v.suppressed, v.suppressions_ignored);
        let b = before(&report, &gate, given);
        prop_assert_eq!(now, (b.0, b.1, b.2, b.3, b.4, b.5), "the counts are those of before");
        prop_assert_eq!((&want.findings, &want.suppressed, &want.quality), (&b.6, &b.7, &b.8), "the lists too");
        prop_assert_eq!(got, want);
    }
}

/// The generators reach what the property is about: exceptions applied, expired and warned
/// about, suppressions honoured and not, quality findings kept apart and gated.
#[test]
fn the_generated_reports_cover_every_branch() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ex = exceptions();
    let mut seen = [false; 9];
    for _ in 0..200 {
        let report = report().new_tree(&mut runner).expect("generates").current();
        let gate = gate().new_tree(&mut runner).expect("generates").current();
        let o = streamed(&report, &gate, Some((&ex, &Subject::default(), date!(2026 - 12 - 05))), false);
        let audit = o.verdict.exceptions.clone().expect("documents given");
        seen[0] |= o.verdict.waived.total > 0;
        seen[1] |= !audit.expired.is_empty();
        seen[2] |= o.verdict.warnings.iter().any(|w| w.contains("expires on"));
        seen[3] |= o.verdict.suppressed > 0;
        seen[4] |= o.verdict.suppressions_ignored > 0;
        seen[5] |= !o.quality.is_empty() && gate.quality != QualityFindings::Gate;
        seen[6] |= o.verdict.not_fixable.total > 0 && gate.fixable_only;
        // An exception on a suppressed finding the setting does not honour, and one left off an
        // honoured suppressed finding it would cover.
        let unhonoured = |f: &Finding| f.suppression.as_ref().is_some_and(|s| !s.honoured);
        seen[7] |= o.findings.iter().chain(&o.quality).any(|f| unhonoured(f) && f.exception.is_some());
        seen[8] |= o.suppressed.iter().any(|f| {
            let mut bare = f.clone();
            bare.exception = None;
            ex.applier(&Subject::default(), date!(2026 - 12 - 05)).exception(&bare).is_some()
        });
    }
    assert_eq!(seen, [true; 9]);
}

/// A source that fails at one position.
struct Failing(Vec<Finding>, usize);

impl FindingSource for Failing {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError> {
        if i == self.1 {
            return Err(SourceError { what: "spill".into(), index: i, reason: "truncated".into() });
        }
        FindingSource::get(&self.0, i)
    }
}

#[test]
fn an_unreadable_finding_or_a_refusing_sink_stops_the_evaluation_with_its_error() {
    let findings: Vec<Finding> = (0..3).map(|i| Finding::plain(&format!("f{i}"), Severity::High)).collect();
    let report = Report::default();
    let gate = GatePolicy::default();
    let failing = Failing(findings.clone(), 1);
    let mut handed = 0;
    let err = evaluate_from(
        Input::Source(&failing),
        Input::Owned(Vec::new()),
        &report,
        &gate,
        None,
        None,
        VerdictInput::default(),
        &mut |_, _| {
            handed += 1;
            Ok::<(), String>(())
        },
    )
    .expect_err("finding 1 cannot be read");
    assert!(matches!(&err, EvaluateError::Source(e) if e.index == 1), "{err}");
    assert_eq!(handed, 1, "the findings before it were handed on");

    for input in [Input::Source(&findings), Input::Owned(findings.clone())] {
        let mut handed = 0;
        let err = evaluate_from(
            input,
            Input::Owned(Vec::new()),
            &report,
            &gate,
            None,
            None,
            VerdictInput::default(),
            &mut |_, f| {
                handed += 1;
                if f.id == "f1" {
                    Err(format!("disk full at {}", f.id))
                } else {
                    Ok(())
                }
            },
        )
        .expect_err("the sink refused f1");
        assert_eq!(err.to_string(), "disk full at f1");
        assert_eq!(handed, 2, "nothing is handed on after a refusal");
    }
}

/// An exception covers a suppressed finding the setting does not honour exactly as it covers
/// the same finding without the suppression: adding an `inSource` suppression (`# nosec`) under
/// `external` never takes its waiver away (nor makes the gate fail), in memory, streamed, or
/// through whole-list steps; under `all` it is kept apart, unmarked and not counted.
#[test]
fn an_unhonoured_suppressed_finding_gets_its_exception() {
    let mut plain = Finding::plain("f1", Severity::Critical);
    plain.cves = vec!["CVE-2024-0001".to_string()].into();
    plain.package = Some(Box::new(Package {
        name: "openssl".into(),
        installed_version: Some("3.0.2".into()),
        fixed_version: Some("3.0.3".into()),
        purl: Some(PURL.into()),
    }));
    let mut other = plain.clone();
    other.id = "f0".into();
    let mut nosec = plain.clone();
    nosec.suppression = Some(Box::new(Suppression::new([SuppressionKind::InSource], None)));
    let without = Report { findings: vec![other.clone(), plain], ..Report::default() };
    let with = Report { findings: vec![other], suppressed: vec![nosec], ..Report::default() };
    let strict = GatePolicy {
        thresholds: Thresholds { max_critical: 0, max_high: 0, max_medium: 0, max_low: 0 },
        ..GatePolicy::default()
    };
    let (ex, subject) = (exceptions(), Subject::default());
    let given = Some((&ex, &subject, PARSED_ON));
    let marked = |o: &Outcome| -> Vec<(String, bool)> {
        o.findings.iter().map(|f| (f.id.clone(), f.exception.is_some())).collect()
    };

    let want = in_memory(&without, &strict, given);
    assert!(want.verdict.passed, "{:?}", want.verdict.reasons);
    assert_eq!((want.verdict.waived.critical, want.counts.total), (2, 0));
    let got = in_memory(&with, &strict, given);
    assert_eq!(marked(&got), [("f0".to_string(), true), ("f1".to_string(), true)]);
    assert_eq!((got.verdict.passed, got.counts, got.verdict.waived), (true, want.counts, want.verdict.waived));
    assert_eq!(got.verdict.exceptions, want.verdict.exceptions, "the audit counts it too");
    assert_eq!(got.verdict.suppressions_ignored, 1);
    assert_eq!(got.findings[1].suppression.as_ref().map(|s| s.honoured), Some(false));
    for owned in [false, true] {
        assert_eq!(streamed(&with, &strict, given, owned), got, "owned {owned}");
    }
    let b = before(&with, &strict, given);
    assert_eq!((b.0, b.1), (got.counts, got.verdict.waived));

    // Honoured (`all`): apart, not counted, not waived, its mark as it came.
    let all = GatePolicy { suppressions: HonorSuppressions::All, ..strict };
    let kept = in_memory(&with, &all, given);
    assert_eq!((kept.verdict.suppressed, kept.verdict.waived.total, kept.counts.total), (1, 1, 0));
    assert_eq!(kept.suppressed.iter().map(|f| f.exception.is_some()).collect::<Vec<_>>(), [false]);
    assert_eq!(streamed(&with, &all, given, false), kept);
}

/// A table over one finding: each exception it may meet (waiver, VEX exempting and not,
/// expired waiver, none) × each suppression it may carry × each `HONOR_SUPPRESSIONS`. The
/// CLI's path (`apply_exceptions` then `evaluate`) and the processor's (`evaluate_from`, owned
/// and from a source) agree; a suppression not honoured changes nothing but
/// `suppressions_ignored` against the same report without it; an honoured one takes the
/// finding out of the counts, the waived counts and the audit.
#[test]
fn suppressions_and_exceptions_give_one_verdict_on_every_path() {
    let ex = exceptions();
    let subject = Subject::default();
    let package = |fixed: bool| {
        Some(Box::new(Package {
            name: "openssl".into(),
            installed_version: Some("3.0.2".into()),
            fixed_version: fixed.then(|| "3.0.3".into()),
            purl: Some(PURL.into()),
        }))
    };
    // (what covers it, rule, CVE, in src/, today)
    let covers: &[(&str, &str, Option<&str>, bool, time::Date)] = &[
        ("waiver by purl", "rule-a", Some("CVE-2024-0001"), false, PARSED_ON),
        ("waiver by path", "rule-b", None, true, PARSED_ON),
        ("VEX not_affected", "rule-a", Some("CVE-2024-0002"), false, date!(2026 - 12 - 05)),
        ("VEX affected", "rule-a", Some("CVE-2024-0003"), false, PARSED_ON),
        ("expired waiver", "rule-a", Some("CVE-2024-0001"), false, date!(2026 - 12 - 20)),
        ("nothing", "rule-c", None, true, PARSED_ON),
    ];
    use SuppressionKind::{External, InSource, Unknown};
    let kinds: &[&[SuppressionKind]] = &[&[InSource], &[External], &[InSource, External], &[Unknown], &[]];
    let modes = [HonorSuppressions::None, HonorSuppressions::External, HonorSuppressions::All];
    let mut rows = 0;
    for &(name, rule, cve, in_src, today) in covers {
        let mut f = Finding::plain("x", Severity::Critical);
        f.rule_id = rule.into();
        f.cves = cve.map(|c| vec![c.to_string()]).unwrap_or_default().into();
        f.package = package(true);
        f.location = Some(Location { uri: if in_src { "src/a.c" } else { "lib/a.c" }.into(), start_line: Some(3) });
        let mut other = Finding::plain("o", Severity::High);
        other.package = package(false);
        let given = Some((&ex, &subject, today));
        for kinds in kinds {
            let mut suppressed = f.clone();
            suppressed.suppression = Some(Box::new(Suppression::new(kinds.iter().copied(), Some("nosec"))));
            let with = Report { findings: vec![other.clone()], suppressed: vec![suppressed], ..Report::default() };
            let without = Report { findings: vec![other.clone(), f.clone()], ..Report::default() };
            for mode in modes {
                for fixable_only in [false, true] {
                    rows += 1;
                    let gate = GatePolicy { suppressions: mode, fixable_only, ..GatePolicy::default() };
                    let row = format!("{name}, {kinds:?} under {mode}, fixable_only {fixable_only}");
                    let cli = in_memory(&with, &gate, given);
                    assert_eq!(streamed(&with, &gate, given, false), cli, "{row}: from a source");
                    assert_eq!(streamed(&with, &gate, given, true), cli, "{row}: owned");
                    let bare = in_memory(&without, &gate, given);
                    let v = &cli.verdict;
                    let honoured = !kinds.is_empty() && kinds.iter().all(|k| mode.honours(*k));
                    assert_eq!((v.suppressed, v.suppressions_ignored), (u64::from(honoured), u64::from(!honoured)));
                    if honoured {
                        assert_eq!(cli.suppressed.len(), 1, "{row}");
                        assert!(cli.suppressed[0].exception.is_none(), "{row}: no exception on a finding kept apart");
                        let only_other = in_memory(&Report { suppressed: Vec::new(), ..with.clone() }, &gate, given);
                        let o = &only_other.verdict;
                        assert_eq!((v.counts, v.waived, v.not_fixable), (o.counts, o.waived, o.not_fixable), "{row}");
                        assert_eq!(v.exceptions, o.exceptions, "{row}: not in the audit");
                    } else {
                        let b = &bare.verdict;
                        assert_eq!((v.counts, v.waived, v.not_fixable), (b.counts, b.waived, b.not_fixable), "{row}");
                        assert_eq!((v.passed, &v.reasons), (b.passed, &b.reasons), "{row}");
                        assert_eq!(v.exceptions, b.exceptions, "{row}: the audit");
                        let marks = |o: &Outcome| o.findings.iter().map(|f| f.exception.clone()).collect::<Vec<_>>();
                        assert_eq!(marks(&cli), marks(&bare), "{row}: the same exception marks");
                    }
                }
            }
        }
    }
    assert_eq!(rows, 6 * 5 * 3 * 2);
}

/// From a source, a finding the evaluation leaves as it is reaches the sink borrowed (a sink
/// writing to a file copies nothing); one it changes (an exception, a suppression honoured),
/// owned.
#[test]
fn only_changed_findings_are_copied() {
    let mut waived = Finding::plain("f1", Severity::High);
    waived.rule_id = "rule-b".into();
    waived.location = Some(Location { uri: "src/a.c".into(), start_line: None });
    let findings = vec![Finding::plain("f0", Severity::High), waived];
    let mut honoured = Finding::plain("s0", Severity::High);
    honoured.suppression = Some(Box::new(Suppression::new([SuppressionKind::External], None)));
    let mut not_honoured = Finding::plain("s1", Severity::High);
    not_honoured.suppression = Some(Box::new(Suppression::new([SuppressionKind::InSource], None)));
    let suppressed = vec![honoured, not_honoured];
    let ex = exceptions();
    let mut seen = Vec::new();
    evaluate_from(
        Input::Source(&findings),
        Input::Source(&suppressed),
        &Report::default(),
        &GatePolicy::default(),
        Some((&ex, &Subject::default(), PARSED_ON)),
        None,
        VerdictInput::default(),
        &mut |group, f| {
            seen.push((f.id.clone(), group, matches!(f, Cow::Borrowed(_))));
            Ok::<(), std::convert::Infallible>(())
        },
    )
    .expect("in memory");
    let want = [
        ("f0", Group::Findings, true),
        ("f1", Group::Findings, false),
        ("s0", Group::Suppressed, false),
        ("s1", Group::Findings, true),
    ];
    let seen: Vec<(&str, Group, bool)> = seen.iter().map(|(id, g, b)| (id.as_str(), *g, *b)).collect();
    assert_eq!(seen, want);
}

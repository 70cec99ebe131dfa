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
        apply_exceptions(&mut r, e, subject, today);
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

/// The counts and lists of the evaluation as it was before the per-finding pass (at commit
/// 1829839), as an oracle: exceptions over `report.findings`, `suppression::apply`, the quality
/// split of whole lists, then counts over them. (counts, waived, not fixable, quality counts,
/// suppressed, unhonoured, findings, suppressed, quality.)
type Before = (Counts, Counts, Counts, Counts, u64, u64, Vec<Finding>, Vec<Finding>, Vec<Finding>);

fn before(report: &Report, gate: &GatePolicy, exceptions: ExceptionsIn<'_>) -> Before {
    let mut r = report.clone();
    match exceptions {
        Some((e, _, _)) if e.is_empty() => r.findings.iter_mut().for_each(|f| f.exception = None),
        Some((e, subject, today)) => {
            e.apply(&mut r.findings, subject, today);
        }
        None => {}
    }
    let unhonoured = crate::suppression::apply(&mut r, gate.suppressions) as u64;
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
    let mut seen = [false; 7];
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
    }
    assert_eq!(seen, [true; 7]);
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

/// Today's behaviour, kept: exceptions apply to the report's findings before suppressions are
/// decided, so a suppressed finding the setting does not honour is not waived.
#[test]
fn an_unhonoured_suppressed_finding_gets_no_exception() {
    let mut f = Finding::plain("s0", Severity::Critical);
    f.cves = vec!["CVE-2024-0001".to_string()].into();
    f.package = Some(Box::new(Package {
        name: "openssl".into(),
        installed_version: Some("3.0.2".into()),
        fixed_version: Some("3.0.3".into()),
        purl: Some(PURL.into()),
    }));
    let mut waived = f.clone();
    waived.id = "f0".into();
    f.suppression = Some(Box::new(Suppression::new([SuppressionKind::InSource], None)));
    let report = Report { findings: vec![waived], suppressed: vec![f], ..Report::default() };
    let ex = exceptions();
    let o = streamed(&report, &GatePolicy::default(), Some((&ex, &Subject::default(), PARSED_ON)), false);
    let marked: Vec<(&str, bool)> = o.findings.iter().map(|f| (f.id.as_str(), f.exception.is_some())).collect();
    assert_eq!(marked, [("f0", true), ("s0", false)]);
    assert_eq!((o.verdict.waived.total, o.counts.critical), (1, 1));
    assert_eq!(o, in_memory(&report, &GatePolicy::default(), Some((&ex, &Subject::default(), PARSED_ON))));
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

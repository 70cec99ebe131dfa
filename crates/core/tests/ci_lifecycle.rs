//! One target, one truth (issue 25, docs/ci/github.md): a repository and branch scanned from a CI
//! role (GitHub) and from a CodeBuild project of the stack are two lifecycles on purpose. The
//! processor keys an uploader's reports in a namespace of its own: the CodeBuild key owned by the
//! verified uploader (`Provenance::owner`, docs/security.md "Provenance"), built here the same way.
//! This test plans both paths' reports through the real planner and proves that a fixed finding
//! is archived exactly once in each lifecycle that had it, by that lifecycle's own rescan, never
//! by the other path's, and not again on a duplicate delivery.

use scangate_core::asff::{self, AsffContext};
use scangate_core::contract::{Provenance, Writer};
use scangate_core::finding::{Finding, FindingKind, Package, Scanner};
use scangate_core::lifecycle::state::{self, ImportOn, LifecycleState, NewFinding, ReportMark, Stub};
use scangate_core::lifecycle::{LifecycleKey, ScanType};
use scangate_core::severity::{Severity, SeveritySource};
use std::collections::HashSet;
use time::OffsetDateTime;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const IDENTITY: &str = "https://github.com/octo/app#main";

fn finding(n: u8, cve: &str) -> Finding {
    Finding {
        rule_id: cve.into(),
        title: cve.into(),
        description: String::new(),
        severity_source: SeveritySource::Qualys,
        severity_original: "5".into(),
        cves: vec![cve.into()].into(),
        cvss_score: Some(9.8),
        package: Some(
            Package { name: format!("lib{n}"), installed_version: Some("1.0".into()), ..Default::default() }.into(),
        ),
        scanner: Scanner { name: "QScanner".into(), version: None }.into(),
        ..scangate_testkit::findings::finding(&format!("{n:064x}"), Severity::Critical, FindingKind::Vulnerability)
    }
}

fn ctx(lifecycle: LifecycleKey) -> AsffContext {
    AsffContext {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        partition: "aws".into(),
        scan_type: ScanType::Repo,
        target: IDENTITY.into(),
        lifecycle,
        codebuild_project: None,
        build_arn: None,
        updated_at: "2026-12-01T00:00:00Z".into(),
        created_at: None,
        report_uri: None,
        host: None,
    }
}

struct Lifecycle {
    ctx: AsffContext,
    state: Option<LifecycleState>,
}

impl Lifecycle {
    fn new(key: LifecycleKey) -> Lifecycle {
        Lifecycle { ctx: ctx(key), state: None }
    }

    /// Plans and applies one report of these findings; returns the ASFF ids it archived.
    fn report(&mut self, findings: &[Finding], key: &str, time: &str) -> Vec<String> {
        let new: Vec<NewFinding> = findings
            .iter()
            .map(|f| NewFinding {
                id: asff::finding_id(&self.ctx, f).into(),
                content_hash: asff::content_digest(f, &self.ctx),
                sighting_hash: asff::sighting_digest(f, &self.ctx),
                stub: Stub::raw(serde_json::json!({ "Id": asff::finding_id(&self.ctx, f) })),
            })
            .collect();
        let mark = ReportMark {
            report_time: time.into(),
            sequencer: None,
            bucket: "reports".into(),
            key: key.into(),
            version_id: None,
        };
        let now = OffsetDateTime::now_utc();
        let plan = state::plan(self.state.as_ref(), &new, &mark, now, 30, ImportOn::Content);
        let next = state::into_next_state(
            self.state.take(),
            &self.ctx.lifecycle.key,
            &plan,
            &new,
            |i| new[i].stub.clone(),
            &HashSet::new(),
            &mark,
            "2026-12-01T00:00:00Z",
        );
        self.state = Some(next);
        plan.archive.iter().map(ToString::to_string).collect()
    }
}

#[test]
fn github_and_codebuild_are_two_lifecycles_and_each_archives_a_fix_exactly_once() {
    let codebuild_key = LifecycleKey::new(ACCOUNT, REGION, ScanType::Repo, IDENTITY);
    let github_role = Provenance::Verified(Writer::Uploader { principal: "AROAGITHUBROLE0".into() });
    let github_key = codebuild_key.clone().owned_by(github_role.owner().as_deref());
    assert_ne!(github_key, codebuild_key, "a verified uploader has a lifecycle of its own");
    let (cve, other) = (finding(1, "CVE-2026-0001"), finding(2, "CVE-2026-0002"));
    let mut codebuild = Lifecycle::new(codebuild_key);
    let mut github = Lifecycle::new(github_key);
    let both = [cve.clone(), other.clone()];
    let github_id = asff::finding_id(&github.ctx, &cve);
    let codebuild_id = asff::finding_id(&codebuild.ctx, &cve);
    assert_ne!(github_id, codebuild_id, "the same CVE is one Security Hub finding per lifecycle");

    assert!(codebuild.report(&both, "scans/qualys-codebuild-repo/b1/report.sarif", "2026-12-01T01:00:00Z").is_empty());
    assert!(github.report(&both, "scans/github~octo~app/1-1/report.sarif", "2026-12-01T01:05:00Z").is_empty());

    // The fix reaches GitHub first: its rescan archives its own finding of the CVE, once.
    let fixed = [other.clone()];
    assert_eq!(
        github.report(&fixed, "scans/github~octo~app/2-1/report.sarif", "2026-12-01T02:00:00Z"),
        std::slice::from_ref(&github_id)
    );
    // A duplicate delivery of the same report archives nothing more.
    assert!(github.report(&fixed, "scans/github~octo~app/2-1/report.sarif", "2026-12-01T02:00:00Z").is_empty());
    // CodeBuild's lifecycle still holds its finding: GitHub's report could not archive it.
    let cb_state = codebuild.state.as_ref().expect("state");
    assert!(cb_state.entries.contains_key(&codebuild_id.as_str().into()));
    // CodeBuild's own rescan archives its finding, once; GitHub's finding stays archived, not re-archived.
    assert_eq!(
        codebuild.report(&fixed, "scans/qualys-codebuild-repo/b2/report.sarif", "2026-12-01T03:00:00Z"),
        [codebuild_id]
    );
    assert!(codebuild.report(&fixed, "scans/qualys-codebuild-repo/b3/report.sarif", "2026-12-01T04:00:00Z").is_empty());
    assert!(github.report(&fixed, "scans/github~octo~app/3-1/report.sarif", "2026-12-01T04:30:00Z").is_empty());
}

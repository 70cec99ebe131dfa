//! The report's metadata (x-amz-meta-*), read with the contract's parser into what the
//! processor uses: the lifecycle identity, who publishes the JUnit, the build.

use scangate_core::contract::{BuildId, ReportMetadata};
use scangate_core::host::HostFacts;
use scangate_core::lifecycle::{ScanType, TargetInputs};
use scangate_core::policy::{PolicyResult, Thresholds};
use scangate_core::verdict::BuildRef;
use std::collections::HashMap;

/// The report's metadata, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportMeta {
    pub target: Option<String>,
    pub scan_type: ScanType,
    pub scanner_policy: Option<PolicyResult>,
    pub scanned_at: Option<String>,
    pub build_arn: Option<String>,
    pub pipeline: Option<String>,
    pub execution_id: Option<String>,
    pub thresholds: Thresholds,
    /// `scangate-wait`: seconds the uploading build waits for the verdict.
    pub wait_seconds: Option<u64>,
    /// `scangate-publish`: explicit publishing decision.
    pub publish: Option<bool>,
    /// `scangate-source-repo-url`, `scangate-source-branch`, `scangate-source-action`,
    /// `scangate-initiator`: the lifecycle identity of source scans.
    pub source_repo_url: Option<String>,
    pub source_branch: Option<String>,
    pub source_action: Option<String>,
    pub initiator: Option<String>,
    /// The claimed pipeline and execution were verified against the uploading build
    /// (super::claims): only then is a by-execution verdict written.
    pub execution_verified: bool,
    /// What the uploader claimed that was not taken as claimed (verdict warnings).
    pub notes: Vec<String>,
    /// `scangate-host`, `-kernel`, `-machine`, `-os` of a host scan (none when all absent):
    /// shown in the summary and ASFF, never part of the lifecycle identity.
    pub host: Option<HostFacts>,
}

impl ReportMeta {
    /// The lifecycle identity inputs of this report: `target` is the verdict's target (the
    /// recorded one, else what the report names), `project` the CodeBuild project (else the
    /// key's project segment).
    pub fn target_inputs<'a>(&'a self, target: &'a str, project: &'a str) -> TargetInputs<'a> {
        TargetInputs {
            scan_type: self.scan_type,
            target: Some(target).filter(|t| !t.is_empty()),
            source_repo_url: self.source_repo_url.as_deref(),
            branch: self.source_branch.as_deref(),
            pipeline: self.pipeline.as_deref(),
            source_action: self.source_action.as_deref(),
            project: Some(project),
        }
    }

    /// Whether the processor publishes this report's JUnit into a report group: as
    /// `scangate-publish` says; else yes unless a build uploaded it and waits for the
    /// verdict (a build ARN and `scangate-wait` > 0), because that build reports the
    /// JUnit through its own buildspec.
    pub fn publishes(&self) -> bool {
        match self.publish {
            Some(p) => p,
            None => self.build_arn.is_none() || self.wait_seconds.is_none_or(|w| w == 0),
        }
    }
}

/// Reads the metadata (the contract's parser); an invalid value is an error naming the key.
pub fn parse_meta(m: &HashMap<String, String>, base: &Thresholds) -> Result<ReportMeta, String> {
    let c = ReportMetadata::parse(m).map_err(|e| e.to_string())?;
    Ok(ReportMeta {
        target: c.target,
        scan_type: c.scan_type.unwrap_or_default(),
        scanner_policy: c.scanner_exit_code.and_then(PolicyResult::from_exit_code),
        scanned_at: c.scanned_at,
        build_arn: c.build_arn,
        pipeline: c.pipeline,
        execution_id: c.execution_id,
        thresholds: c.thresholds.over(base),
        wait_seconds: c.wait_seconds,
        publish: c.publish,
        source_repo_url: c.source_repo_url,
        source_branch: c.source_branch,
        source_action: c.source_action,
        initiator: c.initiator,
        execution_verified: false,
        notes: Vec::new(),
        host: Some(c.host).filter(|h| !h.is_empty()),
    })
}

/// The build a report names, by its ARN (checked against the key's project before this is
/// called, claims.rs).
pub(super) fn build_from_arn(arn: &str) -> BuildRef {
    let b = BuildId::from_arn(arn);
    BuildRef {
        arn: Some(arn.to_string()),
        id: b.map(|b| b.id.to_string()),
        project: b.map(|b| b.project.to_string()),
        ..BuildRef::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_publishes() {
        let arn = Some("arn:aws:codebuild:us-east-1:123456789012:build/p:1".to_string());
        let m = |build_arn: Option<String>, wait: Option<u64>, publish: Option<bool>| ReportMeta {
            build_arn,
            wait_seconds: wait,
            publish,
            ..ReportMeta::default()
        };
        assert!(m(None, None, None).publishes(), "a report dropped in by hand");
        assert!(m(arn.clone(), None, None).publishes(), "a build that uploads and exits");
        assert!(m(arn.clone(), Some(0), None).publishes(), "wait 0 is no wait");
        assert!(!m(arn.clone(), Some(900), None).publishes(), "the waiting build reports the JUnit itself");
        assert!(m(None, Some(900), None).publishes(), "a wait without a build is nobody's build");
        assert!(m(arn.clone(), Some(900), Some(true)).publishes(), "scangate-publish wins");
        assert!(!m(None, None, Some(false)).publishes(), "scangate-publish wins");
        let meta = |k: &str, v: &str| -> HashMap<String, String> { [(k.to_string(), v.to_string())].into() };
        let parsed = parse_meta(&meta("scangate-wait", "900"), &Thresholds::default()).expect("valid");
        assert_eq!(parsed.wait_seconds, Some(900));
        let parsed = parse_meta(&meta("scangate-publish", "false"), &Thresholds::default()).expect("valid");
        assert_eq!(parsed.publish, Some(false));
        for (k, v) in [("scangate-wait", "-1"), ("scangate-wait", "soon"), ("scangate-publish", "maybe")] {
            let err = parse_meta(&meta(k, v), &Thresholds::default()).expect_err(k);
            assert!(err.contains(k) && err.contains(v), "{err}");
        }
    }

    #[test]
    fn metadata() {
        let m: HashMap<String, String> = [
            ("scangate-target", "app:1"),
            ("scangate-scan-type", "image"),
            ("scangate-scanner-exit-code", "42"),
            ("scangate-max-high", "3"),
            ("scangate-scanned-at", "2026-11-23T08:00:00Z"),
            ("scangate-build-arn", "arn:aws:codebuild:us-east-1:123456789012:build/proj:u-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let meta = parse_meta(&m, &Thresholds::default()).expect("valid metadata");
        assert_eq!(meta.scan_type, ScanType::Image);
        assert_eq!(meta.scanner_policy, Some(PolicyResult::Deny));
        assert_eq!(meta.thresholds.max_high, 3);
        assert_eq!(meta.thresholds.max_critical, 0);
        let b = build_from_arn(meta.build_arn.as_deref().expect("arn"));
        assert_eq!(b.project.as_deref(), Some("proj"));
        assert_eq!(b.id.as_deref(), Some("proj:u-1"));
        for (k, v) in [("scangate-max-low", "x"), ("scangate-scan-type", "vm"), ("scangate-scanned-at", "yesterday")] {
            let bad: HashMap<String, String> = [(k.to_string(), v.to_string())].into_iter().collect();
            let err = parse_meta(&bad, &Thresholds::default()).expect_err(k);
            assert!(err.contains(k), "{err}");
        }
    }
}

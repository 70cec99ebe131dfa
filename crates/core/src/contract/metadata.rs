//! The S3 object metadata (`x-amz-meta-*`) the runner writes on a report and the
//! report-processor reads: the names ([`meta`]), the typed [`ReportMetadata`] and the
//! per-severity [`ThresholdRequest`]. The round trip (what [`ReportMetadata::to_pairs`] writes,
//! [`ReportMetadata::parse`] reads back identically) is a property test below. Names are a
//! user-facing contract (docs/runner.md, docs/report-processor.md): extend, never rename.

use crate::host::HostFacts;
use crate::lifecycle::ScanType;
use crate::policy::{parse_bool, Thresholds};
use std::collections::HashMap;

/// Metadata names (`x-amz-meta-*`) on an uploaded report. All lowercase: S3 lowercases them.
pub mod meta {
    /// What was scanned: an image reference, a repository path or URL, a SIF file.
    pub const TARGET: &str = "scangate-target";
    /// `image`, `repo`, `rootfs` or `other`.
    pub const SCAN_TYPE: &str = "scangate-scan-type";
    /// The scanner's exit code (42 DENY, 43 AUDIT).
    pub const EXIT_CODE: &str = "scangate-scanner-exit-code";
    /// RFC 3339 time of the scan: orders reports of one lifecycle.
    pub const SCANNED_AT: &str = "scangate-scanned-at";
    pub const BUILD_ARN: &str = "scangate-build-arn";
    /// `CODEBUILD_INITIATOR` (`codepipeline/<pipeline>` in a pipeline, a user or a webhook else).
    pub const INITIATOR: &str = "scangate-initiator";
    /// The source version (commit) the build checked out.
    pub const SOURCE_VERSION: &str = "scangate-source-version";
    /// The source repository URL, credentials removed (lifecycle identity of `repo` scans).
    pub const SOURCE_REPO_URL: &str = "scangate-source-repo-url";
    /// The source branch, without `refs/heads/` (lifecycle identity of `repo` scans).
    pub const SOURCE_BRANCH: &str = "scangate-source-branch";
    /// The CodePipeline source action (or its output artifact) the scanned source came from.
    pub const SOURCE_ACTION: &str = "scangate-source-action";
    pub const PIPELINE: &str = "scangate-pipeline";
    pub const EXECUTION_ID: &str = "scangate-pipeline-execution-id";
    pub const MAX_CRITICAL: &str = "scangate-max-critical";
    pub const MAX_HIGH: &str = "scangate-max-high";
    pub const MAX_MEDIUM: &str = "scangate-max-medium";
    pub const MAX_LOW: &str = "scangate-max-low";
    /// Seconds the uploading build waits for the verdict (`--wait`); > 0 means it reads
    /// junit.xml itself and reports it through its own buildspec.
    pub const WAIT: &str = "scangate-wait";
    /// `true`/`false`: publish the JUnit to a report group or not, whatever else says.
    pub const PUBLISH: &str = "scangate-publish";
    /// The node a host scan ran on (`scan running`: `uname -n`; crate::host).
    pub const HOST: &str = "scangate-host";
    /// That node's kernel release (`uname -r`).
    pub const KERNEL: &str = "scangate-kernel";
    /// That node's machine (`uname -m`).
    pub const MACHINE: &str = "scangate-machine";
    /// The scanned filesystem's operating system, from its os-release.
    pub const OS: &str = "scangate-os";
    /// RFC 3339 time of a later upload (`scangate upload` of an offline scan), when it is not
    /// the scan's own time (`scangate-scanned-at` keeps that).
    pub const UPLOADED_AT: &str = "scangate-uploaded-at";

    /// Every name above, in the order the runner writes them.
    pub const ALL: [&str; 23] = [
        SCAN_TYPE,
        SCANNED_AT,
        TARGET,
        EXIT_CODE,
        BUILD_ARN,
        INITIATOR,
        SOURCE_VERSION,
        SOURCE_REPO_URL,
        SOURCE_BRANCH,
        SOURCE_ACTION,
        PIPELINE,
        EXECUTION_ID,
        MAX_CRITICAL,
        MAX_HIGH,
        MAX_MEDIUM,
        MAX_LOW,
        WAIT,
        PUBLISH,
        HOST,
        KERNEL,
        MACHINE,
        OS,
        UPLOADED_AT,
    ];
}

/// An invalid metadata value: names the metadata key and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("metadata {name}: {message}")]
pub struct MetadataError {
    pub name: &'static str,
    pub message: String,
}

pub use crate::policy::ThresholdRequest;

impl ThresholdRequest {
    fn fields(&self) -> [(&'static str, Option<i64>); 4] {
        [
            (meta::MAX_CRITICAL, self.max_critical),
            (meta::MAX_HIGH, self.max_high),
            (meta::MAX_MEDIUM, self.max_medium),
            (meta::MAX_LOW, self.max_low),
        ]
    }
}

/// The metadata of one uploaded report, typed. Absent and blank values are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportMetadata {
    pub scan_type: Option<ScanType>,
    pub scanned_at: Option<String>,
    pub target: Option<String>,
    pub scanner_exit_code: Option<i32>,
    pub build_arn: Option<String>,
    pub initiator: Option<String>,
    pub source_version: Option<String>,
    pub source_repo_url: Option<String>,
    pub source_branch: Option<String>,
    pub source_action: Option<String>,
    pub pipeline: Option<String>,
    pub execution_id: Option<String>,
    pub thresholds: ThresholdRequest,
    pub wait_seconds: Option<u64>,
    pub publish: Option<bool>,
    /// `scangate-host`, `-kernel`, `-machine`, `-os`.
    pub host: HostFacts,
    pub uploaded_at: Option<String>,
}

impl ReportMetadata {
    /// The metadata pairs to write, in [`meta::ALL`] order; `None` values are left out.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::with_capacity(meta::ALL.len());
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                out.push((k.to_string(), v));
            }
        };
        push(meta::SCAN_TYPE, self.scan_type.map(|t| t.as_str().to_string()));
        push(meta::SCANNED_AT, self.scanned_at.clone());
        push(meta::TARGET, self.target.clone());
        push(meta::EXIT_CODE, self.scanner_exit_code.map(|c| c.to_string()));
        push(meta::BUILD_ARN, self.build_arn.clone());
        push(meta::INITIATOR, self.initiator.clone());
        push(meta::SOURCE_VERSION, self.source_version.clone());
        push(meta::SOURCE_REPO_URL, self.source_repo_url.clone());
        push(meta::SOURCE_BRANCH, self.source_branch.clone());
        push(meta::SOURCE_ACTION, self.source_action.clone());
        push(meta::PIPELINE, self.pipeline.clone());
        push(meta::EXECUTION_ID, self.execution_id.clone());
        for (k, v) in self.thresholds.fields() {
            push(k, v.map(|v| v.to_string()));
        }
        push(meta::WAIT, self.wait_seconds.map(|w| w.to_string()));
        push(meta::PUBLISH, self.publish.map(|p| p.to_string()));
        push(meta::HOST, self.host.hostname.clone());
        push(meta::KERNEL, self.host.kernel.clone());
        push(meta::MACHINE, self.host.machine.clone());
        push(meta::OS, self.host.os.clone());
        push(meta::UPLOADED_AT, self.uploaded_at.clone());
        out
    }

    /// Reads metadata as S3 returns it. Values are trimmed; blank counts as absent; an
    /// invalid value is an error naming the key and what was expected. Unknown names are ignored.
    pub fn parse(m: &HashMap<String, String>) -> Result<ReportMetadata, MetadataError> {
        let get = |k: &str| m.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let err = |name: &'static str, message: String| MetadataError { name, message };
        let mut out = ReportMetadata {
            target: get(meta::TARGET),
            build_arn: get(meta::BUILD_ARN),
            initiator: get(meta::INITIATOR),
            source_version: get(meta::SOURCE_VERSION),
            source_repo_url: get(meta::SOURCE_REPO_URL),
            source_branch: get(meta::SOURCE_BRANCH),
            source_action: get(meta::SOURCE_ACTION),
            pipeline: get(meta::PIPELINE),
            execution_id: get(meta::EXECUTION_ID),
            host: HostFacts {
                hostname: get(meta::HOST),
                kernel: get(meta::KERNEL),
                machine: get(meta::MACHINE),
                os: get(meta::OS),
            },
            ..ReportMetadata::default()
        };
        if let Some(t) = get(meta::SCAN_TYPE) {
            out.scan_type = Some(t.parse::<ScanType>().map_err(|e| err(meta::SCAN_TYPE, e))?);
        }
        if let Some(code) = get(meta::EXIT_CODE) {
            out.scanner_exit_code = Some(
                code.parse::<i32>().map_err(|_| err(meta::EXIT_CODE, format!("expected an integer, got {code:?}")))?,
            );
        }
        if let Some(at) = get(meta::SCANNED_AT) {
            if time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).is_err() {
                return Err(err(meta::SCANNED_AT, format!("expected an RFC 3339 time, got {at:?}")));
            }
            out.scanned_at = Some(at);
        }
        if let Some(at) = get(meta::UPLOADED_AT) {
            if time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).is_err() {
                return Err(err(meta::UPLOADED_AT, format!("expected an RFC 3339 time, got {at:?}")));
            }
            out.uploaded_at = Some(at);
        }
        for (name, field) in [
            (meta::MAX_CRITICAL, &mut out.thresholds.max_critical),
            (meta::MAX_HIGH, &mut out.thresholds.max_high),
            (meta::MAX_MEDIUM, &mut out.thresholds.max_medium),
            (meta::MAX_LOW, &mut out.thresholds.max_low),
        ] {
            if let Some(v) = get(name) {
                *field = Some(Thresholds::parse_value(&v).map_err(|e| err(name, e))?);
            }
        }
        if let Some(w) = get(meta::WAIT) {
            out.wait_seconds = Some(
                w.parse::<u64>()
                    .map_err(|_| err(meta::WAIT, format!("expected whole seconds (0 or more), got {w:?}")))?,
            );
        }
        if let Some(p) = get(meta::PUBLISH) {
            out.publish = Some(parse_bool(&p).map_err(|e| err(meta::PUBLISH, e))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A metadata value as the runner could write it: printable ASCII (S3 metadata is
    /// ASCII), no surrounding blanks (values are trimmed when read), never blank.
    fn value() -> impl Strategy<Value = String> {
        "[!-~]([ -~]{0,40}[!-~])?"
    }

    fn opt<T: std::fmt::Debug + Clone>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
        proptest::option::of(s)
    }

    fn scan_type() -> impl Strategy<Value = ScanType> {
        prop_oneof![Just(ScanType::Image), Just(ScanType::Repo), Just(ScanType::Rootfs), Just(ScanType::Other)]
    }

    fn rfc3339() -> impl Strategy<Value = String> {
        (2000i32..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60, 0u32..1000)
            .prop_map(|(y, mo, d, h, mi, s, ms)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z"))
    }

    fn metadata() -> impl Strategy<Value = ReportMetadata> {
        let threshold = || opt(-1i64..1_000_000);
        (
            (opt(scan_type()), opt(rfc3339()), opt(value()), opt(any::<i32>()), opt(value()), opt(value())),
            (opt(value()), opt(value()), opt(value()), opt(value()), opt(value()), opt(value())),
            (threshold(), threshold(), threshold(), threshold(), opt(any::<u64>()), opt(any::<bool>())),
            (opt(value()), opt(value()), opt(value()), opt(value()), opt(rfc3339())),
        )
            .prop_map(|(a, b, c, d)| ReportMetadata {
                scan_type: a.0,
                scanned_at: a.1,
                target: a.2,
                scanner_exit_code: a.3,
                build_arn: a.4,
                initiator: a.5,
                source_version: b.0,
                source_repo_url: b.1,
                source_branch: b.2,
                source_action: b.3,
                pipeline: b.4,
                execution_id: b.5,
                thresholds: ThresholdRequest { max_critical: c.0, max_high: c.1, max_medium: c.2, max_low: c.3 },
                wait_seconds: c.4,
                publish: c.5,
                host: HostFacts { hostname: d.0, kernel: d.1, machine: d.2, os: d.3 },
                uploaded_at: d.4,
            })
    }

    proptest! {
        /// What the runner writes, the processor reads back identically.
        #[test]
        fn metadata_round_trips(m in metadata()) {
            let pairs = m.to_pairs();
            for (k, _) in &pairs {
                prop_assert!(meta::ALL.contains(&k.as_str()), "{k} is not a contract name");
                prop_assert_eq!(k.to_ascii_lowercase(), k.clone(), "S3 lowercases metadata names");
            }
            let map: HashMap<String, String> = pairs.into_iter().collect();
            prop_assert_eq!(ReportMetadata::parse(&map).expect("what the runner writes is valid"), m);
        }
    }

    #[test]
    fn every_name_is_written_when_set() {
        let full = ReportMetadata {
            scan_type: Some(ScanType::Repo),
            scanned_at: Some("2026-11-23T08:00:00Z".into()),
            target: Some("t".into()),
            scanner_exit_code: Some(42),
            build_arn: Some("a".into()),
            initiator: Some("codepipeline/p".into()),
            source_version: Some("v".into()),
            source_repo_url: Some("https://git.example/app".into()),
            source_branch: Some("main".into()),
            source_action: Some("Source".into()),
            pipeline: Some("p".into()),
            execution_id: Some("e".into()),
            thresholds: ThresholdRequest {
                max_critical: Some(0),
                max_high: Some(1),
                max_medium: Some(2),
                max_low: Some(-1),
            },
            wait_seconds: Some(900),
            publish: Some(false),
            host: HostFacts {
                hostname: Some("node01".into()),
                kernel: Some("6.1.0-18-amd64".into()),
                machine: Some("x86_64".into()),
                os: Some("Rocky Linux 9.3 (Blue Onyx)".into()),
            },
            uploaded_at: Some("2026-11-24T08:00:00Z".into()),
        };
        let names: Vec<String> = full.to_pairs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, meta::ALL.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(meta::ALL.iter().all(|n| n.starts_with("scangate-")));
        assert!(meta::ALL.iter().filter(|n| n.starts_with("scangate-max-")).count() == 4);
    }

    #[test]
    fn invalid_values_name_the_key_and_the_value() {
        let table = [
            (meta::SCAN_TYPE, "vm"),
            (meta::EXIT_CODE, "x"),
            (meta::SCANNED_AT, "yesterday"),
            (meta::MAX_LOW, "x"),
            (meta::MAX_HIGH, "-2"),
            (meta::WAIT, "-1"),
            (meta::WAIT, "soon"),
            (meta::PUBLISH, "maybe"),
            (meta::UPLOADED_AT, "later"),
        ];
        for (k, v) in table {
            let m: HashMap<String, String> = [(k.to_string(), v.to_string())].into();
            let e = ReportMetadata::parse(&m).expect_err(k).to_string();
            assert!(e.contains(k) && e.contains(v.trim_start_matches('-')), "{e}");
        }
        let blank: HashMap<String, String> = [(meta::TARGET.to_string(), "  ".to_string())].into();
        assert_eq!(ReportMetadata::parse(&blank).expect("valid").target, None, "blank is absent");
    }
}

//! The written contract between the runner (`scangate scan`), the report-processor and the
//! pipeline-gate: the S3 object metadata the runner writes on a report and the processor
//! reads ([`meta`], [`ReportMetadata`]), and every object key layout the three build
//! (`scans/`, `results/`, `results/by-execution/`, `state/`, `quarantine/`, publish markers).
//!
//! All three use this module; none spells a metadata name or a key layout itself. The
//! round trip (what [`ReportMetadata::to_pairs`] writes, [`ReportMetadata::parse`] reads back
//! identically) is a property test below. Names here are a user-facing contract
//! (docs/runner.md, docs/report-processor.md): extend, never rename.

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

    /// Every name above, in the order the runner writes them.
    pub const ALL: [&str; 18] = [
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
    ];
}

/// An invalid metadata value: names the metadata key and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("metadata {name}: {message}")]
pub struct MetadataError {
    pub name: &'static str,
    pub message: String,
}

/// Per-severity thresholds asked for: by the uploader (`scangate-max-*` metadata) or by the
/// pipeline gate's `UserParameters` (`max_*` overrides); `None`: not set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThresholdRequest {
    pub max_critical: Option<i64>,
    pub max_high: Option<i64>,
    pub max_medium: Option<i64>,
    pub max_low: Option<i64>,
}

impl ThresholdRequest {
    /// `base` with the requested values in place of its own.
    pub fn over(&self, base: &Thresholds) -> Thresholds {
        Thresholds {
            max_critical: self.max_critical.unwrap_or(base.max_critical),
            max_high: self.max_high.unwrap_or(base.max_high),
            max_medium: self.max_medium.unwrap_or(base.max_medium),
            max_low: self.max_low.unwrap_or(base.max_low),
        }
    }

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

// ---------------------------------------------------------------------------------------
// Key layouts.

/// Where the runner uploads reports (the processor's default `SCAN_PREFIX`).
pub const SCAN_PREFIX: &str = "scans/";
/// Where the processor writes verdicts, JUnit, summaries and publish markers.
pub const RESULTS_PREFIX: &str = "results/";
/// The per-pipeline-execution verdict copies the pipeline-gate reads.
pub const BY_EXECUTION_PREFIX: &str = "results/by-execution/";
/// One lifecycle state object per lifecycle key.
pub const STATE_PREFIX: &str = "state/";
/// Copies of reports that can never be processed, with a reason beside them.
pub const QUARANTINE_PREFIX: &str = "quarantine/";
/// Where the report groups the processor creates export their raw reports.
pub const REPORT_GROUP_EXPORT_PREFIX: &str = "report-groups/";
/// The object name of the SARIF report the runner uploads under its scan folder.
pub const REPORT_OBJECT_NAME: &str = "report.sarif";
/// Report object suffixes the processor reads (case-insensitive).
pub const SARIF_SUFFIXES: [&str; 2] = [".sarif.json", ".sarif"];
/// Prefixes the processor writes to: never processed, whatever SCAN_PREFIX is (an empty
/// prefix would otherwise process its own quarantine copies, forever).
pub const OWN_PREFIXES: [&str; 3] = [QUARANTINE_PREFIX, RESULTS_PREFIX, STATE_PREFIX];

/// S3's longest object key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest name the processor writes under a results folder: `publish/<token>.json`
/// (the token is `scangate-` and 32 hex digits).
const LONGEST_RESULT_NAME: usize = "publish/".len() + "scangate-".len() + 32 + ".json".len();

/// Checks a report key before anything is derived from it (docs/security.md, the over-long key): at
/// most [`MAX_KEY_BYTES`], no control characters, no empty, `.` or `..` segment below
/// `prefix`, and every results key derived from it fits S3's limit. The error says why.
pub fn check_report_key(key: &str, prefix: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("the key is {} bytes, more than S3's {MAX_KEY_BYTES}", key.len()));
    }
    if let Some((at, c)) = key.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!("the key holds a control character (U+{:04X}) at byte {at}", c as u32));
    }
    let rest = key.strip_prefix(prefix).unwrap_or(key);
    for (i, segment) in rest.split('/').enumerate() {
        match segment {
            "" => return Err(format!("the key has an empty segment (segment {} below {prefix:?})", i + 1)),
            "." | ".." => {
                return Err(format!("the key has a {segment:?} segment (segment {} below {prefix:?})", i + 1))
            }
            _ => {}
        }
    }
    let (project, build_id) = results_dir(key, prefix);
    let longest = results_dir_key(&project, &build_id).len() + 1 + LONGEST_RESULT_NAME;
    if longest > MAX_KEY_BYTES {
        return Err(format!(
            "the results keys derived from it (results/<project>/<build-id>/…) would be {longest} bytes, \
             more than S3's {MAX_KEY_BYTES}"
        ));
    }
    Ok(())
}

/// True when `quarantine/<key>` and its `.reason.json` fit S3's key limit and the key has
/// no control characters (else the quarantine copy gets a hashed name).
pub fn quarantine_key_fits(report_key: &str) -> bool {
    quarantine_reason_key(report_key).len() <= MAX_KEY_BYTES && !report_key.chars().any(char::is_control)
}

/// The runner's upload folder of one build: `scans/<project>/<build-id>/`.
pub fn scan_dir(project: &str, build_id: &str) -> String {
    format!("{SCAN_PREFIX}{project}/{build_id}/")
}

/// The results folder of one build: `results/<project>/<build-id>`.
pub fn results_dir_key(project: &str, build_id: &str) -> String {
    format!("{RESULTS_PREFIX}{project}/{build_id}")
}

/// `results/<project>/<build-id>/verdict.json`.
pub fn verdict_key(project: &str, build_id: &str) -> String {
    format!("{}/verdict.json", results_dir_key(project, build_id))
}

/// `results/<project>/<build-id>/junit.xml`.
pub fn junit_key(project: &str, build_id: &str) -> String {
    format!("{}/junit.xml", results_dir_key(project, build_id))
}

/// `results/<project>/<build-id>/summary.md`.
pub fn summary_key(project: &str, build_id: &str) -> String {
    format!("{}/summary.md", results_dir_key(project, build_id))
}

/// `results/<project>/<build-id>/hub.json`: the Security Hub outcome of the report, written
/// after `verdict.json` by the report-processor.
pub fn hub_key(project: &str, build_id: &str) -> String {
    format!("{}/hub.json", results_dir_key(project, build_id))
}

/// The marker of a started publisher build: `results/<project>/<build-id>/publish/<token>.json`.
pub fn publish_marker_key(project: &str, build_id: &str, token: &str) -> String {
    format!("{}/publish/{token}.json", results_dir_key(project, build_id))
}

/// The verdict copy of one pipeline execution: `results/by-execution/<pipeline>/<execution-id>/verdict.json`.
pub fn by_execution_verdict_key(pipeline: &str, execution_id: &str) -> String {
    format!("{BY_EXECUTION_PREFIX}{pipeline}/{execution_id}/verdict.json")
}

/// The summary beside a per-build verdict key (`…/verdict.json` → `…/summary.md`); None for
/// a by-execution key or a key that does not end in `verdict.json`.
pub fn summary_beside(verdict_key: &str) -> Option<String> {
    if verdict_key.starts_with(BY_EXECUTION_PREFIX) {
        return None;
    }
    let dir = verdict_key.strip_suffix("verdict.json")?;
    (dir.is_empty() || dir.ends_with('/')).then(|| format!("{dir}summary.md"))
}

/// The lifecycle state object: `state/<lifecycle-hash>.json`.
pub fn state_key(lifecycle_hash: &str) -> String {
    format!("{STATE_PREFIX}{lifecycle_hash}.json")
}

/// The quarantine copy of a report: `quarantine/<report key>`.
pub fn quarantine_key(report_key: &str) -> String {
    format!("{QUARANTINE_PREFIX}{report_key}")
}

/// The reason beside a quarantine copy: `quarantine/<report key>.reason.json`.
pub fn quarantine_reason_key(report_key: &str) -> String {
    format!("{}.reason.json", quarantine_key(report_key))
}

/// Where a report group's raw reports are exported: `report-groups/<name>`.
pub fn report_group_export_path(group: &str) -> String {
    format!("{REPORT_GROUP_EXPORT_PREFIX}{group}")
}

/// A report name without its `.sarif` / `.sarif.json` suffix (case-insensitive).
pub fn strip_sarif_suffix(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    for suffix in SARIF_SUFFIXES {
        if lower.ends_with(suffix) {
            return &name[..name.len() - suffix.len()];
        }
    }
    name
}

/// True when the key is under the prefix, ends like a SARIF report and is not one of
/// the processor's own objects.
pub fn is_report_key(key: &str, prefix: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    key.starts_with(prefix)
        && SARIF_SUFFIXES.iter().any(|s| lower.ends_with(s))
        && !OWN_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// `(<project>, <build-id>)` from `<prefix><project>/<build-id>/<name>`: the results folder
/// of a report. Keys of another shape use `_` for the project and the name without its suffix.
pub fn results_dir(key: &str, prefix: &str) -> (String, String) {
    let rest = key.strip_prefix(prefix).unwrap_or(key);
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [project, build, ..] if parts.len() >= 3 => (project.to_string(), build.to_string()),
        [project, name] => (project.to_string(), strip_sarif_suffix(name).to_string()),
        [name] => ("_".to_string(), strip_sarif_suffix(name).to_string()),
        _ => ("_".to_string(), "_".to_string()),
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
        )
            .prop_map(|(a, b, c)| ReportMetadata {
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
        ];
        for (k, v) in table {
            let m: HashMap<String, String> = [(k.to_string(), v.to_string())].into();
            let e = ReportMetadata::parse(&m).expect_err(k).to_string();
            assert!(e.contains(k) && e.contains(v.trim_start_matches('-')), "{e}");
        }
        let blank: HashMap<String, String> = [(meta::TARGET.to_string(), "  ".to_string())].into();
        assert_eq!(ReportMetadata::parse(&blank).expect("valid").target, None, "blank is absent");
    }

    #[test]
    fn key_layouts() {
        assert_eq!(scan_dir("p", "b"), "scans/p/b/");
        assert_eq!(verdict_key("p", "b"), "results/p/b/verdict.json");
        assert_eq!(junit_key("p", "b"), "results/p/b/junit.xml");
        assert_eq!(summary_key("p", "b"), "results/p/b/summary.md");
        assert_eq!(hub_key("p", "b"), "results/p/b/hub.json");
        assert_eq!(publish_marker_key("p", "b", "t"), "results/p/b/publish/t.json");
        assert_eq!(by_execution_verdict_key("pl", "e"), "results/by-execution/pl/e/verdict.json");
        assert_eq!(state_key("ab"), "state/ab.json");
        assert_eq!(quarantine_key("scans/p/b/report.sarif"), "quarantine/scans/p/b/report.sarif");
        assert_eq!(quarantine_reason_key("scans/x.sarif"), "quarantine/scans/x.sarif.reason.json");
        assert_eq!(report_group_export_path("g"), "report-groups/g");
        assert_eq!(summary_beside("results/p/b/verdict.json").as_deref(), Some("results/p/b/summary.md"));
        assert_eq!(summary_beside(&by_execution_verdict_key("pl", "e")), None);
        assert_eq!(summary_beside("results/p/b/other.json"), None);
        // What the runner uploads is what the processor reads, and its results folder is the
        // folder the runner waits on.
        let report = format!("{}{REPORT_OBJECT_NAME}", scan_dir("proj", "b-1"));
        assert!(is_report_key(&report, SCAN_PREFIX));
        let (p, b) = results_dir(&report, SCAN_PREFIX);
        assert_eq!(verdict_key(&p, &b), verdict_key("proj", "b-1"));
        for own in OWN_PREFIXES {
            assert!(!is_report_key(&format!("{own}x/1/r.sarif"), ""), "{own}");
        }
    }

    #[test]
    fn report_keys_are_checked_before_anything_is_derived() {
        for ok in ["scans/app/b-1/report.sarif", "scans/my app/build 7/100% done.sarif", "scans/p/b/a.b..c.sarif"] {
            assert_eq!(check_report_key(ok, SCAN_PREFIX), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("scans/../victim/b/report.sarif", "\"..\" segment"),
            ("scans/app/../../results/x.sarif", "\"..\" segment"),
            ("scans/./app/b/report.sarif", "\".\" segment"),
            ("scans/app//b/report.sarif", "empty segment"),
            ("scans/app/b\u{7}/report.sarif", "control character (U+0007)"),
            ("scans/app/b\n/report.sarif", "control character (U+000A)"),
        ] {
            let err = check_report_key(bad, SCAN_PREFIX).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = format!("scans/{}/b/report.sarif", "p".repeat(1000));
        assert!(check_report_key(&long, SCAN_PREFIX).expect_err("derived keys too long").contains("results keys"));
        let too_long = format!("scans/p/b/{}.sarif", "x".repeat(1100));
        assert!(check_report_key(&too_long, SCAN_PREFIX).expect_err("over S3's limit").contains("more than S3's 1024"));
        // The limit is exact: the longest derived key of a fitting key is at most 1024 bytes.
        let project = "p".repeat(MAX_KEY_BYTES - "results/".len() - "/b/".len() - LONGEST_RESULT_NAME);
        let fits = format!("scans/{project}/b/report.sarif");
        assert_eq!(check_report_key(&fits, SCAN_PREFIX), Ok(()));
        assert_eq!(publish_marker_key(&project, "b", &format!("scangate-{}", "0".repeat(32))).len(), MAX_KEY_BYTES);
        assert!(check_report_key(&format!("scans/{project}p/b/report.sarif"), SCAN_PREFIX).is_err());
        assert!(quarantine_key_fits("scans/p/b/report.sarif"));
        assert!(!quarantine_key_fits(&format!("scans/p/b/{}.sarif", "x".repeat(1000))));
        assert!(!quarantine_key_fits("scans/p/b\u{1}/report.sarif"));
    }
}

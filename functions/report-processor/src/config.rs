//! The processor's configuration, from environment variables (docs/design.md,
//! "report-processor"; defaults in docs/report-processor.md). Invalid values fail at cold start with a message
//! naming the variable.

use scangate_core::lifecycle::state::ImportOn;
use scangate_core::policy::{parse_bool, GatePolicy, GateSettings, QualityFindings, ThresholdRequest, Thresholds};

/// Which findings replace which in Security Hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleMode {
    /// Account + region + scan type + target identity (the default).
    Target,
    /// One lifecycle per report object key.
    Report,
}

/// Everything the processor is configured with.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// When set, only reports in this bucket are processed.
    pub report_bucket: Option<String>,
    pub scan_prefix: String,
    pub gate: GatePolicy,
    pub security_hub_enabled: bool,
    /// BatchImportFindings calls per second (the token bucket's rate; burst is 3× that).
    pub security_hub_max_tps: f64,
    pub refresh_days: u32,
    /// `IMPORT_ON`: what re-imports a finding before its refresh is due (default: only a
    /// change of its content, not a new image tag, build or report).
    pub import_on: ImportOn,
    pub lifecycle: LifecycleMode,
    /// The publisher CodeBuild project started for reports no build waits for (None = no
    /// publishing). See docs/report-processor.md, "Publishing to report groups".
    pub publisher_project: Option<String>,
    /// `PUBLISH_PROJECTS`: the CodeBuild projects (comma-separated) whose verified reports
    /// are published; a report of any other project is not (empty: none is). The stack sets
    /// its scan projects and its `PublishProjects`, whose report groups its roles may write.
    pub publish_projects: Vec<String>,
    /// SSE-KMS key for objects the processor writes (else the bucket default).
    pub kms_key_id: Option<String>,
    /// Sent as ExpectedBucketOwner with every S3 request when set.
    pub expected_bucket_owner: Option<String>,
    /// `MAX_REPORT_BYTES`: larger reports are quarantined with the reason, not read.
    /// Default: [`default_max_report_bytes`] of the function's memory.
    pub max_report_bytes: u64,
    /// `MAX_FINDINGS`: a report with more distinct findings (suppressed ones included) is
    /// quarantined with the reason; the reader holds none beyond it. Default:
    /// [`default_max_findings`] of the function's memory. Quality findings that are not gated
    /// (`QUALITY_FINDINGS` other than `gate`) are counted apart, see [`Config::max_quality_findings`].
    pub max_findings: usize,
    /// The most bytes a report's findings may take in the temp dir, where the reader spills
    /// them (not a variable of its own; None: a quarter of the temp dir's free space when the
    /// read starts, `process::spilled`): a report over it is quarantined as too large. A rule's
    /// shared texts are written once, but its description or help is copied into each of its
    /// findings' descriptions, so the report's bytes alone do not bound this.
    pub max_spill_bytes: Option<u64>,
    /// The most bytes the report's reader may hold besides the kept findings
    /// ([`default_max_held_bytes`] of the function's memory; not a variable of its own): the
    /// longest single JSON value it cuts out, and a run's rules, artifacts and waiting results
    /// with the runs' summaries. A report over it is quarantined as too large, naming what.
    pub max_held_bytes: u64,
    /// `ALLOW_METADATA_RELAX`: a report's `scangate-max-*` metadata may loosen the
    /// thresholds above. Default false: metadata can only tighten them (docs/security.md).
    pub allow_metadata_relax: bool,
    /// `SCAN_PROJECTS`: the CodeBuild projects whose builds may vouch for a report
    /// (docs/security.md, "Provenance"); the stack sets its scan projects and `PublishProjects`.
    pub scan_projects: Vec<String>,
    /// `SCAN_ROLE_IDS`: unique ids (`AROA…`) of the roles those projects run with; a
    /// report's requester must be one of them, in the build's own session.
    pub scan_role_ids: Vec<String>,
    /// `UPLOADER_PRINCIPAL_IDS`: unique ids (`AROA…`, `AIDA…`) of uploaders outside CodeBuild
    /// whose reports count as verified, each in a lifecycle namespace of its own.
    pub uploader_principal_ids: Vec<String>,
    /// `IMPORT_UNVERIFIED`: an unverified report imports its findings into a namespace of
    /// its object key (never archiving or refreshing a verified lifecycle). Default false:
    /// an unverified report changes nothing in Security Hub.
    pub import_unverified: bool,
    /// `WAIVER_MAX_DAYS`: the longest a waiver of the trusted waivers document may run (1 to
    /// 366, default 90); a longer one refuses the document (docs/waivers.md).
    pub waiver_max_days: u32,
}

/// The function memory assumed outside Lambda (the stack's `ProcessorMemorySize` default).
pub const DEFAULT_MEMORY_MB: u64 = 512;

/// The default `MAX_REPORT_BYTES`: half the function's memory (512 MB → 256 MiB). The report's
/// size no longer decides its memory: the reader streams it (never holding the object whole),
/// what it holds besides the findings is capped by [`default_max_held_bytes`], the findings
/// (spilled to the temp dir) by [`Config::max_spill_bytes`] and their number by `MAX_FINDINGS`, each refusal with its
/// own reason (docs/report-processor.md, "Memory"). This cap only bounds how long a report
/// may be read.
pub fn default_max_report_bytes(memory_mb: u64) -> u64 {
    memory_mb.saturating_mul(1024 * 1024) / 2
}

/// The default `MAX_FINDINGS`: one distinct finding per 512 bytes of the function's memory
/// (512 MB → 1 048 576; it was one per 2 KiB, 262 144, while a rescan read the previous
/// lifecycle state whole, one per 3 KiB while the processor held the report's findings, and one
/// per 8 KiB before the lifecycle state was held in compact form). The rule: such a report must
/// stay inside the memory in the worst case, a rescan, in a warm process after a first report of
/// the same size. The findings are spilled to the temp dir and the previous state streams from
/// there, so what grows is the Security Hub step's 100 bytes per distinct finding. Measured
/// (docs/benchmarks.md, "The previous state in the temp dir", with the stack's allocator
/// settings): 1 000 000 tiny findings peak at 136 MiB of RSS for a first report and 133 MiB for
/// its rescan. Bytes alone do not bound the findings: a report of tiny results (about 70 bytes
/// each) holds 150 000 distinct findings in 10 MiB.
pub fn default_max_findings(memory_mb: u64) -> usize {
    usize::try_from(memory_mb.saturating_mul(1024 * 1024) / 512).unwrap_or(usize::MAX)
}

/// The default `max_held_bytes`: one sixteenth of the function's memory (512 MB → 32 MiB).
/// Real reports hold far less outside their findings (a ruff report's 900 rules with their
/// documentation: about 2 MB; a QScanner report's rules: about 1 KB per QID); a report whose
/// rules, artifacts or one value would hold more is refused before it does.
pub fn default_max_held_bytes(memory_mb: u64) -> u64 {
    memory_mb.saturating_mul(1024 * 1024) / 16
}

/// How many distinct quality findings (not gated) the reader may count per `MAX_FINDINGS`:
/// it keeps 16 bytes of each (a digest of its dedup key, about 40 bytes of heap with the
/// set's overhead). One: the cap stays where it was (1 048 576 at 512 MB, as 16 × 65 536,
/// 6 × 174 762 and 4 × 262 144 had it) when the default `MAX_FINDINGS` grew, so that both caps
/// reached at once still fit.
pub const QUALITY_FINDINGS_PER_FINDING: usize = 1;

impl Config {
    /// The cap on distinct quality findings that are counted and not kept (`QUALITY_FINDINGS`
    /// `report` or `ignore`): [`QUALITY_FINDINGS_PER_FINDING`] × `MAX_FINDINGS` (1 048 576 at
    /// 512 MB); a report with more is quarantined. `None` with `QUALITY_FINDINGS=gate`: they are
    /// then gated and imported, kept and counted against `MAX_FINDINGS` like the others.
    pub fn max_quality_findings(&self) -> Option<usize> {
        (self.gate.quality != scangate_core::policy::QualityFindings::Gate)
            .then(|| self.max_findings.saturating_mul(QUALITY_FINDINGS_PER_FINDING))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            report_bucket: None,
            scan_prefix: scangate_core::contract::SCAN_PREFIX.into(),
            gate: GatePolicy::default(),
            security_hub_enabled: true,
            security_hub_max_tps: 10.0,
            refresh_days: 30,
            import_on: ImportOn::Content,
            lifecycle: LifecycleMode::Target,
            publisher_project: None,
            publish_projects: Vec::new(),
            kms_key_id: None,
            expected_bucket_owner: None,
            max_report_bytes: default_max_report_bytes(DEFAULT_MEMORY_MB),
            max_findings: default_max_findings(DEFAULT_MEMORY_MB),
            max_spill_bytes: None,
            max_held_bytes: default_max_held_bytes(DEFAULT_MEMORY_MB),
            allow_metadata_relax: false,
            scan_projects: Vec::new(),
            scan_role_ids: Vec::new(),
            uploader_principal_ids: Vec::new(),
            import_unverified: false,
            waiver_max_days: scangate_core::waivers::DEFAULT_MAX_DAYS,
        }
    }
}

/// A variable with an invalid value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (tests pass a map). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let vars = Vars(&lookup);
        let mut c = Config { report_bucket: vars.get("REPORT_BUCKET"), ..Config::default() };
        if let Some(p) = vars.get("SCAN_PREFIX") {
            c.scan_prefix = p;
        }
        c.gate = gate_policy(&vars)?;
        c.security_hub_enabled = vars.boolean("SECURITY_HUB_ENABLED", true)?;
        if let Some(tps) = security_hub_max_tps(&vars)? {
            c.security_hub_max_tps = tps;
        }
        if let Some(days) = refresh_days(&vars)? {
            c.refresh_days = days;
        }
        if let Some(on) = import_on(&vars)? {
            c.import_on = on;
        }
        if let Some(mode) = lifecycle_mode(&vars)? {
            c.lifecycle = mode;
        }
        c.publisher_project = vars.get("PUBLISHER_PROJECT");
        c.publish_projects = publish_projects(&vars);
        c.kms_key_id = vars.get("REPORT_KMS_KEY_ID");
        c.max_report_bytes = max_report_bytes(&vars)?;
        c.max_findings = max_findings(&vars)?;
        c.max_held_bytes = default_max_held_bytes(memory_mb(&vars));
        c.allow_metadata_relax = vars.boolean("ALLOW_METADATA_RELAX", false)?;
        c.import_unverified = vars.boolean("IMPORT_UNVERIFIED", false)?;
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|v| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect())
                .unwrap_or_default()
        };
        c.scan_projects = list(vars.get("SCAN_PROJECTS"));
        c.scan_role_ids = list(vars.get("SCAN_ROLE_IDS"));
        c.uploader_principal_ids = list(vars.get("UPLOADER_PRINCIPAL_IDS"));
        c.expected_bucket_owner = expected_bucket_owner(&vars)?;
        if let Some(days) = waiver_max_days(&vars)? {
            c.waiver_max_days = days;
        }
        Ok(c)
    }

    /// The token bucket's burst: 3 s worth of calls (10/s → 30), at least 1.
    pub fn security_hub_burst(&self) -> u32 {
        (self.security_hub_max_tps * 3.0).round().clamp(1.0, 3000.0) as u32
    }
}

/// The variables as `from_lookup` reads them: trimmed, and empty counts as unset.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        Ok(self.opt_boolean(name)?.unwrap_or(default))
    }

    fn opt_boolean(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(name).map(|v| parse_bool(&v).map_err(|message| ConfigError { name, message })).transpose()
    }

    fn threshold(&self, name: &'static str) -> Result<Option<i64>, ConfigError> {
        self.get(name).map(|v| Thresholds::parse_value(&v).map_err(|message| ConfigError { name, message })).transpose()
    }
}

/// `MAX_*`, `FAIL_ON_POLICY_*`, `ACCEPT_INCOMPLETE_SCAN`, `QUALITY_FINDINGS`,
/// `FAIL_ONLY_FIXABLE` and `HONOR_SUPPRESSIONS`, over the default policy.
fn gate_policy(vars: &Vars<'_>) -> Result<GatePolicy, ConfigError> {
    let thresholds = ThresholdRequest {
        max_critical: vars.threshold("MAX_CRITICAL")?,
        max_high: vars.threshold("MAX_HIGH")?,
        max_medium: vars.threshold("MAX_MEDIUM")?,
        max_low: vars.threshold("MAX_LOW")?,
    };
    let settings = GateSettings {
        thresholds,
        fail_on_policy_deny: vars.opt_boolean("FAIL_ON_POLICY_DENY")?,
        fail_on_policy_audit: vars.opt_boolean("FAIL_ON_POLICY_AUDIT")?,
        accept_incomplete: vars.opt_boolean("ACCEPT_INCOMPLETE_SCAN")?,
        quality: vars
            .get("QUALITY_FINDINGS")
            .map(|v| QualityFindings::parse(&v).map_err(|message| ConfigError { name: "QUALITY_FINDINGS", message }))
            .transpose()?,
        // Only findings with a fix count (docs/waivers.md).
        fixable_only: vars.opt_boolean("FAIL_ONLY_FIXABLE")?,
        // Which SARIF suppressions count (docs/security.md, "Suppressions").
        suppressions: vars
            .get("HONOR_SUPPRESSIONS")
            .map(|v| {
                scangate_core::suppression::HonorSuppressions::parse(&v)
                    .map_err(|message| ConfigError { name: "HONOR_SUPPRESSIONS", message })
            })
            .transpose()?,
    };
    Ok(settings.policy())
}

/// `SECURITY_HUB_MAX_TPS`: above 0 and at most 1000 calls per second.
fn security_hub_max_tps(vars: &Vars<'_>) -> Result<Option<f64>, ConfigError> {
    let Some(v) = vars.get("SECURITY_HUB_MAX_TPS") else { return Ok(None) };
    match v.parse::<f64>() {
        Ok(tps) if tps.is_finite() && tps > 0.0 && tps <= 1000.0 => Ok(Some(tps)),
        _ => Err(ConfigError {
            name: "SECURITY_HUB_MAX_TPS",
            message: format!("expected a number of calls per second above 0 and at most 1000, got {v:?}"),
        }),
    }
}

/// `REFRESH_DAYS`: 0 to 89 (Security Hub deletes findings not updated for 90 days).
fn refresh_days(vars: &Vars<'_>) -> Result<Option<u32>, ConfigError> {
    let Some(v) = vars.get("REFRESH_DAYS") else { return Ok(None) };
    match v.parse::<u32>() {
        Ok(d) if d <= 89 => Ok(Some(d)),
        _ => Err(ConfigError {
            name: "REFRESH_DAYS",
            message: format!(
                "expected whole days from 0 to 89 (Security Hub deletes findings not updated for 90 days), got {v:?}"
            ),
        }),
    }
}

/// `IMPORT_ON`: `content` or `sighting`.
fn import_on(vars: &Vars<'_>) -> Result<Option<ImportOn>, ConfigError> {
    let Some(v) = vars.get("IMPORT_ON") else { return Ok(None) };
    ImportOn::parse(&v).map(Some).ok_or_else(|| ConfigError {
        name: "IMPORT_ON",
        message: format!("expected `content` or `sighting`, got {v:?}"),
    })
}

/// `LIFECYCLE_KEY`: `target` or `report`, in any case.
fn lifecycle_mode(vars: &Vars<'_>) -> Result<Option<LifecycleMode>, ConfigError> {
    let Some(v) = vars.get("LIFECYCLE_KEY") else { return Ok(None) };
    match v.to_ascii_lowercase().as_str() {
        "target" => Ok(Some(LifecycleMode::Target)),
        "report" => Ok(Some(LifecycleMode::Report)),
        _ => Err(ConfigError { name: "LIFECYCLE_KEY", message: format!("expected `target` or `report`, got {v:?}") }),
    }
}

/// `PUBLISH_PROJECTS`: comma-separated, blanks dropped.
fn publish_projects(vars: &Vars<'_>) -> Vec<String> {
    vars.get("PUBLISH_PROJECTS")
        .map(|v| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// `MAX_REPORT_BYTES`, else (or when 0) [`default_max_report_bytes`] of
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (an invalid or zero memory counts as [`DEFAULT_MEMORY_MB`]).
fn max_report_bytes(vars: &Vars<'_>) -> Result<u64, ConfigError> {
    let default = default_max_report_bytes(memory_mb(vars));
    let Some(v) = vars.get("MAX_REPORT_BYTES") else { return Ok(default) };
    match v.parse::<u64>() {
        Ok(0) => Ok(default),
        Ok(n) => Ok(n),
        Err(_) => Err(ConfigError {
            name: "MAX_REPORT_BYTES",
            message: format!("expected a number of bytes (0: half the function's memory), got {v:?}"),
        }),
    }
}

/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (an invalid or zero memory counts as [`DEFAULT_MEMORY_MB`]).
fn memory_mb(vars: &Vars<'_>) -> u64 {
    match vars.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
        Some(v) => v.parse::<u64>().ok().filter(|m| *m > 0).unwrap_or(DEFAULT_MEMORY_MB),
        None => DEFAULT_MEMORY_MB,
    }
}

/// `MAX_FINDINGS`, else (or when 0) [`default_max_findings`] of the function's memory.
fn max_findings(vars: &Vars<'_>) -> Result<usize, ConfigError> {
    let default = default_max_findings(memory_mb(vars));
    let Some(v) = vars.get("MAX_FINDINGS") else { return Ok(default) };
    match v.parse::<usize>() {
        Ok(0) => Ok(default),
        Ok(n) => Ok(n),
        Err(_) => Err(ConfigError {
            name: "MAX_FINDINGS",
            message: format!(
                "expected a number of distinct findings (0: one per 512 bytes of the function's memory), got {v:?}"
            ),
        }),
    }
}

/// `WAIVER_MAX_DAYS`: whole days from 1 to 366.
fn waiver_max_days(vars: &Vars<'_>) -> Result<Option<u32>, ConfigError> {
    let Some(v) = vars.get("WAIVER_MAX_DAYS") else { return Ok(None) };
    match v.parse::<u32>() {
        Ok(d) if (1..=366).contains(&d) => Ok(Some(d)),
        _ => Err(ConfigError {
            name: "WAIVER_MAX_DAYS",
            message: format!("expected whole days from 1 to 366 (the longest a waiver may run), got {v:?}"),
        }),
    }
}

/// `EXPECTED_BUCKET_OWNER`: a 12-digit account id.
fn expected_bucket_owner(vars: &Vars<'_>) -> Result<Option<String>, ConfigError> {
    let owner = vars.get("EXPECTED_BUCKET_OWNER");
    if let Some(owner) = &owner {
        if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError {
                name: "EXPECTED_BUCKET_OWNER",
                message: format!("expected a 12-digit account id, got {owner:?}"),
            });
        }
    }
    Ok(owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).expect("defaults");
        assert_eq!(c, Config::default());
        assert_eq!(c.scan_prefix, "scans/");
        assert_eq!(c.gate.thresholds.max_critical, 0);
        assert!(c.security_hub_enabled);
        assert_eq!(c.security_hub_burst(), 30);
        assert_eq!(c.refresh_days, 30);
        assert_eq!(c.import_on, ImportOn::Content);
        assert_eq!(c.gate.quality, QualityFindings::Report, "quality findings are reported, not gated");
        assert!(!c.gate.fixable_only, "every finding counts unless FAIL_ONLY_FIXABLE");
        let fixable = cfg(&[("FAIL_ONLY_FIXABLE", "true")]).expect("FAIL_ONLY_FIXABLE parses");
        assert!(fixable.gate.fixable_only);
        assert_eq!(cfg(&[("FAIL_ONLY_FIXABLE", "maybe")]).expect_err("refused").name, "FAIL_ONLY_FIXABLE");
        use scangate_core::suppression::HonorSuppressions;
        assert_eq!(c.gate.suppressions, HonorSuppressions::External, "the repository's own suppressions are ignored");
        let all = cfg(&[("HONOR_SUPPRESSIONS", "all")]).expect("HONOR_SUPPRESSIONS parses");
        assert_eq!(all.gate.suppressions, HonorSuppressions::All);
        assert_eq!(cfg(&[("HONOR_SUPPRESSIONS", "insource")]).expect_err("refused").name, "HONOR_SUPPRESSIONS");
        let bad = cfg(&[("QUALITY_FINDINGS", "fail")]).expect_err("an unknown mode is refused");
        assert_eq!(bad.name, "QUALITY_FINDINGS");
        assert_eq!(c.waiver_max_days, 90);
        assert_eq!(cfg(&[("WAIVER_MAX_DAYS", "30")]).expect("parses").waiver_max_days, 30);
        for bad in ["0", "367", "-1", "ninety"] {
            assert_eq!(cfg(&[("WAIVER_MAX_DAYS", bad)]).expect_err(bad).name, "WAIVER_MAX_DAYS");
        }
    }

    #[test]
    fn values() {
        let c = cfg(&[
            ("REPORT_BUCKET", "b"),
            ("SCAN_PREFIX", "in/"),
            ("MAX_CRITICAL", "-1"),
            ("MAX_HIGH", "5"),
            ("FAIL_ON_POLICY_DENY", "false"),
            ("FAIL_ON_POLICY_AUDIT", "yes"),
            ("SECURITY_HUB_ENABLED", "0"),
            ("SECURITY_HUB_MAX_TPS", "2.5"),
            ("REFRESH_DAYS", "7"),
            ("LIFECYCLE_KEY", "Report"),
            ("IMPORT_ON", "Sighting"),
            ("QUALITY_FINDINGS", "Gate"),
            ("PUBLISHER_PROJECT", ""),
            ("PUBLISH_PROJECTS", " qualys-codebuild-image-us-east-1, ,app ,"),
        ])
        .expect("valid");
        assert_eq!(c.report_bucket.as_deref(), Some("b"));
        assert_eq!(c.scan_prefix, "in/");
        assert_eq!(c.gate.thresholds.max_critical, -1);
        assert_eq!(c.gate.thresholds.max_high, 5);
        assert!(!c.gate.fail_on_policy_deny);
        assert!(c.gate.fail_on_policy_audit);
        assert!(!c.security_hub_enabled);
        assert_eq!(c.security_hub_burst(), 8);
        assert_eq!(c.refresh_days, 7);
        assert_eq!(c.lifecycle, LifecycleMode::Report);
        assert_eq!(c.import_on, ImportOn::Sighting);
        assert_eq!(c.gate.quality, QualityFindings::Gate);
        assert_eq!(c.publisher_project, None);
        assert_eq!(c.publish_projects, ["qualys-codebuild-image-us-east-1", "app"]);
        assert!(cfg(&[]).expect("defaults").publish_projects.is_empty(), "unset: no project publishes");
        let c = cfg(&[("SCAN_PROJECTS", "a, b"), ("SCAN_ROLE_IDS", "AROA1"), ("UPLOADER_PRINCIPAL_IDS", " AIDA2 ,")])
            .expect("valid");
        assert_eq!(
            (c.scan_projects, c.scan_role_ids, c.uploader_principal_ids),
            (vec!["a".to_string(), "b".into()], vec!["AROA1".to_string()], vec!["AIDA2".to_string()])
        );
        let d = cfg(&[]).expect("defaults");
        assert!(!d.import_unverified && d.scan_role_ids.is_empty(), "nothing is trusted by default");
    }

    #[test]
    fn max_report_bytes_follows_the_memory_unless_set() {
        assert_eq!(cfg(&[]).expect("defaults").max_report_bytes, 256 * 1024 * 1024);
        let c = cfg(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")]).expect("valid");
        assert_eq!(c.max_report_bytes, 1024 * 1024 * 1024);
        let c = cfg(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"), ("MAX_REPORT_BYTES", "1000")]).expect("valid");
        assert_eq!(c.max_report_bytes, 1000);
        let c = cfg(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"), ("MAX_REPORT_BYTES", "0")]).expect("valid");
        assert_eq!(c.max_report_bytes, 512 * 1024 * 1024, "0 is the default");
    }

    #[test]
    fn max_findings_follows_the_memory_unless_set() {
        let defaults = cfg(&[]).expect("defaults");
        assert_eq!(defaults.max_findings, 1_048_576, "one per 512 bytes of 512 MB");
        assert_eq!(defaults.max_quality_findings(), Some(1_048_576), "where 16 × 65 536 had it");
        let c = cfg(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")]).expect("valid");
        assert_eq!(c.max_findings, 4_194_304);
        let c = cfg(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"), ("MAX_FINDINGS", "1000")]).expect("valid");
        assert_eq!(c.max_findings, 1000);
        let c = cfg(&[("MAX_FINDINGS", "0")]).expect("valid");
        assert_eq!(c.max_findings, 1_048_576, "0 is the default");
    }

    #[test]
    fn max_held_bytes_follows_the_memory() {
        assert_eq!(cfg(&[]).expect("defaults").max_held_bytes, 32 * 1024 * 1024);
        let c = cfg(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")]).expect("valid");
        assert_eq!(c.max_held_bytes, 128 * 1024 * 1024);
    }

    #[test]
    fn errors_name_the_variable() {
        for (name, value) in [
            ("MAX_CRITICAL", "lots"),
            ("MAX_LOW", "-3"),
            ("FAIL_ON_POLICY_DENY", "maybe"),
            ("SECURITY_HUB_ENABLED", "2"),
            ("SECURITY_HUB_MAX_TPS", "0"),
            ("REFRESH_DAYS", "90"),
            ("LIFECYCLE_KEY", "image"),
            ("IMPORT_ON", "always"),
            ("EXPECTED_BUCKET_OWNER", "me"),
            ("ALLOW_METADATA_RELAX", "sometimes"),
            ("IMPORT_UNVERIFIED", "perhaps"),
            ("MAX_REPORT_BYTES", "64MB"),
            ("MAX_FINDINGS", "-1"),
        ] {
            let err = cfg(&[(name, value)]).expect_err(name);
            assert_eq!(err.name, name);
            assert!(err.to_string().starts_with(&format!("environment variable {name}: ")), "{err}");
        }
    }
}

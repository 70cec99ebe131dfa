//! `scangate process`: the whole evaluation on a laptop, no AWS.

use crate::error::{with_sources, CliError};
use crate::exit;
use crate::table::{render_table, TableInput};
use clap::{ArgAction, Args, ValueEnum};
use scangate_core::asff::{self, AsffContext};
use scangate_core::ci::{self, code_scanning, gitlab};
use scangate_core::evaluate::{self, Evaluated};
use scangate_core::finding::Finding;
use scangate_core::lifecycle::{self, LifecycleKey, ScanType};
use scangate_core::policy::{
    parse_bool, GatePolicy, GateSettings, PolicyResult, QualityFindings, ThresholdRequest, Thresholds,
};
use scangate_core::sarif::{self, Report, SarifError};
use scangate_core::suppression::HonorSuppressions;
use scangate_core::text::{display_line, display_text};
use scangate_core::verdict::{self, ReportRef, VerdictInput};
use scangate_core::waivers::{Exceptions, Subject, VexDocument, WaiversDocument};
use scangate_core::{junit, summary};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human summary: counts per severity, policy, verdict, the worst findings.
    Table,
    /// The verdict as JSON (the same document as `--verdict`), for scripts.
    Json,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  scangate process report.sarif
  scangate process --max-high 5 --junit junit.xml --asff asff.json scan-*.sarif
  qscanner ... && scangate process --scanner-exit-code $? --format json out/*-Report.sarif.json
  cat report.sarif | scangate process -

Thresholds: a severity fails the gate when its count of deduplicated findings is greater than its
maximum; -1 means unlimited. Defaults: max-critical 0, all others -1. INFORMATIONAL is never limited.

Policy: the Qualys cloud policy result comes from the report (run properties `policyResult`) and from
--scanner-exit-code (42 DENY, 43 AUDIT); the stronger wins. DENY fails when FAIL_ON_POLICY_DENY is true
(default); AUDIT fails only when FAIL_ON_POLICY_AUDIT is true (default false).

Exit status: 0 passed, 42 gate failed, 2 bad parameters or unreadable input, 1 internal error.")]
pub(crate) struct ProcessArgs {
    /// SARIF files to evaluate together (findings are deduplicated across them); `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Maximum CRITICAL findings before the gate fails (-1 = unlimited).
    #[arg(long, env = "MAX_CRITICAL", default_value = "0", value_parser = Thresholds::parse_value, allow_negative_numbers = true, value_name = "N")]
    pub max_critical: i64,
    /// Maximum HIGH findings before the gate fails (-1 = unlimited).
    #[arg(long, env = "MAX_HIGH", default_value = "-1", value_parser = Thresholds::parse_value, allow_negative_numbers = true, value_name = "N")]
    pub max_high: i64,
    /// Maximum MEDIUM findings before the gate fails (-1 = unlimited).
    #[arg(long, env = "MAX_MEDIUM", default_value = "-1", value_parser = Thresholds::parse_value, allow_negative_numbers = true, value_name = "N")]
    pub max_medium: i64,
    /// Maximum LOW findings before the gate fails (-1 = unlimited).
    #[arg(long, env = "MAX_LOW", default_value = "-1", value_parser = Thresholds::parse_value, allow_negative_numbers = true, value_name = "N")]
    pub max_low: i64,
    /// Fail the gate when the cloud policy result is DENY (a bare flag means true).
    #[arg(long, env = "FAIL_ON_POLICY_DENY", default_value = "true", value_parser = parse_bool, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub fail_on_policy_deny: bool,
    /// Fail the gate when the cloud policy result is AUDIT (a bare flag means true).
    #[arg(long, env = "FAIL_ON_POLICY_AUDIT", default_value = "false", value_parser = parse_bool, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub fail_on_policy_audit: bool,
    /// Let a scan that did not complete (SARIF executionSuccessful false, or an error-level tool
    /// notification) pass on its findings; by default it fails the gate (a bare flag means true).
    #[arg(long, env = "ACCEPT_INCOMPLETE_SCAN", default_value = "false", value_parser = parse_bool, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub accept_incomplete_scan: bool,
    /// Quality findings (no security-severity, not from a security scanner): `report` counts them
    /// apart, `gate` counts them against the thresholds and writes them into --asff, `ignore` only
    /// counts them in verdict.json.
    #[arg(long, env = "QUALITY_FINDINGS", default_value = "report", value_parser = QualityFindings::parse, value_name = "gate|report|ignore")]
    pub quality_findings: QualityFindings,
    /// Count only findings a fix exists for: a vulnerable package without a fixed version (ASFF
    /// FixAvailable NO) is counted apart (verdict not_fixable); secrets and misconfigurations
    /// still count. A bare flag means true.
    #[arg(long, env = "FAIL_ONLY_FIXABLE", default_value = "false", value_parser = parse_bool, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub fixable_only: bool,
    /// Which SARIF suppressions take a finding out of the counts: `external` (default) honours only
    /// suppressions kept outside the source, not the scanned repository's own `inSource` ones
    /// (`// nosemgrep`, `# nosec`); `all` honours both, `none` neither. A suppressed finding keeps its
    /// severity, is counted under verdict suppressed and stays in --asff with its justification.
    #[arg(long, env = "HONOR_SUPPRESSIONS", default_value = "external", value_parser = HonorSuppressions::parse, value_name = "none|external|all")]
    pub honor_suppressions: HonorSuppressions,
    /// A waivers document (scangate.waivers.v1, JSON or YAML; docs/waivers.md): the findings a valid
    /// waiver covers are counted apart (verdict waived) and keep the waiver in --asff. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub waivers: Vec<PathBuf>,
    /// An OpenVEX document: not_affected and fixed statements for this image's digest or a package
    /// take the findings out of the counts like a waiver. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// The longest a waiver may run (days from today and from its `created` date); a document with a
    /// longer waiver is refused.
    #[arg(long, env = "WAIVER_MAX_DAYS", default_value_t = scangate_core::waivers::DEFAULT_MAX_DAYS, value_name = "DAYS")]
    pub waiver_max_days: u32,
    /// The scanned source repository's URL, for waivers scoped to a repository.
    #[arg(long, value_name = "URL")]
    pub repository_url: Option<String>,
    /// The scanned branch, for waivers scoped to a repository and branch.
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// The scanner's exit code, when it ran before: 42 means policy DENY, 43 AUDIT.
    #[arg(long, value_name = "CODE", allow_negative_numbers = true)]
    pub scanner_exit_code: Option<i32>,

    /// Write Security Hub findings (ASFF, a JSON array ready for BatchImportFindings) to this file.
    #[arg(long, value_name = "FILE")]
    pub asff: Option<PathBuf>,
    /// Write a JUnit XML report (for a CodeBuild report group) to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the verdict (verdict.json, the contract the gate reads) to this file.
    #[arg(long, value_name = "FILE")]
    pub verdict: Option<PathBuf>,
    /// Write the Markdown summary (summary.md) to this file.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Write GitHub code scanning SARIF (one run, worst findings first, trimmed to GitHub's upload
    /// limits with a note when it must be) to this file (docs/ci/github.md).
    #[arg(long, value_name = "FILE")]
    pub code_scanning_sarif: Option<PathBuf>,
    /// The code scanning category (SARIF automationDetails.id) of --code-scanning-sarif; default
    /// `scangate/<scan type>/<target>/`, one per target.
    #[arg(long, value_name = "CATEGORY", requires = "code_scanning_sarif")]
    pub category: Option<String>,
    /// Write a GitLab container scanning report (GitLab's security report schema 15.2.1, worst
    /// findings first, capped at 5 000 with a note when it must be) to this file (docs/ci/gitlab.md).
    #[arg(long, value_name = "FILE")]
    pub gitlab_report: Option<PathBuf>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// How many of the worst findings the table and summary show.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub worst: usize,

    /// AWS account id for ASFF (AwsAccountId, ProductArn).
    #[arg(long, env = "SCANGATE_ACCOUNT_ID", default_value = "000000000000", value_parser = parse_account_id)]
    pub account_id: String,
    /// AWS region for ASFF (ProductArn, Resources).
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", value_parser = parse_region)]
    pub region: String,
    /// AWS partition for ARNs.
    #[arg(long, default_value = "aws", value_parser = ["aws", "aws-cn", "aws-us-gov"])]
    pub partition: String,
    /// What was scanned: image, repo, rootfs or other (default: image when the report names one).
    #[arg(long)]
    pub scan_type: Option<ScanType>,
    /// The scanned target (image reference, repository URL, path); default: from the report.
    #[arg(long)]
    pub target: Option<String>,
    /// CodeBuild project name, added to each ASFF finding as an AwsCodeBuildProject resource.
    #[arg(long, env = "SCANGATE_PROJECT")]
    pub project: Option<String>,
    /// Timestamp for CreatedAt/UpdatedAt and processed_at (RFC 3339), for reproducible output; default now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_timestamp)]
    pub timestamp: Option<String>,
}

fn parse_account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("expected a 12-digit AWS account id, got {s:?}"))
    }
}

fn parse_region(s: &str) -> Result<String, String> {
    let ok =
        !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok && s.contains('-') {
        Ok(s.to_string())
    } else {
        Err(format!("expected an AWS region such as us-east-1, got {s:?}"))
    }
}

fn parse_timestamp(s: &str) -> Result<String, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z: {e}"))?;
    Ok(verdict::rfc3339(t))
}

impl ProcessArgs {
    fn gate(&self) -> GatePolicy {
        GateSettings {
            thresholds: ThresholdRequest {
                max_critical: Some(self.max_critical),
                max_high: Some(self.max_high),
                max_medium: Some(self.max_medium),
                max_low: Some(self.max_low),
            },
            fail_on_policy_deny: Some(self.fail_on_policy_deny),
            fail_on_policy_audit: Some(self.fail_on_policy_audit),
            accept_incomplete: Some(self.accept_incomplete_scan),
            quality: Some(self.quality_findings),
            fixable_only: Some(self.fixable_only),
            suppressions: Some(self.honor_suppressions),
        }
        .policy()
    }
}

/// Runs `scangate process`; returns the exit code.
pub(crate) fn run(args: ProcessArgs) -> i32 {
    match run_inner(&args) {
        Ok(code) => code,
        // An error can quote the report (a reader error names its JSON path): sanitized.
        Err(e) if e.code == exit::INTERNAL => {
            eprintln!("scangate process: internal error: {}", display_text(&e.to_string()));
            e.code
        }
        Err(e) => {
            eprintln!("scangate process: {}", display_text(&e.to_string()));
            e.code
        }
    }
}

fn read_all(files: &[PathBuf]) -> Result<Vec<Report>, SarifError> {
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                sarif::read_sarif(std::io::stdin().lock(), "<stdin>")
            } else {
                sarif::read_sarif_file(path)
            }
        })
        .collect()
}

/// The evaluation's date (UTC): the day of `processed_at` (`--timestamp`, else now).
fn today(processed_at: &str) -> time::Date {
    time::OffsetDateTime::parse(processed_at, &time::format_description::well_known::Rfc3339)
        .map_or_else(|_| time::OffsetDateTime::now_utc().date(), |t| t.to_offset(time::UtcOffset::UTC).date())
}

/// Reads `--waivers` and `--vex`; a document that cannot be used is a usage error naming the
/// file and the JSON path (offline, the person running it fixes it; the report-processor
/// instead applies none of it and says so in the verdict).
fn read_exceptions(args: &ProcessArgs, today: time::Date) -> Result<Exceptions, CliError> {
    let mut out = Exceptions::default();
    let read = |path: &Path, flag: &str| {
        std::fs::read(path).map_err(|e| CliError::usage(format!("cannot read {flag} {}: {e}", path.display())))
    };
    for path in &args.waivers {
        let bytes = read(path, "--waivers")?;
        let doc = WaiversDocument::parse(&bytes, &path.display().to_string(), today, args.waiver_max_days)
            .map_err(|e| CliError::usage(e.to_string()))?;
        out.waivers.push(doc);
    }
    for path in &args.vex {
        let bytes = read(path, "--vex")?;
        let doc =
            VexDocument::parse(&bytes, &path.display().to_string()).map_err(|e| CliError::usage(e.to_string()))?;
        out.vex.push(doc);
    }
    Ok(out)
}

fn run_inner(args: &ProcessArgs) -> Result<i32, CliError> {
    if args.files.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(CliError::usage("standard input (-) can be given only once"));
    }
    let reports = read_all(&args.files).map_err(|e| CliError::usage(with_sources(&e)))?;
    let mut report = evaluate::merge_reports(reports);
    for w in &report.warnings {
        eprintln!("warning: {}: {}", display_line(&w.path), display_line(&w.message));
    }
    if report.warning_count > report.warnings.len() {
        eprintln!("warning: {} more reader warnings not shown", report.warning_count - report.warnings.len());
    }

    let gate = args.gate();
    let processed_at = args.timestamp.clone().unwrap_or_else(verdict::now_rfc3339);
    let exceptions = read_exceptions(args, today(&processed_at))?;
    if !exceptions.is_empty() {
        let mut subject = Subject::from_target(&report.target);
        subject.images.extend(args.target.iter().cloned());
        subject.repository = args.repository_url.clone();
        subject.branch = args.branch.clone();
        evaluate::apply_exceptions(&mut report, &gate, &exceptions, &subject, today(&processed_at));
    }
    let source_key = args.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",");
    let input = VerdictInput {
        report: ReportRef { bucket: None, key: source_key.clone(), version_id: None, etag: None },
        target: args.target.clone(),
        scanner: None,
        build: None,
        processed_at: processed_at.clone(),
    };
    let scanner_policy = args.scanner_exit_code.and_then(PolicyResult::from_exit_code);
    let evaluated = evaluate::evaluate(&mut report, &gate, scanner_policy, input);
    let mut findings = report.findings;
    Finding::sort_worst_first(&mut findings);

    if let Some(path) = &args.asff {
        let ctx = asff_context(args, &report.target, &evaluated, &processed_at, &source_key);
        // Suppressed findings stay visible in Security Hub, with their justification (written
        // after the others, without copying either list).
        write_file(path, "--asff", |w| asff::write_asff_slices(&[&findings, &report.suppressed], &ctx, w))?;
    }
    if let Some(path) = &args.junit {
        let xml = junit::to_junit(&evaluated.verdict, &evaluated.evaluation, &findings, &gate);
        write_file(path, "--junit", |w| w.write_all(xml.as_bytes()))?;
    }
    if let Some(path) = &args.code_scanning_sarif {
        let ctx = asff_context(args, &report.target, &evaluated, &processed_at, &source_key);
        let category = args.category.clone().unwrap_or_else(|| ci::category(ctx.scan_type.as_str(), &ctx.target));
        let tool = report.runs.first().map(|r| r.scanner.name.as_str()).filter(|t| !t.is_empty()).unwrap_or("scangate");
        let rendered = code_scanning::render(&findings, &category, &ctx.target, tool, &code_scanning::GITHUB);
        if let Some(t) = &rendered.trimmed {
            eprintln!(
                "scangate: warning: --code-scanning-sarif keeps the {} worst of {} findings ({}); all are in the summary",
                t.kept, t.total, t.reason
            );
        }
        write_file(path, "--code-scanning-sarif", |w| {
            serde_json::to_writer(w, &rendered.sarif).map_err(std::io::Error::other)
        })?;
    }
    if let Some(path) = &args.gitlab_report {
        let ctx = asff_context(args, &report.target, &evaluated, &processed_at, &source_key);
        let scanner = report.runs.first().map(|r| r.scanner.clone()).unwrap_or_default();
        let at = time::OffsetDateTime::parse(&processed_at, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        let scan = gitlab::ScanInfo {
            scanner: &scanner,
            analyzer_version: env!("CARGO_PKG_VERSION"),
            start_time: at,
            end_time: at,
            completed: report.incomplete.is_empty(),
        };
        let rendered = gitlab::render(&findings, &ctx.target, &scan, &gitlab::DEFAULT);
        if let Some(t) = &rendered.trimmed {
            eprintln!("scangate: warning: --gitlab-report: {}", t.note());
        }
        write_file(path, "--gitlab-report", |w| {
            serde_json::to_writer(w, &rendered.report).map_err(std::io::Error::other)
        })?;
    }
    if let Some(path) = &args.summary {
        let md = summary::markdown(&evaluated.verdict, &findings, args.worst);
        write_file(path, "--summary", |w| w.write_all(md.as_bytes()))?;
    }
    let verdict_json = serde_json::to_string_pretty(&evaluated.verdict)
        .map_err(|e| CliError::internal(format!("serializing the verdict: {}", with_sources(&e))))?;
    if let Some(path) = &args.verdict {
        write_file(path, "--verdict", |w| w.write_all(verdict_json.as_bytes()))?;
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let printed = match args.format {
        Format::Json => writeln!(out, "{verdict_json}"),
        Format::Table => {
            let input = TableInput {
                files: &args.files,
                runs: &report.runs,
                results_read: report.results_read,
                worst: args.worst,
            };
            let text = render_table(&input, &evaluated, &findings);
            out.write_all(text.as_bytes())
        }
    };
    // A closed pipe (`| head`) is not an error worth a failure exit.
    if let Err(e) = printed.and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(CliError::internal(format!("writing to standard output: {}", with_sources(&e))));
        }
    }
    let code = evaluated.verdict.exit_code();
    // The process ends here: freeing a large report's findings one by one (a tenth of the
    // run on 100 000 findings) would only hand back memory the exit returns anyway.
    std::mem::forget(findings);
    std::mem::forget(report.suppressed);
    Ok(code)
}

fn asff_context(
    args: &ProcessArgs,
    target_info: &sarif::TargetInfo,
    evaluated: &Evaluated,
    processed_at: &str,
    source_key: &str,
) -> AsffContext {
    let has_image = target_info.image_name.is_some() || !target_info.repo_tags.is_empty();
    let scan_type = args.scan_type.unwrap_or(if has_image { ScanType::Image } else { ScanType::Other });
    let target = evaluated.verdict.target.clone().unwrap_or_else(|| source_key.to_string());
    let identity = lifecycle::target_identity(scan_type, Some(&target), None, None, args.project.as_deref());
    AsffContext {
        account_id: args.account_id.clone(),
        region: args.region.clone(),
        partition: args.partition.clone(),
        scan_type,
        target,
        lifecycle: LifecycleKey::new(&args.account_id, &args.region, scan_type, &identity),
        codebuild_project: args.project.clone(),
        build_arn: None,
        updated_at: processed_at.to_string(),
        created_at: None,
        report_uri: Some(source_key.to_string()),
        host: None,
    }
}

/// Writes an output file through a buffer; a failure names the flag and the path.
fn write_file(
    path: &Path,
    flag: &str,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let result = std::fs::File::create(path).and_then(|f| {
        // Large writes: the ASFF array of a big report is tens of megabytes.
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
        write(&mut w)?;
        w.flush()
    });
    result.map_err(|e| CliError::usage(format!("cannot write {flag} {}: {e}", path.display())))
}

//! The gate step: evaluate the SARIF in-process (always for the pipeline outputs, decisive with
//! `--local`), upload the reports with their metadata, and wait for the report-processor's verdict
//! (`--wait`). `scan sarif` starts here with another scanner's report.

use super::args::{GateOpts, SarifArgs, UploadOpts};
use super::outputs::{self, finish, set_counts, set_verdict_counts, write_text};
use super::{remote, values};
use crate::error::CliError;
use crate::exit;
use scangate_core::contract;
use scangate_core::evaluate::{self, Evaluated};
use scangate_core::lifecycle::{self, ScanType};
use scangate_core::policy::{GatePolicy, GateSettings, PolicyResult};
use scangate_core::text::display_line;
use scangate_core::verdict::{self, BuildRef, ReportRef, VerdictInput};
use scangate_core::{junit, Finding, Verdict};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub(super) fn run_sarif(a: &SarifArgs) -> Result<i32, CliError> {
    if a.gate.waits() && a.upload.bucket.is_none() {
        return Err(CliError::usage(
            "--wait needs --bucket / REPORT_BUCKET (the verdict is read from the report bucket)",
        ));
    }
    if !a.file.is_file() {
        return Err(CliError::usage(format!("SARIF_FILE: {} is not a readable file", a.file.display())));
    }
    let mut outs = outputs::PipelineOutputs {
        sarif_path: a.file.display().to_string(),
        policy_result: PolicyResult::None.as_str().to_string(),
        ..Default::default()
    };
    let ctx = GateContext {
        scan_type: a.scan_type,
        target: a.target.clone().unwrap_or_default(),
        scanner_code: a.scanner_exit_code,
        sarif: Some(a.file.clone()),
        uploads: vec![a.file.clone()],
        report_expected: true,
        host: None,
        offline_manifest: false,
    };
    gate_and_upload(&ctx, &a.gate, &a.upload, &mut outs)
}

pub(super) struct GateContext {
    pub(super) scan_type: ScanType,
    pub(super) target: String,
    pub(super) scanner_code: Option<i32>,
    pub(super) sarif: Option<PathBuf>,
    pub(super) uploads: Vec<PathBuf>,
    /// Whether a SARIF report must exist (not for scan-only / inventory-only).
    pub(super) report_expected: bool,
    /// The node and OS of a host scan (`scan running|vm-disk`): metadata, the verdict, the summary.
    pub(super) host: Option<scangate_core::host::HostFacts>,
    /// Without a bucket, record the set for a later `scangate upload` (QScanner's reports, in
    /// the runner's output directory; never beside a user's own SARIF file).
    pub(super) offline_manifest: bool,
}

fn gate_policy(g: &GateOpts) -> GatePolicy {
    GateSettings {
        thresholds: g.threshold_request(),
        fail_on_policy_deny: Some(g.fail_on_policy_deny),
        fail_on_policy_audit: Some(g.fail_on_policy_audit),
        accept_incomplete: Some(g.accept_incomplete_scan),
        quality: Some(g.quality_findings),
        fixable_only: Some(g.fixable_only),
        suppressions: Some(g.honor_suppressions),
    }
    .policy()
}

/// The CodeBuild build this runs in, from its environment.
fn build_ref(project: Option<&str>) -> BuildRef {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    BuildRef {
        arn: var("CODEBUILD_BUILD_ARN"),
        id: var("CODEBUILD_BUILD_ID"),
        project: project.map(str::to_string).or_else(codebuild_project),
        initiator: var("CODEBUILD_INITIATOR"),
        source_version: var("CODEBUILD_RESOLVED_SOURCE_VERSION").or_else(|| var("CODEBUILD_SOURCE_VERSION")),
    }
}

/// The CodeBuild project name: CODEBUILD_BUILD_ID is `<project>:<uuid>`.
fn codebuild_project() -> Option<String> {
    let id = std::env::var("CODEBUILD_BUILD_ID").ok()?;
    values::parse_key_part(contract::BuildId::parse(&id)?.project).ok()
}

pub(super) fn gate_and_upload(
    ctx: &GateContext,
    gate: &GateOpts,
    upload: &UploadOpts,
    outs: &mut outputs::PipelineOutputs,
) -> Result<i32, CliError> {
    let policy = gate_policy(gate);
    let scanner_policy = ctx.scanner_code.and_then(PolicyResult::from_exit_code);
    // The exit code without any evaluation: QScanner's policy result mapped by the FAIL_ON_POLICY_* switches.
    let mapped = match scanner_policy {
        Some(PolicyResult::Deny) if policy.fail_on_policy_deny => exit::GATE_FAILED,
        Some(PolicyResult::Deny) => {
            eprintln!("scangate: warning: QScanner policy result is DENY, ignored (FAIL_ON_POLICY_DENY=false)");
            exit::PASSED
        }
        Some(PolicyResult::Audit) if policy.fail_on_policy_audit => exit::GATE_FAILED,
        Some(PolicyResult::Audit) => {
            eprintln!("scangate: warning: QScanner policy result is AUDIT: passing with a warning");
            exit::PASSED
        }
        _ => exit::PASSED,
    };
    if let Some(p) = scanner_policy {
        outs.policy_result = p.as_str().to_string();
    }
    let needs_report = gate.local || gate.waits() || upload.bucket.is_some();
    let Some(sarif_path) = ctx.sarif.as_ref() else {
        if ctx.report_expected && needs_report {
            return Err(CliError::internal(
                "QScanner succeeded but wrote no *-Report.sarif.json in --output-dir: nothing to gate on or upload",
            ));
        }
        if gate.local {
            eprintln!("scangate: no SARIF report in this mode; nothing to evaluate (--local)");
        }
        return finish(mapped, outs, gate);
    };
    // Evaluate in-process: always for the pipeline outputs; decisive only with --local.
    let evaluated = match evaluate_file(sarif_path, &policy, scanner_policy, ctx, upload) {
        Ok(e) => Some(e),
        Err(e) if gate.local => {
            return Err(CliError {
                code: if ctx.scanner_code.is_some() { exit::INTERNAL } else { exit::USAGE },
                message: e,
            })
        }
        Err(e) => {
            eprintln!("scangate: warning: {e} (the pipeline output counts are left empty)");
            None
        }
    };
    if let Some((ev, _)) = &evaluated {
        set_counts(outs, ev);
    }
    let mut final_code = mapped;
    if gate.local {
        if let Some((ev, findings)) = &evaluated {
            print_verdict(&ev.verdict, "in-process evaluation (--local)");
            let xml = junit::to_junit(&ev.verdict, &ev.evaluation, findings, &policy);
            write_text(gate.junit_path(), &xml, "--junit-path / SCANGATE_JUNIT_PATH")?;
            final_code = ev.verdict.exit_code();
        }
    }
    if let Some(bucket) = &upload.bucket {
        let plan = upload_plan(bucket, ctx, gate, upload)?;
        let uploaded = remote::upload(&plan)?;
        outs.verdict_key = uploaded.verdict_key.clone();
        if let Some(wait) = gate.wait.filter(|_| gate.waits()) {
            let verdict = remote::wait_for_verdict(&plan, &uploaded, Duration::from_secs(wait), gate.junit_path())?;
            print_verdict(&verdict, "report-processor verdict (--wait)");
            outs.policy_result = verdict.policy_result.as_str().to_string();
            set_verdict_counts(outs, &verdict);
            final_code = verdict.exit_code();
        }
    } else if ctx.offline_manifest && ctx.sarif.is_some() {
        let plan = upload_plan("", ctx, gate, upload)?;
        if let Some(p) = super::offline::write_manifest(&ctx.uploads, ctx.sarif.as_ref(), &plan.metadata)? {
            let dir = p.parent().map(|d| d.display().to_string()).unwrap_or_default();
            eprintln!(
                "scangate: no bucket: offline set recorded in {} (upload it later: scangate upload {dir})",
                p.display()
            );
        }
    }
    finish(final_code, outs, gate)
}

fn evaluate_file(
    path: &Path,
    policy: &GatePolicy,
    scanner_policy: Option<PolicyResult>,
    ctx: &GateContext,
    upload: &UploadOpts,
) -> Result<(Evaluated, Vec<Finding>), String> {
    let mut report =
        scangate_core::read_sarif_file(path).map_err(|e| format!("cannot evaluate the SARIF report: {e}"))?;
    for w in report.warnings.iter().take(20) {
        eprintln!("scangate: reader warning: {}: {}", display_line(&w.path), display_line(&w.message));
    }
    let input = VerdictInput {
        report: ReportRef { bucket: None, key: path.display().to_string(), version_id: None, etag: None },
        target: Some(ctx.target.clone()).filter(|t| !t.is_empty()),
        scanner: None,
        build: Some(build_ref(upload.project.as_deref())),
        processed_at: verdict::now_rfc3339(),
    };
    let mut ev = evaluate::evaluate(&mut report, policy, scanner_policy, input);
    ev.verdict.host = ctx.host.clone();
    let mut findings = report.findings;
    findings.sort_by(Finding::worst_first);
    Ok((ev, findings))
}

fn print_verdict(v: &Verdict, source: &str) {
    let c = &v.counts;
    eprintln!(
        "scangate: {source}: {}\n  counts: critical {} high {} medium {} low {} informational {} (total {})\n  \
         thresholds: max_critical {} max_high {} max_medium {} max_low {}; policy result {}",
        if v.passed { "PASSED" } else { "FAILED" },
        c.critical,
        c.high,
        c.medium,
        c.low,
        c.informational,
        c.total,
        v.thresholds.max_critical,
        v.thresholds.max_high,
        v.thresholds.max_medium,
        v.thresholds.max_low,
        v.policy_result
    );
    if let Some(h) = v.host.as_ref().filter(|h| !h.is_empty()) {
        eprintln!("  {}", h.describe());
    }
    // Counted apart (docs/waivers.md): the security team's exceptions, findings without a fix.
    if let Some(note) = v.waived_note() {
        eprintln!("  waived: {}", display_line(&note));
    }
    if let Some(note) = v.not_fixable_note() {
        eprintln!("  no fix: {}", display_line(&note));
    }
    // The verdict may come from S3 (--wait): its text goes through the sanitizer again.
    for r in &v.reasons {
        eprintln!("  reason: {}", display_line(r));
    }
    for w in &v.warnings {
        eprintln!("  warning: {}", display_line(w));
    }
}

/// `scans/<project>/<build-id>/`, the metadata, and what to upload.
fn upload_plan(
    bucket: &str,
    ctx: &GateContext,
    gate: &GateOpts,
    u: &UploadOpts,
) -> Result<remote::UploadPlan, CliError> {
    let build = build_ref(u.project.as_deref());
    let project = build.project.clone().unwrap_or_else(|| "local".to_string());
    let build_id = match &u.build_id {
        Some(b) => b.clone(),
        None => match build.id.as_deref() {
            Some(id) => values::parse_key_part(id.rsplit_once(':').map_or(id, |(_, uuid)| uuid))
                .map_err(|e| CliError::usage(format!("CODEBUILD_BUILD_ID: {e}")))?,
            None => format!(
                "local-{}-{}",
                SystemTime::UNIX_EPOCH.elapsed().map(|d| d.as_secs()).unwrap_or(0),
                std::process::id()
            ),
        },
    };
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    // The lifecycle identity of a source scan (docs/runner.md, "Lifecycle identity"): the
    // repository URL and branch, from the flags / SCANGATE_* variables, else from what
    // CodeBuild sets in a webhook or console build (empty in a CodePipeline build, where the
    // pipeline passes them, examples/pipeline.yml). Credentials never leave the build.
    let source_repo_url = u
        .source_repo_url
        .clone()
        .or_else(|| var("CODEBUILD_SOURCE_REPO_URL"))
        .map(|r| lifecycle::strip_url_credentials(&r));
    let source_branch = u
        .source_branch
        .clone()
        .or_else(|| var("CODEBUILD_WEBHOOK_HEAD_REF"))
        .map(|b| lifecycle::branch_name(&b).to_string());
    let pipeline = u
        .pipeline
        .clone()
        .or_else(|| var("CODEBUILD_INITIATOR").and_then(|i| i.strip_prefix("codepipeline/").map(str::to_string)));
    let metadata = contract::ReportMetadata {
        scan_type: Some(ctx.scan_type),
        scanned_at: Some(verdict::now_rfc3339()),
        target: Some(ctx.target.clone()),
        scanner_exit_code: ctx.scanner_code,
        build_arn: build.arn.clone(),
        initiator: build.initiator.clone(),
        source_version: build.source_version.clone(),
        source_repo_url,
        source_branch,
        source_action: u.source_action.clone(),
        pipeline,
        execution_id: u.pipeline_execution_id.clone(),
        thresholds: gate.threshold_request(),
        // The processor publishes the JUnit into a report group unless this build has it in
        // hand for its own buildspec `reports:` (--wait downloads it, --local renders it).
        wait_seconds: gate.wait.filter(|_| gate.waits()),
        publish: (gate.local && build.arn.is_some()).then_some(false),
        host: ctx.host.clone().unwrap_or_default(),
        uploaded_at: None,
    }
    .to_pairs();
    let prefix = contract::scan_dir(&project, &build_id);
    let files = ctx
        .uploads
        .iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // The SARIF is the report the processor reads: always `<prefix>report.sarif`.
            let key_name = if Some(p) == ctx.sarif.as_ref() { contract::REPORT_OBJECT_NAME.to_string() } else { name };
            (p.clone(), format!("{prefix}{key_name}"))
        })
        .collect();
    Ok(remote::UploadPlan {
        bucket: bucket.to_string(),
        kms_key_id: u.kms_key_id.clone(),
        expected_bucket_owner: u.expected_bucket_owner.clone(),
        verdict_key: contract::verdict_key(&project, &build_id),
        junit_key: contract::junit_key(&project, &build_id),
        files,
        metadata,
    })
}

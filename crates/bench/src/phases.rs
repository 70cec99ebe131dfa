//! `scangate-bench phases FILE`: where `scangate process` spends its time, step by step.

use anyhow::{Context, Result};
use scangate_core::asff::{self, AsffContext};
use scangate_core::evaluate;
use scangate_core::lifecycle::{self, LifecycleKey, ScanType};
use scangate_core::policy::{GateSettings, Thresholds};
use scangate_core::spill::SpillWriter;
use scangate_core::verdict::{ReportRef, VerdictInput};
use scangate_core::{junit, results, summary, Finding};
use std::path::Path;
use std::time::{Duration, Instant};

/// Counts the bytes written, like an output file would receive them.
struct Count(u64);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn best<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<(Duration, T)> {
    let mut fastest = Duration::MAX;
    let mut last = None;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let out = f()?;
        fastest = fastest.min(start.elapsed());
        last = Some(out);
    }
    let out = last.context("no repetition ran")?;
    Ok((fastest, out))
}

pub(crate) fn run(path: &Path, reps: usize) -> Result<()> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    let mut rows: Vec<(&str, Duration, String)> = Vec::new();

    let (t, report) = best(reps, || Ok(scangate_core::read_sarif_file(path)?))?;
    rows.push(("read (sarif reader)", t, format!("{} findings", report.findings.len())));

    let (t, report) = best(reps, || Ok(evaluate::merge_reports(vec![report.clone()])))?;
    rows.push(("merge (incl. clone)", t, String::new()));

    let gate =
        GateSettings::thresholds(Thresholds { max_critical: -1, max_high: -1, max_medium: -1, max_low: -1 }).policy();
    let source = path.display().to_string();
    let input = VerdictInput {
        report: ReportRef { bucket: None, key: source.clone(), version_id: None, etag: None },
        processed_at: "2026-01-31T12:00:00Z".to_string(),
        ..VerdictInput::default()
    };
    let mut report = report;
    let (t, evaluated) = best(reps, || Ok(evaluate::evaluate(&mut report, &gate, None, input.clone())))?;
    rows.push(("evaluate", t, String::new()));

    let (t, findings) = best(reps, || {
        let mut findings = report.findings.clone();
        findings.sort_by(Finding::worst_first);
        Ok(findings)
    })?;
    rows.push(("clone + sort", t, String::new()));

    let has_image = report.target.image_name.is_some() || !report.target.repo_tags.is_empty();
    let scan_type = if has_image { ScanType::Image } else { ScanType::Other };
    let target = evaluated.verdict.target.clone().unwrap_or_else(|| source.clone());
    let identity = lifecycle::target_identity(scan_type, Some(&target), None, None, None);
    let ctx = AsffContext {
        account_id: "000000000000".to_string(),
        region: "us-east-1".to_string(),
        partition: "aws".to_string(),
        scan_type,
        target,
        lifecycle: LifecycleKey::new("000000000000", "us-east-1", scan_type, &identity),
        codebuild_project: None,
        build_arn: None,
        updated_at: "2026-01-31T12:00:00Z".to_string(),
        created_at: None,
        report_uri: Some(source),
        host: None,
    };

    let (t, n) = best(reps, || {
        let mut w = Count(0);
        asff::write_asff_array(&findings, &ctx, std::io::BufWriter::new(&mut w))?;
        Ok(w.0)
    })?;
    rows.push(("asff::write_asff_array", t, format!("{n} bytes")));

    let (t, n) = best(reps, || Ok(findings.iter().map(|f| asff::render(f, &ctx).id().len()).sum::<usize>()))?;
    rows.push(("  asff::render only", t, format!("{n} id bytes")));

    let (t, n) = best(reps, || Ok(findings.iter().map(|f| asff::content_hash(f, &ctx).len()).sum::<usize>()))?;
    rows.push(("asff::content_hash (processor)", t, format!("{n} hex chars")));

    let (t, n) =
        best(reps, || Ok(findings.iter().map(|f| asff::to_asff(f, &ctx).is_object() as usize).sum::<usize>()))?;
    rows.push(("asff::to_asff (processor)", t, format!("{n} values")));

    let (t, xml) = best(reps, || Ok(junit::to_junit(&evaluated.verdict, &evaluated.evaluation, &findings, &gate)))?;
    rows.push(("junit::to_junit", t, format!("{} bytes", xml.len())));

    let (t, md) = best(reps, || Ok(summary::markdown(&evaluated.verdict, &findings, 10)))?;
    rows.push(("summary::markdown", t, format!("{} bytes", md.len())));

    // The processor's results step: JUnit and the summary over the evaluated findings spilled
    // to a file (its `/tmp`), under a gate every finding breaks (JUnit selects its 500 worst
    // too), read twice (each text its own read, as before) and once (both from one read).
    let strict =
        GateSettings::thresholds(Thresholds { max_critical: 0, max_high: 0, max_medium: 0, max_low: 0 }).policy();
    let gated = evaluate::evaluate(&mut report.clone(), &strict, None, input.clone());
    let mut writer = SpillWriter::new(&std::env::temp_dir())?;
    for f in &report.findings {
        writer.push(f)?;
    }
    let spill = writer.finish()?;
    let (v, e) = (&gated.verdict, &gated.evaluation);
    let (t, n) = best(reps, || {
        let xml = junit::to_junit_from(v, e, &spill, &strict)?;
        let md = summary::markdown_from(v, &spill, 20)?;
        Ok(xml.len() + md.len())
    })?;
    rows.push(("results from a spill, two reads", t, format!("{n} bytes, {} MiB spilled", spill.bytes() >> 20)));
    let (t, n) = best(reps, || {
        let (xml, md) = results::junit_and_summary_from(v, e, &spill, &strict, 20)?;
        Ok(xml.len() + md.len())
    })?;
    rows.push(("results from a spill, one read", t, format!("{n} bytes")));

    let (t, json) = best(reps, || Ok(serde_json::to_string_pretty(&evaluated.verdict)?))?;
    rows.push(("verdict json", t, format!("{} bytes", json.len())));

    println!("{} ({:.1} MiB, best of {reps})", path.display(), size as f64 / (1024.0 * 1024.0));
    for (name, t, note) in rows {
        println!("  {name:<32} {:>10.1} ms  {note}", t.as_secs_f64() * 1000.0);
    }
    Ok(())
}

//! What an uploader may claim (docs/security.md): anyone who can put an object under
//! `scans/` chooses its key and metadata, so before any result is written the processor
//! checks the key, limits the thresholds and the scan time it takes from the metadata, and
//! verifies the project, pipeline and execution claimed against the build that wrote the
//! report. A refused report is quarantined with the reason and gets no results at all (its
//! key may name someone else's results folder); its event is not retried.

use super::{Delivery, Processor, ReportMeta};
use scangate_aws::codebuild::{BuildInfo, CodeBuildOps, PIPELINE_EXECUTION_VARIABLE};
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract::{self, Provenance, Writer};
use scangate_core::policy::Thresholds;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How far `scangate-scanned-at` may be after the object's LastModified (clock skew
/// between the build and S3) before the claim counts as forged.
pub(super) const SCANNED_AT_SKEW_SECONDS: i64 = 300;

/// How loose a threshold is: -1 (unlimited) is the loosest.
fn looseness(v: i64) -> i64 {
    if v < 0 {
        i64::MAX
    } else {
        v
    }
}

/// The thresholds a report is gated with: the metadata's (`claimed`) where they are at
/// least as strict as the stack's (`base`); a looser one is replaced by the stack's unless
/// `allow_relax` (ALLOW_METADATA_RELAX). Returns a note per replaced value.
pub(super) fn limit_thresholds(claimed: Thresholds, base: Thresholds, allow_relax: bool) -> (Thresholds, Vec<String>) {
    let mut out = claimed;
    let mut notes = Vec::new();
    if allow_relax {
        return (out, notes);
    }
    for (name, field, stack) in [
        ("critical", &mut out.max_critical, base.max_critical),
        ("high", &mut out.max_high, base.max_high),
        ("medium", &mut out.max_medium, base.max_medium),
        ("low", &mut out.max_low, base.max_low),
    ] {
        if looseness(*field) > looseness(stack) {
            notes.push(format!(
                "metadata scangate-max-{name}={} would relax the stack's max_{name}={stack}: ignored \
                 (metadata can only tighten thresholds; ALLOW_METADATA_RELAX=false)",
                *field
            ));
            *field = stack;
        }
    }
    (out, notes)
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The scan time taken from `scangate-scanned-at`: never after the object's LastModified
/// (a later claim is capped to it); more than [`SCANNED_AT_SKEW_SECONDS`] after it is a
/// forged claim (Err: the reason).
pub(super) fn limit_scanned_at(claimed: Option<&str>, last_modified: Option<&str>) -> Result<Option<String>, String> {
    let Some(claimed) = claimed else { return Ok(None) };
    let (Some(at), Some((written_text, written))) =
        (parse_time(claimed), last_modified.and_then(|t| parse_time(t).map(|parsed| (t, parsed))))
    else {
        return Ok(Some(claimed.to_string()));
    };
    if at <= written {
        return Ok(Some(claimed.to_string()));
    }
    if (at - written).whole_seconds() > SCANNED_AT_SKEW_SECONDS {
        return Err(format!(
            "metadata {} claims the scan ran at {claimed}, after the report was uploaded ({}): a report cannot \
             have been scanned after it was written",
            contract::meta::SCANNED_AT,
            written_text
        ));
    }
    Ok(Some(written_text.to_string()))
}

/// The project in the key must be the claimed build's project: a build writes only its own
/// project's reports (and results).
pub(super) fn check_build_project(key_project: &str, build_arn: &str) -> Result<(), String> {
    match contract::BuildId::from_arn(build_arn).map(|b| b.project) {
        None => Err(format!(
            "metadata {} is not a CodeBuild build ARN (arn:…:codebuild:<region>:<account>:build/<project>:<id>): \
             {build_arn:?}",
            contract::meta::BUILD_ARN
        )),
        Some(p) if p == key_project => Ok(()),
        Some(p) => Err(format!(
            "the report's key names project {key_project:?} but the build that claims it ({build_arn}) belongs to \
             project {p:?}: a build may only write its own project's reports"
        )),
    }
}

/// Checks the pipeline and execution a report claims against what CodeBuild says about its
/// build. Ok(true): both claimed and both verified (a by-execution verdict may be written).
pub(super) fn check_pipeline_claims(meta: &ReportMeta, key_project: &str, build: &BuildInfo) -> Result<bool, String> {
    if let Some(p) = build.project.as_deref().filter(|p| *p != key_project) {
        return Err(format!(
            "the report's key names project {key_project:?} but CodeBuild says its build {} belongs to project {p:?}",
            build.arn
        ));
    }
    if let Some(pipeline) = &meta.pipeline {
        let expected = format!("codepipeline/{pipeline}");
        if build.initiator.as_deref() != Some(expected.as_str()) {
            return Err(format!(
                "metadata {} claims pipeline {pipeline:?} but the build {} was started by {:?}",
                contract::meta::PIPELINE,
                build.arn,
                build.initiator.as_deref().unwrap_or("nobody CodeBuild names")
            ));
        }
    }
    if let Some(execution) = &meta.execution_id {
        if build.pipeline_execution_id.as_deref() != Some(execution.as_str()) {
            return Err(format!(
                "metadata {} claims pipeline execution {execution:?} but the build {} runs for {} ({PIPELINE_EXECUTION_VARIABLE})",
                contract::meta::EXECUTION_ID,
                build.arn,
                build.pipeline_execution_id.as_deref().map_or("no execution".to_string(), |e| format!("{e:?}"))
            ));
        }
    }
    Ok(meta.pipeline.is_some() && meta.execution_id.is_some())
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// The metadata as far as it can be trusted, or the reason the report is refused.
    /// `build`: what CodeBuild said about the build the report names (provenance.rs).
    pub(crate) fn check_claims(
        &self,
        d: &Delivery<'_>,
        mut meta: ReportMeta,
        build: Option<&BuildInfo>,
    ) -> Result<ReportMeta, String> {
        let (obj, head) = (d.obj, d.head);
        let (thresholds, notes) =
            limit_thresholds(meta.thresholds, self.config.gate.thresholds, self.config.allow_metadata_relax);
        meta.thresholds = thresholds;
        meta.notes.extend(notes);
        meta.scanned_at = limit_scanned_at(meta.scanned_at.as_deref(), head.last_modified.as_deref())?;
        meta.execution_verified = false;
        let (key_project, _) = contract::results_dir(&obj.key, &self.config.scan_prefix);
        // A build CodeBuild knows must back every pipeline claim, verified or not.
        if let Some(build) = build {
            meta.execution_verified = check_pipeline_claims(&meta, &key_project, build)?;
        }
        let by_build = matches!(d.provenance, Provenance::Verified(Writer::CodeBuild { .. }));
        if !by_build {
            let why = match (&d.provenance, meta.build_arn.is_some()) {
                (Provenance::Unverified(why), _) => why.clone(),
                (_, false) => "the report names no build (scangate-build-arn)".to_string(),
                _ => "the report was not written by a verified build".to_string(),
            };
            if meta.pipeline.is_some() || meta.execution_id.is_some() {
                meta.notes.push(unverified_note(&why));
            }
            meta.execution_verified = false;
            self.publish_only_verified(&mut meta, &why);
        }
        Ok(meta)
    }

    /// A report whose build was not verified with CodeBuild starts no publisher build and
    /// creates no report group (publish.rs), whatever `scangate-publish` says: otherwise
    /// anyone who can upload could make the processor spend builds and report groups.
    fn publish_only_verified(&self, meta: &mut ReportMeta, why: &str) {
        if self.config.publisher_project.is_some() && meta.publishes() {
            meta.notes.push(format!(
                "the JUnit was not published to a report group: the uploading build is not verified ({why})"
            ));
        }
        meta.publish = Some(false);
    }
}

fn unverified_note(why: &str) -> String {
    format!(
        "the pipeline/execution the report names could not be verified ({why}): no by-execution verdict was written"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: Thresholds = Thresholds { max_critical: 0, max_high: 5, max_medium: -1, max_low: -1 };

    #[test]
    fn metadata_thresholds_only_tighten() {
        let relaxed = Thresholds { max_critical: -1, max_high: 50, max_medium: 3, max_low: -1 };
        let (t, notes) = limit_thresholds(relaxed, STACK, false);
        assert_eq!(t, Thresholds { max_critical: 0, max_high: 5, max_medium: 3, max_low: -1 });
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("scangate-max-critical=-1 would relax the stack's max_critical=0"), "{notes:?}");
        let (t, notes) = limit_thresholds(relaxed, STACK, true);
        assert_eq!((t, notes.len()), (relaxed, 0), "the stack opted in");
        let (t, notes) = limit_thresholds(STACK, STACK, false);
        assert_eq!((t, notes.len()), (STACK, 0));
    }

    #[test]
    fn scanned_at_is_capped_by_last_modified() {
        let lm = Some("2026-11-23T08:00:00Z");
        assert_eq!(limit_scanned_at(Some("2026-11-23T07:00:00Z"), lm), Ok(Some("2026-11-23T07:00:00Z".into())));
        assert_eq!(limit_scanned_at(Some("2026-11-23T08:04:00Z"), lm), Ok(Some("2026-11-23T08:00:00Z".into())));
        let err = limit_scanned_at(Some("2099-01-01T00:00:00Z"), lm).expect_err("forged");
        assert!(err.contains("after the report was uploaded (2026-11-23T08:00:00Z)"), "{err}");
        assert_eq!(limit_scanned_at(None, lm), Ok(None));
    }

    #[test]
    fn build_claims() {
        let arn = "arn:aws:codebuild:us-east-1:123456789012:build/app:b-1";
        assert_eq!(check_build_project("app", arn), Ok(()));
        assert!(check_build_project("victim", arn).expect_err("foreign prefix").contains("belongs to project \"app\""));
        assert!(check_build_project("app", "not-an-arn").is_err());
        let build = BuildInfo {
            arn: arn.into(),
            project: Some("app".into()),
            initiator: Some("codepipeline/app-pipeline".into()),
            pipeline_execution_id: Some("exec-1".into()),
            ..BuildInfo::default()
        };
        let meta = |p: &str, e: &str| ReportMeta {
            pipeline: Some(p.into()),
            execution_id: Some(e.into()),
            ..ReportMeta::default()
        };
        assert_eq!(check_pipeline_claims(&meta("app-pipeline", "exec-1"), "app", &build), Ok(true));
        assert!(check_pipeline_claims(&meta("victim-pipeline", "exec-1"), "app", &build).is_err());
        assert!(check_pipeline_claims(&meta("app-pipeline", "victim-exec"), "app", &build).is_err());
        assert_eq!(check_pipeline_claims(&ReportMeta::default(), "app", &build), Ok(false));
    }
}

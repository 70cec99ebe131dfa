//! The report's provenance (scangate_core::contract::provenance), decided before anything
//! is written: the facts are gathered here (the event's requester, the object's HEAD,
//! BatchGetBuilds), the checks are core's.

use super::{Delivery, Processor, ReportMeta, Transient};
use scangate_aws::codebuild::{BuildInfo, CodeBuildOps};
use scangate_aws::s3::ReportStore;
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract::provenance::{check_build, check_uploader, BuildFacts, ClaimedTarget, Requester};
use scangate_core::contract::{self, Provenance, Writer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What was decided: the provenance, the build CodeBuild described (when one was named and
/// known), or the reason to refuse the report outright (quarantine without results).
pub(crate) struct Decided {
    pub provenance: Provenance,
    pub build: Option<BuildInfo>,
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Decides who wrote the object version of `d` and whether its target is proven. `meta`:
    /// the parsed metadata, None when it is malformed (then only the writer is checked).
    /// Ok(Err): refused (the key names another project than the build it claims).
    pub(crate) async fn decide_provenance(
        &self,
        d: &Delivery<'_>,
        meta: Option<&ReportMeta>,
    ) -> Result<Result<Decided, String>, Transient> {
        let unverified = |why: String| Ok(Ok(Decided { provenance: Provenance::Unverified(why), build: None }));
        let (key_project, _) = contract::results_dir(&d.obj.key, &self.config.scan_prefix);
        let requester = d.obj.requester.as_deref().and_then(Requester::parse);
        if let Some(r) = requester {
            let cfg = &self.config;
            match check_uploader(&cfg.uploader_principal_ids, r.unique_id, &key_project, &cfg.scan_projects) {
                None => {}
                Some(Err(why)) => return unverified(why),
                Some(Ok(())) => {
                    return Ok(Ok(Decided {
                        provenance: Provenance::Verified(Writer::Uploader { principal: r.unique_id.to_string() }),
                        build: None,
                    }))
                }
            }
        }
        let arn =
            meta.and_then(|m| m.build_arn.clone()).or_else(|| d.head.metadata.get(contract::meta::BUILD_ARN).cloned());
        let Some(arn) = arn else {
            return unverified(format!(
                "the report names no build ({}) and its writer ({}) is no configured uploader",
                contract::meta::BUILD_ARN,
                requester.map_or("unknown", |r| r.unique_id)
            ));
        };
        if let Err(reason) = super::claims::check_build_project(&key_project, &arn) {
            return Ok(Err(reason));
        }
        let Some(codebuild) = &self.codebuild else {
            return unverified("the processor has no CodeBuild client to verify the build".to_string());
        };
        let build = match codebuild.build_info(&arn).await {
            Ok(Some(b)) => b,
            Ok(None) => return unverified(format!("CodeBuild does not know the build {arn}")),
            Err(e) if e.is_retryable() => {
                return Err(Transient(format!("verifying the build {arn}: {e}; the event will be retried")))
            }
            Err(e) => return unverified(format!("BatchGetBuilds failed for {arn} ({})", e.code)),
        };
        let id = contract::build_id(&arn);
        let project = build.project.clone().unwrap_or_default();
        let facts = BuildFacts {
            build_id: id,
            project: &project,
            start: build.start_time,
            end: build.end_time,
            buildspec_overridden: build.buildspec_overridden,
            env: &build.env,
            source_location: build.source_location.as_deref(),
            source_version: build.source_version.as_deref(),
        };
        let claimed = meta.map(|m| ClaimedTarget {
            scan_type: m.scan_type,
            target: m.target.as_deref(),
            source_repo_url: m.source_repo_url.as_deref(),
            branch: m.source_branch.as_deref(),
        });
        let written = d.head.last_modified.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        let checked = check_build(
            &facts,
            &self.config.scan_projects,
            requester,
            &self.config.scan_role_ids,
            written,
            claimed.as_ref(),
        );
        let provenance = match checked {
            Ok(()) => Provenance::Verified(Writer::CodeBuild { build_id: id.to_string(), project: project.clone() }),
            Err(why) => Provenance::Unverified(why),
        };
        Ok(Ok(Decided { provenance, build: Some(build) }))
    }
}

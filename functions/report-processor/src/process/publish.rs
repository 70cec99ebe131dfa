//! Report-group publishing: whether a report's JUnit is published into a CodeBuild
//! report group, the group's name, the StartBuild idempotency token, the publisher build
//! and the marker that keeps a redelivery from publishing twice.
//!
//! Bounded (docs/security.md): only reports whose build CodeBuild confirmed (claims.rs)
//! and whose project is one of `PUBLISH_PROJECTS` are published, and at most once per
//! source build: the marker is per `results/<project>/<build-id>/`, so another report or
//! another upload of the same build dir finds it and starts nothing. Publisher builds and
//! report groups therefore never outnumber real builds of the listed projects (two
//! reports of one build delivered concurrently can both start one before either marker
//! is written: at most the event source's concurrency, 2).

use super::{Delivery, Processor, ReportMeta, Transient};
use scangate_aws::codebuild::{CodeBuildError, CodeBuildOps, Ensured, ReportExport, StartBuild};
use scangate_aws::s3::{Condition, ReportStore, StoreError};
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract;
use scangate_core::lifecycle::ScanType;
use sha2::{Digest, Sha256};

/// The CodeBuild client type of a processor built without one: it has no values, so the
/// processor's `Option` of it is always `None`, the one way "no CodeBuild client" is said
/// (add one with [`Processor::with_codebuild`]).
#[derive(Clone, Copy, Debug)]
pub enum NoCodeBuild {}

impl CodeBuildOps for NoCodeBuild {
    async fn build_info(&self, _build_id: &str) -> Result<Option<scangate_aws::codebuild::BuildInfo>, CodeBuildError> {
        match *self {}
    }

    async fn ensure_report_group(&self, _name: &str, _export: &ReportExport) -> Result<Ensured, CodeBuildError> {
        match *self {}
    }

    async fn start_build(&self, _request: &StartBuild) -> Result<String, CodeBuildError> {
        match *self {}
    }
}

/// Environment variables the publisher project reads (cfn/scangate.yaml, PublisherEnvironment).
pub(crate) mod publisher_env {
    pub(crate) const JUNIT_KEY: &str = "SCANGATE_JUNIT_KEY";
    pub(crate) const REPORT_GROUP: &str = "SCANGATE_REPORT_GROUP";
    pub(crate) const SOURCE_BUILD: &str = "SCANGATE_SOURCE_BUILD";
}

/// The report group a report's JUnit is published to: `qualys-<project>-<scan type>`, where
/// `<project>` is the key's project segment. Characters outside `A-Za-z0-9-_` become `-`;
/// a changed or too long name is cut and gets 8 hex digits of the original's SHA-256, so
/// the name stays unique, at most 128 characters and under the roles' `qualys-*` scope.
pub(crate) fn report_group_name(project: &str, scan_type: ScanType) -> String {
    const MAX: usize = 128;
    let raw = format!("qualys-{project}-{}", scan_type.as_str());
    let clean: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    if clean == raw && clean.len() <= MAX {
        return clean;
    }
    let digest = hex::encode(Sha256::digest(raw.as_bytes()));
    let suffix = format!("-{}", &digest[..8]);
    let keep = clean.len().min(MAX - suffix.len());
    // `clean` is ASCII: any byte index is a character boundary.
    format!("{}{suffix}", &clean[..keep])
}

/// The StartBuild idempotency token of one report version: the same for every delivery of
/// the same upload (bucket, key, version id, else ETag and LastModified), different for a
/// new upload.
pub(crate) fn publish_token(bucket: &str, key: &str, version_or_etag: &str) -> String {
    let mut h = Sha256::new();
    for part in [bucket, key, version_or_etag] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    format!("scangate-{}", &hex::encode(h.finalize())[..32])
}

/// What publishing one report needs, decided before the results are written.
pub(crate) struct PublishPlan {
    project: String,
    token: String,
    pub marker_key: String,
    junit_key: String,
    report_group: String,
    /// A build already started for this report version (from the marker).
    pub existing: Option<String>,
}

/// The marker of a started publisher build: `results/<project>/<build-id>/publish/source-build.json`.
#[derive(serde::Serialize, serde::Deserialize)]
struct PublishMarker {
    schema: String,
    build_id: String,
    report_group: String,
    junit_key: String,
    report_key: String,
    report_version: Option<String>,
    started_at: String,
}

const PUBLISH_MARKER_SCHEMA: &str = "scangate.publish.v1";

/// The marker's name: one per source build (`results/<project>/<build-id>/publish/source-build.json`).
const SOURCE_BUILD_MARKER: &str = "source-build";

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// Whether and where this report is published (None: publishing is off, or the
    /// uploading build waits for the verdict and reports the JUnit itself).
    pub(crate) fn publish_plan(
        &self,
        d: &Delivery<'_>,
        meta: &ReportMeta,
        project: &str,
        build_id: &str,
    ) -> Option<PublishPlan> {
        let (obj, head, id) = (d.obj, d.head, d.id);
        let publisher_project = self.config.publisher_project.clone()?;
        self.codebuild.as_ref()?;
        if !meta.publishes() {
            tracing::debug!(
                "not published: the uploading build waits for the verdict and reports the JUnit itself, or it is not verified"
            );
            return None;
        }
        if !self.config.publish_projects.iter().any(|p| p == project) {
            tracing::info!(project, "not published: the project is not one of PUBLISH_PROJECTS");
            return None;
        }
        // The version id names one upload; without versioning, the ETag and LastModified
        // together do (an identical body uploaded again has the same ETag).
        let version = match head.version_id.clone().or_else(|| obj.version_id.clone()) {
            Some(v) => v,
            None => format!(
                "{}@{}",
                head.etag.clone().or_else(|| obj.etag.clone()).unwrap_or_default(),
                head.last_modified.clone().unwrap_or_default()
            ),
        };
        let token = publish_token(&obj.bucket, &obj.key, &version);
        let group = report_group_name(project, meta.scan_type);
        Some(PublishPlan {
            project: publisher_project,
            marker_key: contract::publish_marker_key(project, build_id, SOURCE_BUILD_MARKER),
            junit_key: contract::junit_key(project, build_id),
            report_group: format!(
                "arn:{}:codebuild:{}:{}:report-group/{group}",
                id.partition, id.region, id.account_id
            ),
            token,
            existing: None,
        })
    }

    /// The build id recorded by an earlier delivery of the same report version.
    pub(crate) async fn published_build(&self, bucket: &str, marker_key: &str) -> Result<Option<String>, Transient> {
        let Some(fetched) = self.store.get_bytes(bucket, marker_key, 64 * 1024).await? else {
            return Ok(None);
        };
        match serde_json::from_slice::<PublishMarker>(&fetched.body) {
            Ok(m) if m.schema == PUBLISH_MARKER_SCHEMA && !m.build_id.is_empty() => {
                tracing::info!(publisher_build = %m.build_id, "JUnit already published for this source build");
                Ok(Some(m.build_id))
            }
            Ok(_) | Err(_) => {
                tracing::warn!(marker_key, "unreadable publish marker: publishing again (same idempotency token)");
                Ok(None)
            }
        }
    }

    /// Ensures the report group, starts the publisher build and records it in the marker.
    pub(crate) async fn start_publisher(
        &self,
        d: &Delivery<'_>,
        meta: &ReportMeta,
        plan: &PublishPlan,
        now: &str,
    ) -> Result<String, Transient> {
        let (obj, head) = (d.obj, d.head);
        let Some(publisher) = &self.codebuild else {
            return Err(Transient("publishing planned without a CodeBuild client".into()));
        };
        let name = plan.report_group.rsplit_once("report-group/").map_or(plan.report_group.as_str(), |(_, n)| n);
        let known = self.ensured_groups.lock().map(|g| g.contains(name)).unwrap_or(false);
        if !known {
            let export = ReportExport {
                bucket: obj.bucket.clone(),
                path: contract::report_group_export_path(name),
                kms_key_arn: self.config.kms_key_id.clone(),
            };
            match publisher.ensure_report_group(name, &export).await {
                Ok(Ensured::Created { .. }) => tracing::info!(report_group = name, "report group created"),
                Ok(Ensured::AlreadyExists) => {}
                Err(e) => return Err(Transient(format!("report group {name}: {e}; the event will be retried"))),
            }
            if let Ok(mut g) = self.ensured_groups.lock() {
                g.insert(name.to_string());
            }
        }
        let mut env = vec![
            (publisher_env::JUNIT_KEY.to_string(), plan.junit_key.clone()),
            (publisher_env::REPORT_GROUP.to_string(), plan.report_group.clone()),
        ];
        if let Some(arn) = &meta.build_arn {
            env.push((publisher_env::SOURCE_BUILD.to_string(), arn.clone()));
        }
        let request = StartBuild { project: plan.project.clone(), env, idempotency_token: plan.token.clone() };
        let build_id = publisher.start_build(&request).await.map_err(|e| {
            Transient(format!(
                "publishing {} to {name}: {e}; the event will be retried (findings already applied are not imported again)",
                plan.junit_key
            ))
        })?;
        tracing::info!(publisher_build = %build_id, report_group = name, "publisher build started");
        let marker = PublishMarker {
            schema: PUBLISH_MARKER_SCHEMA.into(),
            build_id: build_id.clone(),
            report_group: plan.report_group.clone(),
            junit_key: plan.junit_key.clone(),
            report_key: obj.key.clone(),
            report_version: head.version_id.clone().or_else(|| head.etag.clone()),
            started_at: now.to_string(),
        };
        // The marker keeps a later redelivery (after CodeBuild forgot the token) from
        // publishing twice; losing it is logged, not retried (a retry could publish twice).
        match serde_json::to_vec_pretty(&marker) {
            Ok(body) => {
                let mut opts = self.put_options("application/json");
                opts.condition = Condition::IfNoneMatch;
                match self.store.put(&obj.bucket, &plan.marker_key, body, &opts).await {
                    Ok(_) | Err(StoreError::PreconditionFailed { .. }) => {}
                    Err(e) => tracing::warn!(error = %e, "publish marker not written"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "publish marker not serialized"),
        }
        Ok(build_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_group_names_are_valid_scoped_and_unique() {
        assert_eq!(report_group_name("app", ScanType::Image), "qualys-app-image");
        assert_eq!(report_group_name("my_app-2", ScanType::Repo), "qualys-my_app-2-repo");
        let odd = report_group_name("team/app.web", ScanType::Image);
        assert!(odd.starts_with("qualys-team-app-web-image-"), "{odd}");
        assert_ne!(
            odd,
            report_group_name("team.app/web", ScanType::Image),
            "changed names keep a hash of the original"
        );
        let long = report_group_name(&"p".repeat(300), ScanType::Rootfs);
        assert_eq!(long.len(), 128);
        assert!(long.starts_with("qualys-ppp"), "{long}");
        for name in [odd, long, report_group_name("é ü", ScanType::Other), report_group_name("_", ScanType::Other)] {
            assert!(name.len() <= 128 && name.starts_with("qualys-"), "{name}");
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{name}");
        }
    }

    #[test]
    fn publish_tokens_name_one_upload() {
        let t = publish_token("b", "scans/p/1/report.sarif", "v1");
        assert_eq!(t, publish_token("b", "scans/p/1/report.sarif", "v1"), "deterministic");
        assert_eq!(t.len(), "scangate-".len() + 32);
        assert!(t.starts_with("scangate-"));
        assert_ne!(t, publish_token("b", "scans/p/1/report.sarif", "v2"));
        assert_ne!(t, publish_token("c", "scans/p/1/report.sarif", "v1"));
        assert_ne!(t, publish_token("b", "scans/p/2/report.sarif", "v1"));
        // The separator keeps the parts apart.
        assert_ne!(publish_token("ab", "c", "d"), publish_token("a", "bc", "d"));
    }
}

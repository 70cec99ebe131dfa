//! The security team's exceptions (docs/waivers.md, "The trusted place"): the waivers and
//! OpenVEX documents under the report bucket's `policy/` prefix, which only
//! `WaiverAdminRoleArns` may write (bucket policy `OnlyWaiverAdminsWritePolicy`).
//!
//! They are looked up at every report (HEAD each, so a new version applies from the next
//! report), read whole only when their version is new to this process (a small cache by
//! version and day: a waivers document is validated against today), capped at
//! [`MAX_DOCUMENT_BYTES`]. A document that cannot be used is refused on its own: none of its
//! exceptions apply, the others still do, and the verdict says why (never silently passing,
//! never blocking every build of the organization). They apply only to a verified report,
//! with the facts the stack verified (the build's `IMAGE_ID` and source), never the report's
//! own claims; an unverified report gets none.

use super::{Delivery, Processor, ReportMeta, Transient};
use scangate_aws::codebuild::{BuildInfo, CodeBuildOps};
use scangate_aws::s3::{ReportStore, StoreError};
use scangate_aws::securityhub::FindingSink;
use scangate_core::contract::{Provenance, Writer};
use scangate_core::evaluate;
use scangate_core::lifecycle::key::branch_name;
use scangate_core::sarif::TargetInfo;
use scangate_core::waivers::{Exceptions, Subject, VexDocument, WaiversDocument, MAX_DOCUMENT_BYTES};
use std::collections::HashMap;
use std::sync::Mutex;
use time::Date;

/// The exceptions documents, in the order they are applied (waivers before VEX). No other
/// key is ever read as one: a waiver placed under `scans/` or in a scanned checkout is not.
pub const POLICY_DOCUMENTS: [(&str, DocumentKind); 3] = [
    ("policy/waivers.yaml", DocumentKind::Waivers),
    ("policy/waivers.json", DocumentKind::Waivers),
    ("policy/vex.json", DocumentKind::Vex),
];

/// What a policy document holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Waivers,
    Vex,
}

#[derive(Clone, Debug)]
enum Parsed {
    Waivers(WaiversDocument),
    Vex(VexDocument),
    Refused(String),
}

/// Parsed documents of this process, by key, object version (or ETag) and day.
#[derive(Default)]
pub(crate) struct DocumentCache(Mutex<HashMap<String, (String, Date, Parsed)>>);

impl DocumentCache {
    fn get(&self, key: &str, version: &str, today: Date) -> Option<Parsed> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).filter(|(v, d, _)| v == version && *d == today).map(|(_, _, p)| p.clone())
    }

    fn put(&self, key: &str, version: String, today: Date, parsed: Parsed) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(key.to_string(), (version, today, parsed));
    }
}

/// The facts exceptions are matched against, from what the stack verified; None for an
/// unverified report (no exception applies to it).
pub(crate) fn verified_subject(
    provenance: &Provenance,
    build: Option<&BuildInfo>,
    meta: &ReportMeta,
    target: &TargetInfo,
) -> Option<Subject> {
    match provenance {
        Provenance::Unverified(_) => None,
        Provenance::Verified(Writer::CodeBuild { .. }) => {
            let build = build?;
            let env =
                |name: &str| build.env.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
            match meta.scan_type {
                scangate_core::lifecycle::ScanType::Image => Some(Subject::verified_image(env("IMAGE_ID")?, target)),
                _ => Some(Subject {
                    repository: env("CODEBUILD_SOURCE_REPO_URL")
                        .or(build.source_location.as_deref())
                        .map(str::to_string),
                    branch: build
                        .source_version
                        .as_deref()
                        .or(env("CODEBUILD_SOURCE_VERSION"))
                        .map(|v| branch_name(v).to_string()),
                    ..Subject::default()
                }),
            }
        }
        // A configured uploader is trusted for the target it names as for its findings
        // (its report changes its own lifecycle): its claims are the facts.
        Provenance::Verified(Writer::Uploader { .. }) => {
            let mut subject = match meta.target.as_deref() {
                Some(image) if meta.scan_type == scangate_core::lifecycle::ScanType::Image => {
                    Subject::verified_image(image, target)
                }
                _ => Subject::default(),
            };
            subject.repository = meta.source_repo_url.clone();
            subject.branch = meta.source_branch.clone();
            Some(subject)
        }
    }
}

impl<S: ReportStore, K: FindingSink, P: CodeBuildOps> Processor<S, K, P> {
    /// The exceptions documents of `bucket` as of now. Err only for a failure that may pass
    /// (throttling, 5xx, a document replaced while read): the event is retried rather than
    /// evaluated without a waiver the security team granted.
    pub(crate) async fn load_exceptions(&self, bucket: &str, today: Date) -> Result<Exceptions, Transient> {
        let mut out = Exceptions::default();
        for (key, kind) in POLICY_DOCUMENTS {
            let source = format!("s3://{bucket}/{key}");
            let head = match self.store.head(bucket, key, None).await {
                Ok(Some(h)) => h,
                Ok(None) => continue,
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(e) => {
                    out.refused.push(refused(&source, &format!("it could not be read: {e}")));
                    continue;
                }
            };
            let version = head.version_id.clone().or_else(|| head.etag.clone()).unwrap_or_default();
            let parsed = match self.exception_cache.get(key, &version, today) {
                Some(p) => p,
                None => {
                    let parsed = self.read_document(bucket, key, &head, kind, today).await?;
                    if let Some(parsed) = &parsed {
                        self.exception_cache.put(key, version, today, parsed.clone());
                    }
                    match parsed {
                        Some(p) => p,
                        None => continue,
                    }
                }
            };
            match parsed {
                Parsed::Waivers(d) => out.waivers.push(d),
                Parsed::Vex(d) => out.vex.push(d),
                Parsed::Refused(why) => {
                    tracing::error!(document = %source, reason = %why, "exceptions document refused: none of it applies");
                    out.refused.push(why);
                }
            }
        }
        Ok(out)
    }

    /// The security team's waivers and VEX for `report`'s evaluation: read now (a new version
    /// applies from this report on), matched with the verified facts only, dated by the
    /// processor's clock. None apply (and the verdict's warning says why) when documents exist
    /// but the report's target could not be verified.
    pub(crate) async fn policy_documents(
        &self,
        d: &Delivery<'_>,
        meta: &ReportMeta,
        build: Option<&BuildInfo>,
        target: &TargetInfo,
    ) -> Result<PolicyDocuments, Transient> {
        let today = d.now.to_offset(time::UtcOffset::UTC).date();
        let documents = self.load_exceptions(&d.obj.bucket, today).await?;
        let Some(subject) = verified_subject(&d.provenance, build, meta, target) else {
            let not_applied = (!documents.is_empty()).then(|| {
                let why = d.provenance.reason().map_or("the scanned target could not be verified".to_string(), |why| {
                    format!("the report is unverified ({why})")
                });
                format!("no waiver or VEX statement was applied: {why}")
            });
            return Ok(PolicyDocuments {
                exceptions: Exceptions::default(),
                subject: Subject::default(),
                today,
                not_applied,
            });
        };
        Ok(PolicyDocuments { exceptions: documents, subject, today, not_applied: None })
    }

    /// Reads exactly the version HEAD described, at most [`MAX_DOCUMENT_BYTES`]. Ok(None):
    /// it was deleted in between.
    async fn read_document(
        &self,
        bucket: &str,
        key: &str,
        head: &scangate_aws::s3::ObjectHead,
        kind: DocumentKind,
        today: Date,
    ) -> Result<Option<Parsed>, Transient> {
        let source = match &head.version_id {
            Some(v) => format!("s3://{bucket}/{key}?versionId={v}"),
            None => format!("s3://{bucket}/{key}"),
        };
        let cap = MAX_DOCUMENT_BYTES as u64;
        if head.size > cap {
            return Ok(Some(Parsed::Refused(refused(
                &source,
                &format!("it has {} bytes; at most {cap} are read", head.size),
            ))));
        }
        // One byte over the cap is read, so a document that grew after HEAD is refused
        // rather than cut.
        let read = self
            .store
            .read_exact_with(bucket, key, head.version_id.as_deref(), head.etag.as_deref(), cap + 1, move |r| {
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(r, cap + 1), &mut body).map(|_| body)
            })
            .await;
        let bytes = match read {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(Transient(format!("{source}: reading failed: {e}"))),
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => return Ok(Some(Parsed::Refused(refused(&source, &format!("it could not be read: {e}"))))),
        };
        if bytes.len() as u64 > cap {
            return Ok(Some(Parsed::Refused(refused(&source, &format!("it has more than {cap} bytes")))));
        }
        let parsed = match kind {
            DocumentKind::Waivers => {
                WaiversDocument::parse(&bytes, &source, today, self.config.waiver_max_days).map(Parsed::Waivers)
            }
            DocumentKind::Vex => VexDocument::parse(&bytes, &source).map(Parsed::Vex),
        };
        Ok(Some(
            parsed.unwrap_or_else(|e| Parsed::Refused(format!("{e} (the document was refused: none of it applies)"))),
        ))
    }
}

/// The exceptions one report is evaluated with ([`evaluate::evaluate_from`]).
pub(crate) struct PolicyDocuments {
    /// Empty when the report is unverified (every exception mark is cleared).
    pub exceptions: Exceptions,
    pub subject: Subject,
    pub today: Date,
    /// The verdict's warning when documents exist but none applied.
    pub not_applied: Option<String>,
}

impl PolicyDocuments {
    pub(crate) fn for_evaluation(&self) -> evaluate::ExceptionsIn<'_> {
        Some((&self.exceptions, &self.subject, self.today))
    }
}

fn refused(source: &str, why: &str) -> String {
    format!("{source}: {why} (the document was refused: none of it applies)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use scangate_core::lifecycle::ScanType;

    fn build(env: &[(&str, &str)]) -> BuildInfo {
        BuildInfo {
            arn: "arn:aws:codebuild:us-east-1:123456789012:build/scan:1".into(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..BuildInfo::default()
        }
    }

    #[test]
    fn the_subject_is_what_the_stack_verified_not_what_the_report_claims() {
        let by_build = Provenance::Verified(Writer::CodeBuild { build_id: "scan:1".into(), project: "scan".into() });
        let meta = ReportMeta {
            scan_type: ScanType::Image,
            target: Some("registry.example/shop/waived:1".into()),
            ..ReportMeta::default()
        };
        let target = TargetInfo {
            image_name: Some("registry.example/shop/waived:1".into()),
            repo_tags: vec!["registry.example/shop/waived:1".into()],
            ..TargetInfo::default()
        };
        let b = build(&[("IMAGE_ID", "registry.example/shop/web:2")]);
        let s = verified_subject(&by_build, Some(&b), &meta, &target).expect("verified");
        assert_eq!(s.images, vec!["registry.example/shop/web:2".to_string()]);
        assert_eq!(verified_subject(&by_build, Some(&build(&[])), &meta, &target), None, "no IMAGE_ID, no facts");
        assert_eq!(verified_subject(&by_build, None, &meta, &target), None);
        let unverified = Provenance::Unverified("forged".into());
        assert_eq!(verified_subject(&unverified, Some(&b), &meta, &target), None);
        let repo = ReportMeta { scan_type: ScanType::Repo, ..ReportMeta::default() };
        let mut b = build(&[("CODEBUILD_SOURCE_REPO_URL", "https://github.com/example/shop")]);
        b.source_version = Some("refs/heads/main".into());
        let s = verified_subject(&by_build, Some(&b), &repo, &target).expect("verified");
        assert_eq!(
            (s.repository.as_deref(), s.branch.as_deref()),
            (Some("https://github.com/example/shop"), Some("main"))
        );
        let uploader = Provenance::Verified(Writer::Uploader { principal: "AROAEXAMPLE".into() });
        let s = verified_subject(&uploader, None, &meta, &target).expect("an uploader's claims");
        assert_eq!(s.images, vec!["registry.example/shop/waived:1".to_string()]);
    }
}

//! Exceptions the security team owns (docs/waivers.md): expiring waivers and OpenVEX
//! statements, read only from the trusted place (the report bucket's `policy/` prefix, or a
//! file given to `scangate process`), never from the scanned checkout.
//!
//! [`Exceptions::apply`] marks each finding a valid waiver or an exempting VEX statement
//! covers ([`crate::Finding::exception`]): such a finding is not counted against the
//! thresholds (verdict `waived`), stays in Security Hub with the exception in its
//! ProductFields, and is never archived because of it. Time is injected: a waiver applies
//! through its `expires` day (UTC) and not after.

mod document;
mod glob;
mod load;
#[cfg(test)]
mod tests;
mod vex;

pub use document::{format_date, Scope, Waiver, WaiversDocument, DEFAULT_MAX_DAYS, MAX_WAIVERS, WAIVERS_SCHEMA};
pub use glob::{glob_match, image_repository, repository_url};
pub use load::MAX_DOCUMENT_BYTES;
pub use vex::{Product, VexDocument, VexStatement, VexStatus, JUSTIFICATIONS, MAX_STATEMENTS};

use crate::finding::Finding;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Date;

/// A waiver expiring within this many days is warned about in every verdict that applies it.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// An exceptions document that cannot be used, naming the file and the JSON path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: at {path}: {message}")]
pub struct ExceptionError {
    pub file: String,
    pub path: String,
    pub message: String,
}

impl ExceptionError {
    pub(crate) fn new(file: &str, path: &str, message: impl Into<String>) -> ExceptionError {
        ExceptionError { file: file.to_string(), path: path.to_string(), message: message.into() }
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Which kind of exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionKind {
    Waiver,
    Vex,
}

impl ExceptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::Waiver => "waiver",
            ExceptionKind::Vex => "vex",
        }
    }
}

/// The exception a finding is covered by (set by [`Exceptions::apply`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub kind: ExceptionKind,
    /// `waivers[i]` or `statements[i]` in the document.
    pub reference: String,
    /// The waiver's id, or the statement's vulnerability name.
    pub id: String,
    /// The waiver's reason; for VEX the justification and impact statement.
    pub reason: String,
    /// The waiver's owner; for VEX the document's author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The waiver's last day, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The VEX status (`not_affected`, `fixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VexStatus>,
    /// SHA-256 of the document the exception is in.
    pub document_sha256: String,
}

/// What the scanned thing is, for scope and product matching. Facts come from the stack's
/// own records (the report's image reference and digests, the build's source), never from
/// a file in the scanned checkout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// Image references (`repo:tag`, `repo@sha256:…`); their repositories match `scope.image`.
    pub images: Vec<String>,
    /// Image digests (`sha256:…`), for VEX products.
    pub digests: Vec<String>,
    /// Source repository URL.
    pub repository: Option<String>,
    /// Source branch.
    pub branch: Option<String>,
}

impl Subject {
    /// The image facts a report names: its tags and name (repositories) and repo digests.
    pub fn from_target(target: &crate::sarif::TargetInfo) -> Subject {
        let mut images: Vec<String> = target.repo_tags.clone();
        images.extend(target.image_name.iter().cloned());
        images.extend(target.repo_digests.iter().cloned());
        let digests = target.repo_digests.iter().filter_map(|d| glob::image_digest(d)).collect();
        Subject { images, digests, repository: None, branch: None }
    }

    /// The facts of a scan whose image the stack verified (`image`: the build's own
    /// `IMAGE_ID`, never the report's claim): that image, and of the report's repo digests
    /// only those of the same repository (a report cannot bring a digest of another image
    /// into VEX matching).
    pub fn verified_image(image: &str, target: &crate::sarif::TargetInfo) -> Subject {
        let repository = image_repository(image);
        let mut digests: Vec<String> = target
            .repo_digests
            .iter()
            .filter(|d| !repository.is_empty() && image_repository(d) == repository)
            .filter_map(|d| glob::image_digest(d))
            .collect();
        digests.sort();
        digests.dedup();
        Subject { images: vec![image.to_string()], digests, repository: None, branch: None }
    }

    fn image_repositories(&self) -> Vec<String> {
        let mut out: Vec<String> = self.images.iter().map(|i| image_repository(i)).filter(|r| !r.is_empty()).collect();
        out.sort();
        out.dedup();
        out
    }

    fn digest_set(&self) -> Vec<String> {
        let mut out: Vec<String> = self.digests.iter().filter_map(|d| glob::image_digest(d)).collect();
        out.extend(self.images.iter().filter(|i| i.contains('@')).filter_map(|i| glob::image_digest(i)));
        out.sort();
        out.dedup();
        out
    }
}

/// A document the evaluation read, for the audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    pub kind: ExceptionKind,
    /// Where it was read from (file path or `s3://bucket/key`).
    pub source: String,
    pub sha256: String,
}

/// One waiver or statement that matched findings of this evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedException {
    pub kind: ExceptionKind,
    pub reference: String,
    pub id: String,
    pub document_sha256: String,
    /// Findings it matched.
    pub findings: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VexStatus>,
}

/// The audit of an evaluation's exceptions (verdict `exceptions`): the documents read, what
/// was applied (exempted findings, or VEX `affected`/`under_investigation` statements that
/// kept them counted) and the expired waivers whose findings count again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionsAudit {
    pub documents: Vec<DocumentRef>,
    pub applied: Vec<AppliedException>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<AppliedException>,
    /// Why a document was refused (none of its exceptions applied); empty when all were usable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

/// The exceptions of one evaluation.
#[derive(Clone, Debug, Default)]
pub struct Exceptions {
    pub waivers: Vec<WaiversDocument>,
    pub vex: Vec<VexDocument>,
    /// Documents that could not be used (fail closed: nothing of them applies).
    pub refused: Vec<String>,
}

impl Exceptions {
    pub fn is_empty(&self) -> bool {
        self.waivers.is_empty() && self.vex.is_empty() && self.refused.is_empty()
    }

    /// Marks the findings the exceptions cover (`finding.exception`), clearing any earlier
    /// mark, and returns the audit and the warnings (waivers expiring within
    /// [`EXPIRY_WARNING_DAYS`], expired waivers that matched, refused documents). The same as
    /// [`Exceptions::applier`] given each finding in turn.
    pub fn apply(&self, findings: &mut [Finding], subject: &Subject, today: Date) -> (ExceptionsAudit, Vec<String>) {
        let mut applier = self.applier(subject, today);
        for finding in findings.iter_mut() {
            applier.apply(finding);
        }
        applier.finish()
    }

    /// The per-finding form of [`Exceptions::apply`], for findings read one at a time (a
    /// report whose findings are not all in memory): [`Applier::apply`] each finding, in
    /// report order, then [`Applier::finish`] for the audit and the warnings.
    pub fn applier<'a>(&'a self, subject: &'a Subject, today: Date) -> Applier<'a> {
        Applier {
            exceptions: self,
            subject,
            today,
            repositories: subject.image_repositories(),
            digests: subject.digest_set(),
            applied: Default::default(),
            expired: Default::default(),
        }
    }
}

/// Which waiver or statement an audit entry counts: (kind, document SHA-256, reference).
type AuditKey = (&'static str, String, String);

/// Applies [`Exceptions`] to findings one at a time and accumulates the audit
/// ([`Exceptions::applier`]).
pub struct Applier<'a> {
    exceptions: &'a Exceptions,
    subject: &'a Subject,
    today: Date,
    repositories: Vec<String>,
    digests: Vec<String>,
    applied: std::collections::BTreeMap<AuditKey, AppliedException>,
    expired: std::collections::BTreeMap<AuditKey, AppliedException>,
}

fn bump(
    map: &mut std::collections::BTreeMap<AuditKey, AppliedException>,
    key: AuditKey,
    make: &dyn Fn() -> AppliedException,
) {
    map.entry(key).or_insert_with(make).findings += 1;
}

impl Applier<'_> {
    /// Marks `finding` if an exception covers it (`finding.exception`, any earlier mark
    /// cleared) and counts it in the audit.
    pub fn apply(&mut self, finding: &mut Finding) {
        finding.exception = self.exception(finding);
    }

    /// The exception that covers `finding`, if any (its own mark is not read), counted in
    /// the audit: [`Applier::apply`] without changing the finding.
    pub fn exception(&mut self, finding: &Finding) -> Option<Box<Exception>> {
        let (subject, today) = (self.subject, self.today);
        let mut exception = None;
        // A valid waiver first: it names an owner and an expiry.
        let mut covered = false;
        for doc in &self.exceptions.waivers {
            for w in &doc.waivers {
                if !waiver_matches(w, finding, subject, &self.repositories) {
                    continue;
                }
                let entry = || AppliedException {
                    kind: ExceptionKind::Waiver,
                    reference: w.reference.clone(),
                    id: w.id.clone(),
                    document_sha256: doc.sha256.clone(),
                    findings: 0,
                    expires: Some(format_date(w.expires)),
                    status: None,
                };
                if today > w.expires {
                    bump(&mut self.expired, ("waiver", doc.sha256.clone(), w.reference.clone()), &entry);
                    continue;
                }
                if covered {
                    continue;
                }
                covered = true;
                bump(&mut self.applied, ("waiver", doc.sha256.clone(), w.reference.clone()), &entry);
                exception = Some(Box::new(Exception {
                    kind: ExceptionKind::Waiver,
                    reference: w.reference.clone(),
                    id: w.id.clone(),
                    reason: w.reason.clone(),
                    owner: Some(w.owner.clone()),
                    expires: Some(format_date(w.expires)),
                    status: None,
                    document_sha256: doc.sha256.clone(),
                }));
            }
        }
        if covered {
            return exception;
        }
        // The latest VEX statement about this finding in this product decides.
        let mut latest: Option<(&VexDocument, &VexStatement)> = None;
        for doc in &self.exceptions.vex {
            for st in doc.statements.iter().filter(|s| statement_matches(s, finding, &self.digests)) {
                let later = match latest {
                    None => true,
                    Some((_, prev)) => st.timestamp >= prev.timestamp,
                };
                if later {
                    latest = Some((doc, st));
                }
            }
        }
        if let Some((doc, st)) = latest {
            let entry = || AppliedException {
                kind: ExceptionKind::Vex,
                reference: st.reference.clone(),
                id: st.vulnerabilities.first().cloned().unwrap_or_default(),
                document_sha256: doc.sha256.clone(),
                findings: 0,
                expires: None,
                status: Some(st.status),
            };
            bump(&mut self.applied, ("vex", doc.sha256.clone(), st.reference.clone()), &entry);
            if st.status.exempts() {
                let reason = [st.justification.as_deref(), st.impact_statement.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                exception = Some(Box::new(Exception {
                    kind: ExceptionKind::Vex,
                    reference: st.reference.clone(),
                    id: st.vulnerabilities.first().cloned().unwrap_or_default(),
                    reason: if reason.is_empty() { st.status.as_str().to_string() } else { reason },
                    owner: doc.author.clone(),
                    expires: None,
                    status: Some(st.status),
                    document_sha256: doc.sha256.clone(),
                }));
            }
        }
        exception
    }

    /// The audit (documents read, exceptions applied, expired waivers that matched, refused
    /// documents) and the warnings (waivers expiring within [`EXPIRY_WARNING_DAYS`], expired
    /// waivers that matched, refused documents) of the findings given so far.
    pub fn finish(self) -> (ExceptionsAudit, Vec<String>) {
        let (exceptions, today) = (self.exceptions, self.today);
        let audit = ExceptionsAudit {
            documents: exceptions
                .waivers
                .iter()
                .map(|d| DocumentRef {
                    kind: ExceptionKind::Waiver,
                    source: d.source.clone(),
                    sha256: d.sha256.clone(),
                })
                .chain(exceptions.vex.iter().map(|d| DocumentRef {
                    kind: ExceptionKind::Vex,
                    source: d.source.clone(),
                    sha256: d.sha256.clone(),
                }))
                .collect(),
            applied: self.applied.into_values().collect(),
            expired: self.expired.into_values().collect(),
            refused: exceptions.refused.clone(),
        };
        let mut warnings = Vec::new();
        for r in &audit.refused {
            warnings.push(format!("exceptions document refused, none of its waivers or statements applied: {r}"));
        }
        for doc in &exceptions.waivers {
            for w in &doc.waivers {
                let used = audit.applied.iter().any(|a| a.reference == w.reference && a.document_sha256 == doc.sha256);
                let left = (w.expires - today).whole_days();
                if used && left < EXPIRY_WARNING_DAYS {
                    warnings.push(format!(
                        "waiver {} ({}, owner {}) expires on {} ({}): its findings count again from the next day",
                        w.reference,
                        w.id,
                        w.owner,
                        format_date(w.expires),
                        match left {
                            0 => "today".to_string(),
                            1 => "in 1 day".to_string(),
                            n => format!("in {n} days"),
                        }
                    ));
                }
            }
        }
        for e in &audit.expired {
            warnings.push(format!(
                "waiver {} ({}) expired on {}: its {} finding{} count again",
                e.reference,
                e.id,
                e.expires.as_deref().unwrap_or("?"),
                e.findings,
                if e.findings == 1 { "" } else { "s" }
            ));
        }
        (audit, warnings)
    }
}

/// Does the finding carry this id (its rule id or one of its CVEs)?
fn names(finding: &Finding, id: &str) -> bool {
    finding.rule_id.eq_ignore_ascii_case(id) || finding.cves.iter().any(|c| c.eq_ignore_ascii_case(id))
}

fn waiver_matches(w: &Waiver, finding: &Finding, subject: &Subject, repositories: &[String]) -> bool {
    if !names(finding, &w.id) {
        return false;
    }
    let s = &w.scope;
    if let Some(image) = &s.image {
        if !repositories.iter().any(|r| r == image) {
            return false;
        }
    }
    if let Some(repo) = &s.repository {
        if subject.repository.as_deref().map(repository_url).as_deref() != Some(repo.as_str()) {
            return false;
        }
    }
    if let Some(branch) = &s.branch {
        if subject.branch.as_deref().map(glob::branch) != Some(branch.as_str()) {
            return false;
        }
    }
    if let Some(purl) = &s.purl {
        let Some(fp) = finding.package.as_ref().and_then(|p| p.purl.as_deref()) else {
            return false;
        };
        if !glob::purl_covers(purl, fp) {
            return false;
        }
    }
    if let Some(pattern) = &s.path {
        let Some(uri) = finding.location.as_ref().map(|l| glob::normalize_path(&l.uri)) else {
            return false;
        };
        if !glob_match(pattern, uri) {
            return false;
        }
    }
    true
}

fn statement_matches(st: &VexStatement, finding: &Finding, digests: &[String]) -> bool {
    if !st.vulnerabilities.iter().any(|v| names(finding, v)) {
        return false;
    }
    let purl = finding.package.as_ref().and_then(|p| p.purl.as_deref());
    let product = st.products.iter().any(|p| match p {
        Product::Digest(d) => digests.iter().any(|x| x == d),
        Product::Purl(pp) => purl.is_some_and(|fp| glob::purl_covers(pp, fp)),
    });
    if !product {
        return false;
    }
    st.subcomponents.is_empty() || purl.is_some_and(|fp| st.subcomponents.iter().any(|s| glob::purl_covers(s, fp)))
}

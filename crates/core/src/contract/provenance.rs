//! Provenance: who wrote a report object version and what it scanned, as the processor
//! proved it from sources the uploader cannot write (docs/security.md, "Provenance").
//! Decided once per delivery, before anything is written; every write obeys it:
//!
//! - [`Provenance::Verified`] with [`Writer::CodeBuild`]: a build of one of the stack's scan
//!   projects, running when the object was written, with its project's own buildspec, whose
//!   resolved variables name the report's target, and whose role session is the requester
//!   S3 recorded. Its findings live in the stack's lifecycle namespace ([`Provenance::owner`]
//!   is None).
//! - [`Provenance::Verified`] with [`Writer::Uploader`]: the requester S3 recorded is a
//!   configured uploader principal (`UPLOADER_PRINCIPAL_IDS`); its findings live in a
//!   lifecycle namespace of its own (the owner is part of the lifecycle key).
//! - [`Provenance::Unverified`]: anything else, with the reason. It changes no lifecycle and
//!   its verdict goes under [`UNVERIFIED_RESULTS_PROJECT`], which no gate, by-execution key,
//!   pipeline output or waiting runner reads.
//!
//! This module holds the pure checks; the processor gathers the facts (BatchGetBuilds, the
//! object's HEAD, the event's requester).

use crate::lifecycle::{self, ScanType, TargetInputs};
use time::OffsetDateTime;

/// How far the object's LastModified may lie outside the build's start and end time (clock
/// skew between S3 and CodeBuild; a build uploads before its end time is set).
pub const BUILD_WINDOW_SKEW_SECONDS: i64 = 60;

/// The session name CodeBuild gives its service role's session for build `<project>:<uuid>`:
/// `AWSCodeBuild-<uuid>` (what `sts get-caller-identity` shows inside a build).
pub const CODEBUILD_SESSION_PREFIX: &str = "AWSCodeBuild-";

/// The project segment the results of an unverified report are written under
/// (`results/_unverified/<project>/<build>/`): a leading `_` is no valid CodeBuild project
/// name, so no build's own results folder and no gate's key is ever this one.
pub const UNVERIFIED_RESULTS_PROJECT: &str = "_unverified";

/// Who wrote a report, proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Writer {
    /// A CodeBuild build of a project the stack lists: its build id (`<project>:<uuid>`).
    CodeBuild { build_id: String, project: String },
    /// A configured uploader principal (its unique id, `AROA…` or `AIDA…`).
    Uploader { principal: String },
}

/// Whether a report's writer and target were proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provenance {
    Verified(Writer),
    /// Not proven; the reason says which check failed.
    Unverified(String),
}

impl Provenance {
    pub fn is_verified(&self) -> bool {
        matches!(self, Provenance::Verified(_))
    }

    /// The lifecycle namespace owner: None for the stack's own scan builds (the lifecycle
    /// key as before), `uploader:<id>` for an uploader, None for an unverified report (which
    /// changes no lifecycle at all).
    pub fn owner(&self) -> Option<String> {
        match self {
            Provenance::Verified(Writer::Uploader { principal }) => Some(format!("uploader:{principal}")),
            _ => None,
        }
    }

    /// The reason, when unverified.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Provenance::Unverified(r) => Some(r),
            Provenance::Verified(_) => None,
        }
    }
}

/// The requester S3 recorded, as a direct or SQS-delivered S3 event carries it
/// (`userIdentity.principalId`): `AWS:<unique id>[:<session name>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requester<'a> {
    /// `AROA…` (a role) or `AIDA…` (a user).
    pub unique_id: &'a str,
    pub session: Option<&'a str>,
}

impl<'a> Requester<'a> {
    /// None when `principal_id` has no unique id (an account id alone, as EventBridge's
    /// `requester` is, names no principal).
    pub fn parse(principal_id: &'a str) -> Option<Requester<'a>> {
        let rest = principal_id.strip_prefix("AWS:")?;
        let (unique_id, session) = match rest.split_once(':') {
            Some((id, s)) => (id, Some(s).filter(|s| !s.is_empty())),
            None => (rest, None),
        };
        let valid = unique_id.len() >= 16 && unique_id.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then_some(Requester { unique_id, session })
    }
}

/// The key projects (`scans/<project>/…`) of the CI roles (docs/ci/): `<system>~<name>`.
/// They belong to the role created for that one repository or project; a configured
/// uploader is verified under one only when paired with exactly it ([`check_uploader`]).
pub const CI_KEY_PROJECT_PREFIXES: [&str; 4] = ["github~", "gitlab~", "azure~", "jenkins~"];

/// One `UPLOADER_PRINCIPAL_IDS` entry: `<unique id>` (an uploader of any key project no one
/// else owns) or `<unique id>=<key project>` (an uploader of that key project alone, as the
/// stack configures its CI roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uploader<'a> {
    pub unique_id: &'a str,
    pub project: Option<&'a str>,
}

impl<'a> Uploader<'a> {
    pub fn parse(entry: &'a str) -> Uploader<'a> {
        match entry.split_once('=') {
            Some((id, project)) => Uploader { unique_id: id.trim(), project: Some(project.trim()) },
            None => Uploader { unique_id: entry.trim(), project: None },
        }
    }
}

/// Whether a report written by `unique_id` under key project `key_project` is an uploader's
/// verified report. None: `unique_id` is no configured uploader. Err: it is one, but the key
/// belongs to someone else (why, for the unverified verdict):
///
/// - an uploader paired with a key project is verified under that project only;
/// - an unpaired uploader is verified under any project but the stack's scan projects
///   (`scan_projects`: only their builds write there), a project another entry is paired
///   with, and the CI roles' projects ([`CI_KEY_PROJECT_PREFIXES`]), where a CI role's
///   waiting runner reads the verdict.
pub fn check_uploader(
    entries: &[String],
    unique_id: &str,
    key_project: &str,
    scan_projects: &[String],
) -> Option<Result<(), String>> {
    let uploaders: Vec<Uploader<'_>> = entries.iter().map(|e| Uploader::parse(e)).collect();
    let own: Vec<&Uploader<'_>> = uploaders.iter().filter(|u| u.unique_id == unique_id).collect();
    if own.is_empty() {
        return None;
    }
    if own.iter().any(|u| u.project == Some(key_project)) {
        return Some(Ok(()));
    }
    let paired: Vec<&str> = own.iter().filter_map(|u| u.project).collect();
    if !paired.is_empty() {
        return Some(Err(format!(
            "uploader {unique_id} writes only under its own prefix ({}), not under {key_project:?}'s",
            paired.join(", ")
        )));
    }
    if scan_projects.iter().any(|p| p == key_project) {
        return Some(Err(format!(
            "uploader {unique_id} wrote under scan project {key_project:?}'s prefix, which only that project's builds write"
        )));
    }
    if uploaders.iter().any(|u| u.project == Some(key_project)) {
        return Some(Err(format!(
            "uploader {unique_id} wrote under {key_project:?}'s prefix, which belongs to the uploader paired with it"
        )));
    }
    if CI_KEY_PROJECT_PREFIXES.iter().any(|p| key_project.starts_with(p)) {
        return Some(Err(format!(
            "uploader {unique_id} wrote under {key_project:?}'s prefix, which belongs to a CI role the stack creates"
        )));
    }
    Some(Ok(()))
}

/// What BatchGetBuilds says about the build a report names (gathered by the processor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildFacts<'a> {
    pub build_id: &'a str,
    pub project: &'a str,
    pub start: Option<OffsetDateTime>,
    /// None while the build runs.
    pub end: Option<OffsetDateTime>,
    /// Some(true) when the build ran another buildspec than its project's; None: unknown.
    pub buildspec_overridden: Option<bool>,
    /// The build's resolved plain-text environment variables.
    pub env: &'a [(String, String)],
    /// The build's source location (repository URL) and source version (branch or ref).
    pub source_location: Option<&'a str>,
    pub source_version: Option<&'a str>,
}

/// What the report claims about its target (its metadata, parsed).
#[derive(Clone, Copy, Debug, Default)]
pub struct ClaimedTarget<'a> {
    pub scan_type: ScanType,
    pub target: Option<&'a str>,
    pub source_repo_url: Option<&'a str>,
    pub branch: Option<&'a str>,
}

/// Checks a build against the report (None for `claimed`: the metadata could not be read,
/// so only the writer is checked; such a report gets no findings anyway). Err: why it is
/// not verified.
pub fn check_build(
    build: &BuildFacts<'_>,
    scan_projects: &[String],
    requester: Option<Requester<'_>>,
    scan_role_ids: &[String],
    last_modified: Option<OffsetDateTime>,
    claimed: Option<&ClaimedTarget<'_>>,
) -> Result<(), String> {
    let id = build.build_id;
    if !scan_projects.iter().any(|p| p == build.project) {
        return Err(format!(
            "the build {id} belongs to project {:?}, which is not one of the stack's scan projects (SCAN_PROJECTS)",
            build.project
        ));
    }
    match build.buildspec_overridden {
        Some(false) => {}
        Some(true) => return Err(format!("the build {id} ran with an overridden buildspec, not its project's")),
        None => return Err(format!("whether the build {id} overrode its buildspec could not be established")),
    }
    let Some(written) = last_modified else {
        return Err("the object's LastModified is unknown".to_string());
    };
    let skew = time::Duration::seconds(BUILD_WINDOW_SKEW_SECONDS);
    match build.start {
        Some(start) if written >= start - skew => {}
        _ => return Err(format!("the report was written before the build {id} started")),
    }
    if let Some(end) = build.end {
        if written > end + skew {
            return Err(format!(
                "the report was written after the build {id} ended (more than {BUILD_WINDOW_SKEW_SECONDS} s)"
            ));
        }
    }
    let Some(req) = requester else {
        return Err("the event names no requester principal (an EventBridge event names only an account): the writer \
             cannot be matched to the build's role session"
            .to_string());
    };
    if !scan_role_ids.iter().any(|r| r == req.unique_id) {
        return Err(format!(
            "the report was written by principal {}, not by a scan role (SCAN_ROLE_IDS)",
            req.unique_id
        ));
    }
    let uuid = id.rsplit_once(':').map_or("", |(_, u)| u);
    let expected = format!("{CODEBUILD_SESSION_PREFIX}{uuid}");
    if req.session != Some(expected.as_str()) {
        return Err(format!(
            "the report was written by role session {:?}, not by the build {id} ({expected})",
            req.session.unwrap_or("")
        ));
    }
    match claimed {
        None => Ok(()),
        Some(c) => check_build_target(build, c),
    }
}

fn env<'a>(build: &'a BuildFacts<'_>, name: &str) -> Option<&'a str> {
    build.env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
}

/// The build's resolved variables must give the report's target: an image scan's
/// `IMAGE_ID` names the same repository; a repository scan's source (or
/// `CODEBUILD_SOURCE_REPO_URL`) and version name the same repository and branch.
pub fn check_build_target(build: &BuildFacts<'_>, c: &ClaimedTarget<'_>) -> Result<(), String> {
    let id = build.build_id;
    let claimed = lifecycle::identity(&TargetInputs {
        scan_type: c.scan_type,
        target: c.target,
        source_repo_url: c.source_repo_url,
        branch: c.branch,
        ..TargetInputs::default()
    });
    let scanned = match c.scan_type {
        ScanType::Image => match env(build, "IMAGE_ID") {
            Some(image) => lifecycle::identity(&TargetInputs {
                scan_type: ScanType::Image,
                target: Some(image),
                ..TargetInputs::default()
            }),
            None => return Err(format!("the build {id} names no IMAGE_ID")),
        },
        ScanType::Repo => {
            let url = env(build, "CODEBUILD_SOURCE_REPO_URL").or(build.source_location);
            let branch = build.source_version.or(env(build, "CODEBUILD_SOURCE_VERSION"));
            match url {
                Some(url) => lifecycle::identity(&TargetInputs {
                    scan_type: ScanType::Repo,
                    source_repo_url: Some(url),
                    branch: if c.branch.is_some() { branch } else { None },
                    ..TargetInputs::default()
                }),
                None => return Err(format!("the build {id} names no source repository")),
            }
        }
        other => {
            return Err(format!(
                "no scan project of the stack scans {other} targets, so the build {id} cannot vouch for one"
            ))
        }
    };
    if scanned == claimed {
        Ok(())
    } else {
        Err(format!("the report claims target {claimed:?} but the build {id} scanned {scanned:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("time")
    }

    #[test]
    fn requesters() {
        let r = Requester::parse("AWS:AROAEXAMPLEROLEID1:AWSCodeBuild-1234").expect("role session");
        assert_eq!((r.unique_id, r.session), ("AROAEXAMPLEROLEID1", Some("AWSCodeBuild-1234")));
        let u = Requester::parse("AWS:AIDAEXAMPLEUSERID1").expect("user");
        assert_eq!(u.session, None);
        assert_eq!(Requester::parse("123456789012"), None, "EventBridge names an account only");
        assert_eq!(Requester::parse("AWS:short:x"), None);
        assert_eq!(Requester::parse(""), None);
    }

    #[test]
    fn builds() {
        let env = vec![("IMAGE_ID".to_string(), "registry.example/app:2".to_string())];
        let build = BuildFacts {
            build_id: "scan:0000-1",
            project: "scan",
            start: Some(at("2026-11-23T08:00:00Z")),
            end: None,
            buildspec_overridden: Some(false),
            env: &env,
            ..BuildFacts::default()
        };
        let projects = vec!["scan".to_string()];
        let roles = vec!["AROAEXAMPLEROLEID1".to_string()];
        let req = Requester::parse("AWS:AROAEXAMPLEROLEID1:AWSCodeBuild-0000-1");
        let claim =
            ClaimedTarget { scan_type: ScanType::Image, target: Some("registry.example/app:1"), ..Default::default() };
        let written = Some(at("2026-11-23T08:05:00Z"));
        let check =
            |b: &BuildFacts<'_>, req, c: &ClaimedTarget<'_>| check_build(b, &projects, req, &roles, written, Some(c));
        assert_eq!(check(&build, req, &claim), Ok(()));
        let other = ClaimedTarget { target: Some("registry.example/victim:1"), ..claim };
        assert!(check(&build, req, &other).expect_err("another image").contains("scanned \"registry.example/app\""));
        let finished = BuildFacts { end: Some(at("2026-11-23T08:01:00Z")), ..build.clone() };
        assert!(check(&finished, req, &claim).expect_err("finished").contains("after the build"));
        let overridden = BuildFacts { buildspec_overridden: Some(true), ..build.clone() };
        assert!(check(&overridden, req, &claim).expect_err("override").contains("overridden buildspec"));
        let foreign = BuildFacts { project: "other", ..build.clone() };
        assert!(check(&foreign, req, &claim).expect_err("project").contains("not one of the stack's scan projects"));
        let later = BuildFacts { start: Some(at("2026-11-23T09:00:00Z")), ..build.clone() };
        assert!(check(&later, req, &claim).expect_err("not yet started").contains("before the build"));
        let session = Requester::parse("AWS:AROAEXAMPLEROLEID1:AWSCodeBuild-9999");
        assert!(check(&build, session, &claim).expect_err("other session").contains("not by the build"));
        let role = Requester::parse("AWS:AROAOTHERROLEIDXX:AWSCodeBuild-0000-1");
        assert!(check(&build, role, &claim).expect_err("other role").contains("not by a scan role"));
        assert!(check(&build, None, &claim).expect_err("no requester").contains("names no requester"));
        assert_eq!(check_build(&build, &projects, req, &roles, written, None), Ok(()), "writer only");
    }

    #[test]
    fn uploaders_are_verified_under_their_own_prefix_only() {
        let entries: Vec<String> = [
            "AIDAGENERICUPLOADER1",
            "AROAGITHUBROLE000001=github~acme~web",
            " AROAJENKINSROLE00001 = jenkins~ci ",
            "AIDAHPCUPLOADER00001=hpc",
        ]
        .map(String::from)
        .to_vec();
        let scan = vec!["qualys-codebuild-image-eu-west-1".to_string()];
        let check = |id: &str, project: &str| check_uploader(&entries, id, project, &scan);
        // (writer, key project, verified? (the reason names))
        type Expected = Option<Result<(), &'static str>>;
        let table: [(&str, &str, Expected); 13] = [
            ("AIDAGENERICUPLOADER1", "team-a", Some(Ok(()))),
            ("AIDAGENERICUPLOADER1", "github~acme~web", Some(Err("belongs to the uploader paired with it"))),
            ("AIDAGENERICUPLOADER1", "github~acme~other", Some(Err("belongs to a CI role"))),
            ("AIDAGENERICUPLOADER1", "gitlab~group~app", Some(Err("belongs to a CI role"))),
            // An uploader the operator pinned (UploaderPrincipalIds `<id>=<project>`) owns its prefix likewise.
            ("AIDAGENERICUPLOADER1", "hpc", Some(Err("belongs to the uploader paired with it"))),
            ("AIDAHPCUPLOADER00001", "hpc", Some(Ok(()))),
            ("AIDAHPCUPLOADER00001", "team-a", Some(Err("only under its own prefix (hpc)"))),
            ("AIDAGENERICUPLOADER1", "qualys-codebuild-image-eu-west-1", Some(Err("only that project's builds"))),
            ("AROAGITHUBROLE000001", "github~acme~web", Some(Ok(()))),
            ("AROAGITHUBROLE000001", "github~acme~other", Some(Err("only under its own prefix (github~acme~web)"))),
            ("AROAGITHUBROLE000001", "team-a", Some(Err("only under its own prefix"))),
            ("AROAJENKINSROLE00001", "jenkins~ci", Some(Ok(()))),
            ("AROAOTHERROLE0000001", "team-a", None),
        ];
        for (id, project, expected) in table {
            let got = check(id, project);
            match (&got, expected) {
                (None, None) | (Some(Ok(())), Some(Ok(()))) => {}
                (Some(Err(why)), Some(Err(names))) => assert!(why.contains(names), "{id} {project}: {why}"),
                _ => panic!("{id} under {project}: {got:?}, expected {expected:?}"),
            }
        }
        assert_eq!(
            Uploader::parse(" AROAX = github~a~b"),
            Uploader { unique_id: "AROAX", project: Some("github~a~b") }
        );
    }

    #[test]
    fn owners() {
        let cb = Provenance::Verified(Writer::CodeBuild { build_id: "p:1".into(), project: "p".into() });
        assert_eq!(cb.owner(), None, "the stack's own namespace: lifecycle keys as before");
        let up = Provenance::Verified(Writer::Uploader { principal: "AROAX".into() });
        assert_eq!(up.owner().as_deref(), Some("uploader:AROAX"));
        assert!(!Provenance::Unverified("why".into()).is_verified());
    }
}

//! Lifecycle keys: which findings replace which in Security Hub.
//!
//! Findings of one lifecycle key are one "latest scan": the next report for the same
//! key replaces the last, and what disappeared is archived. The default key is
//! account + region + scan type + target identity (docs/design.md).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// What was scanned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanType {
    Image,
    Repo,
    Rootfs,
    #[default]
    Other,
}

impl ScanType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Image => "image",
            ScanType::Repo => "repo",
            ScanType::Rootfs => "rootfs",
            ScanType::Other => "other",
        }
    }
}

/// The one parser of scan type names (metadata, flags, environment variables); the error
/// says what was expected.
impl std::str::FromStr for ScanType {
    type Err = String;

    fn from_str(s: &str) -> Result<ScanType, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "image" => Ok(ScanType::Image),
            "repo" => Ok(ScanType::Repo),
            "rootfs" => Ok(ScanType::Rootfs),
            "other" | "sarif" => Ok(ScanType::Other),
            _ => Err(format!("expected image, repo, rootfs or other, got {s:?}")),
        }
    }
}

impl fmt::Display for ScanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The repository of an image reference, without tag or digest:
/// `123.dkr.ecr.us-east-1.amazonaws.com/app:1.2@sha256:ab` → `123.dkr.ecr.us-east-1.amazonaws.com/app`.
/// A registry port (`host:5000/app:1`) is kept.
pub fn image_repository(reference: &str) -> &str {
    let without_digest = reference.split_once('@').map_or(reference, |(r, _)| r);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].rfind(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    }
}

/// An ECR image reference's parts: (registry account, region, repository name).
pub fn ecr_parts(reference: &str) -> Option<(&str, &str, &str)> {
    let repo = image_repository(reference);
    let (host, name) = repo.split_once('/')?;
    let mut parts = host.split('.');
    let account = parts.next()?;
    if parts.next()? != "dkr" || parts.next()? != "ecr" {
        return None;
    }
    let region = parts.next()?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) || region.is_empty() {
        return None;
    }
    Some((account, region, name))
}

/// A repository URL without credentials: `https://user:token@host/x` → `https://host/x`.
/// The runner records only this form (`scangate-source-repo-url`); nothing else changes.
pub fn strip_url_credentials(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        // scp-like `git@host:path` has no scheme: its user is no secret, but it is no
        // part of the identity either; keep it (normalization drops it).
        Some(at) if scheme.is_some() => &rest[at + 1..],
        _ => rest,
    };
    match scheme {
        Some(s) => format!("{s}://{rest}"),
        None => rest.to_string(),
    }
}

/// A branch name from a ref: `refs/heads/main` → `main`; other values unchanged (trimmed).
pub fn branch_name(reference: &str) -> &str {
    let r = reference.trim();
    r.strip_prefix("refs/heads/").unwrap_or(r)
}

/// Hosts whose repository paths are case-insensitive: their paths are lowercased.
const CASE_INSENSITIVE_HOSTS: [&str; 4] = ["github.com", "gitlab.com", "bitbucket.org", "ssh.github.com"];

/// One spelling per repository, so that a webhook build, a pipeline build and a clone over
/// SSH of the same repository name the same lifecycle:
///
/// - the scheme (`https`, `http`, `ssh`, `git`, `git+ssh`) and any credentials or user
///   (`user:token@`, `git@`) are dropped, and so are the default ports (22, 80, 443);
/// - the scp form `git@host:owner/repo` becomes `host/owner/repo`;
/// - the host is lowercased; the path is lowercased only on hosts known to treat it
///   case-insensitively (github.com, gitlab.com, bitbucket.org; elsewhere, such as
///   CodeCommit or a self-hosted server, two names differing in case may be two repositories);
/// - a query, a fragment, trailing slashes and one `.git` suffix (any case) are dropped.
///
/// Returns None for a blank value.
pub fn normalize_repo_url(url: &str) -> Option<String> {
    let mut u = url.trim();
    if let Some(i) = u.find(['?', '#']) {
        u = &u[..i];
    }
    let (had_scheme, rest) = match u.split_once("://") {
        Some((_, r)) => (true, r),
        None => (false, u),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // scp-like syntax: `host:owner/repo` (no scheme, a colon before the first slash that is not a port).
    let (host, path) = match (had_scheme, authority.split_once(':')) {
        (false, Some((h, p))) if !p.is_empty() && !p.bytes().all(|b| b.is_ascii_digit()) => {
            (h.to_string(), if path.is_empty() { p.to_string() } else { format!("{p}/{path}") })
        }
        _ => {
            let host = match authority.rsplit_once(':') {
                Some((h, "22" | "80" | "443" | "")) => h,
                _ => authority,
            };
            (host.to_string(), path.to_string())
        }
    };
    let host = host.to_ascii_lowercase();
    let mut path = path.trim_matches('/').to_string();
    if path.len() >= 4 && path.get(path.len() - 4..).is_some_and(|end| end.eq_ignore_ascii_case(".git")) {
        path.truncate(path.len() - 4);
        path = path.trim_end_matches('/').to_string();
    }
    if CASE_INSENSITIVE_HOSTS.contains(&host.as_str()) {
        path = path.to_lowercase();
    }
    let host = if host == "ssh.github.com" { "github.com".to_string() } else { host };
    match (host.is_empty(), path.is_empty()) {
        (true, true) => None,
        (false, true) => Some(host),
        (true, false) => Some(path),
        (false, false) => Some(format!("{host}/{path}")),
    }
}

/// True when a recorded target is a repository URL rather than a path.
fn looks_like_url(t: &str) -> bool {
    t.contains("://") || (t.contains('@') && t.contains(':') && !t.starts_with('/'))
}

/// Everything a lifecycle identity may be made of: the report's metadata.
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetInputs<'a> {
    pub scan_type: ScanType,
    /// `scangate-target`: image reference, SIF file, repository path or URL.
    pub target: Option<&'a str>,
    pub source_repo_url: Option<&'a str>,
    pub branch: Option<&'a str>,
    pub pipeline: Option<&'a str>,
    pub source_action: Option<&'a str>,
    /// The CodeBuild project (else the key's project segment).
    pub project: Option<&'a str>,
}

/// The identity of a scan target for lifecycle purposes (docs/report-processor.md, "Lifecycle identity"):
///
/// - `image`: the repository of the image reference, without tag or digest (`registry/app`);
/// - `repo`: the normalized repository URL and branch (`git:host/owner/repo#main`; the URL
///   from `scangate-source-repo-url`, else a URL recorded as the target), else the pipeline
///   and its source action (`pipeline:<name>/<action>`), else the project (`project:<name>`),
///   never the checkout path (it changes every build);
/// - `rootfs` and `other`: the recorded target (`target:<SIF file or image reference>`),
///   else as `repo`.
///
/// Image identities and `project:` identities are spelled as before (existing state
/// objects of images keep applying).
pub fn identity(i: &TargetInputs<'_>) -> String {
    fn nonblank(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let target = nonblank(i.target);
    if i.scan_type == ScanType::Image {
        if let Some(t) = target {
            return image_repository(t).to_string();
        }
    }
    if matches!(i.scan_type, ScanType::Rootfs | ScanType::Other) {
        if let Some(t) = target {
            return format!("target:{t}");
        }
    }
    let raw_url = nonblank(i.source_repo_url).or(target.filter(|t| i.scan_type == ScanType::Repo && looks_like_url(t)));
    if let Some(url) = raw_url.and_then(normalize_repo_url) {
        // A branch given as the URL's fragment (`https://host/repo.git#main`) counts when
        // no branch is recorded.
        let fragment = raw_url.and_then(|u| u.split_once('#')).map(|(_, f)| f);
        return match nonblank(i.branch).or(nonblank(fragment)).map(branch_name) {
            Some(b) => format!("git:{url}#{b}"),
            None => format!("git:{url}"),
        };
    }
    if let Some(p) = nonblank(i.pipeline) {
        return match nonblank(i.source_action) {
            Some(a) => format!("pipeline:{p}/{a}"),
            None => format!("pipeline:{p}"),
        };
    }
    match nonblank(i.project) {
        Some(p) => format!("project:{p}"),
        None => "unknown".to_string(),
    }
}

/// [`identity`] without pipeline inputs (kept for callers that know none).
pub fn target_identity(
    scan_type: ScanType,
    target: Option<&str>,
    source_repo_url: Option<&str>,
    branch: Option<&str>,
    project: Option<&str>,
) -> String {
    identity(&TargetInputs { scan_type, target, source_repo_url, branch, project, ..TargetInputs::default() })
}

/// The lifecycle key and its hash (used in state object names and finding ids).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleKey {
    pub key: String,
}

impl LifecycleKey {
    pub fn new(account: &str, region: &str, scan_type: ScanType, identity: &str) -> LifecycleKey {
        LifecycleKey { key: format!("{account}|{region}|{scan_type}|{identity}") }
    }

    /// The lifecycle of `self` in the namespace of `owner` (docs/security.md, "Provenance"):
    /// None is the stack's own scans (the key unchanged), Some an uploader's namespace.
    pub fn owned_by(self, owner: Option<&str>) -> LifecycleKey {
        match owner {
            None => self,
            Some(o) => LifecycleKey { key: format!("{}|owner:{o}", self.key) },
        }
    }

    /// One lifecycle per report object (LIFECYCLE_KEY=report).
    pub fn for_report(account: &str, region: &str, bucket: &str, key: &str) -> LifecycleKey {
        LifecycleKey { key: format!("{account}|{region}|report|s3://{bucket}/{key}") }
    }

    /// 32 hex characters of SHA-256: short enough for ids, long enough never to collide.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.key.as_bytes());
        hex::encode(&digest[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories() {
        let table = [
            ("nginx", "nginx"),
            ("nginx:1.25", "nginx"),
            ("library/nginx:1.25@sha256:abc", "library/nginx"),
            ("localhost:5000/app", "localhost:5000/app"),
            ("localhost:5000/app:dev", "localhost:5000/app"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.2",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app",
            ),
            ("app@sha256:0123", "app"),
        ];
        for (input, want) in table {
            assert_eq!(image_repository(input), want, "{input}");
        }
    }

    #[test]
    fn ecr() {
        assert_eq!(
            ecr_parts("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1"),
            Some(("123456789012", "eu-west-1", "team/app"))
        );
        assert_eq!(ecr_parts("docker.io/library/nginx:1"), None);
        assert_eq!(ecr_parts("nginx"), None);
    }

    #[test]
    fn identity_ignores_checkout_path_and_tags() {
        let repo = |target: &str, url: Option<&str>, branch: Option<&str>| {
            identity(&TargetInputs {
                scan_type: ScanType::Repo,
                target: Some(target),
                source_repo_url: url,
                branch,
                project: Some("p"),
                ..TargetInputs::default()
            })
        };
        let a = repo("/codebuild/output/src123/src", Some("https://git.example/app.git"), Some("main"));
        assert_eq!(a, repo("/codebuild/output/src999/src", Some("https://git.example/app.git"), Some("main")));
        assert_eq!(a, "git:git.example/app#main");
        assert_ne!(a, repo("/x", Some("https://git.example/app.git"), Some("dev")), "branches differ");
        assert_ne!(a, repo("/x", Some("https://git.example/other.git"), Some("main")), "repositories differ");
        assert_eq!(repo("/tmp/x", None, None), "project:p", "never the checkout path");
        assert_eq!(repo("https://github.com/O/R.git", None, Some("refs/heads/main")), "git:github.com/o/r#main");
        assert_eq!(repo("https://github.com/o/r.git#dev", None, None), "git:github.com/o/r#dev", "fragment");
        assert_eq!(repo("https://github.com/o/r.git#dev", None, Some("main")), "git:github.com/o/r#main");
        assert_eq!(
            target_identity(ScanType::Image, Some("app:1"), None, None, None),
            target_identity(ScanType::Image, Some("app:2"), None, None, None)
        );
        assert_eq!(target_identity(ScanType::Image, Some("reg/app:1"), None, None, Some("p")), "reg/app");
        assert_eq!(target_identity(ScanType::Repo, Some("/tmp/x"), None, None, Some("proj")), "project:proj");
        let k = LifecycleKey::new("123456789012", "us-east-1", ScanType::Image, "app");
        assert_eq!(k.hash().len(), 32);
    }

    #[test]
    fn pipeline_then_project() {
        let i = |pipeline: Option<&str>, action: Option<&str>, url: Option<&str>| {
            identity(&TargetInputs {
                scan_type: ScanType::Repo,
                target: Some("/codebuild/output/src1/src"),
                source_repo_url: url,
                branch: Some("main"),
                pipeline,
                source_action: action,
                project: Some("shared"),
            })
        };
        assert_eq!(i(Some("app"), Some("Source"), None), "pipeline:app/Source");
        assert_eq!(i(Some("app"), None, None), "pipeline:app");
        assert_eq!(i(None, None, None), "project:shared");
        assert_eq!(i(Some("app"), Some("Source"), Some("https://h/x")), "git:h/x#main", "the URL wins");
    }

    #[test]
    fn rootfs_and_sif_use_the_recorded_target() {
        let i = |scan_type, target: Option<&str>| {
            identity(&TargetInputs { scan_type, target, project: Some("slurm"), ..TargetInputs::default() })
        };
        assert_eq!(i(ScanType::Rootfs, Some("/shared/images/app.sif")), "target:/shared/images/app.sif");
        assert_ne!(
            i(ScanType::Rootfs, Some("/shared/images/a.sif")),
            i(ScanType::Rootfs, Some("/shared/images/b.sif"))
        );
        assert_eq!(i(ScanType::Rootfs, None), "project:slurm");
        assert_eq!(i(ScanType::Other, Some("app:1")), "target:app:1");
    }

    #[test]
    fn repository_url_normalization() {
        let table: &[(&str, Option<&str>)] = &[
            ("https://github.com/Owner/Repo.git", Some("github.com/owner/repo")),
            ("https://github.com/owner/repo", Some("github.com/owner/repo")),
            ("http://github.com/owner/repo/", Some("github.com/owner/repo")),
            ("https://x-access-token:ghs_secret@github.com/owner/repo.git", Some("github.com/owner/repo")),
            ("git@github.com:owner/repo.git", Some("github.com/owner/repo")),
            ("ssh://git@github.com:22/owner/repo.git", Some("github.com/owner/repo")),
            ("ssh://git@ssh.github.com:443/owner/repo.git", Some("github.com/owner/repo")),
            ("git+ssh://git@GitLab.com/group/sub/proj.GIT", Some("gitlab.com/group/sub/proj")),
            ("https://github.com/owner/repo.git?ref=main#frag", Some("github.com/owner/repo")),
            (
                "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/MyRepo",
                Some("git-codecommit.us-east-1.amazonaws.com/v1/repos/MyRepo"),
            ),
            ("https://Git.Example.com:8443/Team/App.git", Some("git.example.com:8443/Team/App")),
            ("https://user@bitbucket.org/Team/App.git", Some("bitbucket.org/team/app")),
            ("  https://h.example/x  ", Some("h.example/x")),
            ("", None),
            ("   ", None),
            ("https://h.example/dépôt", Some("h.example/dépôt")),
            ("https://h.example/é", Some("h.example/é")),
        ];
        for (input, want) in table {
            assert_eq!(normalize_repo_url(input).as_deref(), *want, "{input:?}");
        }
        // Case is kept where it may matter: two CodeCommit repositories stay apart.
        assert_ne!(
            normalize_repo_url("https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/App"),
            normalize_repo_url("https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app")
        );
    }

    #[test]
    fn credentials_are_stripped_before_recording() {
        let table = [
            ("https://x-token-auth:s3cret@bitbucket.org/t/a.git", "https://bitbucket.org/t/a.git"),
            ("https://github.com/o/r.git", "https://github.com/o/r.git"),
            ("https://u:p@h.example:8443/x?y=1", "https://h.example:8443/x?y=1"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ];
        for (input, want) in table {
            assert_eq!(strip_url_credentials(input), want, "{input}");
        }
        assert!(!strip_url_credentials("https://a:s3cret@h/x@y").contains("s3cret"));
        assert_eq!(branch_name("refs/heads/feature/x"), "feature/x");
        assert_eq!(branch_name("main"), "main");
    }
}

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
    pub fn parse(s: &str) -> Option<ScanType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "image" => Some(ScanType::Image),
            "repo" => Some(ScanType::Repo),
            "rootfs" => Some(ScanType::Rootfs),
            "other" | "sarif" => Some(ScanType::Other),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Image => "image",
            ScanType::Repo => "repo",
            ScanType::Rootfs => "rootfs",
            ScanType::Other => "other",
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

/// The identity of a scan target for lifecycle purposes.
///
/// For an image: its repository. For a source scan: the source repository URL and
/// branch (never the build's checkout path, which changes every build). Else the project.
pub fn target_identity(
    scan_type: ScanType,
    target: Option<&str>,
    source_repo_url: Option<&str>,
    branch: Option<&str>,
    project: Option<&str>,
) -> String {
    match (scan_type, target) {
        (ScanType::Image, Some(t)) if !t.is_empty() => image_repository(t).to_string(),
        (ScanType::Repo | ScanType::Rootfs | ScanType::Other, _) if source_repo_url.is_some_and(|u| !u.is_empty()) => {
            let url = source_repo_url.unwrap_or_default();
            match branch.filter(|b| !b.is_empty()) {
                Some(b) => format!("{url}#{b}"),
                None => url.to_string(),
            }
        }
        _ => match project.filter(|p| !p.is_empty()) {
            Some(p) => format!("project:{p}"),
            None => target.unwrap_or("unknown").to_string(),
        },
    }
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
        let a = target_identity(
            ScanType::Repo,
            Some("/codebuild/output/src123/src"),
            Some("https://git.example/app.git"),
            Some("main"),
            Some("p"),
        );
        let b = target_identity(
            ScanType::Repo,
            Some("/codebuild/output/src999/src"),
            Some("https://git.example/app.git"),
            Some("main"),
            Some("p"),
        );
        assert_eq!(a, b);
        assert_eq!(
            target_identity(ScanType::Image, Some("app:1"), None, None, None),
            target_identity(ScanType::Image, Some("app:2"), None, None, None)
        );
        assert_eq!(target_identity(ScanType::Repo, Some("/tmp/x"), None, None, Some("proj")), "project:proj");
        let k = LifecycleKey::new("123456789012", "us-east-1", ScanType::Image, "app");
        assert_eq!(k.hash().len(), 32);
    }
}

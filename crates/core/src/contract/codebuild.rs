//! CodeBuild build ids as the contract carries them: a build ARN
//! (`arn:<partition>:codebuild:<region>:<account>:build/<project>:<uuid>`, metadata
//! `scangate-build-arn`) and a build id (`<project>:<uuid>`, the runner's
//! `CODEBUILD_BUILD_ID`, what BatchGetBuilds takes). The one parser of both.

/// A build id and its project, borrowed from the ARN or id they were read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildId<'a> {
    /// `<project>:<uuid>`.
    pub id: &'a str,
    /// `<project>`: never empty.
    pub project: &'a str,
}

impl<'a> BuildId<'a> {
    /// From a build ARN; None when `arn` is not one (no `:build/`, or no project before the
    /// id's last `:`).
    pub fn from_arn(arn: &'a str) -> Option<BuildId<'a>> {
        let (_, id) = arn.split_once(":build/")?;
        BuildId::from_id(id)
    }

    /// From a build ARN or a bare build id.
    pub fn parse(arn_or_id: &'a str) -> Option<BuildId<'a>> {
        BuildId::from_id(build_id(arn_or_id))
    }

    fn from_id(id: &'a str) -> Option<BuildId<'a>> {
        let (project, _) = id.rsplit_once(':')?;
        Some(BuildId { id, project }).filter(|b| !b.project.is_empty())
    }
}

/// The build id of a build ARN (`arn:…:build/project:uuid` → `project:uuid`); anything else
/// (an id) passes through.
pub fn build_id(arn_or_id: &str) -> &str {
    arn_or_id.split_once(":build/").map_or(arn_or_id, |(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_arns_and_ids() {
        let arn = "arn:aws:codebuild:us-east-1:123456789012:build/proj:abc-1";
        let b = BuildId { id: "proj:abc-1", project: "proj" };
        assert_eq!(BuildId::from_arn(arn), Some(b));
        assert_eq!(BuildId::parse(arn), Some(b));
        assert_eq!(BuildId::parse("proj:abc-1"), Some(b));
        assert_eq!(BuildId::from_arn("proj:abc-1"), None, "an id is not an ARN");
        assert_eq!(build_id(arn), "proj:abc-1");
        assert_eq!(build_id("proj:abc-1"), "proj:abc-1");
        let gov = "arn:aws-us-gov:codebuild:us-gov-west-1:123456789012:build/my-app_2:0f9e";
        assert_eq!(BuildId::from_arn(gov).map(|b| b.project), Some("my-app_2"));
        for bad in [
            "arn:aws:codebuild:us-east-1:123456789012:project/app",
            "arn:aws:codebuild:us-east-1:123456789012:build/:uuid",
            "arn:aws:codebuild:us-east-1:123456789012:build/app",
            "",
        ] {
            assert_eq!(BuildId::from_arn(bad), None, "{bad}");
        }
        assert_eq!(BuildId::parse(":uuid"), None);
        assert_eq!(BuildId::parse("no-colon"), None);
    }
}

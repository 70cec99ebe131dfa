"""Every stack name a CI file or page uses exists in cfn/scangate.yaml (issue 25).

The CI integrations (action.yml, examples/github/, ci/gitlab/, ci/azure/, ci/jenkins/) and docs/ci/*.md tell users
which stack parameters to set and which outputs to copy: `<GitHubRole0Arn>`, `ReportBucketName`, `GitHubRepositories`.
A name the template does not have (a typo, a renamed output) would send a user looking for nothing; this test finds
each such name and fails. Each check has a negative case. Run: .venv/bin/python ci/tests/test_ci_names.py
"""

from __future__ import annotations

import re
import sys
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


class CfnLoader(yaml.SafeLoader):
    pass


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
TEMPLATE = yaml.load((ROOT / "cfn" / "scangate.yaml").read_text(), Loader=CfnLoader)
STACK_NAMES = set(TEMPLATE["Parameters"]) | set(TEMPLATE["Outputs"])
# A stack name is CamelCase with at least two capitals, as the template spells them; the words below are CamelCase
# names of other things (CI systems' own variables, products) that CI files mention.
NOT_STACK = {"GitHub", "GitLab", "DevOps", "AzureDevOps", "CodeBuild", "CodePipeline", "SecurityHub", "JUnit",
             "CodeAnalysisLogs", "PublishTestResults", "PublishBuildArtifacts", "ReportBucket", "AssumeRoleWithWebIdentity",
             "AssumeRole", "ExternalId", "BatchImportFindings", "QScanner", "PowerShell", "OpenID", "IdP", "JavaScript",
             "ServiceConnection", "SystemAccessToken", "OidcRequestUri", "AccessToken", "TestResults", "JobName",
             "BuildId", "AWSCLI", "MacOS", "RoleArn", "OidcProvider", "StepSummary", "BuildNumber", "GitHubActions",
             "GitLabCI", "PullRequest", "WorkloadIdentity", "AwsAccountId", "ExternalID", "ArtifactName"}
CANDIDATE = re.compile(r"(?<![A-Za-z0-9_.$/-])([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)(?![A-Za-z0-9_(])")


def ci_files() -> dict[str, str]:
    paths = [ROOT / "action.yml", *sorted((ROOT / "examples" / "github").glob("*")),
             *sorted((ROOT / "ci").rglob("*.yml")), *sorted((ROOT / "ci").rglob("*.groovy")),
             *sorted((ROOT / "ci").rglob("Jenkinsfile")), *sorted((ROOT / "docs" / "ci").glob("*.md"))]
    return {str(p.relative_to(ROOT)): p.read_text() for p in paths if p.is_file()}


def unknown_names(text: str) -> set[str]:
    found = set()
    for m in CANDIDATE.finditer(text):
        name = m.group(1)
        if name in STACK_NAMES or name in NOT_STACK:
            continue
        # A stack-looking name: ends like the template's names do.
        if re.search(r"(Arn|Arns|Name|Id|Ids|Repositories|Projects|Branches|Host|Url|Key|Sha256)$", name):
            found.add(name)
    return found


class CiNamesMatchTheStack(unittest.TestCase):
    def test_every_stack_name_in_ci_files_exists(self) -> None:
        files = ci_files()
        self.assertIn("action.yml", files)
        self.assertTrue(any(w.startswith("docs/ci/") for w in files), "docs/ci pages are checked")
        problems = {where: sorted(unknown_names(text)) for where, text in files.items() if unknown_names(text)}
        self.assertEqual(problems, {})

    def test_the_names_the_integrations_rely_on_are_there(self) -> None:
        for name in ("GitHubRole0Arn", "GitLabRole0Arn", "AzureDevOpsRoleArn", "JenkinsRoleArn", "ReportBucketName",
                     "KmsKeyArn", "GitHubRepositories", "GitLabProjects", "AzureDevOpsServiceConnection",
                     "JenkinsPrincipalArn", "JenkinsExternalId"):
            self.assertIn(name, STACK_NAMES)

    def test_a_wrong_name_is_caught(self) -> None:
        self.assertEqual(unknown_names("use <GitHubRole7Arn> and <ReportBucketName>"), {"GitHubRole7Arn"})
        self.assertEqual(unknown_names("copy JenkinsRoleArns, set GitLabProject0Name"), {"JenkinsRoleArns", "GitLabProject0Name"})
        self.assertEqual(unknown_names("KmsKeyArn and GitHubRepositories"), set())


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    sys.exit(1 if result.failures or result.errors else 0)

"""The CI uploader roles of cfn/scangate.yaml (issue 25, docs/ci/): who may assume each, and what it may write and read.

Each test resolves the template for a set of parameter values (test_templates.Resolved, an IAM evaluator for the
statements the stack writes) and tries an attacker's request: another repository's token, another branch, a fork's
prefix that merely starts like the victim's, a write outside the role's own scans/ prefix, a read of another
repository's verdict. Run by scripts/lint-cfn.sh with the .venv/lint Python, like test_templates.py.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_templates as tt  # noqa: E402

ACCOUNT, REGION = tt.ACCOUNT, tt.REGION
RESOURCES, TEMPLATE = tt.RESOURCES, tt.TEMPLATE
BUCKET = f"arn:aws:s3:::qualys-scangate-reports-{ACCOUNT}-{REGION}"
GITHUB = "token.actions.githubusercontent.com"
CI_ROLES = ["GitHubRole0", "GitHubRole1", "GitHubRole2", "GitLabRole0", "GitLabRole1", "GitLabRole2",
            "AzureDevOpsRole", "JenkinsRole"]


def trust(stack: tt.Resolved, role: str) -> dict:
    doc = stack.value(RESOURCES[role]["Properties"]["AssumeRolePolicyDocument"])
    if isinstance(doc, str):  # the GitLab and Azure documents are JSON strings (their condition keys carry the issuer)
        doc = json.loads(doc)
    (statement,) = doc["Statement"]
    return statement


def may_assume(stack: tt.Resolved, role: str, action: str, context: dict) -> bool:
    st = trust(stack, role)
    if st["Effect"] != "Allow" or st["Action"] != action:
        return False
    return all(tt.condition_holds(op, key, expected, context.get(key))
               for op, keys in st.get("Condition", {}).items() for key, expected in keys.items())


def role_statements(stack: tt.Resolved, role: str) -> list[dict]:
    out = []
    for policy in RESOURCES[role]["Properties"]["Policies"]:
        out += stack.value(policy["PolicyDocument"]["Statement"])
    return out


def role_allows(stack: tt.Resolved, role: str, action: str, resource: str) -> bool:
    for st in role_statements(stack, role):
        if st["Effect"] == "Allow" and action in tt.as_list(st["Action"]):
            if any(fnmatch.fnmatchcase(resource, p) for p in tt.as_list(st["Resource"])):
                return True
    return False


def bucket_denies_put(stack: tt.Resolved, principal: str) -> bool:
    return "OnlyNamedUploadersWriteScans" in stack.denies("ReportBucketPolicy", "s3:PutObject",
                                                          {"aws:PrincipalArn": principal})


class CiRolesExistOnlyWhenAsked(unittest.TestCase):
    def test_no_ci_role_or_provider_by_default(self) -> None:
        stack = tt.Resolved()
        for logical, res in RESOURCES.items():
            if logical in CI_ROLES or res["Type"] == "AWS::IAM::OIDCProvider":
                with self.subTest(resource=logical):
                    self.assertFalse(stack.condition(res["Condition"]), logical)

    def test_one_role_per_listed_repository_and_an_existing_provider_is_reused(self) -> None:
        stack = tt.Resolved(GitHubRepositories=["octo/app", "octo/lib"])
        self.assertEqual([stack.condition(f"HasGitHubRepo{i}") for i in range(3)], [True, True, False])
        self.assertTrue(stack.condition("CreateGitHubOidcProvider"))
        provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
        reuse = tt.Resolved(GitHubRepositories=["octo/app"], GitHubOidcProviderArn=provider)
        self.assertFalse(reuse.condition("CreateGitHubOidcProvider"))
        self.assertEqual(trust(reuse, "GitHubRole0")["Principal"], {"Federated": provider})

    def test_jenkins_needs_an_external_id(self) -> None:
        (assertion,) = TEMPLATE["Rules"]["JenkinsHasExternalId"]["Assertions"]
        self.assertEqual(assertion["Assert"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "JenkinsExternalId"}, ""]}]})
        self.assertTrue(TEMPLATE["Parameters"]["JenkinsExternalId"]["NoEcho"])


class GitHubTrust(unittest.TestCase):
    stack = tt.Resolved(GitHubRepositories=["octo/app", "octo/lib"], GitHubBranches=["main", "release/*"])
    action = "sts:AssumeRoleWithWebIdentity"

    def token(self, sub: str, aud: str = "sts.amazonaws.com") -> dict:
        return {f"{GITHUB}:sub": sub, f"{GITHUB}:aud": aud}

    def test_the_repository_on_a_listed_branch_or_a_pull_request(self) -> None:
        for sub in ("repo:octo/app:ref:refs/heads/main", "repo:octo/app:ref:refs/heads/release/2.1",
                    "repo:octo/app:pull_request"):
            self.assertTrue(may_assume(self.stack, "GitHubRole0", self.action, self.token(sub)), sub)

    def test_refuses_other_repositories_branches_tags_environments_and_audiences(self) -> None:
        for sub in ("repo:octo/lib:ref:refs/heads/main",       # the other listed repository: its own role only
                    "repo:octo/app-fork:ref:refs/heads/main",  # starts like the repository
                    "repo:evil/app:ref:refs/heads/main",
                    "repo:octo/app:ref:refs/heads/feature",
                    "repo:octo/app:ref:refs/tags/v1",
                    "repo:octo/app:environment:prod"):
            self.assertFalse(may_assume(self.stack, "GitHubRole0", self.action, self.token(sub)), sub)
        wrong_aud = self.token("repo:octo/app:ref:refs/heads/main", aud="https://github.com/octo")
        self.assertFalse(may_assume(self.stack, "GitHubRole0", self.action, wrong_aud))
        self.assertTrue(may_assume(self.stack, "GitHubRole1", self.action, self.token("repo:octo/lib:pull_request")))

    def test_pull_requests_only_when_allowed(self) -> None:
        closed = tt.Resolved(GitHubRepositories=["octo/app"], GitHubPullRequests="false")
        self.assertFalse(may_assume(closed, "GitHubRole0", self.action, self.token("repo:octo/app:pull_request")))
        self.assertTrue(may_assume(closed, "GitHubRole0", self.action, self.token("repo:octo/app:ref:refs/heads/main")))


class GitLabAzureJenkinsTrust(unittest.TestCase):
    def test_gitlab_project_and_branch_of_the_configured_instance(self) -> None:
        stack = tt.Resolved(GitLabHost="gitlab.example.com", GitLabProjects=["team/sub/app"], GitLabBranches=["main"])
        action = "sts:AssumeRoleWithWebIdentity"
        ok = {"gitlab.example.com:aud": "sts.amazonaws.com",
              "gitlab.example.com:sub": "project_path:team/sub/app:ref_type:branch:ref:main"}
        self.assertTrue(may_assume(stack, "GitLabRole0", action, ok))
        for sub in ("project_path:team/sub/app-2:ref_type:branch:ref:main",
                    "project_path:team/sub/app:ref_type:branch:ref:dev",
                    "project_path:team/sub/app:ref_type:tag:ref:main",
                    "project_path:other/app:ref_type:branch:ref:main"):
            self.assertFalse(may_assume(stack, "GitLabRole0", action, {**ok, "gitlab.example.com:sub": sub}), sub)
        gitlab_com = {"gitlab.com:aud": "sts.amazonaws.com", "gitlab.com:sub": ok["gitlab.example.com:sub"]}
        self.assertFalse(may_assume(stack, "GitLabRole0", action, gitlab_com), "another instance's token")
        self.assertTrue(stack.condition("CreateGitLabOidcProvider"))
        self.assertEqual(stack.value(RESOURCES["GitLabOidcProvider"]["Properties"]["Url"]), "https://gitlab.example.com")

    def test_azure_exactly_the_service_connection(self) -> None:
        org = "0f0e0d0c-0b0a-0908-0706-050403020100"
        stack = tt.Resolved(AzureDevOpsOrganizationId=org, AzureDevOpsServiceConnection="contoso/web/aws-scangate")
        self.assertTrue(stack.condition("HasAzureDevOps"))
        issuer = f"vstoken.dev.azure.com/{org}"
        ok = {f"{issuer}:aud": "api://AzureADTokenExchange", f"{issuer}:sub": "sc://contoso/web/aws-scangate"}
        action = "sts:AssumeRoleWithWebIdentity"
        self.assertTrue(may_assume(stack, "AzureDevOpsRole", action, ok))
        self.assertFalse(may_assume(stack, "AzureDevOpsRole", action, {**ok, f"{issuer}:sub": "sc://contoso/web/other"}))
        self.assertFalse(may_assume(stack, "AzureDevOpsRole", action, {**ok, f"{issuer}:aud": "api://other"}))

    def test_jenkins_only_its_principal_with_the_external_id(self) -> None:
        agent = f"arn:aws:iam::{ACCOUNT}:role/jenkins-agent"
        stack = tt.Resolved(JenkinsPrincipalArn=agent, JenkinsExternalId="0123456789abcdef-x")
        st = trust(stack, "JenkinsRole")
        self.assertEqual(st["Principal"], {"AWS": agent})
        self.assertTrue(may_assume(stack, "JenkinsRole", "sts:AssumeRole", {"sts:ExternalId": "0123456789abcdef-x"}))
        self.assertFalse(may_assume(stack, "JenkinsRole", "sts:AssumeRole", {"sts:ExternalId": "guess"}))
        self.assertFalse(may_assume(stack, "JenkinsRole", "sts:AssumeRole", {}))


class EachRoleOnlyItsOwnPrefix(unittest.TestCase):
    stack = tt.Resolved(
        GitHubRepositories=["octo/app", "octo/lib"], GitLabProjects=["team/sub/app"],
        AzureDevOpsOrganizationId="0f0e0d0c-0b0a-0908-0706-050403020100",
        AzureDevOpsServiceConnection="contoso/web/aws-scangate",
        JenkinsPrincipalArn=f"arn:aws:iam::{ACCOUNT}:role/jenkins-agent", JenkinsExternalId="0123456789abcdef-x",
    )
    own = {"GitHubRole0": "github~octo~app", "GitHubRole1": "github~octo~lib", "GitLabRole0": "gitlab~team~sub~app",
           "AzureDevOpsRole": "azure~contoso~web~aws-scangate", "JenkinsRole": "jenkins~jenkins"}

    def test_puts_only_under_its_own_scans_prefix_and_reads_only_its_results(self) -> None:
        for role, project in self.own.items():
            with self.subTest(role=role):
                self.assertTrue(role_allows(self.stack, role, "s3:PutObject", f"{BUCKET}/scans/{project}/run-1/report.sarif"))
                self.assertTrue(role_allows(self.stack, role, "s3:GetObject", f"{BUCKET}/results/{project}/run-1/verdict.json"))
                for other in set(self.own.values()) - {project}:
                    self.assertFalse(role_allows(self.stack, role, "s3:PutObject", f"{BUCKET}/scans/{other}/r/report.sarif"))
                    self.assertFalse(role_allows(self.stack, role, "s3:GetObject", f"{BUCKET}/results/{other}/r/verdict.json"))
                for key in (f"scans/{project}-fork/r/report.sarif", f"results/{project}/r/verdict.json",
                            f"state/x.json", f"quarantine/scans/{project}/r/report.sarif", f"scans/{project}"):
                    self.assertFalse(role_allows(self.stack, role, "s3:PutObject", f"{BUCKET}/{key}"), key)
                self.assertFalse(role_allows(self.stack, role, "s3:GetObject", f"{BUCKET}/state/x.json"))
                self.assertFalse(role_allows(self.stack, role, "s3:DeleteObject", f"{BUCKET}/scans/{project}/r/report.sarif"))

    def test_the_bucket_lets_exactly_the_created_ci_roles_upload(self) -> None:
        for role in self.own:
            self.assertFalse(bucket_denies_put(self.stack, self.stack.arn_of(role)), role)
        for absent in ("GitHubRole2", "GitLabRole1"):
            self.assertTrue(bucket_denies_put(self.stack, self.stack.arn_of(absent)), f"{absent} is not created")
        self.assertTrue(bucket_denies_put(tt.Resolved(), tt.Resolved().arn_of("GitHubRole0")), "no roles by default")

    def test_the_processor_verifies_each_ci_role_under_its_own_prefix_only(self) -> None:
        """UPLOADER_PRINCIPAL_IDS pairs each created CI role's id with the prefix it may write (`<id>=<prefix>`): the
        processor verifies it there only, and a generic uploader never there (docs/security.md, "Provenance")."""
        def entries(stack: tt.Resolved) -> list[str]:
            value = stack.value(RESOURCES["ProcessorFunction"]["Properties"]["Environment"]["Variables"])
            value = value["UPLOADER_PRINCIPAL_IDS"]
            for role in CI_ROLES:  # what the resolver leaves of a role's unique id
                value = value.replace(str({"Fn::GetAtt": [role, "RoleId"]}), f"<{role}.RoleId>")
            return [e for e in value.split(",") if e]

        self.assertEqual(sorted(entries(self.stack)), sorted(f"<{r}.RoleId>={p}" for r, p in self.own.items()))
        stack = tt.Resolved(GitHubRepositories=["octo/app"], UploaderPrincipalIds=["AIDAGENERICUPLOADER01"])
        self.assertEqual(entries(stack), ["AIDAGENERICUPLOADER01", "<GitHubRole0.RoleId>=github~octo~app"])
        # An operator pins an uploader of their own to its prefix the same way: the pair reaches the processor as given.
        stack = tt.Resolved(UploaderPrincipalIds=["AIDAGENERICUPLOADER01", "AROAPINNEDUPLOADER01=hpc-cluster"])
        self.assertEqual(entries(stack), ["AIDAGENERICUPLOADER01", "AROAPINNEDUPLOADER01=hpc-cluster"])

    def test_an_uploader_is_pinned_to_one_project_or_none(self) -> None:
        """UploaderPrincipalIds takes a unique id, or `<id>=<project>` (the processor's pair, crates/core
        contract/provenance.rs `Uploader::parse`), with a project that is one key segment: no `/`, `=`, `,`, `.` or
        `..`, nothing empty."""
        stackset, matches = tt.decode(str(tt.ROOT / "stacksets" / "scangate-stackset.yaml"))
        self.assertFalse(matches)
        for template in (TEMPLATE, stackset):
            pattern = template["Parameters"]["UploaderPrincipalIds"]["AllowedPattern"]
            for good in ("", "AIDAGENERICUPLOADER01", "AROAPINNEDUPLOADER01=hpc-cluster", "AIDAJENKINSUSER0001=jenkins~ci",
                         "AROAPINNEDUPLOADER01=team_a.v2"):
                self.assertIsNotNone(re.fullmatch(pattern, good), good)
            for bad in ("AIDAGENERICUPLOADER01=", "AROAPINNEDUPLOADER01=..", "AROAPINNEDUPLOADER01=.hidden",
                        "AROAPINNEDUPLOADER01=a/b", "AROAPINNEDUPLOADER01=a=b", "AROAPINNEDUPLOADER01= team",
                        "=team", "arn:aws:iam::123456789012:role/x=team", "AROASHORT=team"):
                self.assertIsNone(re.fullmatch(pattern, bad), bad)

    def test_role_outputs_exist_for_each_role(self) -> None:
        for role in CI_ROLES:
            self.assertIn(f"{role}Arn", TEMPLATE["Outputs"])
            self.assertEqual(TEMPLATE["Outputs"][f"{role}Arn"]["Condition"], RESOURCES[role]["Condition"])


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"CI role tests: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(1 if failed else 0)

"""The CI integrations run as their CI systems would run them, against moto (issue 25, docs/ci/).

For each integration the test takes the steps out of the shipped file itself (action.yml's composite steps, the
GitLab template's script, the Azure template's script steps, the Jenkins step's shell), resolves the CI system's
expressions the way that system would, and runs them in bash with stand-ins for what only the CI system has:

* a release server on loopback serving manifest.json and the real runner (target/debug/scangate) under the
  release's name, so `install` downloads, checks the manifest against the pin and verifies the bytes;
* the CI system's OIDC endpoint (GitHub's ACTIONS_ID_TOKEN_REQUEST_URL, Azure's System.OidcRequestUri) or its
  injected token (GitLab's id_tokens), so the runner's AWS SDK calls AssumeRoleWithWebIdentity on moto's STS with
  no keys in the environment (Jenkins: AssumeRole with the external id from a profile);
* the report-processor: a loop that answers each upload under scans/<ci>~<repo>/ with a verdict and JUnit the
  way the processor writes them (`scangate process` over the uploaded SARIF, bound to the upload's version).

Attacks: a pin that differs from the manifest, a tampered binary, a missing OIDC token. Needs .venv (moto) and a
built runner (cargo build -p scangate-cli). Run: .venv/bin/python ci/tests/test_ci.py
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import boto3
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(os.environ.get("SCANGATE_TEST_RUNNER", ROOT / "target" / "debug" / "scangate"))
FIXTURE = ROOT / "tests" / "fixtures" / "qscanner-image.sarif"
# GitLab's published container scanning report schema, vendored with its source and licence (ci/gitlab/schemas/).
GITLAB_SCHEMA = ROOT / "ci" / "gitlab" / "schemas" / "container-scanning-report-format-15.2.1.json"
REGION = "us-east-1"
BUCKET = "qualys-scangate-reports-123456789012-us-east-1"
VERSION = "0.1.0"
ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[os.uname().machine]
FILE = "scangate-x86_64-linux" if ARCH == "x86_64" else "scangate-aarch64-linux"


def gitlab_schema_errors(report: dict) -> list[str]:
    """What GitLab's published schema (draft-07) says is wrong with a container scanning report."""
    validator = jsonschema.Draft7Validator(json.loads(GITLAB_SCHEMA.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        server = ROOT / ".venv" / "bin" / "moto_server"
        self.proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start")

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes]] = {}
    hits: list[str] = []

    def answer(self) -> None:
        self.hits.append(f"{self.command} {self.path} auth={'Authorization' in self.headers}")
        path = self.path.split("?", 1)[0]
        status, body = self.routes.get(path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer

    def log_message(self, *args) -> None:  # quiet
        pass


class FakeProcessor(threading.Thread):
    """Answers each report under scans/ with results/<project>/<build-id>/verdict.json and junit.xml."""

    def __init__(self, s3, workdir: Path) -> None:
        super().__init__(daemon=True)
        self.s3, self.workdir, self.stop, self.done = s3, workdir, threading.Event(), set()
        self.uploads: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for obj in self.s3.list_objects_v2(Bucket=BUCKET, Prefix="scans/").get("Contents", []):
                key = obj["Key"]
                if not key.endswith("/report.sarif") or key in self.done:
                    continue
                self.done.add(key)
                self.uploads.append(key)
                head = self.s3.head_object(Bucket=BUCKET, Key=key)
                local = self.workdir / "report.sarif"
                self.s3.download_file(BUCKET, key, str(local))
                out = self.workdir / "v.json"
                junit = self.workdir / "j.xml"
                subprocess.run([str(RUNNER), "process", "--verdict", str(out), "--junit", str(junit), "--format", "json",
                                str(local)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                verdict = json.loads(out.read_text())
                verdict["report"].update(key=key, bucket=BUCKET, version_id=head.get("VersionId"), etag=head["ETag"])
                # As the processor does: the runner hands on only the JUnit whose SHA-256 the verdict names.
                verdict["junit_sha256"] = hashlib.sha256(junit.read_bytes()).hexdigest()
                _, project, build, _ = key.split("/", 3)
                base = f"results/{project}/{build}"
                self.s3.put_object(Bucket=BUCKET, Key=f"{base}/junit.xml", Body=junit.read_bytes())
                self.s3.put_object(Bucket=BUCKET, Key=f"{base}/verdict.json", Body=json.dumps(verdict).encode())
            time.sleep(0.2)


def github_expression(expr: str, ctx: dict) -> str:
    """${{ inputs.x }}, ${{ github.x }}, ${{ runner.temp }} and `a || b`, as GitHub resolves them for a step."""
    def one(m: re.Match) -> str:
        for alt in m.group(1).split("||"):
            scope, _, name = alt.strip().partition(".")
            value = ctx.get(scope, {}).get(name, "")
            if value:
                return str(value)
        return ""
    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", one, expr)


class CiIntegrations(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        if not RUNNER.is_file():
            raise unittest.SkipTest(f"{RUNNER} missing: cargo build -p scangate-cli")
        cls.tmp = Path(tempfile.mkdtemp(prefix="scangate-ci-test-"))
        cls.moto = Moto()
        s3 = cls.moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        cls.key_arn = cls.moto.client("kms").create_key()["KeyMetadata"]["Arn"]
        iam = cls.moto.client("iam")
        cls.roles = {}
        for ci in ("github", "gitlab", "azure", "jenkins"):
            action = "sts:AssumeRole" if ci == "jenkins" else "sts:AssumeRoleWithWebIdentity"
            doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": action}]}
            cls.roles[ci] = iam.create_role(RoleName=f"qualys-scangate-{ci}-0-{REGION}",
                                            AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
        cls.processor = FakeProcessor(s3, cls.tmp)
        cls.processor.start()
        # The release's runner: the debug build without its debug sections (what a release build also lacks).
        served = cls.tmp / FILE
        if shutil.which("strip") and subprocess.run(["strip", "-o", str(served), str(RUNNER)]).returncode == 0:
            binary = served.read_bytes()
        else:
            binary = RUNNER.read_bytes()
        cls.sha = hashlib.sha256(binary).hexdigest()
        manifest = {"schema": 1, "version": VERSION, "artifacts": [
            {"role": "runner", "arch": ARCH, "os": "linux", "file": FILE, "sha256": cls.sha, "size": len(binary)}]}
        Handler.routes = {
            "/release/manifest.json": (200, json.dumps(manifest).encode()),
            f"/release/{FILE}": (200, binary),
            "/tampered/manifest.json": (200, json.dumps(manifest).encode()),
            f"/tampered/{FILE}": (200, b"#!/bin/sh\necho planted\n"),
            "/github/token": (200, json.dumps({"value": "header.github-oidc.signature"}).encode()),
            "/azure/oidctoken": (200, json.dumps({"oidcToken": "header.azure-oidc.signature"}).encode()),
            "/ci/scangate-ci.sh": (200, (ROOT / "ci" / "scangate-ci.sh").read_bytes()),
        }
        cls.script_sha = hashlib.sha256((ROOT / "ci" / "scangate-ci.sh").read_bytes()).hexdigest()
        cls.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()
        cls.base = f"http://127.0.0.1:{cls.http.server_address[1]}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.processor.stop.set()
        cls.http.shutdown()
        cls.moto.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def base_env(self, work: Path) -> dict:
        env = {"PATH": os.environ["PATH"], "HOME": str(work / "home"), "TMPDIR": str(work),
               "AWS_ENDPOINT_URL": self.moto.endpoint, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
               "REPORT_BUCKET_OWNER": "123456789012"}
        (work / "home").mkdir(parents=True, exist_ok=True)
        return env

    def run_steps(self, steps: list[tuple[str, dict]], env: dict, cwd: Path) -> subprocess.CompletedProcess:
        result = None
        for script, step_env in steps:
            result = subprocess.run(["bash", "-eo", "pipefail", "-c", script], env={**env, **step_env}, cwd=cwd,
                                    capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                return result
            if env.get("GITHUB_PATH"):  # GitHub prepends what a step wrote to $GITHUB_PATH for the next steps
                added = [p for p in Path(env["GITHUB_PATH"]).read_text().splitlines() if p]
                env = {**env, "PATH": ":".join([*reversed(added), os.environ["PATH"]])}
        return result

    # ------------------------------------------------------------------ GitHub Actions: action.yml
    def action_steps(self, inputs: dict, github: dict, runner: dict) -> list[tuple[str, dict]]:
        action = yaml.safe_load((ROOT / "action.yml").read_text())
        self.assertEqual(action["runs"]["using"], "composite")
        defaults = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
        unknown = set(inputs) - set(action["inputs"])
        self.assertFalse(unknown, f"inputs action.yml does not declare: {unknown}")
        ctx = {"inputs": {**defaults, **inputs}, "github": github, "runner": runner}
        steps = []
        for step in action["runs"]["steps"]:
            self.assertEqual(step["shell"], "bash")
            env = {k: github_expression(str(v), ctx) for k, v in step.get("env", {}).items()}
            steps.append((github_expression(step["run"], ctx), env))
        return steps

    def github_run(self, name: str, inputs: dict | None = None, extra_env: dict | None = None, sha: str | None = None):
        work = self.tmp / name
        repo = work / "repo"
        repo.mkdir(parents=True)
        shutil.copy(FIXTURE, repo / "qscanner.sarif")
        (work / "runner-temp").mkdir()
        files = {k: work / k for k in ("step-summary.md", "output", "path")}
        for f in files.values():
            f.touch()
        github = {"repository": "octo/app", "run_id": "4242" if name == "github" else f"4242{len(name)}{name[-3:]}",
                  "run_attempt": "1", "head_ref": "feature/x",
                  "ref_name": "main", "server_url": "https://github.com"}
        all_inputs = {"role-to-assume": self.roles["github"], "aws-region": REGION, "report-bucket": BUCKET,
                      "kms-key-id": self.key_arn, "scangate-version": VERSION, "scangate-sha256": sha or self.sha,
                      "release-url": f"{self.base}/release", "scan": "sarif", "target": "qscanner.sarif",
                      "wait": "60", **(inputs or {})}
        steps = self.action_steps(all_inputs, github, {"temp": str(work / "runner-temp")})
        env = {**self.base_env(work), "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_STEP_SUMMARY": str(files["step-summary.md"]),
               "GITHUB_OUTPUT": str(files["output"]), "GITHUB_PATH": str(files["path"]),
               "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.base}/github/token?api-version=2.0",
               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-token", **(extra_env or {})}
        return self.run_steps(steps, env, repo), files, repo

    def test_github_action_fails_the_job_on_the_stacks_verdict_and_writes_its_views(self) -> None:
        Handler.hits.clear()
        result, files, repo = self.github_run("github")
        self.assertEqual(result.returncode, 42, f"gate failed on the verdict\n{result.stdout}\n{result.stderr}")
        self.assertIn("scans/github~octo~app/4242-1/report.sarif", self.processor.uploads)
        self.assertTrue(any(h.startswith("GET /github/token") and "auth=True" in h for h in Handler.hits), Handler.hits)
        summary = files["step-summary.md"].read_text()
        self.assertIn("### scangate: FAILED (the gate)", summary)
        self.assertIn("| critical | high | medium | low | cloud policy |", summary)
        outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
        self.assertEqual((outputs["exit-code"], outputs["passed"]), ("42", "false"))
        self.assertEqual(outputs["verdict-key"], "results/github~octo~app/4242-1/verdict.json")
        sarif = json.loads(Path(outputs["code-scanning-sarif"]).read_text())
        self.assertEqual(sarif["runs"][0]["automationDetails"]["id"], "scangate/sarif/github~octo~app/")
        self.assertTrue(Path(outputs["junit"]).read_text().startswith("<?xml"))
        self.assertRegex(result.stdout, r"(?m)^::error title=scangate::")
        self.assertIn("runner-temp/scangate-bin", files["path"].read_text())
        self.assertNotIn("header.github-oidc.signature", result.stdout + result.stderr, "the token is never printed")

    def test_github_action_passes_a_clean_report(self) -> None:
        clean = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Trivy", "rules": []}}, "results": []}]}
        work = self.tmp / "github-clean-sarif"
        work.mkdir()
        (work / "clean.sarif").write_text(json.dumps(clean))
        result, files, _ = self.github_run("github-clean", inputs={"target": str(work / "clean.sarif")},
                                           )
        self.assertEqual(result.returncode, 0, f"{result.stdout}\n{result.stderr}")
        self.assertIn("### scangate: PASSED", files["step-summary.md"].read_text())
        outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
        self.assertEqual(outputs["passed"], "true")
        self.assertNotRegex(result.stdout, r"(?m)^::error")

    def test_github_action_refuses_a_pin_the_manifest_does_not_list(self) -> None:
        result, _, _ = self.github_run("github-pin", sha="0" * 64)
        self.assertEqual(result.returncode, 1)
        self.assertIn("the pin SCANGATE_SHA256 is " + "0" * 64, result.stderr)

    def test_github_action_refuses_a_tampered_download(self) -> None:
        result, _, _ = self.github_run("github-tampered", inputs={"release-url": f"{self.base}/tampered"})
        self.assertEqual(result.returncode, 1)
        self.assertIn("refused", result.stderr)

    def test_github_action_without_id_token_permission_stops_before_any_upload(self) -> None:
        before = list(self.processor.uploads)
        result, _, _ = self.github_run("github-no-oidc", extra_env={"ACTIONS_ID_TOKEN_REQUEST_URL": ""})
        self.assertEqual(result.returncode, 2)
        self.assertIn("id-token: write", result.stderr)
        self.assertEqual(self.processor.uploads, before)

    # ------------------------------------------------------------------ GitLab CI: ci/gitlab/scangate.yml
    def test_gitlab_template_job_gates_on_the_verdict_with_the_id_token(self) -> None:
        job = yaml.safe_load((ROOT / "ci" / "gitlab" / "scangate.yml").read_text())[".scangate"]
        self.assertEqual(job["id_tokens"]["SCANGATE_ID_TOKEN"]["aud"], "sts.amazonaws.com")
        work = self.tmp / "gitlab"
        repo = work / "project"
        repo.mkdir(parents=True)
        shutil.copy(FIXTURE, repo / "qscanner.sarif")
        user = {"SCANGATE_ROLE_ARN": self.roles["gitlab"], "AWS_REGION": REGION, "REPORT_BUCKET": BUCKET,
                "REPORT_KMS_KEY_ID": self.key_arn, "SCANGATE_RELEASE_URL": f"{self.base}/release",
                "SCANGATE_VERSION": VERSION, "SCANGATE_SHA256": self.sha,
                "SCANGATE_CI_SCRIPT_URL": f"{self.base}/ci/scangate-ci.sh", "SCANGATE_CI_SCRIPT_SHA256": self.script_sha,
                "SCANGATE_KIND": "sarif", "SCANGATE_TARGET": "qscanner.sarif", "SCANGATE_WAIT": "60"}
        self.assertFalse(set(user) - set(job["variables"]), "every variable the user sets is one the template declares")
        predefined = {"CI_PROJECT_PATH": "team/sub/app", "CI_PIPELINE_ID": "77", "CI_JOB_ID": "501",
                      "CI_COMMIT_REF_NAME": "main", "CI_PROJECT_URL": "https://gitlab.example.com/team/sub/app",
                      "CI_PROJECT_DIR": str(repo), "SCANGATE_ID_TOKEN": "header.gitlab-id-token.signature"}
        env = {**self.base_env(work), **{k: str(v) for k, v in job["variables"].items()}, **user, **predefined}
        result = self.run_steps([("\n".join(job["script"]), {})], env, repo)
        self.assertEqual(result.returncode, 42, f"{result.stdout}\n{result.stderr}")
        self.assertIn("scans/gitlab~team~sub~app/77-501/report.sarif", self.processor.uploads)
        self.assertTrue((repo / job["artifacts"]["reports"]["junit"]).is_file(), "the junit report GitLab collects")
        # The security report GitLab collects (artifacts: reports: container_scanning), valid by GitLab's schema.
        report = json.loads((repo / job["artifacts"]["reports"]["container_scanning"]).read_text())
        self.assertEqual(gitlab_schema_errors(report), [])
        self.assertEqual(report["scan"]["type"], "container_scanning")
        self.assertTrue(report["vulnerabilities"], "the fixture's findings are in it")
        self.assertIn("Critical", {v["severity"] for v in report["vulnerabilities"]})
        self.assertIn("### scangate: FAILED (the gate)", result.stdout)
        self.assertNotIn("header.gitlab-id-token.signature", result.stdout + result.stderr)

    def test_gitlab_template_refuses_a_swapped_script(self) -> None:
        job = yaml.safe_load((ROOT / "ci" / "gitlab" / "scangate.yml").read_text())[".scangate"]
        work = self.tmp / "gitlab-swapped"
        work.mkdir()
        env = {**self.base_env(work), "CI_PROJECT_DIR": str(work), "SCANGATE_CI_SCRIPT_URL": f"{self.base}/ci/scangate-ci.sh",
               "SCANGATE_CI_SCRIPT_SHA256": "0" * 64}
        result = self.run_steps([("\n".join(job["script"]), {})], env, work)
        self.assertNotEqual(result.returncode, 0)
        self.assertFalse((work / ".scangate" / "bin" / "scangate").exists(), "nothing installed")

    # ------------------------------------------------------------------ Azure Pipelines: ci/azure/scangate.yml
    def test_azure_template_gates_publishes_sarif_and_logs_issues(self) -> None:
        template = yaml.safe_load((ROOT / "ci" / "azure" / "scangate.yml").read_text())
        work = self.tmp / "azure"
        repo = work / "s"
        repo.mkdir(parents=True)
        (work / "temp").mkdir()
        (work / "staging").mkdir()
        shutil.copy(FIXTURE, repo / "qscanner.sarif")
        params = {p["name"]: str(p.get("default", "")) for p in template["parameters"]}
        params.update(roleArn=self.roles["azure"], serviceConnectionId="7f0c-connection", serviceConnection="contoso/web/aws-scangate",
                      region=REGION, reportBucket=BUCKET, kmsKeyId=self.key_arn, releaseUrl=f"{self.base}/release",
                      version=VERSION, sha256=self.sha, ciScriptUrl=f"{self.base}/ci/scangate-ci.sh",
                      ciScriptSha256=self.script_sha, scan="sarif", target="qscanner.sarif", wait="60")
        macros = {"Agent.TempDirectory": str(work / "temp"), "System.AccessToken": "job-access-token",
                  "Build.BuildId": "9001", "System.JobAttempt": "1", "Build.SourceBranchName": "main",
                  "Build.Repository.Uri": "https://dev.azure.com/contoso/web/_git/app",
                  "Build.ArtifactStagingDirectory": str(work / "staging")}

        def resolve(text: str) -> str:  # template expressions at compile time, then $(macros) at run time
            text = re.sub(r"\$\{\{\s*parameters\.(\w+)\s*\}\}", lambda m: params[m.group(1)], text)
            return re.sub(r"\$\(([\w.]+)\)", lambda m: macros.get(m.group(1), m.group(0)), text)

        step = template["steps"][0]
        env = {k: resolve(str(v)) for k, v in step["env"].items()}
        agent = {**self.base_env(work), "SYSTEM_OIDCREQUESTURI": f"{self.base}/azure/oidctoken",
                 "BUILD_ARTIFACTSTAGINGDIRECTORY": str(work / "staging")}
        Handler.hits.clear()
        result = self.run_steps([(resolve(step["bash"]), env)], agent, repo)
        self.assertEqual(result.returncode, 42, f"{result.stdout}\n{result.stderr}")
        self.assertIn("scans/azure~contoso~web~aws-scangate/9001-1/report.sarif", self.processor.uploads)
        self.assertTrue(any(h.startswith("POST /azure/oidctoken") and "auth=True" in h for h in Handler.hits), Handler.hits)
        self.assertRegex(result.stdout, r"(?m)^##vso\[task\.logissue type=error\]")
        self.assertTrue((work / "staging" / "CodeAnalysisLogs" / "scangate.sarif").is_file())
        published = [resolve(s["inputs"].get("testResultsFiles", "")) for s in template["steps"][1:]
                     if s.get("task") == "PublishTestResults@2"]
        self.assertEqual(published, [str(work / "temp" / "scangate-out" / "junit.xml")])
        self.assertTrue(Path(published[0]).is_file())

    # ------------------------------------------------------------------ Jenkins: ci/jenkins/vars/scangate.groovy
    def test_jenkins_step_assumes_the_role_with_the_external_id_and_gates(self) -> None:
        groovy = (ROOT / "ci" / "jenkins" / "vars" / "scangate.groovy").read_text()
        resource = ROOT / "ci" / "jenkins" / "resources" / "io" / "scangate" / "scangate-ci.sh"
        self.assertEqual(resource.resolve(), (ROOT / "ci" / "scangate-ci.sh").resolve(), "the library ships the shared script")
        script_text = (ROOT / "ci" / "scangate-ci.sh").read_text()
        for name in re.findall(r"'?\"?([A-Z][A-Z0-9_]+)=", groovy):
            if name not in ("PATH", "AWS_REGION"):  # AWS_REGION: read by the runner's AWS SDK
                self.assertTrue(name in script_text, f"the step sets {name}, which scangate-ci.sh never reads")
        work = self.tmp / "jenkins"
        ws = work / "ws"
        ws.mkdir(parents=True)
        shutil.copy(FIXTURE, ws / "qscanner.sarif")
        env = {**self.base_env(work), "SCANGATE_CI": "jenkins", "SCANGATE_ROLE_ARN": self.roles["jenkins"],
               "REPORT_BUCKET": BUCKET, "REPORT_KMS_KEY_ID": self.key_arn, "SCANGATE_RELEASE_URL": f"{self.base}/release",
               "SCANGATE_VERSION": VERSION, "SCANGATE_SHA256": self.sha, "SCANGATE_REPOSITORY": "jenkins",
               "SCANGATE_RUN_ID": "jenkins-app-12", "SCANGATE_KIND": "sarif", "SCANGATE_TARGET": "qscanner.sarif",
               "SCANGATE_WAIT": "60", "SCANGATE_INSTALL_DIR": str(ws / ".scangate" / "bin"),
               "SCANGATE_EXTERNAL_ID": "0123456789abcdef-x", "SCANGATE_CREDENTIAL_SOURCE": "Environment",
               # the agent's own identity, from which the profile assumes the role
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        env["PATH"] = f"{ws / '.scangate' / 'bin'}:{env['PATH']}"
        result = self.run_steps([(f"bash {resource} install", {}), (f"bash {resource} scan", {})], env, ws)
        self.assertEqual(result.returncode, 42, f"{result.stdout}\n{result.stderr}")
        self.assertIn("scans/jenkins~jenkins/jenkins-app-12/report.sarif", self.processor.uploads)
        self.assertTrue((ws / "scangate-out" / "junit.xml").is_file())
        self.assertTrue((ws / "scangate-out" / "code-scanning.sarif").is_file(), "what recordIssues(sarif) reads")
        self.assertNotIn("0123456789abcdef-x", result.stdout + result.stderr, "the external id is never printed")


class GitLabSecurityReport(unittest.TestCase):
    """`scangate process --gitlab-report` over QScanner fixtures, a hostile report and public scanners' SARIF: each
    output is valid by GitLab's published schema (GitLab refuses a whole report that is not)."""

    def render(self, sarif: Path, *extra: str) -> dict:
        if not RUNNER.is_file():
            self.skipTest(f"{RUNNER} missing: cargo build -p scangate-cli")
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "gl-container-scanning-report.json"
            result = subprocess.run([str(RUNNER), "process", "--quiet", "--max-critical", "-1", "--max-high", "-1",
                                     "--gitlab-report", str(out), *extra, "--", str(sarif)],
                                    capture_output=True, text=True, timeout=120)
            self.assertTrue(out.is_file(), f"{sarif.name}: exit {result.returncode}\n{result.stderr}")
            return json.loads(out.read_text())

    def test_reports_are_valid_by_gitlabs_published_schema(self) -> None:
        corpus = ROOT / "tests" / "corpus" / "sarif"
        inputs = [ROOT / "tests" / "fixtures" / n for n in ("qscanner-image.sarif", "qscanner-repo.sarif",
                                                              "hostile-text.sarif")]
        inputs += [corpus / n for n in ("trivy-image-alpine-310.sarif", "grype-image-snapshot.sarif",
                                        "osv-scanner-multi-ecosystem.sarif", "gitleaks-simple.sarif",
                                        "snyk-container-result.sarif", "anchore-scan-action-2020-large.sarif")]
        for sarif in inputs:
            with self.subTest(sarif=sarif.name):
                report = self.render(sarif)
                self.assertEqual(gitlab_schema_errors(report), [])
                self.assertEqual(report["version"], json.loads(GITLAB_SCHEMA.read_text())["self"]["version"])

    def test_the_schema_refuses_what_gitlab_would(self) -> None:
        # The check can fail: a report without the scan's analyzer, or with a severity GitLab does not know, is refused.
        report = self.render(FIXTURE)
        broken = json.loads(json.dumps(report))
        del broken["scan"]["analyzer"]
        self.assertTrue(any("analyzer" in e for e in gitlab_schema_errors(broken)))
        broken = json.loads(json.dumps(report))
        broken["vulnerabilities"][0]["severity"] = "critical"
        self.assertTrue(gitlab_schema_errors(broken))
        broken = json.loads(json.dumps(report))
        broken["scan"]["start_time"] = "2026-01-01T00:00:00.000Z"
        self.assertTrue(gitlab_schema_errors(broken), "the schema's time format has no fraction or zone")


class Annotations(unittest.TestCase):
    def test_a_finding_cannot_inject_a_workflow_command(self) -> None:
        """A finding whose text carries a line break and a workflow command stays one inert annotation line."""
        evil = "pkg 1.0\n::add-mask::x\r\n##vso[task.setvariable variable=scangateExitCode]0 ::error::y"
        sarif = {"runs": [{"results": [{"ruleId": "CVE-1", "level": "error", "message": {"text": evil}}]}]}
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "cs.sarif"
            path.write_text(json.dumps(sarif))
            functions = re.sub(r'(?ms)^case "\$\{1:-\}" in.*\Z', "", (ROOT / "ci" / "scangate-ci.sh").read_text())
            for style, prefix in (("github", "::error title=scangate::"), ("azure", "##vso[task.logissue type=error]")):
                out = subprocess.run(["bash", "-c", functions + f'\nannotations "$1" {style}', "-", str(path)],
                                     capture_output=True, text=True, check=True).stdout
                lines = out.splitlines()
                self.assertEqual(len(lines), 1, out)
                self.assertTrue(lines[0].startswith(prefix), lines[0])
                rest = lines[0][len(prefix):]
                self.assertNotIn("::", rest, "no second GitHub command on the line")
                self.assertNotIn("##vso[", rest, "no second Azure command on the line")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"CI integration tests: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed, "
          f"{len(result.skipped)} skipped")
    sys.exit(1 if failed else 0)

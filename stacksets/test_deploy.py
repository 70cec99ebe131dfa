"""Tests of stacksets/deploy.py: the dry run, and real runs against a moto server on a loopback port.

Run through scripts/test-deploy.sh (starts nothing itself when MOTO_ENDPOINT is set, else its own moto_server).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import unittest.mock
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy  # noqa: E402

ORG = "o-abcdefghij"
OU = "ou-ab12-cd34ef56"
REGIONS = ["us-east-1", "eu-west-1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self) -> None:
        self.proc = None
        self.endpoint = os.environ.get("MOTO_ENDPOINT")

    def __enter__(self) -> str:
        if self.endpoint:
            return self.endpoint
        server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        port = free_port()
        self.proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                return self.endpoint
            except OSError:
                time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError("moto_server did not start within 30 s")

    def __exit__(self, *exc) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def args_for(package_dir: Path, *extra: str) -> object:
    return deploy.parse_args(
        [
            "--prefix", "acme-scangate-art",
            "--regions", ",".join(REGIONS),
            "--ou", OU,
            "--org-id", ORG,
            "--admin-region", "us-east-1",
            "--package-dir", str(package_dir),
            "--skip-build",
            "--poll-seconds", "0.1",
            "--timeout", "60",
            "--parameter", "QualysPod=EU1",
            *extra,
        ]
    )


def make_package(directory: Path, marker: str = "v1") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in deploy.ARTIFACTS.values():
        (directory / name).write_bytes(f"{name} {marker}\n".encode())


class DryRun(unittest.TestCase):
    def test_knows_the_stack_parameters(self) -> None:
        names = deploy.stack_parameter_names()
        self.assertLessEqual({"Name", "CodeBucket", "QualysPod", "MaxCritical", "EnablePublisher"}, names)
        self.assertLessEqual(set(deploy.ARTIFACTS), names)

    def test_prints_the_whole_deployment_and_calls_nothing(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            make_package(Path(tmp))
            out = io.StringIO()
            aws = deploy.Aws(dry_run=True, out=out)
            # An endpoint that refuses connections: any real call would fail the run.
            env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
            with unittest.mock.patch.dict(os.environ, env):
                deploy.deploy(args_for(Path(tmp)), aws)
            self.assertIsNone(aws._session, "a dry run must not create an AWS session")
        text = out.getvalue()
        lines = [line for line in text.splitlines() if line.startswith("aws ")]
        for region in REGIONS:
            self.assertIn(f"aws cloudformation create-stack --region {region} --stack-name scangate-artifacts", text)
            for name in deploy.ARTIFACTS.values():
                self.assertTrue(
                    any(f"put-object --region {region} --bucket acme-scangate-art-{region} " in line
                        and line.endswith(f"--body {Path(tmp) / name}") for line in lines),
                    f"no upload of {name} to {region}",
                )
        self.assertIn("aws cloudformation create-stack-set --region us-east-1 --stack-set-name qualys-codebuild", text)
        self.assertIn("--permission-model SERVICE_MANAGED", text)
        self.assertIn('"ParameterKey":"QualysPod","ParameterValue":"EU1"', text)
        self.assertIn(f'--deployment-targets \'{{"OrganizationalUnitIds":["{OU}"]}}\' --regions us-east-1 eu-west-1', text)
        # one line per call, nothing else but comments
        self.assertTrue(all(line.startswith(("aws ", "# ")) for line in text.splitlines()), text)

    def test_rejects_bad_arguments(self) -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            for bad in (["--ou", "nope"], ["--regions", "mars-1"], ["--parameter", "CodeBucket=x"], ["--org-id", "x"],
                        ["--parameter", "MaxCritcal=1"]):
                with self.subTest(bad=bad), self.assertRaises(SystemExit):
                    args_for(Path("/nonexistent"), *bad)


class AgainstMoto(unittest.TestCase):
    server: MotoServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = MotoServer()
        endpoint = cls.server.__enter__()
        cls.env = unittest.mock.patch.dict(
            os.environ,
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_REGION": "us-east-1",
                "AWS_MAX_ATTEMPTS": "1",
            },
        )
        cls.env.start()
        cls.tmp = tempfile.TemporaryDirectory()
        import boto3

        cls.boto3 = boto3

    @classmethod
    def tearDownClass(cls) -> None:
        cls.env.stop()
        cls.tmp.cleanup()
        cls.server.__exit__(None, None, None)

    def run_deploy(self, package: Path) -> deploy.Aws:
        aws = deploy.Aws(dry_run=False, out=io.StringIO())
        with contextlib.redirect_stderr(io.StringIO()):
            deploy.deploy(args_for(package), aws)
        return aws

    def stack_set_parameters(self) -> dict:
        cfn = self.boto3.client("cloudformation", region_name="us-east-1")
        found = cfn.describe_stack_set(StackSetName="qualys-codebuild")["StackSet"]
        return found, {p["ParameterKey"]: p["ParameterValue"] for p in found["Parameters"]}

    def test_deploy_then_redeploy_then_new_build(self) -> None:
        package = Path(self.tmp.name) / "package"
        make_package(package, "v1")

        first = self.run_deploy(package)
        for region in REGIONS:
            s3 = self.boto3.client("s3", region_name=region)
            keys = {o["Key"] for o in s3.list_objects_v2(Bucket=f"acme-scangate-art-{region}").get("Contents", [])}
            for name in deploy.ARTIFACTS.values():
                self.assertTrue(any(k.endswith("/" + name) for k in keys), f"{name} not in {region}: {keys}")
        stack_set, params = self.stack_set_parameters()
        self.assertEqual(stack_set["PermissionModel"], "SERVICE_MANAGED")
        self.assertEqual(params["CodeBucket"], "acme-scangate-art")
        self.assertEqual(params["CodeBucketAppendRegion"], "true")
        self.assertEqual(params["QualysPod"], "EU1")
        key_v1 = params["ProcessorCodeKey"]
        self.assertRegex(key_v1, r"^scangate/report-processor/[0-9a-f]{16}/report-processor\.zip$")
        self.assertEqual(sum(" create-stack-set " in c for c in first.calls), 1)
        self.assertEqual(sum(" create-stack-instances " in c for c in first.calls), 1)

        # Same build again: nothing uploaded, the StackSet is updated instead of created.
        second = self.run_deploy(package)
        self.assertFalse([c for c in second.calls if " put-object " in c], "unchanged artifacts were uploaded again")
        self.assertFalse([c for c in second.calls if " create-stack-set " in c])
        self.assertEqual(sum(" update-stack-set " in c for c in second.calls), 1)

        # A new processor build: only it is uploaded (in each region) and the StackSet points at its new key.
        (package / "report-processor.zip").write_bytes(b"report-processor v2\n")
        third = self.run_deploy(package)
        uploads = [c for c in third.calls if " put-object " in c]
        self.assertEqual(len(uploads), len(REGIONS), uploads)
        self.assertTrue(all("report-processor.zip" in c for c in uploads), uploads)
        _, params = self.stack_set_parameters()
        self.assertNotEqual(params["ProcessorCodeKey"], key_v1)

    def test_missing_build_fails_with_the_path(self) -> None:
        empty = Path(self.tmp.name) / "empty"
        empty.mkdir(exist_ok=True)
        with self.assertRaises(deploy.DeployError) as caught:
            deploy.deploy(args_for(empty), deploy.Aws(dry_run=False, out=io.StringIO()))
        self.assertIn("report-processor.zip: missing", str(caught.exception))


if __name__ == "__main__":

    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"deploy tests: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(1 if failed else 0)

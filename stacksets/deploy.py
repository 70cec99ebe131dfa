#!/usr/bin/env python3
"""Deploy scangate to an AWS Organization with a service-managed CloudFormation StackSet.

Steps (every AWS call goes through one place, so --dry-run can print it instead of making it):
  1. build: `make package` -> target/package/{report-processor.zip, pipeline-gate.zip, scangate}
  2. per target region: the artifact bucket stack (stacksets/artifact-bucket.yaml) -> bucket <prefix>-<region>,
     readable by the Organization (aws:PrincipalOrgID)
  3. per target region: upload the three artifacts under content-addressed keys
     (scangate/<artifact>/<sha256 prefix>/<file>), so a new build changes the stack parameters and
     CloudFormation updates the functions; unchanged artifacts are not uploaded again
  4. upload cfn/scangate.yaml to the administrator region's artifact bucket (the StackSet reads it by URL)
  5. create or update the StackSet (SERVICE_MANAGED, auto-deployment, CallAs SELF|DELEGATED_ADMIN), wait
  6. create the stack instances that are missing (target OUs x regions), wait

--dry-run prints every AWS call as an `aws ...` command line and calls nothing (no credentials needed); it shows
a first deployment: where the real run would find an existing stack or StackSet it updates instead (said in
comments). Needs boto3 only for a real run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = {
    # parameter of cfn/scangate.yaml -> file in the package directory
    "ProcessorCodeKey": "report-processor.zip",
    "GateCodeKey": "pipeline-gate.zip",
    "RunnerCodeKey": "scangate",
}
STACK_TEMPLATE = ROOT / "cfn" / "scangate.yaml"
ARTIFACT_TEMPLATE = ROOT / "stacksets" / "artifact-bucket.yaml"
TERMINAL_STACK = re.compile(r"(_COMPLETE|_FAILED)$")
OK_STACK = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


class DeployError(Exception):
    """A deployment step failed; the message says which and why."""


class NotFound(Exception):
    """The described thing does not exist (yet)."""


def kebab(name: str) -> str:
    """TemplateURL -> template-url, StackSetName -> stack-set-name, put_object -> put-object."""
    name = name.replace("_", "-")
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name)
    return name.lower()


@dataclass
class Aws:
    """Every AWS call of the deployment. In dry-run mode it prints the equivalent CLI line instead."""

    dry_run: bool
    profile: str | None = None
    out: object = sys.stdout
    calls: list[str] = field(default_factory=list)
    _session: object = None

    def client(self, service: str, region: str):
        if self._session is None:
            import boto3  # only a real run needs it

            self._session = boto3.Session(profile_name=self.profile)
        return self._session.client(service, region_name=region)

    @staticmethod
    def _client_error():
        from botocore.exceptions import ClientError

        return ClientError

    def render(self, service: str, op: str, region: str, params: dict, files: dict, shown: dict) -> str:
        cli_service = "s3api" if service == "s3" else service
        parts = ["aws", cli_service, kebab(op), "--region", region]
        for key, value in params.items():
            flag = "--" + kebab(key)
            if key in shown:
                parts += [flag, shown[key]]
            elif isinstance(value, bool):
                parts.append(flag if value else "--no-" + kebab(key))
            elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                parts += [flag, *value]
            elif isinstance(value, (dict, list)):
                parts += [flag, json.dumps(value, separators=(",", ":"))]
            else:
                parts += [flag, str(value)]
        for key, path in files.items():
            parts += ["--" + kebab(key), display_path(path)]
        return " ".join(shlex.quote(p) for p in parts)

    def call(self, service: str, region: str, op: str, files: dict | None = None, shown: dict | None = None, **params):
        """files: parameters sent as a file's bytes (shown as the path); shown: how to print a parameter."""
        files = files or {}
        line = self.render(service, op, region, params, files, shown or {})
        self.calls.append(line)
        if self.dry_run:
            print(line, file=self.out)
            return None
        client = self.client(service, region)
        opened = {k: open(v, "rb") for k, v in files.items()}  # noqa: SIM115 - closed below
        try:
            return getattr(client, op)(**params, **opened)
        except self._client_error() as err:
            code = err.response.get("Error", {}).get("Code", "")
            message = err.response.get("Error", {}).get("Message", "")
            if code in ("404", "NoSuchKey", "NotFound", "StackSetNotFoundException") or (
                code == "ValidationError" and "does not exist" in message
            ):
                raise NotFound(f"{service} {op}: {message or code}") from err
            if code == "ValidationError" and "No updates are to be performed" in message:
                return {"NoUpdates": True}
            raise DeployError(f"{service} {kebab(op)} in {region} failed: {code}: {message}") from err
        finally:
            for handle in opened.values():
                handle.close()

    def note(self, text: str) -> None:
        """A comment in the dry-run plan (and a progress line in a real run)."""
        print(f"# {text}" if self.dry_run else f"-- {text}", file=self.out if self.dry_run else sys.stderr)


def display_path(path: Path) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Artifact:
    param: str
    path: Path
    sha256: str

    @property
    def key(self) -> str:
        return f"scangate/{self.path.stem.split('.')[0]}/{self.sha256[:16]}/{self.path.name}"


def find_artifacts(package_dir: Path, dry_run: bool) -> list[Artifact]:
    found = []
    for param, name in ARTIFACTS.items():
        path = package_dir / name
        if path.is_file():
            found.append(Artifact(param, path, sha256_file(path)))
        elif dry_run:
            # The plan still shows the calls; the real run fails here instead.
            found.append(Artifact(param, path, hashlib.sha256(f"not built: {name}".encode()).hexdigest()))
        else:
            raise DeployError(f"{path}: missing; run `make package` (or drop --skip-build)")
    return found


def stack_parameter_names(template: Path = STACK_TEMPLATE) -> set[str]:
    """The Parameters of cfn/scangate.yaml (top-level keys of its Parameters section)."""
    names, inside = set(), False
    for line in template.read_text().splitlines():
        if re.match(r"^\S", line):
            inside = line.startswith("Parameters:")
        elif inside and (m := re.match(r"^  ([A-Za-z0-9]+):\s*$", line)):
            names.add(m.group(1))
    return names


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    result = {}
    known = stack_parameter_names()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9]+", key):
            raise DeployError(f"--parameter {pair!r}: expected Key=Value with an alphanumeric key")
        if key not in known:
            raise DeployError(f"--parameter {key}: cfn/scangate.yaml has no such parameter")
        result[key] = value
    reserved = {"CodeBucket", "CodeBucketAppendRegion", *ARTIFACTS}
    if reserved & result.keys():
        raise DeployError(f"--parameter: {', '.join(sorted(reserved & result.keys()))} are set by the script")
    return result


def wait_stack(aws: Aws, region: str, name: str, timeout: float, poll: float) -> None:
    if aws.dry_run:
        aws.note(f"wait until stack {name} in {region} is CREATE_COMPLETE/UPDATE_COMPLETE (describe-stacks)")
        return
    deadline = time.monotonic() + timeout
    while True:
        stack = aws.call("cloudformation", region, "describe_stacks", StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if TERMINAL_STACK.search(status) and not status.endswith("_IN_PROGRESS"):
            if status in OK_STACK:
                return
            raise DeployError(f"stack {name} in {region} ended {status}: {stack.get('StackStatusReason', '')}")
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} in {region} still {status} after {timeout:.0f} s")
        time.sleep(poll)


def ensure_artifact_bucket(aws: Aws, args, region: str, org_id: str) -> str:
    bucket = f"{args.prefix}-{region}"
    stack = args.artifact_stack_name
    body = ARTIFACT_TEMPLATE.read_text()
    params = [
        {"ParameterKey": "Prefix", "ParameterValue": args.prefix},
        {"ParameterKey": "OrganizationId", "ParameterValue": org_id},
    ]
    try:
        aws.call("cloudformation", region, "describe_stacks", StackName=stack)
        exists = not aws.dry_run
    except NotFound:
        exists = False
    if aws.dry_run:
        aws.note(f"stack {stack} not found -> create-stack (update-stack when it exists)")
    if exists:
        result = aws.call(
            "cloudformation",
            region,
            "update_stack",
            shown={"TemplateBody": "file://" + display_path(ARTIFACT_TEMPLATE)},
            StackName=stack,
            TemplateBody=body,
            Parameters=params,
        )
        if result and result.get("NoUpdates"):
            return bucket
    else:
        aws.call(
            "cloudformation",
            region,
            "create_stack",
            shown={"TemplateBody": "file://" + display_path(ARTIFACT_TEMPLATE)},
            StackName=stack,
            TemplateBody=body,
            Parameters=params,
            EnableTerminationProtection=True,
            Tags=[{"Key": "scangate:component", "Value": "artifacts"}],
        )
    wait_stack(aws, region, stack, args.timeout, args.poll_seconds)
    return bucket


def upload(aws: Aws, region: str, bucket: str, key: str, path: Path, sha256: str) -> None:
    try:
        head = aws.call("s3", region, "head_object", Bucket=bucket, Key=key)
        if head and head.get("Metadata", {}).get("sha256") == sha256:
            aws.note(f"s3://{bucket}/{key} is already there")
            return
    except NotFound:
        pass
    aws.call(
        "s3",
        region,
        "put_object",
        files={"Body": path},
        Bucket=bucket,
        Key=key,
        Metadata={"sha256": sha256},
        ServerSideEncryption="AES256",
    )


def wait_operation(aws: Aws, args, operation_id: str | None, what: str) -> None:
    if aws.dry_run or not operation_id:
        aws.note(f"wait until the {what} operation SUCCEEDED (describe-stack-set-operation)")
        return
    deadline = time.monotonic() + args.timeout
    while True:
        op = aws.call(
            "cloudformation",
            args.admin_region,
            "describe_stack_set_operation",
            StackSetName=args.stack_set_name,
            OperationId=operation_id,
            CallAs=args.call_as,
        )["StackSetOperation"]
        status = op["Status"]
        if status == "SUCCEEDED":
            return
        if status in ("FAILED", "STOPPED"):
            raise DeployError(
                f"StackSet {args.stack_set_name} {what} operation {operation_id} {status}: {op.get('StatusReason', '')}"
                " (list-stack-instances shows which accounts failed)"
            )
        if time.monotonic() > deadline:
            raise DeployError(f"StackSet {what} operation {operation_id} still {status} after {args.timeout:.0f} s")
        time.sleep(args.poll_seconds)


def deploy(args, aws: Aws) -> None:
    if not args.skip_build:
        if aws.dry_run:
            aws.note("build: make package (skipped in a dry run; digests below are of what target/package holds)")
        else:
            subprocess.run(["make", "package"], cwd=ROOT, check=True)
    artifacts = find_artifacts(Path(args.package_dir), aws.dry_run)

    org_id = args.org_id
    if not org_id:
        found = aws.call("organizations", args.admin_region, "describe_organization")
        org_id = found["Organization"]["Id"] if found else "o-exampleorgid"
        if aws.dry_run:
            aws.note(f"the Organization id from that answer is shown as {org_id} below")

    for region in args.regions:
        bucket = ensure_artifact_bucket(aws, args, region, org_id)
        for art in artifacts:
            upload(aws, region, bucket, art.key, art.path, art.sha256)

    template_sha = sha256_file(STACK_TEMPLATE)
    admin_bucket = f"{args.prefix}-{args.admin_region}"
    if args.admin_region not in args.regions:
        ensure_artifact_bucket(aws, args, args.admin_region, org_id)
    template_key = f"templates/scangate/{template_sha[:16]}/scangate.yaml"
    upload(aws, args.admin_region, admin_bucket, template_key, STACK_TEMPLATE, template_sha)
    template_url = f"https://{admin_bucket}.s3.{args.admin_region}.amazonaws.com/{template_key}"

    values = {"CodeBucket": args.prefix, "CodeBucketAppendRegion": "true"}
    values.update({art.param: art.key for art in artifacts})
    values.update(args.parameters)
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    preferences = {
        "RegionConcurrencyType": args.region_concurrency,
        "MaxConcurrentPercentage": args.max_concurrent_percentage,
        "FailureTolerancePercentage": args.failure_tolerance_percentage,
    }
    common = {
        "StackSetName": args.stack_set_name,
        "TemplateURL": template_url,
        "Parameters": parameters,
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": args.retain_stacks},
        "ManagedExecution": {"Active": True},
        "CallAs": args.call_as,
    }

    try:
        aws.call(
            "cloudformation",
            args.admin_region,
            "describe_stack_set",
            StackSetName=args.stack_set_name,
            CallAs=args.call_as,
        )
        exists = not aws.dry_run
    except NotFound:
        exists = False
    existing: set[tuple[str, str]] = set()
    if exists:
        result = aws.call(
            "cloudformation",
            args.admin_region,
            "update_stack_set",
            **common,
            OperationPreferences=preferences,
        )
        wait_operation(aws, args, result.get("OperationId") if result else None, "update")
        paginator_token = None
        while True:
            page = aws.call(
                "cloudformation",
                args.admin_region,
                "list_stack_instances",
                StackSetName=args.stack_set_name,
                CallAs=args.call_as,
                **({"NextToken": paginator_token} if paginator_token else {}),
            )
            for summary in page.get("Summaries", []):
                existing.add((summary.get("OrganizationalUnitId", ""), summary["Region"]))
            paginator_token = page.get("NextToken")
            if not paginator_token:
                break
    else:
        if aws.dry_run:
            aws.note(f"StackSet {args.stack_set_name} not found -> create-stack-set (update-stack-set when it exists)")
        aws.call("cloudformation", args.admin_region, "create_stack_set", **common)

    for ou in args.ous:
        regions = [r for r in args.regions if (ou, r) not in existing]
        if not regions:
            aws.note(f"{ou}: instances exist in every target region")
            continue
        result = aws.call(
            "cloudformation",
            args.admin_region,
            "create_stack_instances",
            StackSetName=args.stack_set_name,
            DeploymentTargets={"OrganizationalUnitIds": [ou]},
            Regions=regions,
            OperationPreferences=preferences,
            CallAs=args.call_as,
        )
        wait_operation(aws, args, result.get("OperationId") if result else None, f"create-instances {ou}")
    aws.note(f"done: StackSet {args.stack_set_name}, {len(args.ous)} OU(s) x {len(args.regions)} region(s)")


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", required=True, help="artifact bucket prefix: buckets are <prefix>-<region>")
    parser.add_argument("--regions", required=True, help="comma-separated target regions")
    parser.add_argument("--ou", dest="ous", action="append", required=True, help="target OU id (repeatable)")
    parser.add_argument("--org-id", help="Organization id o-...; default: organizations describe-organization")
    parser.add_argument("--admin-region", default=os.environ.get("AWS_REGION") or "us-east-1",
                        help="region of the StackSet itself (default AWS_REGION or us-east-1)")
    parser.add_argument("--stack-set-name", default="qualys-codebuild")
    parser.add_argument("--artifact-stack-name", default="scangate-artifacts",
                        help="stack of the artifact bucket in each region (default scangate-artifacts)")
    parser.add_argument("--call-as", choices=["SELF", "DELEGATED_ADMIN"], default="SELF")
    parser.add_argument("--parameter", dest="parameter_pairs", action="append", default=[],
                        metavar="Key=Value", help="a cfn/scangate.yaml parameter (repeatable)")
    parser.add_argument("--package-dir", default=str(ROOT / "target" / "package"))
    parser.add_argument("--skip-build", action="store_true", help="use target/package as it is")
    parser.add_argument("--max-concurrent-percentage", type=int, default=25)
    parser.add_argument("--failure-tolerance-percentage", type=int, default=10)
    parser.add_argument("--region-concurrency", choices=["PARALLEL", "SEQUENTIAL"], default="PARALLEL")
    parser.add_argument("--retain-stacks", action="store_true", help="keep stacks of accounts leaving the OUs")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each operation")
    parser.add_argument("--poll-seconds", type=float, default=15)
    parser.add_argument("--profile", help="AWS CLI profile")
    parser.add_argument("--dry-run", action="store_true", help="print every AWS call, make none")
    args = parser.parse_args(argv)
    args.regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    bad = [r for r in args.regions + [args.admin_region] if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", r)]
    if bad:
        parser.error(f"not a region: {', '.join(bad)}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,30}[a-z0-9]", args.prefix):
        parser.error("--prefix: 3-32 characters of a-z, 0-9, '.', '-' (the bucket is <prefix>-<region>)")
    for ou in args.ous:
        if not re.fullmatch(r"(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})", ou):
            parser.error(f"--ou {ou!r}: expected ou-xxxx-yyyyyyyy or a root r-xxxx")
    if args.org_id and not re.fullmatch(r"o-[a-z0-9]{10,32}", args.org_id):
        parser.error(f"--org-id {args.org_id!r}: expected o-xxxxxxxxxx")
    try:
        args.parameters = parse_parameters(args.parameter_pairs)
    except DeployError as err:
        parser.error(str(err))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    aws = Aws(dry_run=args.dry_run, profile=args.profile)
    try:
        deploy(args, aws)
    except (DeployError, NotFound) as err:
        print(f"deploy: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"deploy: build failed ({' '.join(err.cmd)} exited {err.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

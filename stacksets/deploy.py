#!/usr/bin/env python3
"""Deploy scangate to an AWS Organization with a service-managed CloudFormation StackSet.

Steps (every AWS call goes through one place, so --dry-run can print it instead of making it):
  1. build: `make release` -> dist/ with manifest.json (role, arch, file, sha256, size of each artifact); the
     script reads file names and digests only from that manifest and refuses a file whose SHA-256 or size differs
  2. per target region: the artifact bucket stack (stacksets/artifact-bucket.yaml) -> bucket <prefix>-<region>,
     readable by the Organization (aws:PrincipalOrgID)
  3. per target region: check that this account owns the artifact bucket (head-bucket with ExpectedBucketOwner:
     a same-named bucket of another account stops the run, naming it), then upload every artifact of the manifest
     under a versioned, content-addressed key (scangate/<version>/<sha256 prefix>/<file>), so a new build changes
     the stack parameters and CloudFormation updates the functions; unchanged artifacts are not uploaded again.
     Every S3 call to an artifact bucket carries ExpectedBucketOwner (this account, from sts get-caller-identity)
     and every upload its ChecksumSHA256; the runner's SHA-256 goes to the stack as RunnerCodeSha256, which the scan
     projects check. The object version of each Lambda zip (put-object's VersionId, or head-object's when it was
     there) is recorded per region
  4. upload cfn/scangate.yaml to the administrator region's artifact bucket (the StackSet reads it by URL)
  5. the owner of every artifact bucket is checked again, then the StackSet is created or updated (SERVICE_MANAGED,
     auto-deployment, CallAs SELF|DELEGATED_ADMIN), wait
  6. per region: create the stack instances that are missing (target OUs) and update the existing ones, each with
     parameter overrides that pin that region's Lambda zips (ProcessorCodeKey + ProcessorCodeVersion, GateCodeKey +
     GateCodeVersion: object versions differ between regions), wait

--dry-run prints every AWS call as an `aws ...` command line and calls nothing (no credentials needed); it shows
a first deployment: where the real run would find an existing stack or StackSet it updates instead (said in
comments). Needs boto3 only for a real run.
"""

from __future__ import annotations

import argparse
import base64
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
    # parameter of cfn/scangate.yaml -> (role, arch) of the dist/manifest.json artifact whose key it takes
    "ProcessorCodeKey": ("report-processor", "arm64"),
    "GateCodeKey": ("pipeline-gate", "arm64"),
    "RunnerCodeKey": ("runner", "x86_64"),  # the scan projects run on amazonlinux-x86_64-standard
}
# parameter of cfn/scangate.yaml -> the ARTIFACTS parameter whose artifact's SHA-256 it takes
CHECKSUMS = {"RunnerCodeSha256": "RunnerCodeKey"}
# parameter of cfn/scangate.yaml -> the ARTIFACTS parameter whose upload's S3 object version it takes (per region:
# the same file has another version id in each region's bucket, so these go to the instances as overrides)
VERSIONS = {"ProcessorCodeVersion": "ProcessorCodeKey", "GateCodeVersion": "GateCodeKey"}
MANIFEST_SCHEMA = 1
DRY_RUN_ACCOUNT = "111122223333"
STACK_TEMPLATE = ROOT / "cfn" / "scangate.yaml"
# The only cfn/scangate.yaml parameters the script sets itself, and why. Every other parameter of the template,
# including ones added later, is settable with --parameter Key=Value or --parameters-file, validated against the
# template's declaration (stacksets/test_deploy.py enumerates the template's parameters and fails on any other).
FIXED_PARAMETERS = {
    "CodeBucket": "--prefix: every region reads the artifact bucket <prefix>-<region> this script fills",
    "CodeBucketAppendRegion": "always true: a stack instance reads the artifact bucket of its own region",
    "CodeBucketOwner": "the account this script runs in (sts get-caller-identity), which owns the artifact buckets",
    "ProcessorCodeKey": "the content-addressed key of the report-processor zip this run uploaded",
    "GateCodeKey": "the content-addressed key of the pipeline-gate zip this run uploaded",
    "RunnerCodeKey": "the content-addressed key of the runner binary this run uploaded",
    "RunnerCodeSha256": "the SHA-256 of that runner binary, from dist/manifest.json (the install phase checks it)",
    "ProcessorCodeVersion": "per region: the S3 object version of the report-processor zip this run uploaded there "
                            "(an instance override; empty in the StackSet's own values)",
    "GateCodeVersion": "per region: the S3 object version of the pipeline-gate zip this run uploaded there "
                       "(an instance override; empty in the StackSet's own values)",
}
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
    """One artifact of dist/manifest.json. `key` is its upload key: versioned and content-addressed."""

    role: str
    arch: str
    path: Path
    sha256: str
    size: int
    version: str

    @property
    def key(self) -> str:
        return f"scangate/{self.version}/{self.sha256[:16]}/{self.path.name}"


@dataclass
class Release:
    version: str
    commit: str
    artifacts: list[Artifact]

    def for_param(self, param: str) -> Artifact:
        role, arch = ARTIFACTS[param]
        return next(a for a in self.artifacts if (a.role, a.arch) == (role, arch))


def load_release(dist: Path) -> Release:
    """Reads dist/manifest.json (written by `make release`) and checks it: every file named there, no other."""
    manifest_path = Path(dist) / "manifest.json"
    where = display_path(manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise DeployError(f"{where}: missing; run `make release` (or drop --skip-build)") from None
    except (OSError, ValueError) as err:
        raise DeployError(f"{where}: unreadable: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
        raise DeployError(f"{where}: expected an object with \"schema\": {MANIFEST_SCHEMA}")
    version, commit = manifest.get("version"), manifest.get("commit", "unknown")
    if not isinstance(version, str) or not re.fullmatch(r"[0-9A-Za-z.+-]{1,64}", version):
        raise DeployError(f"{where}: .version: expected a version such as 0.1.0, got {version!r}")
    entries = manifest.get("artifacts")
    if not isinstance(entries, list) or not entries:
        raise DeployError(f"{where}: .artifacts: expected a non-empty list")
    artifacts = []
    for i, entry in enumerate(entries):
        at = f"{where}: .artifacts[{i}]"
        if not isinstance(entry, dict):
            raise DeployError(f"{at}: expected an object")
        role, arch, name, sha, size = (entry.get(k) for k in ("role", "arch", "file", "sha256", "size"))
        if not isinstance(role, str) or not isinstance(arch, str):
            raise DeployError(f"{at}: .role and .arch: expected strings")
        # A plain file name inside dist/: the manifest cannot point the upload at another file.
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", name):
            raise DeployError(f"{at}.file: expected a file name in {display_path(dist)}, got {name!r}")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise DeployError(f"{at}.sha256: expected 64 lower-case hex digits")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise DeployError(f"{at}.size: expected a byte count")
        artifacts.append(Artifact(role, arch, Path(dist) / name, sha, size, version))
    release = Release(version, str(commit), artifacts)
    for param, (role, arch) in ARTIFACTS.items():
        found = [a for a in artifacts if (a.role, a.arch) == (role, arch)]
        if len(found) != 1:
            raise DeployError(f"{where}: expected one {role} artifact for {arch} ({param}), found {len(found)}")
    return release


def verified_bytes(art: Artifact) -> bytes:
    """The artifact's bytes, refused unless they are exactly what the manifest says (size and SHA-256)."""
    try:
        data = art.path.read_bytes()
    except OSError as err:
        raise DeployError(f"{display_path(art.path)}: unreadable ({err.strerror}); run `make release`") from None
    actual = hashlib.sha256(data).hexdigest()
    if len(data) != art.size or actual != art.sha256:
        raise DeployError(
            f"{display_path(art.path)}: SHA-256 {actual} ({len(data)} bytes) does not match manifest.json "
            f"({art.sha256}, {art.size} bytes); refusing to upload it: rebuild with `make release`"
        )
    return data


def _scalar(text: str):
    """A YAML flow scalar of the Parameters section: "double-quoted" (JSON escapes), 'single', or plain."""
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return text


def stack_parameters(template: Path | None = None) -> dict[str, dict]:
    """The Parameters of cfn/scangate.yaml: name -> {Type, Default, AllowedValues, AllowedPattern, MinValue, MaxValue}.

    A small reader of the Parameters section as the template writes it (two-space keys, four-space properties,
    flow lists), so a dry run needs nothing but Python; the tests compare it with a full YAML load."""
    template = template or STACK_TEMPLATE
    params: dict[str, dict] = {}
    inside, current = False, None
    for line in template.read_text().splitlines():
        if re.match(r"^\S", line):
            inside, current = line.startswith("Parameters:"), None
        elif not inside:
            continue
        elif m := re.match(r"^  ([A-Za-z0-9]+):\s*$", line):
            current = params.setdefault(m.group(1), {})
        elif current is not None and (m := re.match(r"^    (Type|Default|AllowedPattern|MinValue|MaxValue|AllowedValues):\s*(.*)$", line)):
            key, raw = m.groups()
            if key == "AllowedValues":
                inner = raw.strip()
                if not (inner.startswith("[") and inner.endswith("]")):
                    raise DeployError(f"{display_path(template)}: AllowedValues must be a flow list [a, b]: {line!r}")
                current[key] = [str(_scalar(v)) for v in inner[1:-1].split(",") if v.strip()]
            else:
                current[key] = str(_scalar(raw))
    return params


def stack_parameter_names(template: Path | None = None) -> set[str]:
    """The Parameters of cfn/scangate.yaml (top-level keys of its Parameters section)."""
    return set(stack_parameters(template))


def check_parameter_value(key: str, spec: dict, value: str) -> None:
    """Refuses a value CloudFormation would refuse in every account, before anything is uploaded."""
    kind = spec.get("Type", "String")
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            raise DeployError(f"--parameter {key}={value!r}: expected a number") from None
        for bound, ok in (("MinValue", lambda b: number >= b), ("MaxValue", lambda b: number <= b)):
            if bound in spec and not ok(float(spec[bound])):
                raise DeployError(f"--parameter {key}={value}: {bound} is {spec[bound]}")
    values = [v.strip() for v in value.split(",")] if kind.startswith(("CommaDelimitedList", "List<")) else [value]
    if "AllowedValues" in spec and value not in spec["AllowedValues"]:
        raise DeployError(f"--parameter {key}={value!r}: expected one of {', '.join(spec['AllowedValues'])}")
    if "AllowedPattern" in spec:
        bad = [v for v in values if not re.fullmatch(spec["AllowedPattern"], v)]
        if bad:
            raise DeployError(f"--parameter {key}={value!r}: does not match {spec['AllowedPattern']}")


def read_parameters_file(path: str) -> list[str]:
    """--parameters-file: {"Key": "Value", ...} or CloudFormation's [{"ParameterKey": .., "ParameterValue": ..}]."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DeployError(f"--parameters-file {path}: {err}") from None
    if isinstance(data, list) and all(isinstance(e, dict) and "ParameterKey" in e for e in data):
        data = {e["ParameterKey"]: e.get("ParameterValue", "") for e in data}
    if not isinstance(data, dict):
        raise DeployError(f"--parameters-file {path}: expected an object of Key: Value, or a list of ParameterKey/ParameterValue")
    pairs = []
    for key, value in data.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif not isinstance(value, (str, int, float)):
            raise DeployError(f"--parameters-file {path}: {key}: expected a string, number, boolean or list")
        pairs.append(f"{key}={value}")
    return pairs


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    result = {}
    known = stack_parameters()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9]+", key):
            raise DeployError(f"--parameter {pair!r}: expected Key=Value with an alphanumeric key")
        if key not in known:
            raise DeployError(f"--parameter {key}: cfn/scangate.yaml has no such parameter")
        check_parameter_value(key, known[key], value)
        result[key] = value
    reserved = set(FIXED_PARAMETERS) | set(ARTIFACTS) | set(CHECKSUMS) | set(VERSIONS)
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


def check_bucket_owner(aws: Aws, region: str, bucket: str, owner: str) -> None:
    """Refuses to go on unless `owner` owns the bucket: S3 answers HeadBucket with ExpectedBucketOwner of another
    account with 403. A bucket of our name in someone else's account (registered where ours was deleted, or
    before ours was created) must neither receive our code nor be named to the stack instances."""
    try:
        aws.call("s3", region, "head_bucket", Bucket=bucket, ExpectedBucketOwner=owner)
    except NotFound:
        raise DeployError(f"s3://{bucket} ({region}) does not exist: the artifact bucket stack must create it") from None
    except DeployError as err:
        raise DeployError(
            f"s3://{bucket} ({region}) is not a bucket of account {owner} (HeadBucket with ExpectedBucketOwner "
            f"refused: {err}): another account may own a bucket of that name; nothing is uploaded to it or rolled "
            "out from it"
        ) from None


def upload(aws: Aws, region: str, bucket: str, owner: str, key: str, path: Path, data: bytes, sha256: str) -> str:
    """Puts data (already checked against sha256) at key, unless it is there; returns the object's version id.
    Every call names the bucket's owner, so a bucket of the same name in another account (say, registered in a
    region where ours does not exist yet) is refused by S3 instead of receiving or serving our code; S3 also checks
    the body against ChecksumSHA256."""
    try:
        head = aws.call("s3", region, "head_object", Bucket=bucket, Key=key, ExpectedBucketOwner=owner)
        if head and head.get("Metadata", {}).get("sha256") == sha256:
            aws.note(f"s3://{bucket}/{key} is already there")
            return object_version(head, bucket, key)
    except NotFound:
        pass
    put = aws.call(
        "s3",
        region,
        "put_object",
        shown={"Body": display_path(path)},
        Bucket=bucket,
        Key=key,
        ExpectedBucketOwner=owner,
        Metadata={"sha256": sha256},
        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
        ServerSideEncryption="AES256",
        Body=data,
    )
    if aws.dry_run:
        return f"<VersionId of s3://{bucket}/{key}>"
    return object_version(put, bucket, key)


def object_version(answer: dict | None, bucket: str, key: str) -> str:
    """The VersionId S3 answered (a versioned bucket always names one)."""
    version = (answer or {}).get("VersionId") or ""
    if not version or version == "null":
        raise DeployError(f"s3://{bucket}/{key}: S3 named no object version (is the bucket versioned?); the stack "
                          "pins the Lambda zips by version")
    return version


def caller_account(aws: Aws, region: str) -> str:
    """The account this script runs in: it creates the artifact buckets, so it is their expected owner."""
    found = aws.call("sts", region, "get_caller_identity")
    if aws.dry_run:
        aws.note(f"the account from that answer is shown as {DRY_RUN_ACCOUNT} below (the artifact buckets' owner)")
        return DRY_RUN_ACCOUNT
    account = (found or {}).get("Account", "")
    if not re.fullmatch(r"[0-9]{12}", account):
        raise DeployError(f"sts get-caller-identity: expected a 12-digit account, got {account!r}")
    return account


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
            aws.note(f"build: make release (skipped in a dry run; the plan uses {display_path(args.package_dir)} as it is)")
        else:
            subprocess.run(["make", "release"], cwd=ROOT, check=True)
    try:
        release = load_release(Path(args.package_dir))
    except DeployError as err:
        if aws.dry_run and not (Path(args.package_dir) / "manifest.json").exists():
            where = display_path(Path(args.package_dir) / "manifest.json")
            raise DeployError(f"{where}: missing; a dry run builds nothing: run `make release` first") from None
        raise
    # Checked once up front (nothing is created for a bad build) and again in each upload, on the bytes sent.
    for art in release.artifacts:
        verified_bytes(art)
    aws.note(f"release {release.version} (commit {release.commit}): "
             + ", ".join(f"{a.path.name} {a.sha256[:16]}" for a in release.artifacts))
    owner = caller_account(aws, args.admin_region)

    org_id = args.org_id
    if not org_id:
        found = aws.call("organizations", args.admin_region, "describe_organization")
        org_id = found["Organization"]["Id"] if found else "o-exampleorgid"
        if aws.dry_run:
            aws.note(f"the Organization id from that answer is shown as {org_id} below")

    versions: dict[str, dict[str, str]] = {}  # region -> ARTIFACTS parameter -> S3 object version there
    for region in args.regions:
        bucket = ensure_artifact_bucket(aws, args, region, org_id)
        check_bucket_owner(aws, region, bucket, owner)
        for art in release.artifacts:
            version = upload(aws, region, bucket, owner, art.key, art.path, verified_bytes(art), art.sha256)
            for param in VERSIONS.values():
                if release.for_param(param) is art:
                    versions.setdefault(region, {})[param] = version

    template_bytes = STACK_TEMPLATE.read_bytes()
    template_sha = hashlib.sha256(template_bytes).hexdigest()
    admin_bucket = f"{args.prefix}-{args.admin_region}"
    if args.admin_region not in args.regions:
        ensure_artifact_bucket(aws, args, args.admin_region, org_id)
    template_key = f"templates/scangate/{template_sha[:16]}/scangate.yaml"
    upload(aws, args.admin_region, admin_bucket, owner, template_key, STACK_TEMPLATE, template_bytes, template_sha)
    template_url = f"https://{admin_bucket}.s3.{args.admin_region}.amazonaws.com/{template_key}"

    values = {"CodeBucket": args.prefix, "CodeBucketAppendRegion": "true", "CodeBucketOwner": owner}
    values.update({param: release.for_param(param).key for param in ARTIFACTS})
    values.update({param: release.for_param(of).sha256 for param, of in CHECKSUMS.items()})
    values.update({param: "" for param in VERSIONS})  # pinned per region below (instance overrides)
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

    # Right before the roll-out: every region's bucket is still ours (a bucket deleted and re-registered by another
    # account since the uploads would otherwise serve the stack instances).
    for region in args.regions:
        check_bucket_owner(aws, region, f"{args.prefix}-{region}", owner)

    def pins(region: str) -> list[dict]:
        """The instance overrides of one region: each Lambda zip's key with its object version in that region."""
        out = []
        for version_param, key_param in VERSIONS.items():
            out.append({"ParameterKey": key_param, "ParameterValue": release.for_param(key_param).key})
            out.append({"ParameterKey": version_param, "ParameterValue": versions[region][key_param]})
        return out

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

    # One operation per region and kind: the overrides differ per region (object versions).
    for region in args.regions:
        for kind in ("create", "update"):
            ous = [ou for ou in args.ous if ((ou, region) in existing) == (kind == "update")]
            if not ous:
                continue
            result = aws.call(
                "cloudformation",
                args.admin_region,
                f"{kind}_stack_instances",
                StackSetName=args.stack_set_name,
                DeploymentTargets={"OrganizationalUnitIds": ous},
                Regions=[region],
                ParameterOverrides=pins(region),
                OperationPreferences=preferences,
                CallAs=args.call_as,
            )
            wait_operation(aws, args, result.get("OperationId") if result else None, f"{kind}-instances {region}")
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
                        metavar="Key=Value", help="any cfn/scangate.yaml parameter but the script's own (repeatable)")
    parser.add_argument("--parameters-file", metavar="FILE",
                        help='JSON {"Key": "Value"} or [{"ParameterKey": .., "ParameterValue": ..}]; --parameter wins')
    parser.add_argument("--package-dir", "--dist", dest="package_dir", default=str(ROOT / "dist"),
                        help="the output of `make release`: manifest.json and the files it names (default dist/)")
    parser.add_argument("--skip-build", action="store_true", help="use the release in --package-dir as it is")
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
        pairs = read_parameters_file(args.parameters_file) if args.parameters_file else []
        args.parameters = parse_parameters(pairs + args.parameter_pairs)
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

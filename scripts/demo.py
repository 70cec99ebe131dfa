#!/usr/bin/env python3
"""`make demo`: scangate end to end on this machine, AWS emulated by moto.

Started by scripts/demo.sh after the build, with the project's .venv Python (boto3 and
moto are there). It creates the stack's pieces in moto (KMS key, secret, report bucket,
queue + DLQ, the bucket's notification to the queue, Security Hub), runs the runner
(`scangate scan image … --wait`) with the fake QScanner downloaded over loopback, lets
the S3 notification reach the queue, feeds the queue to the report-processor's own
handler (examples/local_lambda.rs; this script plays Lambda's SQS event source mapping),
reads Security Hub, runs the pipeline gate's handler (examples/local_gate.rs), and does it
again with one CVE fixed; then a forged upload that must change nothing. Each build is a
verified CodeBuild build: a CodeBuild stand-in (`CodeBuildStandIn`) answers the processor's
BatchGetBuilds/BatchGetProjects for the demo's builds, the runner writes with a session of
the scan role named `AWSCodeBuild-<uuid>` (moto's STS AssumeRole), and `S3Requesters`, in
front of moto's S3, records which session signed each PutObject (moto's S3 notifications
carry no `userIdentity`; S3's own do). Exit 0 when everything happened as the story says,
1 otherwise.
Every process it starts is stopped and its temporary directory removed on exit, on an
error and on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
NAME = "scangate"
PROJECT = f"qualys-codebuild-image-{REGION}"
SCAN_ROLE = f"qualys-{NAME}-scan-{REGION}"
# Another team's CodeBuild project (not one of the stack's scan projects) and its image: the forger's build.
OTHER_PROJECT = "team-b-tools"
OTHER_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team-b/tools:7"
# The buildspec the scan project runs (a build that ran another one is not verified).
BUILDSPEC = "version: 0.2\n# the scan project's buildspec (cfn/scangate.yaml, ImageScanProject)\n"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop/web:1.4.2"
FIXED_CVE = "CVE-2022-37434"
# The fake Qualys token: only ever in the secret and in the runner's environment.
FAKE_TOKEN = "demo-" + uuid.uuid4().hex
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"]


class DemoError(Exception):
    """The story did not go as told; the message says what happened instead."""


def say(line: str = "") -> None:
    print(line, flush=True)


def step(title: str) -> None:
    say()
    say(f"==> {title}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("      " + line for line in text[-lines:])


def forward(handler: http.server.BaseHTTPRequestHandler, upstream: tuple[str, int], body: bytes):
    """Sends `handler`'s request (with `body`) to `upstream`; returns (status, headers, data)."""
    import http.client  # noqa: PLC0415

    drop = ("connection", "transfer-encoding", "expect", "content-length")
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in drop}
    headers["Content-Length"] = str(len(body))
    conn = http.client.HTTPConnection(*upstream, timeout=60)
    try:
        conn.request(handler.command, handler.path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def request_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return out
            out += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def answer(handler: http.server.BaseHTTPRequestHandler, status: int, headers, data: bytes) -> None:
    handler.send_response(status)
    length = str(len(data))
    for k, v in headers:
        if k.lower() in ("connection", "transfer-encoding", "content-length", "date", "server"):
            if k.lower() == "content-length" and handler.command == "HEAD":
                length = v  # HEAD: the object's size, no body
            continue
        handler.send_header(k, v)
    handler.send_header("Content-Length", length)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 with `handler_class`, served from a daemon thread."""

    def __init__(self, handler_class) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class S3Requesters:
    """moto's S3 behind a loopback recorder of who wrote each object.

    S3 records the requester of a PutObject (the signing credentials' principal) and puts it in
    its notification as `userIdentity.principalId` (`AWS:<role id>:<session name>` for a role
    session); moto's notifications carry no `userIdentity`. Writers reach S3 through this
    recorder (`AWS_ENDPOINT_URL_S3`): it forwards every request to moto unchanged and notes,
    for each PutObject moto accepted, the access key id of its SigV4 `Authorization` header
    (moto checks no signatures; S3 would). `principals` maps the access keys the demo was
    issued by STS to the principal STS named (GetCallerIdentity `UserId`). The demo's event
    source then adds that principal to moto's notification of the same key and ETag: nothing
    the writer chose (key, metadata, body) decides it."""

    def __init__(self, moto_endpoint: str) -> None:
        upstream = urllib.parse.urlsplit(moto_endpoint)
        self.principals: dict[str, str] = {}
        self.written: dict[tuple[str, str], str] = {}
        self.recorded = threading.Condition()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # noqa: ARG002
                pass

            def relay(self) -> None:
                body = request_body(self)
                status, headers, data = forward(self, (upstream.hostname, upstream.port), body)
                url = urllib.parse.urlsplit(self.path)
                parts = url.path.lstrip("/").split("/", 1)  # path style: /<bucket>/<key>
                copy = any(k.lower() == "x-amz-copy-source" for k in self.headers.keys())
                # A PutObject (the Rust SDK adds `?x-id=PutObject`), not a part, tagging, ACL or copy.
                put = set(urllib.parse.parse_qs(url.query, keep_blank_values=True)) <= {"x-id"}
                if self.command == "PUT" and status == 200 and len(parts) == 2 and put and not copy:
                    auth = self.headers.get("Authorization", "")
                    found = re.search(r"Credential=([A-Z0-9]+)/", auth)
                    etag = next((v for k, v in headers if k.lower() == "etag"), "").strip('"')
                    principal = recorder.principals.get(found.group(1)) if found else None
                    if principal:
                        with recorder.recorded:
                            recorder.written[(urllib.parse.unquote(parts[1]), etag)] = principal
                            recorder.recorded.notify_all()
                answer(self, status, headers, data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = relay

        self.http = LoopbackServer(Handler)
        self.url = self.http.url

    def with_requester(self, body: str) -> str:
        """moto's notification body with `userIdentity.principalId` of each record's writer, as
        S3 records it; a record whose object the recorder did not see written stays without.
        moto sends the notification before it answers the PutObject, so the recorder may note the
        writer a moment after the message arrives: wait for it a few seconds."""
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        if not isinstance(doc, dict) or not isinstance(doc.get("Records"), list):
            return body
        for r in doc["Records"]:
            try:
                obj = r["s3"]["object"]
                written = (urllib.parse.unquote_plus(obj["key"]), obj.get("eTag", ""))
            except (KeyError, TypeError):
                continue
            with self.recorded:
                self.recorded.wait_for(lambda w=written: w in self.written, timeout=5)
                principal = self.written.get(written)
            if principal and "userIdentity" not in r:
                r["userIdentity"] = {"principalId": principal}
        return json.dumps(doc)


class CodeBuildStandIn:
    """CodeBuild's BatchGetBuilds and BatchGetProjects (JSON 1.1, `X-Amz-Target:
    CodeBuild_20161006.<operation>`) for the demo's builds, on loopback; the processor reaches
    it through `AWS_ENDPOINT_URL_CODEBUILD`. moto's CodeBuild returns fixed fields (no
    environment variables, times or buildspec of the build), which is what the processor
    checks. Any other operation goes to moto unchanged."""

    def __init__(self, moto_endpoint: str) -> None:
        upstream = urllib.parse.urlsplit(moto_endpoint)
        self.builds: dict[str, dict] = {}
        self.projects: dict[str, dict] = {}
        self.asked: Counter = Counter()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # noqa: ARG002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = request_body(self)
                target = self.headers.get("X-Amz-Target", "")
                operation = target.rsplit(".", 1)[-1]
                if operation not in ("BatchGetBuilds", "BatchGetProjects"):
                    answer(self, *forward(self, (upstream.hostname, upstream.port), body))
                    return
                stand_in.asked[operation] += 1
                try:
                    ask = json.loads(body or b"{}")
                except ValueError:
                    ask = {}
                if operation == "BatchGetBuilds":
                    ids = [i for i in ask.get("ids", []) if isinstance(i, str)]
                    known = [stand_in.builds[i] for i in ids if i in stand_in.builds]
                    out = {"builds": known, "buildsNotFound": [i for i in ids if i not in stand_in.builds]}
                else:
                    names = [n for n in ask.get("names", []) if isinstance(n, str)]
                    known = [stand_in.projects[n] for n in names if n in stand_in.projects]
                    out = {"projects": known, "projectsNotFound": [n for n in names if n not in stand_in.projects]}
                data = json.dumps(out).encode()
                answer(self, 200, [("Content-Type", "application/x-amz-json-1.1"),
                                   ("x-amzn-RequestId", str(uuid.uuid4()))], data)

        self.http = LoopbackServer(Handler)
        self.url = self.http.url

    def project(self, name: str, role_arn: str) -> None:
        self.projects[name] = {
            "name": name,
            "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{name}",
            "source": {"type": "NO_SOURCE", "buildspec": BUILDSPEC},
            "serviceRole": role_arn,
            "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                            "computeType": "BUILD_GENERAL1_SMALL"},
        }

    def start(self, project: str, build_uuid: str, env: dict[str, str]) -> str:
        """A build of `project`'s own buildspec, running from now, with `env` (plain text)."""
        build_id = f"{project}:{build_uuid}"
        self.builds[build_id] = {
            "id": build_id,
            "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}",
            "projectName": project,
            "buildStatus": "IN_PROGRESS",
            "currentPhase": "BUILD",
            "startTime": time.time() - 1,
            "initiator": "scangate-demo",
            "source": {"type": "NO_SOURCE", "buildspec": self.projects[project]["source"]["buildspec"]},
            "environment": {
                **self.projects[project]["environment"],
                "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in env.items()],
            },
        }
        return self.builds[build_id]["arn"]

    def finish(self, build_arn: str, status: str) -> None:
        build = self.builds[build_arn.rsplit("/", 1)[-1]]
        build.update(buildStatus=status, currentPhase="COMPLETED", endTime=time.time() + 1)


class Demo:
    def __init__(self, bin_dir: Path, keep: bool) -> None:
        self.bin_dir = bin_dir
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix="scangate-demo-"))
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.http: http.server.ThreadingHTTPServer | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.poller: threading.Thread | None = None
        self.poller_error: str | None = None
        self.messages_done = 0
        self.test_events = 0
        self.runner: subprocess.Popen | None = None
        self.recorder: S3Requesters | None = None
        self.codebuild: CodeBuildStandIn | None = None
        self.started = time.monotonic()

    # ------------------------------------------------------------------ processes
    def binary(self, rel: str) -> Path:
        path = self.bin_dir / rel
        if not path.is_file():
            raise DemoError(f"{path} is missing: scripts/demo.sh builds it (cargo build)")
        return path

    def spawn(self, name: str, argv: list[str], **kw) -> subprocess.Popen:
        # Own process group: stopped by us, in order, even after a Ctrl-C in the terminal.
        proc = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append((name, proc))
        return proc

    def cleanup(self) -> None:
        self.stop.set()
        for name, proc in reversed(self.procs):
            if proc.poll() is not None:
                continue
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if self.poller:
            self.poller.join(timeout=5)
        if self.http:
            self.http.shutdown()
            self.http.server_close()
        for stand_in in (self.recorder, self.codebuild):
            if stand_in:
                stand_in.http.close()
        if self.keep:
            say(f"    (kept {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def aws_env(self) -> dict[str, str]:
        # Only what a process needs from this shell: no AWS profile, no scangate or processor
        # settings of the user's leak into the story.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_MAX_ATTEMPTS="1",
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env

    # ------------------------------------------------------------------ moto
    def start_moto(self) -> None:
        server = ROOT / ".venv/bin/moto_server"
        if not server.is_file():
            raise DemoError(f"{server} is missing: run `make venv`")
        self.moto_log = self.tmp / "moto.log"
        # A free port can be taken between the probe and moto's bind: then moto exits, try another.
        for attempt in range(3):
            port = free_port()
            self.endpoint = f"http://127.0.0.1:{port}"
            with open(self.moto_log, "wb") as log:
                proc = self.spawn(
                    "moto",
                    [str(server), "-H", "127.0.0.1", "-p", str(port)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self.wait_for_moto(proc):
                break
            if attempt == 2:
                raise DemoError(f"moto_server exited with {proc.returncode} three times:\n{tail(self.moto_log)}")
        import boto3  # noqa: PLC0415 (only after `make venv` is known to be done)
        from importlib.metadata import version  # noqa: PLC0415

        from botocore.config import Config  # noqa: PLC0415

        one_attempt = Config(retries={"max_attempts": 1, "mode": "standard"})
        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=REGION,
        )
        self.client = lambda service: session.client(service, endpoint_url=self.endpoint, config=one_attempt)
        self.s3 = self.client("s3")
        self.sqs = self.client("sqs")
        self.hub = self.client("securityhub")
        say(f"    moto {version('moto')} on {self.endpoint} (account {ACCOUNT}, {REGION}); log in {self.moto_log.name}")

    def wait_for_moto(self, proc: subprocess.Popen) -> bool:
        """True once our moto answers; False when it exited (port taken)."""
        deadline = time.monotonic() + 60
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=2) as r:
                    if r.status == 200:
                        time.sleep(0.3)  # an answer from another server on a port ours failed to bind
                        return proc.poll() is None
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DemoError(f"moto_server did not answer on {self.endpoint} within 60 s:\n{tail(self.moto_log)}")
            time.sleep(0.2)
        return False

    def create_stack(self) -> None:
        kms = self.client("kms")
        key = kms.create_key(Description=f"scangate {NAME} - reports, queue, secret")["KeyMetadata"]
        self.key_arn = key["Arn"]
        kms.enable_key_rotation(KeyId=key["KeyId"])
        kms.create_alias(AliasName=f"alias/qualys-{NAME}", TargetKeyId=key["KeyId"])
        say(f"    KMS key        {self.key_arn} (alias/qualys-{NAME}, rotation on)")

        sm = self.client("secretsmanager")
        self.secret_name = f"qualys-{NAME}-credentials"
        sm.create_secret(
            Name=self.secret_name,
            KmsKeyId=self.key_arn,
            SecretString=json.dumps({"accessToken": FAKE_TOKEN}),
        )
        say(f'    secret         {self.secret_name} = {{"accessToken": "<a fake token>"}}, encrypted with the key')

        self.bucket = f"qualys-{NAME}-reports-{ACCOUNT}-{REGION}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": self.key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        say(f"    report bucket  s3://{self.bucket} (versioned, default SSE-KMS with the key)")

        dlq = self.sqs.create_queue(QueueName=f"qualys-{NAME}-reports-dlq", Attributes={"KmsMasterKeyId": self.key_arn})
        dlq_arn = self.queue_arn(dlq["QueueUrl"])
        self.queue_url = self.sqs.create_queue(
            QueueName=f"qualys-{NAME}-reports",
            Attributes={
                "KmsMasterKeyId": self.key_arn,
                # Short for the demo (the stack uses 1800 s): a failed message comes back quickly.
                "VisibilityTimeout": "20",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            },
        )["QueueUrl"]
        self.queue_arn_ = self.queue_arn(self.queue_url)
        say(f"    queue          qualys-{NAME}-reports (dead letters to qualys-{NAME}-reports-dlq after 5 receives)")

        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": self.queue_arn_,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": "prefix", "Value": "scans/"},
                                    {"Name": "suffix", "Value": suffix},
                                ]
                            }
                        },
                    }
                    for suffix in (".sarif", ".sarif.json")
                ]
            },
        )
        say("    notification   s3:ObjectCreated:* on scans/…(.sarif|.sarif.json) -> the queue (moto delivers it)")

        self.hub.enable_security_hub(EnableDefaultStandards=False)
        say("    Security Hub   enabled")

        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "codebuild.amazonaws.com"}}]}
        role = self.client("iam").create_role(RoleName=SCAN_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        self.scan_role_arn, self.scan_role_id = role["Arn"], role["RoleId"]
        say(f"    scan role      {SCAN_ROLE} (unique id {self.scan_role_id}: SCAN_ROLE_IDS)")
        self.recorder = S3Requesters(self.endpoint)
        say(f"    S3 requesters  {self.recorder.url}: writers reach moto's S3 through it; it notes which STS session")
        say("                   signed each PutObject, which S3 puts in its notification (moto's carry no userIdentity)")
        self.codebuild = CodeBuildStandIn(self.endpoint)
        self.codebuild.project(PROJECT, self.scan_role_arn)
        self.codebuild.project(OTHER_PROJECT, self.scan_role_arn)
        say(f"    CodeBuild      {self.codebuild.url}: a stand-in answering BatchGetBuilds/BatchGetProjects for the demo's")
        say(f"                   builds of {PROJECT} (a scan project) and {OTHER_PROJECT} (another team's; moto's")
        say("                   CodeBuild returns fixed fields); the processor reaches it by AWS_ENDPOINT_URL_CODEBUILD")

        self.report_group = PROJECT
        try:
            self.client("codebuild").create_report_group(
                name=self.report_group,
                type="TEST",
                exportConfig={"exportConfigType": "NO_EXPORT"},
            )
            say(f"    report group   {self.report_group} (CodeBuild, TEST)")
            self.report_group_created = True
        except Exception as e:  # noqa: BLE001 (moto answers "not implemented" in several shapes)
            status = getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            say(
                f"    report group   not emulated by moto (CreateReportGroup answers HTTP {status});"
                " each round shows the JUnit file the buildspec hands to it"
            )
            self.report_group_created = False

    def build_session(self, build_uuid: str) -> dict[str, str]:
        """The credentials CodeBuild gives build `<project>:<build_uuid>`: a session of the scan role
        named `AWSCodeBuild-<uuid>` (moto's STS). The recorder learns the principal STS names for them."""
        import boto3  # noqa: PLC0415

        got = self.client("sts").assume_role(RoleArn=self.scan_role_arn, RoleSessionName=f"AWSCodeBuild-{build_uuid}")
        c = got["Credentials"]
        creds = {"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
                 "AWS_SESSION_TOKEN": c["SessionToken"]}
        who = boto3.client(
            "sts", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
        ).get_caller_identity()
        assert self.recorder is not None
        self.recorder.principals[c["AccessKeyId"]] = f"AWS:{who['UserId']}"
        return creds

    def queue_arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # ------------------------------------------------------------------ QScanner download
    def serve_qscanner(self) -> None:
        fake = self.binary("examples/fake_qscanner")
        www = self.tmp / "www"
        www.mkdir()
        gz = gzip.compress(fake.read_bytes(), compresslevel=1)
        (www / "qscanner.gz").write_bytes(gz)
        digest = hashlib.sha256(gz).hexdigest()
        self.qscanner_sha256 = digest  # pinned, as the stack's QScannerSha256
        (www / "qscanner.gz.sha256").write_text(f"{digest}  qscanner.gz\n")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(www), **kw)

            def log_message(self, *args) -> None:  # noqa: ARG002
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.qscanner_url = f"http://127.0.0.1:{self.http.server_address[1]}/qscanner.gz"
        say(f"    {self.qscanner_url} ({len(gz)} bytes) and qscanner.gz.sha256 ({digest[:16]}…)")

    # ------------------------------------------------------------------ the processor
    def start_processor(self) -> None:
        env = self.aws_env()
        env.update(
            REPORT_BUCKET=self.bucket,
            REPORT_KMS_KEY_ID=self.key_arn,
            PUBLISHER_PROJECT="",
            # Provenance (docs/security.md): the scan project whose running builds vouch for a report,
            # the role their sessions are; CodeBuild is the demo's stand-in.
            SCAN_PROJECTS=PROJECT,
            SCAN_ROLE_IDS=self.scan_role_id,
            AWS_ENDPOINT_URL_CODEBUILD=self.codebuild.url,
            RUST_LOG="info",
            AWS_LAMBDA_LOG_FORMAT="JSON",  # as the stack's LoggingConfig
            LOCAL_ACCOUNT_ID=ACCOUNT,
        )
        self.processor_log = self.tmp / "processor.log"
        self.lam = self.spawn(
            "report-processor",
            [str(self.binary("examples/local_lambda"))],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self.read_processor_logs, daemon=True).start()
        self.poller = threading.Thread(target=self.event_source_mapping, daemon=True)
        self.poller.start()

    def read_processor_logs(self) -> None:
        """Keeps the JSON logs in a file; tells the story of each report in one line.

        The story comes from the `outcome` field the handler puts on each report's last log
        line (processed, skipped, quarantined, failed; test_event for s3:TestEvent), not from
        the message wording: an SQS batch's response names only the failed messages."""
        assert self.lam.stderr is not None
        with open(self.processor_log, "w") as log:
            for line in self.lam.stderr:
                log.write(line)
                log.flush()
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                fields = rec.get("fields", {})
                msg = fields.get("message", "")
                outcome = fields.get("outcome")
                key = (rec.get("span") or {}).get("key", "?")
                if outcome == "processed":
                    say(
                        f"    lambda | {key}: {fields.get('findings')} findings, {fields.get('imported')} imported"
                        f" into Security Hub, {fields.get('archived')} archived, {fields.get('unchanged')} unchanged;"
                        f" passed={json.dumps(fields.get('passed'))} ({fields.get('duration_ms')} ms)"
                    )
                elif outcome == "test_event":
                    say("    lambda | s3:TestEvent ignored")
                elif outcome in ("quarantined", "skipped", "failed"):
                    detail = fields.get("reason") or fields.get("error") or ""
                    say(f"    lambda | {key}: {msg}: {detail}")
                elif rec.get("level") in ("ERROR", "WARN"):
                    say(f"    lambda | {rec.get('level')}: {msg} {fields.get('error', '')}".rstrip())

    def invoke(self, payload: dict) -> dict:
        """One invocation of the local Lambda; its EMF metric lines are skipped."""
        assert self.lam.stdin is not None and self.lam.stdout is not None
        try:
            self.lam.stdin.write(json.dumps(payload) + "\n")
            self.lam.stdin.flush()
        except OSError as e:
            time.sleep(0.5)  # let the log reader catch the last lines
            raise DemoError(
                f"the report-processor is gone (exit {self.lam.poll()}; {e}):\n{tail(self.processor_log)}"
            ) from e
        while True:
            line = self.lam.stdout.readline()
            if not line:
                raise DemoError(f"the report-processor stopped (exit {self.lam.poll()}):\n{tail(self.processor_log)}")
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if "invocation" in doc:
                return doc

    def event_source_mapping(self) -> None:
        """What Lambda's SQS event source mapping does: long-poll, invoke with the batch,
        delete the messages the function did not report in `batchItemFailures`."""
        try:
            while not self.stop.is_set():
                got = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                messages = got.get("Messages", [])
                if not messages or self.stop.is_set():
                    continue
                records = []
                for m in messages:
                    records.append(
                        {
                            "messageId": m["MessageId"],
                            "receiptHandle": m["ReceiptHandle"],
                            "body": self.recorder.with_requester(m["Body"]),
                            "attributes": m.get("Attributes", {}),
                            "messageAttributes": m.get("MessageAttributes", {}),
                            "md5OfBody": m.get("MD5OfBody", ""),
                            "eventSource": "aws:sqs",
                            "eventSourceARN": self.queue_arn_,
                            "awsRegion": REGION,
                        }
                    )
                    described = describe_body(m["Body"])
                    if described.startswith("s3:TestEvent"):
                        with self.lock:
                            self.test_events += 1
                    say(f"    sqs    | message {m['MessageId'][:8]}…: {described}")
                answer = self.invoke({"Records": records})
                if "error" in answer:
                    say(f"    sqs    | the invocation failed, the batch comes back later: {answer['error']}")
                    continue
                failed = {f.get("itemIdentifier") for f in answer["response"].get("batchItemFailures", [])}
                done = [m for m in messages if m["MessageId"] not in failed]
                for m in done:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
                with self.lock:
                    self.messages_done += len(done)
                tail_note = f"; {len(failed)} reported failed, delivered again later" if failed else ""
                say(f"    sqs    | batch of {len(messages)} handled: {len(done)} deleted{tail_note}")
        except Exception as e:  # noqa: BLE001 (reported by the main thread)
            if not self.stop.is_set():
                self.poller_error = f"{type(e).__name__}: {e}"
                say(f"    sqs    | the poller stopped: {self.poller_error}")
                # Nothing will process the report now: stop a waiting runner instead of letting it time out.
                runner = self.runner
                if runner and runner.poll() is None:
                    try:
                        os.killpg(runner.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass

    # ------------------------------------------------------------------ a build
    def scan(self, round_no: int, sarif: Path) -> dict:
        build_uuid = str(uuid.uuid4())
        build_dir = self.tmp / f"build-{round_no}"
        build_dir.mkdir()
        build_arn = self.codebuild.start(PROJECT, build_uuid, {"IMAGE_ID": IMAGE})
        env = self.aws_env()
        env.update(self.build_session(build_uuid))
        env.update(
            # Writes reach S3 through the recorder of requesters (S3Requesters).
            AWS_ENDPOINT_URL_S3=self.recorder.url,
            # What CodeBuild and the buildspec (cfn/scangate.yaml) give the runner.
            CODEBUILD_BUILD_ID=f"{PROJECT}:{build_uuid}",
            CODEBUILD_BUILD_ARN=build_arn,
            QUALYS_SECRET_ID=self.secret_name,
            QUALYS_POD="US1",
            QSCANNER_URL=self.qscanner_url,
            QSCANNER_SHA256=self.qscanner_sha256,
            # The runner's private directory, as the buildspec's install phase makes it (mktemp -d).
            SCANGATE_WORK_DIR=str(build_dir / "work"),
            QSCANNER_CACHE_DIR=str(self.tmp / "qscanner-cache"),
            SCAN_MODE="evaluate-policy",
            REPORT_BUCKET=self.bucket,
            REPORT_KMS_KEY_ID=self.key_arn,
            HOME=str(build_dir),
            # The fake QScanner's report, and its exit code for a DENY policy (as QScanner's).
            FAKE_QSCANNER_SARIF=str(sarif),
            FAKE_QSCANNER_EXIT="42",
        )
        say(f"    $ scangate scan image {IMAGE} --wait=90")
        say(
            f"      (CODEBUILD_BUILD_ID={PROJECT}:{build_uuid[:8]}…, QUALYS_SECRET_ID={self.secret_name},"
            " QSCANNER_URL, REPORT_BUCKET, REPORT_KMS_KEY_ID, SCAN_MODE=evaluate-policy)"
        )
        proc = self.spawn(
            "scangate",
            [str(self.binary("scangate")), "scan", "image", IMAGE, "--wait=90"],
            cwd=build_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.runner = proc
        assert proc.stdout is not None
        output = []
        in_summary = False
        hidden = 0
        for line in proc.stdout:
            line = line.rstrip("\n")
            output.append(line)
            if FAKE_TOKEN in line:
                raise DemoError("the runner printed the Qualys token")
            if re.match(r"scangate: downloaded \d+%", line):
                continue  # download progress
            # The processor's summary.md, printed by the runner: in full the first time only.
            if line.startswith("## scangate:"):
                in_summary = True
            elif in_summary and line.startswith("scangate: "):
                in_summary = False
                if hidden:
                    say(f"    runner | (… the processor's summary.md, {hidden} lines, shaped as in round 1 …)")
            if in_summary and round_no > 1 and not line.startswith("## "):
                hidden += 1
                continue
            say(f"    runner | {line}")
        code = proc.wait(timeout=120)
        self.codebuild.finish(build_arn, "SUCCEEDED" if code == 0 else "FAILED")
        outputs = read_env_file(build_dir / "work" / "outputs.env")
        return {"code": code, "dir": build_dir, "outputs": outputs, "build_uuid": build_uuid, "log": output}

    def verdict(self, key: str) -> dict:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)

    def hub_findings(self) -> list[dict]:
        # moto's GetFindings ignores Filters; the demo selects client-side what the console would filter.
        findings, token = [], None
        while True:
            kw = {"MaxResults": 100, **({"NextToken": token} if token else {})}
            page = self.hub.get_findings(**kw)
            findings += page.get("Findings", [])
            token = page.get("NextToken")
            if not token:
                return findings

    def gate(self, verdict_key: str, extra: dict | None = None) -> tuple[str, list[str]]:
        params = {"verdict_key": verdict_key, "wait_seconds": 0, **(extra or {})}
        event = {
            "CodePipeline.job": {
                "id": str(uuid.uuid4()),
                "accountId": ACCOUNT,
                "data": {
                    "actionConfiguration": {
                        "configuration": {"FunctionName": "qualys-scangate-gate", "UserParameters": json.dumps(params)}
                    },
                    "inputArtifacts": [],
                    "outputArtifacts": [],
                    # CodePipeline sends temporary credentials here; the gate never reads them.
                    "artifactCredentials": {"accessKeyId": "testing", "secretAccessKey": "testing", "sessionToken": "x"},
                },
            }
        }
        env = self.aws_env()
        # As Lambda sets it: the gate answers only the jobs of an action that invokes it (FunctionName above).
        env.update(REPORT_BUCKET=self.bucket, RUST_LOG="warn", AWS_LAMBDA_LOG_FORMAT="JSON",
                   AWS_LAMBDA_FUNCTION_NAME="qualys-scangate-gate")
        say(f"    UserParameters {json.dumps(params)}")
        proc = subprocess.run(
            [str(self.binary("examples/local_gate"))],
            input=json.dumps(event),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = proc.stdout.splitlines()
        for line in lines:
            say(f"    gate   | {line}")
        for line in proc.stderr.splitlines():
            say(f"    gate   ! {line}")
        if proc.returncode != 0:
            raise DemoError(f"the pipeline gate ended without a job result (exit {proc.returncode})")
        result = next((line.split(": ", 1)[1] for line in lines if line.startswith("result: ")), "?")
        return result, lines

    # ------------------------------------------------------------------ the story
    def round(self, n: int, sarif: Path, title: str) -> dict:
        step(title)
        build = self.scan(n, sarif)
        code = build["code"]
        key = build["outputs"].get("verdict_key", "")
        if code == 42:
            say(
                f"    scangate exited 42: the gate FAILED this build - expected for this image (see the reasons above)."
                " In CodeBuild the build fails here."
            )
        elif code == 0:
            say("    scangate exited 0: the gate passed.")
        else:
            why = f"the SQS poller failed: {self.poller_error}" if self.poller_error else "processor log:"
            raise DemoError(
                f"scangate exited {code}, expected 42 (gate failed on the processor's verdict); "
                f"{why}\n{tail(self.processor_log)}"
            )
        if not key:
            raise DemoError(f"outputs.env has no verdict_key: {build['outputs']}")
        verdict = self.verdict(key)
        unverified = [w for w in verdict.get("warnings", []) if "unverified" in w]
        if not key.startswith(f"results/{PROJECT}/") or unverified:
            raise DemoError(f"round {n}: the processor did not verify the build's report ({key}): {unverified}")
        writers = sorted({p for (k, _), p in self.recorder.written.items() if build["build_uuid"] in k})
        say(
            f"    verified: BatchGetBuilds shows build {build['build_uuid'][:8]}… of {PROJECT} running with its own"
            f" buildspec and IMAGE_ID={IMAGE}; S3 recorded its writer as {', '.join(writers)}"
        )
        say(f"    verdict s3://{self.bucket}/{key}: passed={json.dumps(verdict['passed'])}")
        for reason in verdict.get("reasons", []):
            say(f"      - {reason}")

        junit = build["dir"] / "work" / "junit.xml"
        if not junit.is_file():
            raise DemoError(f"the runner did not download the processor's JUnit report to {junit}")
        root = ET.parse(junit).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        tests = sum(int(s.get("tests", 0)) for s in suites)
        failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        where = (
            f"report group {self.report_group}"
            if self.report_group_created
            else f"report group {self.report_group} (in CodeBuild; not emulated here)"
        )
        say(
            f"    JUnit {junit.name}: {tests} test cases, {failures} failing; the buildspec's reports: section"
            f" hands it to {where}"
        )
        if n == 1:
            for case in root.iter("testcase"):
                failure = case.find("failure")
                status = "FAIL" if failure is not None else "pass"
                detail = failure.get("message", "") if failure is not None else (case.findtext("system-out") or "")
                say(f"      {status}  {case.get('classname')} / {case.get('name')}: {detail.splitlines()[0] if detail else ''}")

        step(f"Round {n}: Security Hub (GetFindings)")
        findings = [f for f in self.hub_findings() if f.get("AwsAccountId") == ACCOUNT]
        active = [f for f in findings if f.get("RecordState") == "ACTIVE"]
        archived = [f for f in findings if f.get("RecordState") == "ARCHIVED"]
        by_sev = Counter((f.get("Severity") or {}).get("Label", "?") for f in active)
        sev_text = ", ".join(f"{by_sev[s]} {s}" for s in SEVERITIES if by_sev[s])
        say(f"    {len(active)} ACTIVE: {sev_text}")
        say(f"    {len(archived)} ARCHIVED")
        for f in archived:
            cves = [v.get("Id") for v in f.get("Vulnerabilities", []) if v.get("Id")]
            say(f"      ARCHIVED {', '.join(cves) or f.get('Id')}: {f.get('Title')}")

        step(f"Round {n}: the pipeline gate (CodePipeline Lambda invoke action)")
        say("    moto has no CodePipeline job API: the gate's handler runs here and prints the job result it would send.")
        gate_result, _ = self.gate(key)
        if gate_result == "failed":
            say("    The gate FAILED the pipeline stage: expected, the image still fails the policy.")
        return {
            "code": code,
            "verdict": verdict,
            "key": key,
            "active": len(active),
            "archived": archived,
            "gate": gate_result,
        }

    # ------------------------------------------------------------------ a forged upload
    def victim(self, verdict_key: str) -> dict[str, object]:
        """What the victim, a gate and the security team rely on, as bytes: every Security Hub finding,
        every state object, the victim's verdict and the gate's answer on it."""
        findings = sorted(json.dumps(f, sort_keys=True, default=str) for f in self.hub_findings())
        state = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="state/"):
            for o in page.get("Contents", []):
                state[o["Key"]] = self.s3.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
        verdict = self.s3.get_object(Bucket=self.bucket, Key=verdict_key)["Body"].read()
        return {"findings": findings, "state": state, "verdict": verdict}

    def forge(self, creds: dict[str, str], key: str, meta: dict[str, str]) -> dict:
        """Puts an empty report of the victim's image at `key` with the forger's session; waits for its
        (unverified) verdict."""
        import boto3  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        s3 = boto3.client("s3", endpoint_url=self.recorder.url, region_name=REGION,
                          aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                          aws_session_token=creds["AWS_SESSION_TOKEN"],
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        s3.put_object(Bucket=self.bucket, Key=key, Body=empty_report(), Metadata=meta,
                      ServerSideEncryption="aws:kms", SSEKMSKeyId=self.key_arn)
        say(f"    put s3://{self.bucket}/{key} ({', '.join(f'{k}={v}' for k, v in meta.items())})")
        project, segment = key.split("/")[1:3]
        verdict_key = f"results/_unverified/{project}/{segment}/verdict.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.poller_error:
            try:
                verdict = self.verdict(verdict_key)
                break
            except self.s3.exceptions.NoSuchKey:
                time.sleep(0.3)
        else:
            raise DemoError(f"no verdict at {verdict_key} within 60 s:\n{tail(self.processor_log)}")
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"results/{project}/{segment}/")
        if listed.get("KeyCount", 0):
            raise DemoError(f"the forged report got results in its build's own folder: {listed['Contents']}")
        why = next((w for w in verdict.get("warnings", []) if "unverified" in w), None)
        if not why:
            raise DemoError(f"the forged report's verdict says nothing of being unverified: {verdict.get('warnings')}")
        say(f"    verdict s3://{self.bucket}/{verdict_key} (no gate reads it): {why}")
        return verdict

    def forged_round(self, r2: dict) -> dict:
        step(f"Round 3: forged uploads: a clean report of {IMAGE} from a build of another project, then from no build")
        say(f"    The forger has a build of {OTHER_PROJECT} (not a scan project) running with the scan role, scanning")
        say(f"    its own image {OTHER_IMAGE}; its session writes under scans/ as any build of the role can.")
        before = self.victim(r2["key"])
        forger_uuid = str(uuid.uuid4())
        forger_arn = self.codebuild.start(OTHER_PROJECT, forger_uuid, {"IMAGE_ID": OTHER_IMAGE})
        creds = self.build_session(forger_uuid)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        meta = {"scangate-target": IMAGE, "scangate-scan-type": "image", "scangate-scanned-at": now}
        verdicts = [
            self.forge(creds, f"scans/{OTHER_PROJECT}/{forger_uuid}/report.sarif",
                       {**meta, "scangate-build-arn": forger_arn}),
            self.forge(creds, f"scans/{OTHER_PROJECT}/{forger_uuid}-nobuild/report.sarif", meta),
        ]
        self.codebuild.finish(forger_arn, "SUCCEEDED")
        say("    The victim's gate, on its verdict of round 2, after the forgeries:")
        gate_result, _ = self.gate(r2["key"])
        after = self.victim(r2["key"])
        compared = [
            (f"victim's Security Hub findings ({len(before['findings'])}, every field)", before["findings"] == after["findings"]),
            (f"lifecycle state objects ({len(before['state'])})", before["state"] == after["state"]),
            ("victim's verdict (bytes)", before["verdict"] == after["verdict"]),
            ("victim's gate", gate_result == r2["gate"]),
        ]
        changed = [name for name, same in compared if not same]
        if changed:
            raise DemoError(f"round 3: the forged uploads changed {', '.join(changed)}")
        active = sum(1 for f in self.hub_findings() if f.get("RecordState") == "ACTIVE")
        say("    Compared before and after (bytes): the victim's findings, state, verdict and gate are unchanged.")
        last = verdicts[0]
        return {
            "code": "-",
            "verdict": {**last, "counts": last["counts"], "findings_imported": sum(v["findings_imported"] for v in verdicts),
                        "findings_archived": sum(v["findings_archived"] for v in verdicts)},
            "key": None,
            "active": active,
            "archived": [],
            "gate": gate_result,
            "compared": compared,
        }

    def run(self) -> None:
        say("scangate demo: a CodeBuild image scan, its report through S3 -> SQS -> the report-processor,")
        say("findings in Security Hub and the pipeline gate; AWS is emulated by moto on this machine.")

        step("AWS, emulated: moto on loopback, and the stack's pieces (as cfn/scangate.yaml names them)")
        self.start_moto()
        self.create_stack()

        step("QScanner: the fake stand-in (crates/cli/examples/fake_qscanner.rs), gzipped and served with its SHA-256")
        self.serve_qscanner()

        step("report-processor: the Lambda's handler in a local process (examples/local_lambda.rs)")
        say("    This script plays Lambda's SQS event source mapping: long-poll the queue, invoke with the batch,")
        say("    delete the messages the handler does not report in batchItemFailures.")
        say(
            "    Environment: REPORT_BUCKET, REPORT_KMS_KEY_ID, defaults otherwise (MAX_CRITICAL 0, FAIL_ON_POLICY_DENY"
            " true); PUBLISHER_PROJECT empty: no JUnit publishing to report groups, which moto lacks."
        )
        self.start_processor()
        # S3 sends an s3:TestEvent when a notification is configured: let it pass before the story goes on.
        deadline = time.monotonic() + 5
        while self.messages_done < 1 and time.monotonic() < deadline and not self.poller_error:
            time.sleep(0.1)

        fixtures = ROOT / "tests/fixtures"
        r1 = self.round(1, fixtures / "qscanner-image.sarif", f"Round 1: build 1 of {PROJECT} scans {IMAGE}")
        if r1["code"] != 42 or r1["gate"] != "failed":
            raise DemoError(f"round 1: expected the runner's exit 42 and a failed gate, got {r1['code']} / {r1['gate']}")
        if r1["active"] != r1["verdict"]["counts"]["total"] or r1["archived"]:
            raise DemoError(
                f"round 1: expected {r1['verdict']['counts']['total']} ACTIVE and no ARCHIVED findings, "
                f"got {r1['active']} / {len(r1['archived'])}"
            )

        r2 = self.round(
            2,
            fixtures / "qscanner-image-fixed.sarif",
            f"Round 2: {FIXED_CVE} (zlib) fixed; build 2 scans the same image again",
        )
        archived_cves = {v.get("Id") for f in r2["archived"] for v in f.get("Vulnerabilities", [])}
        if len(r2["archived"]) != 1 or FIXED_CVE not in archived_cves:
            raise DemoError(f"round 2: expected exactly one ARCHIVED finding, {FIXED_CVE}; got {sorted(archived_cves)}")
        if r2["gate"] != "failed":
            raise DemoError(f"round 2: expected the gate to fail (Log4Shell is still there), got {r2['gate']}")
        say(f"    The finding of {FIXED_CVE} is ARCHIVED in Security Hub; the other findings kept their ids.")

        step("The same verdict with a team's accepted risk (gate overrides, the verdict itself is unchanged)")
        accepted, _ = self.gate(r2["key"], {"max_critical": 2, "fail_on_policy_deny": False})
        if accepted != "succeeded":
            raise DemoError(f"the gate with overrides: expected succeeded, got {accepted}")

        r3 = self.forged_round(r2)

        step("Summary")
        rows = [
            ("report findings (after dedup)", lambda r: r["verdict"]["counts"]["total"]),
            ("critical / high", lambda r: f"{r['verdict']['counts']['critical']} / {r['verdict']['counts']['high']}"),
            ("imported into Security Hub", lambda r: r["verdict"]["findings_imported"]),
            ("archived in Security Hub", lambda r: r["verdict"]["findings_archived"]),
            ("Security Hub ACTIVE afterwards", lambda r: r["active"]),
            ("runner exit code", lambda r: r["code"]),
            ("pipeline gate", lambda r: r["gate"].upper()),
        ]
        width = max(len(name) for name, _ in rows)
        say(f"    {'':<{width}}  {'round 1':>10}  {'round 2':>10}  {'forged':>10}")
        for name, get in rows:
            say(f"    {name:<{width}}  {get(r1)!s:>10}  {get(r2)!s:>10}  {get(r3)!s:>10}")
        for name, same in r3["compared"]:
            say(f"    {name:<{width + 24}}  {'unchanged' if same else 'CHANGED':>10}")
        if self.poller_error:
            raise DemoError(f"the SQS poller failed: {self.poller_error}")
        say()
        say(
            "Story as expected: both builds fail the gate (Log4Shell and a DENY policy), the fixed CVE is archived,"
            " the forged uploads change nothing."
        )
        say(
            f"{self.messages_done} SQS message(s) handled ({self.test_events} s3:TestEvent, the rest reports)."
            f" Elapsed {time.monotonic() - self.started:.1f} s after the build."
        )


def empty_report() -> bytes:
    """The fixture's image report with every result removed: a complete, clean scan of the image."""
    doc = json.loads((ROOT / "tests/fixtures/qscanner-image.sarif").read_text())
    for run in doc["runs"]:
        run["results"] = []
    return json.dumps(doc).encode()


def describe_body(body: str) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return "not JSON"
    if doc.get("Event") == "s3:TestEvent":
        return "s3:TestEvent (sent when the notification is configured)"
    parts = []
    for r in doc.get("Records", []):
        key = urllib.parse.unquote_plus(r["s3"]["object"]["key"])
        parts.append(f"{r.get('eventName')} s3://{r['s3']['bucket']['name']}/{key}")
    return "; ".join(parts) or "an event without records"


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip().strip("'\"")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, default=ROOT / "target/debug", help="where cargo put the binaries")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, build dirs)")
    args = parser.parse_args()

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops the story and cleans up, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    demo = Demo(args.bin_dir.resolve(), args.keep)
    try:
        demo.run()
        return 0
    except DemoError as e:
        say()
        say(f"DEMO FAILED: {e}")
        return 1
    except Exception as e:  # noqa: BLE001 (an AWS call or a process went wrong: say which, then clean up)
        say()
        say(f"DEMO FAILED: {type(e).__name__}: {e}")
        return 1
    except KeyboardInterrupt:
        say()
        say("Interrupted: stopping what the demo started.")
        return 130
    except SystemExit:
        say()
        say("Terminated: stopping what the demo started.")
        raise
    finally:
        demo.cleanup()


if __name__ == "__main__":
    sys.exit(main())

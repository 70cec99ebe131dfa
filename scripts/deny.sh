#!/usr/bin/env bash
# `make deny`: the dependency policy in deny.toml (licences, bans, sources) and the workspace's
# rust-version against Cargo.lock. Advisories are not checked here: they need the RustSec database,
# which this CI cannot download (docs/dependencies.md says how to run that check).
#
# Needs nothing from this machine but Rust: cargo-deny is installed, pinned, into the project's own .tools/
# (SCANGATE_TOOLS_DIR; gitignored), never into ~/.cargo/bin, and every locked crate (of every target platform:
# cargo-deny reads the whole graph) is fetched into CARGO_HOME before the offline checks. So an empty cargo home
# (`CARGO_HOME=$(mktemp -d) make deny`, which .ci/run does) passes as well as a warm one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CARGO=${CARGO:-cargo}
DENY_VERSION=0.20.2
TOOLS=${SCANGATE_TOOLS_DIR:-$ROOT/.tools}
DENY=$TOOLS/bin/cargo-deny

if [[ ! -x $DENY ]] || [[ $("$DENY" --version 2>/dev/null) != "cargo-deny $DENY_VERSION" ]]; then
  echo "deny: installing cargo-deny $DENY_VERSION (--locked) into ${TOOLS#"$ROOT"/}/ (about 8 minutes on 2 cores, once)…"
  started=$SECONDS
  # Its own target directory: a CARGO_TARGET_DIR of the caller would otherwise be used and locked.
  build_dir=$(mktemp -d)
  trap 'rm -rf "$build_dir"' EXIT
  CARGO_TARGET_DIR=$build_dir "$CARGO" install --quiet --locked --root "$TOOLS" "cargo-deny@$DENY_VERSION"
  echo "deny: installed in $((SECONDS - started)) s"
fi

# Every crate Cargo.lock names, for every platform, into CARGO_HOME (a no-op when they are there already).
# Network is needed here only on a cold cargo home; the checks below run offline.
started=$SECONDS
"$CARGO" fetch --locked --quiet
echo "deny: locked crates on disk ($((SECONDS - started)) s)"

PATH="$TOOLS/bin:$PATH" "$CARGO" deny --offline check licenses bans sources
python3 scripts/locked-msrv.py --check

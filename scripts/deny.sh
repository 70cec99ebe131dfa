#!/usr/bin/env bash
# `make deny`: the dependency policy in deny.toml (licences, bans, sources) and the workspace's
# rust-version against Cargo.lock. Advisories are not checked here: they need the RustSec database,
# which this CI cannot download (docs/dependencies.md says how to run that check).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
DENY_VERSION=0.20.2

if ! "$CARGO" deny --version >/dev/null 2>&1; then
  echo "deny: cargo-deny is missing; installing cargo-deny $DENY_VERSION into ~/.cargo/bin (about 8 minutes on 2 cores)…"
  started=$SECONDS
  "$CARGO" install --locked "cargo-deny@$DENY_VERSION"
  echo "deny: installed in $((SECONDS - started)) s"
fi

# --offline: use the registry index already on disk; nothing to download for these checks.
"$CARGO" deny --offline check licenses bans sources
python3 scripts/locked-msrv.py --check

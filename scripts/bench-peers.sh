#!/usr/bin/env bash
# `make bench-peers`: scangate beside sarif-tools and MITRE SAF CLI on the same SARIF files.
# Installs the pinned peers into .peers/ (gitignored) on first use; see scripts/bench-peers.py.
# Long (the 200 MB runs of the peers take minutes): run it with `nice -n 10` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "bench-peers: npm is needed to install @mitre/saf" >&2; exit 2; }
exec python3 scripts/bench-peers.py "$@"

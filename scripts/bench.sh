#!/usr/bin/env bash
# `make bench`: see scripts/bench.py for what is measured and how.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/bench.py "$@"

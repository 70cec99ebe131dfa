#!/usr/bin/env bash
# `make demo`: scangate end to end on this machine, AWS emulated by moto (see docs/demo.md).
# Builds the runner, the fake QScanner and the two local Lambda drivers (dev profile: the
# same build `make test` makes), then hands over to scripts/demo.py, which tells the story,
# cleans up every process it started and exits 0 only when everything went as told.
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
if [[ ! -x $python || ! -x .venv/bin/moto_server ]]; then
  echo "demo: .venv with moto is missing: run \`make venv\` (make demo does it for you)" >&2
  exit 1
fi

echo "==> Building scangate, the fake QScanner and the local Lambda drivers (cargo, dev profile)…"
started=$SECONDS
cargo build --quiet \
  -p scangate-cli --bin scangate --example fake_qscanner \
  -p report-processor --example local_lambda \
  -p pipeline-gate --example local_gate
echo "    built in $((SECONDS - started)) s"

target_dir=${CARGO_TARGET_DIR:-target}
exec "$python" scripts/demo.py --bin-dir "$target_dir/debug" "$@"

#!/usr/bin/env bash
# The build tools of `make release` and `make watch`, pinned in scripts/requirements-release.txt (cargo-lambda,
# cargo-zigbuild, ziglang: PyPI wheels that carry the binaries), installed into the project's .venv once per
# change of that file. Nothing is taken from ~/.cargo/bin or the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$PWD/.venv
stamp=$VENV/.release-installed
if [[ -f $stamp && $stamp -nt scripts/requirements-release.txt && -x $VENV/bin/cargo-lambda && -x $VENV/bin/cargo-zigbuild ]]; then
  exit 0
fi
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
echo "release-tools: installing $(grep -Eo '^[a-z-]+==[^ ]+' scripts/requirements-release.txt | tr '\n' ' ')into .venv" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-release.txt
touch "$stamp"

#!/usr/bin/env bash
# Tests of the StackSet deploy script: the dry run (no AWS calls) and real runs against a moto server that
# the test starts on a free loopback port (artifact bucket stacks, uploads, create/update StackSet, instances),
# all with the real output of `make release` in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/moto_server ]]; then
  make --no-print-directory venv
fi
unset AWS_PROFILE AWS_DEFAULT_PROFILE
# The tests deploy the real release: build it once (minutes), or reuse dist/ when its manifest was built from the
# sources as they are now (scripts/release.py current).
RELEASE_REUSE=1 bash scripts/release.sh
SCANGATE_DIST="$PWD/dist" exec .venv/bin/python stacksets/test_deploy.py

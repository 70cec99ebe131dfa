#!/usr/bin/env bash
# Tests of the StackSet deploy script: the dry run (no AWS calls) and real runs against a moto server that
# the test starts on a free loopback port (artifact bucket stacks, uploads, create/update StackSet, instances).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/moto_server ]]; then
  make --no-print-directory venv
fi
unset AWS_PROFILE AWS_DEFAULT_PROFILE
exec .venv/bin/python stacksets/test_deploy.py

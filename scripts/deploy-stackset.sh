#!/usr/bin/env bash
# Deploy scangate to an AWS Organization: artifact buckets, code upload, StackSet and its instances.
# All options are those of stacksets/deploy.py (--help); --dry-run prints every AWS call and makes none.
# Example:
#   scripts/deploy-stackset.sh --prefix acme-scangate-artifacts --regions us-east-1,eu-west-1 \
#     --ou ou-ab12-cd34ef56 --parameter QualysPod=US2 --dry-run
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
  if [[ $arg == --dry-run || $arg == -h || $arg == --help ]]; then
    exec python3 stacksets/deploy.py "$@" # no AWS SDK needed to print the plan
  fi
done
if ! .venv/bin/python -c 'import boto3' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check boto3
fi
exec .venv/bin/python stacksets/deploy.py "$@"

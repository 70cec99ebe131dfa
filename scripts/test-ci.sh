#!/usr/bin/env bash
# make test-ci: contract tests of the CI integrations (docs/ci/): action.yml, the example workflow and the GitLab and
# Azure Pipelines templates against the schemas their systems publish (check-jsonschema's vendored schemas), action.yml
# and the workflow with action-validator, every stack parameter and output they name against cfn/scangate.yaml,
# then ci/tests/test_ci.py (each integration's steps run in bash against moto with stand-ins for the CI system).
# Installs what is missing, pinned: .venv/ci (scripts/requirements-ci.txt + constraints-ci.txt), node_modules
# (package-lock.json); CI_VENV and ACTION_VALIDATOR point elsewhere. Needs the runner built (target/debug/scangate: make unit builds it) and .venv (moto).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CI_VENV=${CI_VENV:-$ROOT/.venv/ci}
step() { printf '\n== %s\n' "$*"; }

if [[ ! -x $CI_VENV/bin/check-jsonschema || ! $CI_VENV/.installed -nt scripts/requirements-ci.txt || ! $CI_VENV/.installed -nt scripts/constraints-ci.txt ]]; then
  step "installing check-jsonschema into $CI_VENV"
  python3 -m venv "$CI_VENV"
  "$CI_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-ci.txt
  touch "$CI_VENV/.installed"
fi
VALIDATOR=${ACTION_VALIDATOR:-$ROOT/node_modules/.bin/action-validator}
if [[ -z ${ACTION_VALIDATOR:-} && ( ! -x $VALIDATOR || ! node_modules/.package-lock.json -nt package-lock.json ) ]]; then
  step "installing action-validator (npm ci)"
  npm ci --legacy-peer-deps --no-audit --no-fund --loglevel=error
fi
[[ -x .venv/bin/moto_server ]] || make --no-print-directory venv
[[ -x target/debug/scangate ]] || cargo build -p scangate-cli

failed=0
schema() {
  local schema=$1; shift
  if "$CI_VENV/bin/check-jsonschema" --builtin-schema "$schema" "$@"; then :; else failed=1; fi
}
step "schemas (check-jsonschema $("$CI_VENV/bin/check-jsonschema" --version | awk '{print $NF}'))"
schema vendor.github-actions action.yml
schema vendor.github-workflows examples/github/scangate.yml
for f in ci/gitlab/*.yml; do [[ -e $f ]] && schema vendor.gitlab-ci "$f"; done
for f in ci/azure/*.yml; do [[ -e $f ]] && schema vendor.azure-pipelines "$f"; done

step "action-validator"
for f in action.yml examples/github/scangate.yml; do
  if "$VALIDATOR" "$f"; then echo "$f: ok"; else echo "$f: FAILED" >&2; failed=1; fi
done
# The validator must still catch a broken action: one with an unknown `runs.using`.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/using: composite/using: composit/' action.yml > "$tmp/action.yml"
if "$VALIDATOR" "$tmp/action.yml" >/dev/null 2>&1; then
  echo "self-check: action-validator accepted runs.using: composit" >&2
  failed=1
else
  echo "self-check: a broken action.yml fails as expected"
fi

step "CI files against the stack, and each integration run against moto (ci/tests/)"
if ! .venv/bin/python ci/tests/test_ci_names.py; then failed=1; fi
if ! .venv/bin/python ci/tests/test_ci.py; then failed=1; fi

if [[ $failed != 0 ]]; then
  echo "test-ci: FAILED" >&2
  exit 1
fi
echo "test-ci: passed"

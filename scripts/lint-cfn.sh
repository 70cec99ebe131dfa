#!/usr/bin/env bash
# make lint-cfn: cfn-lint (every region the StackSet may target), checkov and cfn-guard with the AWS Control
# Tower proactive rules, over every CloudFormation template of the project. Zero failures; every suppression
# sits in the template's Metadata with its reason (docs/deploy.md lists them). Installs what is missing:
#   .venv/lint    cfn-lint (+ cfn-lint-serverless rules) + checkov (own venv: checkov pins boto3, which must not touch moto's in .venv)
#   node_modules  @cdklabs/cdk-validator-cfnguard (cfn-guard binary + Control Tower rules), from package-lock.json
# Environment: CFN_REGIONS overrides the region list; LINT_CFN_SKIP_INSTALL=1 never installs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TEMPLATES=(cfn/scangate.yaml stacksets/artifact-bucket.yaml stacksets/scangate-stackset.yaml)
# Commercial regions where every resource type of the stack exists; the StackSet may target any of them.
CFN_REGIONS=${CFN_REGIONS:-"us-east-1 us-east-2 us-west-1 us-west-2 ca-central-1 sa-east-1 eu-west-1 eu-west-2 eu-west-3 eu-central-1 eu-north-1 eu-south-1 ap-south-1 ap-southeast-1 ap-southeast-2 ap-northeast-1 ap-northeast-2 ap-northeast-3 me-south-1 af-south-1"}

LINT_VENV=$ROOT/.venv/lint
GUARD_PKG=$ROOT/node_modules/@cdklabs/cdk-validator-cfnguard

step() { printf '\n== %s\n' "$*"; }

install_python_tools() {
  if [[ -x $LINT_VENV/bin/cfn-lint && -x $LINT_VENV/bin/checkov && $LINT_VENV/.installed -nt scripts/requirements-lint.txt && $LINT_VENV/.installed -nt scripts/constraints-lint.txt ]]; then
    return
  fi
  [[ ${LINT_CFN_SKIP_INSTALL:-0} == 1 ]] && { echo "cfn-lint/checkov missing in $LINT_VENV" >&2; exit 2; }
  step "installing cfn-lint and checkov into .venv/lint"
  python3 -m venv "$LINT_VENV"
  "$LINT_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-lint.txt
  touch "$LINT_VENV/.installed"
}

install_guard() {
  if [[ -d $GUARD_PKG/rules/control-tower/cfn-guard && node_modules/.package-lock.json -nt package-lock.json ]]; then
    return
  fi
  [[ ${LINT_CFN_SKIP_INSTALL:-0} == 1 ]] && { echo "cfn-guard rules missing in node_modules" >&2; exit 2; }
  step "installing cfn-guard and the Control Tower rules (npm ci)"
  # --legacy-peer-deps: the package declares aws-cdk-lib as a peer; the binary and rules do not need it.
  npm ci --legacy-peer-deps --no-audit --no-fund --loglevel=error
}

guard_binary() {
  local arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) echo "no cfn-guard binary for $(uname -m)" >&2; exit 2 ;;
  esac
  local os=ubuntu
  [[ $(uname -s) == Darwin ]] && os=macos
  local bin=$GUARD_PKG/bin/$os/$arch/cfn-guard
  [[ -x $bin ]] || chmod +x "$bin"
  echo "$bin"
}

install_python_tools
install_guard
GUARD=$(guard_binary)
start=$SECONDS
failed=0

step "cfn-lint $("$LINT_VENV/bin/cfn-lint" --version | awk '{print $2}') + serverless rules over ${#TEMPLATES[@]} templates, regions: $CFN_REGIONS"
# shellcheck disable=SC2086 # the region list is meant to split
if "$LINT_VENV/bin/cfn-lint" --regions $CFN_REGIONS --append-rules cfn_lint_serverless.rules -- "${TEMPLATES[@]}"; then
  echo "cfn-lint: no findings"
else
  echo "cfn-lint: FAILED" >&2
  failed=1
fi

step "checkov $("$LINT_VENV/bin/checkov" --version) (cloudformation, offline)"
checkov_args=()
for t in "${TEMPLATES[@]}"; do checkov_args+=(-f "$t"); done
if "$LINT_VENV/bin/checkov" --framework cloudformation --skip-download --quiet --compact "${checkov_args[@]}"; then
  echo "checkov: no failed checks"
else
  echo "checkov: FAILED" >&2
  failed=1
fi

step "cfn-guard $("$GUARD" --version | awk '{print $2}') with the AWS Control Tower proactive rules ($(find "$GUARD_PKG/rules/control-tower/cfn-guard" -name '*.guard' | wc -l) rule files)"
if ! "$LINT_VENV/bin/python" scripts/cfn-guard-check.py --guard "$GUARD" \
  --rules "$GUARD_PKG/rules/control-tower/cfn-guard" "${TEMPLATES[@]}"; then
  echo "cfn-guard: FAILED" >&2
  failed=1
fi

# The guard filter must still catch failures: with the suppressions stripped, the stack template must fail.
step "self-check: cfn-guard without the suppressions must fail"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$LINT_VENV/bin/python" - "$tmp/unsuppressed.json" <<'EOF'
import json, sys
from cfnlint.decode import decode
template, _ = decode("cfn/scangate.yaml")
for res in template["Resources"].values():
    (res.get("Metadata") or {}).pop("guard", None)
json.dump(template, open(sys.argv[1], "w"))
EOF
if "$LINT_VENV/bin/python" scripts/cfn-guard-check.py --guard "$GUARD" \
  --rules "$GUARD_PKG/rules/control-tower/cfn-guard" "$tmp/unsuppressed.json" >/dev/null 2>&1; then
  echo "self-check: cfn-guard found nothing in the unsuppressed template: the filter is broken" >&2
  failed=1
else
  echo "self-check: unsuppressed template fails as expected"
fi

step "template contract tests (environment and IAM against the code, buildspecs, invariants)"
if ! "$LINT_VENV/bin/python" cfn/tests/test_templates.py; then
  failed=1
fi

step "stack contract tests (every parameter through the StackSet, examples and docs against the stack, private registries and VPC)"
if ! "$LINT_VENV/bin/python" cfn/tests/test_contracts.py; then
  failed=1
fi

step "CI uploader role tests (who assumes each role, its own scans/ prefix and results only; docs/ci/)"
if ! "$LINT_VENV/bin/python" cfn/tests/test_ci_roles.py; then
  failed=1
fi

step "documentation tests (contract and IAM tables, cited tests, parameter table, pipeline namespaces, stack rules)"
if ! "$LINT_VENV/bin/python" cfn/tests/test_docs.py; then
  failed=1
fi

echo
if [[ $failed != 0 ]]; then
  echo "lint-cfn: FAILED after $((SECONDS - start)) s" >&2
  exit 1
fi
echo "lint-cfn: ${#TEMPLATES[@]} templates clean under cfn-lint, checkov and cfn-guard in $((SECONDS - start)) s"

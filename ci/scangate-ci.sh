#!/usr/bin/env bash
# scangate in CI systems other than CodeBuild (docs/ci/): the steps every integration runs, so that the GitHub action
# (action.yml), the GitLab template (ci/gitlab/), the Azure Pipelines template (ci/azure/) and the Jenkins step
# (ci/jenkins/) behave alike and one test (ci/tests/test_ci.py) runs them all.
#
#   scangate-ci.sh install    download the released runner named by SCANGATE_VERSION from SCANGATE_RELEASE_URL,
#                             refuse it unless the release manifest and the bytes both match the pin SCANGATE_SHA256
#   scangate-ci.sh scan       scan (SCANGATE_KIND image|repo|sarif, SCANGATE_TARGET), upload under this repository's
#                             own prefix, wait for the stack's verdict, render the CI's views; exit as the runner does
#
# Environment: SCANGATE_CI (github|gitlab|azure|jenkins), SCANGATE_REPOSITORY (owner/name, group/…/project,
# org/project/connection or the Jenkins name), SCANGATE_RUN_ID, SCANGATE_ROLE_ARN (the stack's role for it),
# REPORT_BUCKET, REPORT_KMS_KEY_ID, SCANGATE_OUT (output directory,
# default scangate-out), SCANGATE_WAIT (seconds, default 900), SCANGATE_BRANCH, SCANGATE_REPO_URL.
# Exit: 0 passed, 42 gate failed, anything else an error (the runner's codes, docs/runner.md).
set -euo pipefail

die() { echo "scangate-ci: $*" >&2; exit 2; }
need() { [[ -n ${!1:-} ]] || die "$1 is required"; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# The runner's artifact for this machine in a release manifest (dist/manifest.json): "<file> <sha256>".
manifest_entry() {
  local manifest=$1 arch=$2
  python3 - "$manifest" "$arch" "${SCANGATE_VERSION}" <<'PY'
import json, sys
path, arch, version = sys.argv[1:]
try:
    m = json.load(open(path))
except ValueError as e:
    sys.exit(f"scangate-ci: the release manifest is not JSON: {e}")
if m.get("version") != version:
    sys.exit(f"scangate-ci: the release manifest is version {m.get('version')!r}, not {version!r}")
found = [a for a in m.get("artifacts", []) if a.get("role") == "runner" and a.get("arch") == arch]
if len(found) != 1:
    sys.exit(f"scangate-ci: the release manifest has {len(found)} runner artifacts for {arch}, expected 1")
a = found[0]
name = str(a.get("file", ""))
if not name or "/" in name or name.startswith("."):
    sys.exit(f"scangate-ci: the manifest names an unusable file {name!r}")
print(name, a.get("sha256", ""))
PY
}

install_runner() {
  need SCANGATE_RELEASE_URL; need SCANGATE_VERSION; need SCANGATE_SHA256
  [[ $SCANGATE_SHA256 =~ ^[0-9a-f]{64}$ ]] || die "SCANGATE_SHA256 must be 64 lower-case hex digits"
  case "$SCANGATE_RELEASE_URL" in
    https://*) ;;
    http://127.0.0.1:* | http://localhost:*) ;;  # tests and local mirrors only
    *) die "SCANGATE_RELEASE_URL must be https:// (got ${SCANGATE_RELEASE_URL%%://*}://…)" ;;
  esac
  local arch dir base tmp
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no scangate runner for $(uname -m)" ;;
  esac
  dir=${SCANGATE_INSTALL_DIR:-$HOME/.scangate/bin}
  base=${SCANGATE_RELEASE_URL%/}
  tmp=$(mktemp -d)
  CLEANUP+=("$tmp")
  curl --fail --silent --show-error --location --proto '=https,http' --retry 3 -o "$tmp/manifest.json" "$base/manifest.json"
  local entry file listed
  entry=$(manifest_entry "$tmp/manifest.json" "$arch")
  file=${entry% *}
  listed=${entry#* }
  if [[ $listed != "$SCANGATE_SHA256" ]]; then
    echo "scangate-ci: the release manifest lists $file with SHA-256 $listed, the pin SCANGATE_SHA256 is $SCANGATE_SHA256" >&2
    exit 1
  fi
  curl --fail --silent --show-error --location --proto '=https,http' --retry 3 -o "$tmp/scangate" "$base/$file"
  local got
  got=$(sha256_of "$tmp/scangate")
  if [[ $got != "$SCANGATE_SHA256" ]]; then
    echo "scangate-ci: downloaded $file has SHA-256 $got, expected $SCANGATE_SHA256: refused" >&2
    exit 1
  fi
  mkdir -p "$dir"
  install -m 0755 "$tmp/scangate" "$dir/scangate.new"
  mv -f "$dir/scangate.new" "$dir/scangate"
  echo "scangate-ci: installed $("$dir/scangate" --version) ($file, SHA-256 verified) into $dir"
  case "${SCANGATE_CI:-}" in
    github) [[ -n ${GITHUB_PATH:-} ]] && echo "$dir" >> "$GITHUB_PATH" ;;
    azure) echo "##vso[task.prependpath]$dir" ;;
  esac
  return 0
}

# The role's credentials without stored keys: the AWS SDK inside the runner assumes SCANGATE_ROLE_ARN itself, from a
# web identity token file (GitHub, GitLab, Azure: AssumeRoleWithWebIdentity) or a profile with an external id
# (Jenkins: AssumeRole from the agent's own credentials). The token lives in a 0600 file removed on exit and is
# never printed.
credentials() {
  need SCANGATE_ROLE_ARN
  local dir token
  dir=$(mktemp -d)
  chmod 700 "$dir"
  CLEANUP+=("$dir")
  export AWS_ROLE_SESSION_NAME="scangate-${SCANGATE_CI}-${SCANGATE_RUN_ID//[^A-Za-z0-9=,.@-]/-}"
  AWS_ROLE_SESSION_NAME=${AWS_ROLE_SESSION_NAME:0:64}
  case "$SCANGATE_CI" in
    github)
      [[ -n ${ACTIONS_ID_TOKEN_REQUEST_URL:-} && -n ${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-} ]] ||
        die "no GitHub OIDC token: the job needs 'permissions: id-token: write'"
      token=$(curl --fail --silent --show-error -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
        "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=sts.amazonaws.com" | json_field value)
      ;;
    gitlab)
      [[ -n ${SCANGATE_ID_TOKEN:-} ]] || die "no GitLab ID token: the job needs id_tokens: SCANGATE_ID_TOKEN: aud: sts.amazonaws.com"
      token=$SCANGATE_ID_TOKEN
      ;;
    azure)
      need SCANGATE_SERVICE_CONNECTION_ID
      [[ -n ${SYSTEM_OIDCREQUESTURI:-} && -n ${SYSTEM_ACCESSTOKEN:-} ]] ||
        die "no Azure DevOps OIDC endpoint: map System.AccessToken into SYSTEM_ACCESSTOKEN"
      token=$(curl --fail --silent --show-error -X POST -H "Authorization: Bearer $SYSTEM_ACCESSTOKEN" \
        -H "Content-Type: application/json" -d '{}' \
        "${SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId=${SCANGATE_SERVICE_CONNECTION_ID}" | json_field oidcToken)
      ;;
    jenkins)
      need SCANGATE_EXTERNAL_ID
      {
        echo "[profile scangate]"
        echo "role_arn = $SCANGATE_ROLE_ARN"
        echo "external_id = $SCANGATE_EXTERNAL_ID"
        echo "role_session_name = $AWS_ROLE_SESSION_NAME"
        echo "credential_source = ${SCANGATE_CREDENTIAL_SOURCE:-Ec2InstanceMetadata}"
      } > "$dir/config"
      chmod 600 "$dir/config"
      export AWS_CONFIG_FILE="$dir/config" AWS_PROFILE=scangate
      unset AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
      return 0
      ;;
  esac
  [[ -n $token ]] || die "the $SCANGATE_CI OIDC token is empty"
  (umask 077 && printf '%s' "$token" > "$dir/token")
  export AWS_ROLE_ARN="$SCANGATE_ROLE_ARN" AWS_WEB_IDENTITY_TOKEN_FILE="$dir/token"
  # The runner must use the role, not keys that happen to be in the job's environment.
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
}

json_field() {
  python3 -c 'import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
if not isinstance(v, str) or not v:
    sys.exit("scangate-ci: the token response has no " + sys.argv[1])
print(v)' "$1"
}

CLEANUP=()
cleanup() { [[ ${#CLEANUP[@]} -gt 0 ]] && rm -rf "${CLEANUP[@]}"; return 0; }
trap cleanup EXIT

# <ci>~<path with / as ~>: one S3 key segment, the prefix the stack's role for this repository may write.
project_name() {
  local repo=$1
  [[ $repo =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ && $repo != *..* && $repo != */ ]] || die "unusable repository name: $repo"
  local sep='~'  # quoted: an unquoted ~ in the replacement would expand to $HOME
  printf '%s~%s' "$SCANGATE_CI" "${repo//\//$sep}"
}

# One value of the runner's outputs file (KEY=value or KEY='value', docs/runner.md).
output() { sed -n "s/^$1=//p" "$SCANGATE_OUT/outputs.env" 2>/dev/null | head -n1 | sed "s/^'\(.*\)'\$/\1/"; }

# GitHub annotations / Azure logging commands for the worst findings of the code scanning SARIF.
annotations() {
  local sarif=$1 style=$2
  [[ -f $sarif ]] || return 0
  python3 - "$sarif" "$style" <<'PY' || true
import json, sys
path, style = sys.argv[1:]
run = json.load(open(path))["runs"][0]
def clean(s):  # one line, no workflow-command injection (GitHub ::, Azure ##vso)
    return str(s).replace("\r", " ").replace("\n", " ").replace("::", ": :").replace("##", "# #")[:300]
for r in run.get("results", [])[:10]:
    level = "error" if r.get("level") == "error" else "warning"
    text = clean(f"{r.get('ruleId')}: {r.get('message', {}).get('text', '')}")
    if style == "github":
        print(f"::{level} title=scangate::{text}")
    else:
        print(f"##vso[task.logissue type={level}]{text}")
note = [n["message"]["text"] for i in run.get("invocations", []) for n in i.get("toolExecutionNotifications", [])]
for n in note:
    print(f"::warning title=scangate::{clean(n)}" if style == "github" else f"##vso[task.logissue type=warning]{clean(n)}")
PY
}

summary_markdown() {
  local rc=$1 verdict
  case $rc in 0) verdict="PASSED" ;; 42) verdict="FAILED (the gate)" ;; *) verdict="ERROR (exit $rc)" ;; esac
  echo "### scangate: $verdict"
  echo
  echo "Target \`$SCANGATE_TARGET\` ($SCANGATE_KIND), reports under \`scans/$PROJECT/$SCANGATE_RUN_ID/\`; verdict \`$(output verdict_key)\`."
  echo
  echo "| critical | high | medium | low | cloud policy |"
  echo "|---|---|---|---|---|"
  echo "| $(output critical_count) | $(output high_count) | $(output medium_count) | $(output low_count) | $(output policy_result) |"
  if [[ -n ${TRIM_NOTE:-} ]]; then
    echo
    echo "> $TRIM_NOTE"
  fi
}

scan_and_wait() {
  need SCANGATE_CI; need SCANGATE_REPOSITORY; need SCANGATE_RUN_ID; need SCANGATE_KIND; need SCANGATE_TARGET; need REPORT_BUCKET
  case "$SCANGATE_CI" in github | gitlab | azure | jenkins) ;; *) die "SCANGATE_CI must be github, gitlab, azure or jenkins" ;; esac
  case "$SCANGATE_KIND" in image | repo | sarif) ;; *) die "SCANGATE_KIND must be image, repo or sarif" ;; esac
  PROJECT=$(project_name "$SCANGATE_REPOSITORY")
  SCANGATE_OUT=${SCANGATE_OUT:-scangate-out}
  mkdir -p "$SCANGATE_OUT"
  SCANGATE_OUT=$(cd "$SCANGATE_OUT" && pwd)
  credentials
  local bin=${SCANGATE_BIN:-scangate}
  local args=(scan "$SCANGATE_KIND" --wait "${SCANGATE_WAIT:-900}" --project "$PROJECT" --build-id "$SCANGATE_RUN_ID"
    --outputs-file "$SCANGATE_OUT/outputs.env" --junit-path "$SCANGATE_OUT/junit.xml")
  [[ -n ${SCANGATE_BRANCH:-} ]] && args+=(--source-branch "$SCANGATE_BRANCH")
  [[ -n ${SCANGATE_REPO_URL:-} ]] && args+=(--source-repo-url "$SCANGATE_REPO_URL")
  args+=(-- "$SCANGATE_TARGET")
  local rc=0
  "$bin" "${args[@]}" || rc=$?
  local sarif
  sarif=$(output sarif_path)
  TRIM_NOTE=""
  if [[ -n $sarif && -f $sarif ]]; then
    local notes views=()
    if [[ $SCANGATE_CI == gitlab ]]; then
      # GitLab's container scanning report (artifacts: reports: container_scanning); the image it names is the
      # scanned image, the project for a repository scan, and the report's own target for a SARIF file.
      views+=(--gitlab-report "$SCANGATE_OUT/gl-container-scanning-report.json")
      case "$SCANGATE_KIND" in
        image) views+=(--target "$SCANGATE_TARGET") ;;
        repo) views+=(--target "$SCANGATE_REPOSITORY") ;;
      esac
    fi
    notes=$("$bin" process --quiet --format json --code-scanning-sarif "$SCANGATE_OUT/code-scanning.sarif" \
      --category "scangate/$SCANGATE_KIND/$PROJECT/" ${views[@]+"${views[@]}"} --max-critical -1 -- "$sarif" 2>&1 >/dev/null || true)
    TRIM_NOTE=$(printf '%s\n' "$notes" | grep -m1 'keeps the' | sed 's/^scangate: warning: //' || true)
    if [[ $SCANGATE_CI == gitlab ]]; then printf '%s\n' "$notes" | grep -F -- '--gitlab-report' >&2 || true; fi
  fi
  summary_markdown "$rc" > "$SCANGATE_OUT/summary.md"
  case "$SCANGATE_CI" in
    github)
      [[ -n ${GITHUB_STEP_SUMMARY:-} ]] && cat "$SCANGATE_OUT/summary.md" >> "$GITHUB_STEP_SUMMARY"
      annotations "$SCANGATE_OUT/code-scanning.sarif" github
      if [[ -n ${GITHUB_OUTPUT:-} ]]; then
        {
          echo "exit-code=$rc"
          echo "passed=$([[ $rc == 0 ]] && echo true || echo false)"
          echo "verdict-key=$(output verdict_key)"
          echo "code-scanning-sarif=$SCANGATE_OUT/code-scanning.sarif"
          echo "junit=$SCANGATE_OUT/junit.xml"
        } >> "$GITHUB_OUTPUT"
      fi
      ;;
    azure)
      annotations "$SCANGATE_OUT/code-scanning.sarif" azure
      if [[ -n ${BUILD_ARTIFACTSTAGINGDIRECTORY:-} && -f $SCANGATE_OUT/code-scanning.sarif ]]; then
        mkdir -p "$BUILD_ARTIFACTSTAGINGDIRECTORY/CodeAnalysisLogs"
        cp "$SCANGATE_OUT/code-scanning.sarif" "$BUILD_ARTIFACTSTAGINGDIRECTORY/CodeAnalysisLogs/scangate.sarif"
      fi
      echo "##vso[task.uploadsummary]$SCANGATE_OUT/summary.md"
      echo "##vso[task.setvariable variable=scangateExitCode]$rc"
      ;;
    gitlab | jenkins) cat "$SCANGATE_OUT/summary.md" ;;
  esac
  return "$rc"
}

case "${1:-}" in
  install) install_runner ;;
  scan) scan_and_wait ;;
  *) die "usage: scangate-ci.sh install|scan" ;;
esac

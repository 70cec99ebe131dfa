#!/usr/bin/env bash
# `make demo`: evaluate the bundled QScanner-shaped report offline, the way a CodeBuild
# build would, and show the table, the verdict and the files written.
set -euo pipefail
cd "$(dirname "$0")/.."

out=out/demo
mkdir -p "$out"
echo "==> Building scangate (release)…"
cargo build --release --quiet -p scangate-cli
bin=target/release/scangate

report=tests/fixtures/qscanner-image.sarif
echo "==> scangate process $report   (default thresholds: max-critical 0, others unlimited; FAIL_ON_POLICY_DENY=true)"
echo
set +e
"$bin" process "$report" \
  --account-id 123456789012 --region us-east-1 --project qualys-codebuild-image-us-east-1 \
  --asff "$out/asff.json" --junit "$out/junit.xml" --verdict "$out/verdict.json" --summary "$out/summary.md"
code=$?
set -e
echo
case $code in
  42) echo "==> scangate exited 42: the gate FAILED, as it should on this report (critical CVEs and a DENY policy).";;
  0)  echo "==> scangate exited 0: the gate passed.";;
  *)  echo "==> scangate exited $code: unexpected for the demo report." >&2; exit "$code";;
esac
echo "    A buildspec step running this command fails the build; CodePipeline's gate stops the stage."
echo
echo "==> Files written (what the report-processor Lambda writes to S3 and Security Hub):"
for f in asff.json junit.xml verdict.json summary.md; do
  printf '    %-28s %8d bytes\n' "$out/$f" "$(wc -c < "$out/$f")"
done
echo
echo "==> The same report with a policy that tolerates it (--max-critical 3 --fail-on-policy-deny false):"
set +e
"$bin" process "$report" --max-critical 3 --fail-on-policy-deny false --format json > "$out/verdict-tolerant.json"
code2=$?
set -e
echo "    exit $code2, passed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["passed"])' "$out/verdict-tolerant.json")"

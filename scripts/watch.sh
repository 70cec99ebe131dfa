#!/usr/bin/env bash
# `make watch`: both Lambdas on this machine under cargo-lambda's emulator (`cargo lambda watch`), rebuilt when a
# source changes; send them the repository's example events from another shell with `cargo lambda invoke`
# (docs/report-processor.md#local-loop, docs/pipeline-gate.md#local-loop).
#
# AWS: unless AWS_ENDPOINT_URL is set, a moto server on loopback (started here, stopped on exit) with test
# credentials, so nothing reaches a real account; its bucket is the one the example events name and holds the
# report they point at (tests/fixtures/qscanner-image.sarif). cargo-lambda comes pinned from
# scripts/requirements-release.txt (.venv).
#
#   WATCH_ADDRESS  where the emulator listens (default ::1, loopback only; `cargo lambda invoke` sends there)
#   WATCH_PORT     its port (default 9000, cargo-lambda's default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/release-tools.sh
[[ -x .venv/bin/moto_server ]] || make --no-print-directory venv
export PATH="$ROOT/.venv/bin:$PATH"

BUCKET=scangate-reports-123456789012-us-east-1   # the bucket of functions/report-processor/tests/fixtures/*.json
KEY='scans/my app/my-app:a1b2c3d4/qscanner image%.sarif'   # the object they announce (URL-decoded)
ADDRESS=${WATCH_ADDRESS:-::1}
PORT=${WATCH_PORT:-9000}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [[ -z ${AWS_ENDPOINT_URL:-} ]]; then
  moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
  pids+=($!)
  export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_SESSION_TOKEN=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_DEFAULT_PROFILE
  python3 - "$AWS_ENDPOINT_URL" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1).close()
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("watch: moto_server did not start within 30 s")
PY
  # The bucket (versioned, as the stack's), the report, and the example events rewritten with the version id,
  # ETag and size moto gave it, into target/watch/ (the processor reads exactly the version an event announces).
  mkdir -p target/watch
  .venv/bin/python - "$BUCKET" "$KEY" tests/fixtures/qscanner-image.sarif target/watch <<'PY'
import json, sys
from pathlib import Path
import boto3
bucket, key, report, out = sys.argv[1:]
s3 = boto3.client("s3")
s3.create_bucket(Bucket=bucket)
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
put = s3.put_object(Bucket=bucket, Key=key, Body=Path(report).read_bytes(), Metadata={
    "scangate-target": "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-app:1.4.2",
    "scangate-scan-type": "image",
    "scangate-scanner-exit-code": "0",
})
etag, version, size = put["ETag"].strip('"'), put["VersionId"], Path(report).stat().st_size
fixtures = Path("functions/report-processor/tests/fixtures")
event = json.loads((fixtures / "s3-put.json").read_text())
event["Records"][0]["s3"]["object"].update(eTag=etag, versionId=version, size=size)
(Path(out) / "s3-put.json").write_text(json.dumps(event, indent=2) + "\n")
event = json.loads((fixtures / "eventbridge-object-created.json").read_text())
event["detail"]["object"].update({"etag": etag, "version-id": version, "size": size})
(Path(out) / "eventbridge-object-created.json").write_text(json.dumps(event, indent=2) + "\n")
print(f"watch: moto at {s3.meta.endpoint_url}: s3://{bucket}/{key} holds {report} (version {version});"
      f" events announcing it in {out}/")
PY
fi
export AWS_MAX_ATTEMPTS=${AWS_MAX_ATTEMPTS:-1}
export REPORT_BUCKET=${REPORT_BUCKET:-$BUCKET} PUBLISHER_PROJECT=${PUBLISHER_PROJECT:-}
export AWS_LAMBDA_LOG_FORMAT=${AWS_LAMBDA_LOG_FORMAT:-JSON} RUST_LOG=${RUST_LOG:-info}

cat >&2 <<MSG
watch: the emulator listens on [$ADDRESS]:$PORT; from another shell in this directory, for example:
  . .venv/bin/activate
  cargo lambda invoke report-processor --data-file target/watch/s3-put.json
  cargo lambda invoke pipeline-gate --data-file functions/pipeline-gate/tests/fixtures/invoke-malformed-parameters.json
MSG
# Rebuild for Rust sources and manifests only, not for commits, docs or templates.
export CARGO_LAMBDA_IGNORE_FILE="$ROOT/scripts/watch.ignore"
cargo-lambda lambda watch --invoke-address "$ADDRESS" --invoke-port "$PORT" "$@" &
pids+=($!)
wait "${pids[-1]}"

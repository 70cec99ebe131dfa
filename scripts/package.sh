#!/usr/bin/env bash
# Builds the Lambda zips (provided.al2023, arm64) and the runner binary into target/package/.
# Installs cargo-lambda and ziglang into .venv when missing (PyPI wheels carry the binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.venv"
export PATH="$VENV/bin:$PATH"
OUT="$PWD/target/package"
LIMIT_BYTES=$((5 * 1024 * 1024))

if ! command -v cargo-lambda >/dev/null 2>&1; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check cargo-lambda ziglang
fi

mkdir -p "$OUT"
status=0
for fn in report-processor pipeline-gate; do
    if [ ! -f "functions/$fn/Cargo.toml" ]; then
        echo "package: functions/$fn not present, skipped" >&2
        continue
    fi
    echo "package: building $fn (arm64, release)" >&2
    cargo lambda build --release --arm64 --output-format zip --lambda-dir target/lambda-arm64 -p "$fn"
    cp "target/lambda-arm64/$fn/bootstrap.zip" "$OUT/$fn-arm64.zip"
    size=$(stat -c %s "$OUT/$fn-arm64.zip")
    awk -v n="$fn-arm64.zip" -v s="$size" 'BEGIN { printf "package: %-28s %8d bytes (%.2f MB)\n", n, s, s / 1048576 }'
    if [ "$size" -gt "$LIMIT_BYTES" ]; then
        echo "package: $fn-arm64.zip is larger than 5 MB" >&2
        status=1
    fi
done

if [ -f crates/cli/Cargo.toml ]; then
    echo "package: building the runner (scangate, release, host target)" >&2
    cargo build --release -p scangate-cli --bin scangate
    cp target/release/scangate "$OUT/scangate-$(uname -m)-linux"
    size=$(stat -c %s "$OUT/scangate-$(uname -m)-linux")
    printf 'package: %-28s %8d bytes\n' "scangate-$(uname -m)-linux" "$size"
fi
exit "$status"

#!/usr/bin/env bash
# Runner overhead: `scangate scan` wall time minus the scanner's own run time.
#
# A fake QScanner sleeps SCAN_SECONDS (default 2) and writes a QScanner-shaped report; the
# runner's overhead is everything else: argument checks, the token, obtaining the binary
# (given path, first download + SHA-256 + gunzip + platform check, cached copy), starting it
# in its own process group, streaming its output, finding and reading its reports, and
# writing the outputs. The binary is padded to PAD_MB (default 100, about a real QScanner)
# with incompressible bytes and served from a loopback HTTP server.
#
#   scripts/bench-runner.sh            # RUNS=5 SCAN_SECONDS=2 PAD_MB=100
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
SCAN_SECONDS=${SCAN_SECONDS:-2}
PAD_MB=${PAD_MB:-100}

cargo build --quiet --release -p scangate-cli --bin scangate --example fake_qscanner
target=${CARGO_TARGET_DIR:-target}/release
scangate=$PWD/$target/scangate
fake=$PWD/$target/examples/fake_qscanner

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf -- "$work"
}
trap cleanup EXIT

# The "download": the fake padded with incompressible bytes (an ELF runs with trailing data).
mkdir -p "$work/www"
cp "$fake" "$work/qscanner"
head -c "$((PAD_MB * 1024 * 1024))" /dev/urandom >>"$work/qscanner"
chmod 755 "$work/qscanner"
gzip -1 -c "$work/qscanner" >"$work/www/qscanner.gz"
sha=$(sha256sum "$work/www/qscanner.gz" | cut -d' ' -f1)
echo "$sha  qscanner.gz" >"$work/www/qscanner.gz.sha256"
gz_mb=$(($(stat -c %s "$work/www/qscanner.gz") / 1024 / 1024))

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/qscanner.gz.sha256" 2>/dev/null && break
    sleep 0.1
done
url="http://127.0.0.1:$port/qscanner.gz"

export QUALYS_ACCESS_TOKEN=bench-token QUALYS_POD=US2 FAKE_QSCANNER_SLEEP=$SCAN_SECONDS

# run NAME SETUP ARGS... : runs the scan RUNS times, prints median/min/max overhead in ms.
measure() {
    local name=$1 setup=$2
    shift 2
    local samples=()
    for _ in $(seq "$RUNS"); do
        rm -rf "$work/run"
        mkdir -p "$work/run"
        if [ "$setup" = fresh-cache ]; then rm -rf "$work/cache"; fi
        local t0 t1
        t0=$(date +%s%N)
        (cd "$work/run" && "$scangate" scan image bench:1 --cache-dir "$work/cache" "$@" >/dev/null 2>&1) || {
            echo "bench: '$name' failed" >&2
            exit 1
        }
        t1=$(date +%s%N)
        samples+=($(((t1 - t0) / 1000000 - SCAN_SECONDS * 1000)))
    done
    local sorted
    sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
    printf '| %-44s | %8s | %6s | %6s |\n' "$name" "$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")" \
        "$(echo "$sorted" | head -1)" "$(echo "$sorted" | tail -1)"
}

echo "scangate runner overhead: wall time minus the scanner's ${SCAN_SECONDS}s; $RUNS runs each;"
echo "download ${gz_mb} MB gzip over loopback; $(nproc) cores; release build"
echo
printf '| %-44s | %8s | %6s | %6s |\n' "case" "median ms" "min" "max"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "----------" "--------" "--------"
measure "binary given (--qscanner-path)" keep --qscanner-path "$work/qscanner"
measure "first download + SHA-256 + gunzip + ELF check" fresh-cache --qscanner-url "$url" --qscanner-sha256 "$sha"
measure "cached, checksum given (re-verified)" keep --qscanner-url "$url" --qscanner-sha256 "$sha"
measure "cached, checksum from <url>.sha256 (opt-in)" keep --qscanner-url "$url" --trust-same-host-checksum
measure "binary given + --local evaluation" keep --qscanner-path "$work/qscanner" --local --max-critical -1

#!/usr/bin/env bash
# Fuzzes scangate-core's parsers with cargo-fuzz (targets in fuzz/fuzz_targets/), one target at a time.
#   FUZZ_TARGET   target name(s), space- or comma-separated (default: all: sarif_reader events gate_params text_sanitize)
#   FUZZ_SECONDS  seconds per target (default 300)
#   FUZZ_SANITIZER address (default) or none
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags.
# Seeds fuzz/corpus/<target> from the real inputs (SARIF corpus, event and job fixtures), fuzz/seeds/<target>
# and the kept regression inputs; uses fuzz/dict/<target>.dict when there is one. The log of each run is
# fuzz/logs/<target>.log. A crash is saved under fuzz/artifacts/<target>/: minimise it
# (cargo fuzz tmin <target> <file>), fix the bug, and keep the input in
# crates/core/tests/fuzz-regressions/<target>/ (crates/core/tests/fuzz_regressions.rs runs them all).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS="sarif_reader events gate_params text_sanitize"
FUZZ_TARGET="${FUZZ_TARGET:-$ALL_TARGETS}"
FUZZ_SECONDS="${FUZZ_SECONDS:-300}"
SHARED_CORPUS="${SHARED_CORPUS:-tests/corpus/sarif}"

# cargo-fuzz, pinned, in the project's .tools/ (as cargo-deny: scripts/deny.sh), not in ~/.cargo/bin.
FUZZ_VERSION=0.13.2
TOOLS=${SCANGATE_TOOLS_DIR:-$PWD/.tools}
if [[ $("$TOOLS/bin/cargo-fuzz" --version 2>/dev/null) != "cargo-fuzz $FUZZ_VERSION" ]]; then
    echo "fuzz.sh: installing cargo-fuzz $FUZZ_VERSION into .tools/" >&2
    CARGO_TARGET_DIR="$PWD/target/tools-build" cargo install --quiet --locked --root "$TOOLS" "cargo-fuzz@$FUZZ_VERSION"
fi
export PATH="$TOOLS/bin:$PATH"

# Content-addressed names, like libFuzzer's own, so re-seeding does not duplicate.
seed() { # seed <dir> <max bytes> <files...>
    local dir="$1" max="$2" f
    shift 2
    for f in "$@"; do
        [ -f "$f" ] || continue
        [ "$(stat -c %s "$f")" -le "$max" ] || continue
        cp "$f" "$dir/seed-$(sha1sum "$f" | cut -c1-16)"
    done
}

export RUSTC_BOOTSTRAP=1
# AddressSanitizer needs nightly-only -Z flags (allowed by RUSTC_BOOTSTRAP); fall back to no
# sanitizer if this toolchain cannot build with it. The parsers have no unsafe code, so the
# sanitizer mostly adds leak and overflow checks.
sanitizer="${FUZZ_SANITIZER:-address}"
if ! cargo fuzz build --fuzz-dir fuzz --sanitizer "$sanitizer" >&2; then
    echo "fuzz.sh: build with --sanitizer $sanitizer failed; retrying with --sanitizer none" >&2
    sanitizer=none
    cargo fuzz build --fuzz-dir fuzz --sanitizer none >&2
fi

mkdir -p fuzz/logs
status=0
for target in ${FUZZ_TARGET//,/ }; do
    seeds="fuzz/corpus/$target"
    mkdir -p "$seeds"
    case "$target" in
        sarif_reader)
            max_len=1048576
            # Small real files only (≤ 64 KB): big seeds slow every execution ~50-fold, and libFuzzer
            # still grows inputs up to max_len.
            seed "$seeds" 65536 "$SHARED_CORPUS"/*.sarif tests/fixtures/*.sarif
            ;;
        events)
            max_len=65536
            seed "$seeds" "$max_len" functions/report-processor/tests/fixtures/*.json
            ;;
        gate_params)
            max_len=65536
            seed "$seeds" "$max_len" functions/pipeline-gate/tests/fixtures/*.json
            ;;
        text_sanitize)
            # Report text: short strings; the hostile fixture gives escape sequences and Markdown.
            max_len=4096
            seed "$seeds" 65536 tests/fixtures/hostile-text.sarif
            ;;
        *)
            echo "fuzz.sh: unknown target $target (known: $ALL_TARGETS)" >&2
            exit 2
            ;;
    esac
    seed "$seeds" "$max_len" fuzz/seeds/"$target"/* crates/core/tests/fuzz-regressions/"$target"/*
    dict=()
    [ -f "fuzz/dict/$target.dict" ] && dict=("-dict=fuzz/dict/$target.dict")
    echo "fuzz.sh: $target: $(ls "$seeds" | wc -l) inputs in $seeds; running $FUZZ_SECONDS s (log fuzz/logs/$target.log)" >&2

    # One in-process worker (libFuzzer's default; -jobs would fork and log to fuzz-N.log instead).
    # -rss_limit_mb: a parser that held the whole input or a tree of it would blow this on big inputs.
    rc=0
    cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" "$seeds" -- \
        -max_total_time="$FUZZ_SECONDS" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 "${dict[@]}" 2>&1 | tee "fuzz/logs/$target.log" >&2 || rc=$?
    [ "$rc" -eq 0 ] || status=$rc
    # The summary: the last coverage line and libFuzzer's final statistics.
    {
        echo "fuzz.sh: $target: exit $rc"
        grep -E '^#[0-9]+' "fuzz/logs/$target.log" | tail -n 1
        grep -E '^stat::' "fuzz/logs/$target.log"
        ls fuzz/artifacts/"$target"/ 2>/dev/null | sed 's/^/  artifact: /'
    } >&2
done
exit "$status"

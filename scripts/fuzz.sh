#!/usr/bin/env bash
# Fuzzes the SARIF reader (fuzz/fuzz_targets/sarif_reader.rs) for FUZZ_SECONDS (default 300).
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags.
# Seeds fuzz/corpus/sarif_reader from the shared SARIF corpus and tests/fixtures.
# Any crash is saved by libFuzzer under fuzz/artifacts/sarif_reader/; copy it to
# crates/core/tests/regressions/ after fixing the bug (crates/core/tests/regressions.rs reads it).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-300}"
SHARED_CORPUS="${SHARED_CORPUS:-../shared/corpus/sarif}"
TARGET=sarif_reader

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

seeds="fuzz/corpus/$TARGET"
mkdir -p "$seeds"
for f in "$SHARED_CORPUS"/*.sarif tests/fixtures/*.sarif crates/core/tests/regressions/*; do
    [ -f "$f" ] || continue
    # Content-addressed names, like libFuzzer's own, so re-seeding does not duplicate.
    cp "$f" "$seeds/seed-$(sha1sum "$f" | cut -c1-16)"
done
echo "fuzz.sh: $(ls "$seeds" | wc -l) inputs in $seeds; running $FUZZ_SECONDS s" >&2

export RUSTC_BOOTSTRAP=1
# AddressSanitizer needs nightly-only -Z flags (allowed by RUSTC_BOOTSTRAP); fall back to no
# sanitizer if this toolchain cannot build with it. The reader has no unsafe code, so the
# sanitizer mostly adds leak and overflow checks.
sanitizer="${FUZZ_SANITIZER:-address}"
if ! cargo fuzz build --sanitizer "$sanitizer" "$TARGET" >&2; then
    echo "fuzz.sh: build with --sanitizer $sanitizer failed; retrying with --sanitizer none" >&2
    sanitizer=none
    cargo fuzz build --sanitizer none "$TARGET" >&2
fi

# -rss_limit_mb: a reader that held the whole input or a tree of it would blow this on big inputs.
cargo fuzz run --sanitizer "$sanitizer" "$TARGET" "$seeds" -- \
    -max_total_time="$FUZZ_SECONDS" -max_len=262144 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1

#!/usr/bin/env bash
# `make release` (and `make package`): every deployable artifact, into dist/.
#
#   report-processor-arm64.zip, pipeline-gate-arm64.zip   Lambda zips, provided.al2023 on arm64 (`bootstrap`)
#   scangate-x86_64-linux, scangate-aarch64-linux         the runner, glibc >= 2.17 (starts on Amazon Linux 2,
#                                                         AL2023 and the Ubuntu CodeBuild images)
#   SHA256SUMS, manifest.json                             what was built: version, commit, role/arch/file/sha256/size
#
# The Lambdas are built with cargo-lambda (`cargo lambda build --release --output-format zip`, target/dist-build-lambda),
# the runner is cross-built with cargo-zigbuild (target/dist-build); both use zig as the linker with glibc symbol
# versions capped at 2.17, and come pinned from PyPI into .venv (scripts/requirements-release.txt, installed by
# scripts/release-tools.sh). Their own target directories mean a release does not wait on, or invalidate, the debug
# builds in target/. cargo-lambda stamps `bootstrap` in its zip with the binary's mtime, so its zips are re-packed
# with a fixed timestamp and mode (the same bytes of `bootstrap`): the same binary always gives the same zip, the
# same SHA-256 and the same upload key (no needless redeploy).
#
# Rust toolchain: the one rustup selects, when it has both std libraries (x86_64- and aarch64-unknown-linux-gnu).
# When aarch64 is missing, `rustup target add` is tried; where rustup cannot download, Debian's rustc-web
# (a newer rustc with the std of both architectures, from Debian's security archive, verified by apt) is fetched
# into ~/.cache/scangate/ and used for the whole release instead. SCANGATE_RELEASE_TOOLCHAIN=rustup|debian forces one.
#
# RELEASE_REUSE=1: do nothing when dist/manifest.json was built from the sources as they are now.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV="$ROOT/.venv"
DIST="$ROOT/dist"
export PATH="$VENV/bin:$PATH"
export CARGO_TARGET_DIR="${SCANGATE_RELEASE_TARGET_DIR:-$ROOT/target/dist-build}"
GLIBC=2.17
started=$(date +%s)

say() { printf 'release: %s\n' "$*" >&2; }

if [[ ${RELEASE_REUSE:-0} == 1 ]] && python3 scripts/release.py current "$DIST"; then
  say "dist/ is current (manifest.json matches the sources), reused"
  exit 0
fi

# --- tools -------------------------------------------------------------------------------------------------------
bash scripts/release-tools.sh
command -v readelf >/dev/null || { say "readelf (binutils) is needed to check the binaries"; exit 1; }

# --- toolchain ---------------------------------------------------------------------------------------------------
debian_rustc() {
  # Debian's rustc-web for the host plus the aarch64 std (libstd-rust-web-dev:arm64), unpacked, not installed.
  # apt checks every download against Debian's signed archive indexes.
  local cache="${SCANGATE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scangate}/debian-rustc-web"
  local apt=(-o "Dir::State::Lists=$cache/lists" -o "Dir::Cache=$cache/apt-cache" -o Debug::NoLocking=1
             -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64" -q)
  mkdir -p "$cache/lists/partial" "$cache/apt-cache/archives/partial"
  command -v apt-get >/dev/null || { say "no apt-get: install the aarch64 std with rustup instead"; return 1; }
  apt-get "${apt[@]}" update >/dev/null
  local version llvm
  version=$(apt-cache "${apt[@]}" policy rustc-web | awk '/Candidate:/ { print $2 }')
  [[ -n $version && $version != "(none)" ]] || { say "apt has no rustc-web"; return 1; }
  local root="$cache/root-$version"
  if [[ ! -x $root/usr/bin/rustc ]]; then
    local short=${version%%+*}
    llvm=$(apt-cache "${apt[@]}" depends "libstd-rust-web-${short%.*}:amd64=$version" | awk '/Depends: libllvm/ { print $2; exit }')
    local debs="$cache/debs-$version"
    rm -rf "$debs" "$root.tmp" && mkdir -p "$debs" "$root.tmp"
    (cd "$debs" && apt-get "${apt[@]}" download "rustc-web:amd64=$version" "libstd-rust-web-${short%.*}:amd64=$version" \
      "libstd-rust-web-dev:amd64=$version" "libstd-rust-web-dev:arm64=$version" "${llvm%:amd64}:amd64" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$root.tmp"; done
    rm -rf "$root" && mv "$root.tmp" "$root" && rm -rf "$debs"
  fi
  cat >"$cache/rustc" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$root/usr/bin/rustc" "\$@"
EOF
  chmod 0755 "$cache/rustc"
  "$cache/rustc" --print target-libdir --target aarch64-unknown-linux-gnu >/dev/null
  echo "$cache/rustc"
}

has_target() { [[ -d $(rustc --print target-libdir --target "$1" 2>/dev/null) ]]; }
mode=${SCANGATE_RELEASE_TOOLCHAIN:-auto}
if [[ $mode == auto ]]; then
  mode=rustup
  for target in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
    has_target "$target" && continue
    if command -v rustup >/dev/null && timeout 300 rustup target add "$target" >/dev/null 2>&1 && has_target "$target"; then
      say "added the $target std with rustup"
    elif [[ $(uname -m) == x86_64 ]]; then
      say "rustup has no $target std and cannot download it: using Debian's rustc-web"
      mode=debian
    else
      say "rustup has no $target std and cannot download it (the Debian fallback needs an x86_64 host)"
      exit 1
    fi
  done
fi
if [[ $mode == debian ]]; then
  RUSTC=$(debian_rustc)
  export RUSTC
fi
RELEASE_RUSTC_VERSION="$(${RUSTC:-rustc} --version)"
export RELEASE_RUSTC_VERSION
say "toolchain: $RELEASE_RUSTC_VERSION ($mode)"

RELEASE_SOURCE_SHA256=$(python3 scripts/release.py source-digest)
export RELEASE_SOURCE_SHA256

# --- build -------------------------------------------------------------------------------------------------------
SCANGATE_COMMIT=${SCANGATE_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
export SCANGATE_COMMIT
# The Lambdas: cargo-lambda, as Rust Lambda users build them (`cargo lambda build --release --arm64 --output-format
# zip`), with the glibc pin spelled in the target (`--target aarch64-unknown-linux-gnu.2.17` is `--arm64` with
# glibc symbol versions capped like the runner's). --skip-target-check: the toolchain step above made sure the
# aarch64 std is there (cargo-lambda would otherwise run `rustup target add`, which needs rustup's network). In their
# own target directory: a cargo-lambda release build adds its own RUSTFLAGS (-C target-cpu for Graviton) and zig
# wrappers, so sharing target/dist-build with the runner's cargo-zigbuild would rebuild every dependency each time
# one follows the other.
LAMBDA_TARGET_DIR="$CARGO_TARGET_DIR-lambda"
LAMBDA_DIR="$LAMBDA_TARGET_DIR/lambda"
say "building the Lambdas with $(cargo-lambda lambda --version) for aarch64, glibc $GLIBC"
rm -rf "$LAMBDA_DIR"
CARGO_TARGET_DIR="$LAMBDA_TARGET_DIR" cargo lambda build --release --locked --target "aarch64-unknown-linux-gnu.$GLIBC" \
  --output-format zip --lambda-dir "$LAMBDA_DIR" --skip-target-check \
  -p report-processor -p pipeline-gate --bin report-processor --bin pipeline-gate
say "building the runner for aarch64, glibc $GLIBC"
cargo zigbuild --release --locked --target "aarch64-unknown-linux-gnu.$GLIBC" -p scangate-cli --bin scangate
say "building the runner for x86_64, glibc $GLIBC"
cargo zigbuild --release --locked --target "x86_64-unknown-linux-gnu.$GLIBC" -p scangate-cli --bin scangate

rm -rf "$DIST.tmp" && mkdir -p "$DIST.tmp"
A64="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/release"
X64="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
# cargo-lambda's zips, re-packed: the same `bootstrap` bytes, written with a fixed timestamp and mode (release.py
# checks that cargo-lambda's zip holds exactly `bootstrap`), so the same binary always gives the same zip.
python3 scripts/release.py repack "$LAMBDA_DIR/report-processor/bootstrap.zip" "$DIST.tmp/report-processor-arm64.zip"
python3 scripts/release.py repack "$LAMBDA_DIR/pipeline-gate/bootstrap.zip" "$DIST.tmp/pipeline-gate-arm64.zip"
install -m 0755 "$X64/scangate" "$DIST.tmp/scangate-x86_64-linux"
install -m 0755 "$A64/scangate" "$DIST.tmp/scangate-aarch64-linux"

# The x86_64 runner must start here and say which build it is.
version_line=$("$DIST.tmp/scangate-x86_64-linux" --version)
[[ $version_line == *"$SCANGATE_COMMIT"* ]] || { say "scangate --version says '$version_line', expected commit $SCANGATE_COMMIT"; exit 1; }
say "$version_line"

python3 scripts/release.py manifest "$DIST.tmp" \
  report-processor:arm64:aarch64-unknown-linux-gnu:report-processor-arm64.zip \
  pipeline-gate:arm64:aarch64-unknown-linux-gnu:pipeline-gate-arm64.zip \
  runner:x86_64:x86_64-unknown-linux-gnu:scangate-x86_64-linux \
  runner:arm64:aarch64-unknown-linux-gnu:scangate-aarch64-linux
rm -rf "$DIST" && mv "$DIST.tmp" "$DIST"
say "dist/ ready in $(($(date +%s) - started)) s: $(ls "$DIST" | tr '\n' ' ')"

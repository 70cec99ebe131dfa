#!/usr/bin/env bash
# Scan one target with the scangate runner (QScanner underneath).
#
#   scan-target.sh TARGET [more scangate options...]
#
# TARGET is one of
#   sif:/path/image.img        an Apptainer/Singularity image, whatever its name
#   image:registry/repo:tag    a registry image (no Docker needed)
#   rootfs:/path/dir           an unpacked root filesystem
#   /path/image.sif            auto-detected: a .sif name, or a file with the SIF magic
#   /path/dir                  auto-detected: an existing directory is a root filesystem
#   anything else              a registry image reference
#
# A SIF image is extracted to a root filesystem in SCRATCH_DIR (default $TMPDIR, then /tmp)
# and scanned with `scangate scan rootfs`; the extracted tree is removed afterwards.
#
# Environment:
#   QUALYS_ACCESS_TOKEN, QUALYS_POD   not needed with SCAN_MODE=inventory-only (air-gapped)
#   QSCANNER_PATH, or QSCANNER_URL (+ QSCANNER_SHA256)   the scanner binary (see docs/runner.md)
#   SCAN_MODE, SCAN_TYPES, SCAN_TIMEOUT, ...              any runner variable (docs/runner.md)
#   REPORT_BUCKET, REPORT_KMS_KEY_ID  upload the reports (optional)
#   REPORTS_DIR      where reports go, one subdirectory per target (default ./scangate-reports)
#   SCANGATE         the scangate binary (default: scangate on PATH)
#   APPTAINER        the container runtime (default: apptainer, else singularity)
#
# With SCAN_MODE=inventory-only the scan is local only: no token, no network, SBOMs
# (SPDX and CycloneDX unless SCAN_FORMAT says otherwise) and --offline-scan.
#
# Exit status: scangate's (0 passed, 42 gate failed, 1-41 QScanner's own error, 124 timeout),
# or 2 when the target cannot be used.
set -euo pipefail

usage() { echo "usage: scan-target.sh TARGET [scangate options...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
target=$1
shift

scangate=${SCANGATE:-scangate}
command -v "$scangate" >/dev/null 2>&1 || { echo "scan-target: scangate not found (set SCANGATE)" >&2; exit 2; }

# Is this file a SIF image? (name, or "SIF_MAGIC" at byte 32 of the header)
is_sif() {
    case "$1" in *.sif | *.SIF) return 0 ;; esac
    [ -f "$1" ] && [ "$(head -c 41 "$1" 2>/dev/null | tail -c 9)" = "SIF_MAGIC" ]
}

kind=
ref=
case "$target" in
    sif:*) kind=sif ref=${target#sif:} ;;
    image:*) kind=image ref=${target#image:} ;;
    rootfs:*) kind=rootfs ref=${target#rootfs:} ;;
    *)
        ref=$target
        if is_sif "$target"; then
            kind=sif
        elif [ -d "$target" ]; then
            kind=rootfs
        else
            kind=image
        fi
        ;;
esac
[ -n "$ref" ] || { echo "scan-target: empty target in '$target'" >&2; exit 2; }

# A name for the report directory: the file or image name, made path-safe.
name=$(basename -- "$ref" | tr -c 'A-Za-z0-9._-' '_')
name=${name%_}
out=${REPORTS_DIR:-$PWD/scangate-reports}/$name
mkdir -p "$out"

if [ "${SCAN_MODE:-get-report}" = inventory-only ]; then
    export SCAN_FORMAT=${SCAN_FORMAT:-spdx,cyclonedx}
    export OFFLINE_SCAN=${OFFLINE_SCAN:-true}
fi
# In a Slurm job, a build id per job (and array task) keeps uploads apart.
if [ -n "${SLURM_JOB_ID:-}" ]; then
    export SCANGATE_BUILD_ID=${SCANGATE_BUILD_ID:-slurm-${SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+-$SLURM_ARRAY_TASK_ID}}
    export SCANGATE_PROJECT=${SCANGATE_PROJECT:-slurm}
fi

common=(--output-dir "$out" --outputs-file "$out/scangate-outputs.env" --junit-path "$out/junit.xml")

rootfs=
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    if [ -n "$rootfs" ] && [ -d "$rootfs" ]; then
        chmod -R u+w "$rootfs" 2>/dev/null || true
        rm -rf -- "$rootfs"
    fi
}
trap cleanup EXIT

extract_sif() { # SIF DEST
    local sif=$1 dest=$2 runtime
    runtime=${APPTAINER:-$(command -v apptainer || command -v singularity || true)}
    [ -n "$runtime" ] || { echo "scan-target: neither apptainer nor singularity is on PATH" >&2; exit 2; }
    # Unprivileged extraction of the image's filesystem into a directory.
    if "$runtime" build --force --sandbox "$dest" "$sif" >"$out/extract.log" 2>&1; then
        return 0
    fi
    # Fallback: copy the filesystem out from inside the container.
    echo "scan-target: '$runtime build --sandbox' failed (see $out/extract.log); extracting with tar" >&2
    rm -rf -- "$dest"
    mkdir -p "$dest"
    "$runtime" exec --containall --no-home "$sif" \
        tar -C / --one-file-system --exclude=./proc --exclude=./sys --exclude=./dev -cf - . |
        tar -C "$dest" -xf - --no-same-owner
}

rc=0
case "$kind" in
    sif)
        [ -f "$ref" ] || { echo "scan-target: SIF file not found: $ref" >&2; exit 2; }
        scratch=${SCRATCH_DIR:-${TMPDIR:-/tmp}}
        rootfs=$(mktemp -d "$scratch/scangate-rootfs.XXXXXX")
        echo "scan-target: extracting $ref to $rootfs"
        extract_sif "$ref" "$rootfs"
        # The SIF file's absolute path is the scan's lifecycle identity (docs/runner.md).
        "$scangate" scan rootfs "$rootfs" --target "$(cd "$(dirname -- "$ref")" && pwd)/$(basename -- "$ref")" \
            "${common[@]}" "$@" || rc=$?
        ;;
    rootfs)
        [ -d "$ref" ] || { echo "scan-target: not a directory: $ref" >&2; exit 2; }
        "$scangate" scan rootfs "$ref" --target "$(cd -- "$ref" && pwd)" "${common[@]}" "$@" || rc=$?
        ;;
    image)
        "$scangate" scan image "$ref" "${common[@]}" "$@" || rc=$?
        ;;
esac
echo "scan-target: $kind $ref -> exit $rc (reports in $out)"
exit "$rc"

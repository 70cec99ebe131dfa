#!/usr/bin/env bash
# One scan as a Slurm job:
#   sbatch --export=ALL,SCAN_TARGET=/shared/images/app.sif examples/slurm/slurm-scan.sh
# SCAN_TARGET takes the forms scan-target.sh accepts (sif:, image:, rootfs:, or auto-detected).
#SBATCH --job-name=scangate-scan
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=00:30:00
#SBATCH --tmp=10G
#SBATCH --output=scangate-%j.out
set -euo pipefail

# Slurm runs a copy of this script from its spool directory: find the helpers by the
# submit directory (or SCANGATE_SLURM_DIR).
dir=${SCANGATE_SLURM_DIR:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "$0")" && pwd)}/examples/slurm}
[ -f "$dir/scan-target.sh" ] || dir=$(cd "$(dirname "$0")" && pwd)
[ -f "$dir/scan-target.sh" ] || { echo "scan-target.sh not found: set SCANGATE_SLURM_DIR" >&2; exit 2; }

: "${SCAN_TARGET:?set SCAN_TARGET, e.g. sbatch --export=ALL,SCAN_TARGET=/shared/images/app.sif slurm-scan.sh}"
# Node-local scratch for the SIF extraction (--tmp above).
export SCRATCH_DIR=${SCRATCH_DIR:-${TMPDIR:-/tmp}}
exec bash "$dir/scan-target.sh" "$SCAN_TARGET" "$@"

#!/usr/bin/env bash
# Many scans as a Slurm array job, one task per line of a targets file:
#   sbatch --array=1-$(grep -cvE '^[[:space:]]*(#|$)' targets.txt)%5 examples/slurm/slurm-batch.sh
# (%5: at most five scans at a time). TARGETS_FILE overrides targets.txt; blank lines and
# lines starting with # are skipped, the same way in the count above and here.
#SBATCH --job-name=scangate-batch
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=00:30:00
#SBATCH --tmp=10G
#SBATCH --output=scangate-%A_%a.out
set -euo pipefail

dir=${SCANGATE_SLURM_DIR:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "$0")" && pwd)}/examples/slurm}
[ -f "$dir/scan-target.sh" ] || dir=$(cd "$(dirname "$0")" && pwd)
[ -f "$dir/scan-target.sh" ] || { echo "scan-target.sh not found: set SCANGATE_SLURM_DIR" >&2; exit 2; }

targets=${TARGETS_FILE:-${SLURM_SUBMIT_DIR:-$PWD}/targets.txt}
[ -f "$targets" ] || { echo "targets file not found: $targets (set TARGETS_FILE)" >&2; exit 2; }
task=${SLURM_ARRAY_TASK_ID:?run as an array job: sbatch --array=1-N slurm-batch.sh}
case "$task" in '' | *[!0-9]*) echo "SLURM_ARRAY_TASK_ID is not a number: $task" >&2; exit 2 ;; esac

target=$(grep -vE '^[[:space:]]*(#|$)' "$targets" | sed -n "${task}p" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
[ -n "$target" ] || { echo "no target number $task in $targets" >&2; exit 2; }
echo "task $task: $target"
export SCRATCH_DIR=${SCRATCH_DIR:-${TMPDIR:-/tmp}}
exec bash "$dir/scan-target.sh" "$target" "$@"

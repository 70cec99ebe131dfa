#!/usr/bin/env bash
# Scan the running containers of every node of a partition: one task per node, each lists the
# node's containers (`scangate scan running --list --format json`) and scans each readable one
# by PID. Reading other users' containers needs root: run the sweep as a user allowed
# `sudo -n scangate` (SCANGATE="sudo -n scangate"), or as root.
#   nodes=$(sinfo -h -p compute -N -o %N | sort -u | wc -l)
#   sbatch --partition=compute --nodes="$nodes" --ntasks-per-node=1 examples/slurm/sweep-running.sh
# Reports: REPORTS_DIR/<node>/<pid>/ (default ./reports), uploaded when REPORT_BUCKET is set, as
# project slurm and build id slurm-<job>-<node>-<pid>. docs/hpc.md.
#SBATCH --job-name=scangate-sweep
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=00:30:00
#SBATCH --output=scangate-sweep-%j.out
set -euo pipefail

scangate=${SCANGATE:-scangate}
reports=${REPORTS_DIR:-${SLURM_SUBMIT_DIR:-$PWD}/reports}

if [ "${1:-}" != "--node" ]; then
  # The batch step: one copy of this script on every node of the allocation.
  exec srun --ntasks-per-node=1 bash "$0" --node
fi

node=$(hostname -s)
job=${SLURM_JOB_ID:-local}
export SCAN_MODE=${SCAN_MODE:-inventory-only}
if [ "$SCAN_MODE" = inventory-only ]; then
  export SCAN_FORMAT=${SCAN_FORMAT:-spdx,cyclonedx} OFFLINE_SCAN=${OFFLINE_SCAN:-true}
fi
export SCANGATE_PROJECT=${SCANGATE_PROJECT:-slurm}

pids=$($scangate scan running --list --format json |
  python3 -c 'import json,sys; print(" ".join(str(c["pid"]) for c in json.load(sys.stdin)["containers"] if c["readable"]))')
status=0
for pid in $pids; do
  out="$reports/$node/$pid"
  mkdir -p "$out"
  echo "$node: scanning the container of PID $pid into $out"
  OUTPUT_DIR="$out" SCANGATE_WORK_DIR="$(mktemp -d)" SCANGATE_BUILD_ID="slurm-$job-$node-$pid" \
    $scangate scan running --pid "$pid" --outputs-file "$out/outputs.env" --junit-path "$out/junit.xml" ||
    { rc=$?; echo "$node: PID $pid: scan exit $rc" >&2; [ "$rc" -gt "$status" ] && status=$rc; }
done
[ -n "$pids" ] || echo "$node: no readable running containers"
exit "$status"

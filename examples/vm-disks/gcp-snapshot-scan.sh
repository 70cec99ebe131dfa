#!/usr/bin/env bash
# Agentless scan of one persistent disk of a Compute Engine VM, run on a scanner VM of the same project:
#   snapshot the disk -> disk from the snapshot in the scanner's zone -> attach to the scanner read-only (--mode ro)
#   -> mount read-only -> `scangate scan vm-disk` -> unmount -> detach -> delete the disk and the snapshot.
#
#   sudo VM_NAME=web-1 SOURCE_DISK=web-1 VM_ZONE=europe-west1-b GCP_PROJECT=shop-prod \
#     examples/vm-disks/gcp-snapshot-scan.sh --bucket "$REPORT_BUCKET" --kms-key-id "$REPORT_KMS_KEY_ID"
#
# Arguments are passed to `scangate scan vm-disk` (QScanner, gate and upload options: docs/runner.md).
# Variables: VM_NAME, SOURCE_DISK (the disk to scan, of that VM), VM_ZONE (the VM's and the disk's zone), GCP_PROJECT,
# SCANNER_NAME and SCANNER_ZONE (else this VM, from the metadata server), MOUNT_DIR (default /mnt/scangate/<run>),
# SCANGATE (default scangate), RUN_ID (default scangate-<16 hex digits of project/zone/disk>: names the snapshot and
# the disk), POLL_SECONDS (default 2; the snapshot is polled up to 1800 times, the device 90 times).
#
# Everything the run creates is named <run> and labelled scangate-purpose=vm-disk-scan, scangate-run=<run>; the
# scanner's custom role (docs/vm-disks.md) lets it delete only snapshots and disks whose names start with scangate-.
# Idempotent: a run first removes what an earlier run with the same run id left (after a crash or a kill -9:
# unmount, detach, delete the disk and the snapshot), then starts from a fresh snapshot, so a scan never reads an
# old copy of the disk. A leftover disk attached to another VM is not touched (another scan of the same disk may be
# running there): the run stops. Whatever this run created is removed on exit, on failure too (trap).
# Exit status: scangate's (0 passed, 42 gate failed, ...), else 1; cleanup that fails exits 1 and names what is left.
set -euo pipefail

die() { echo "gcp-snapshot-scan: $*" >&2; exit 1; }
say() { echo "gcp-snapshot-scan: $*" >&2; }

: "${VM_NAME:?set VM_NAME (the VM whose disk is scanned)}"
: "${SOURCE_DISK:?set SOURCE_DISK (the disk of VM_NAME to scan)}"
: "${VM_ZONE:?set VM_ZONE (the zone of VM_NAME and SOURCE_DISK)}"
: "${GCP_PROJECT:?set GCP_PROJECT}"
scangate=${SCANGATE:-scangate}
by_id=${BY_ID_DIR:-/dev/disk/by-id}
poll=${POLL_SECONDS:-2}
run=${RUN_ID:-scangate-$(printf '%s' "$GCP_PROJECT/$VM_ZONE/$SOURCE_DISK" | sha256sum | cut -c1-16)}
mnt=${MOUNT_DIR:-/mnt/scangate/$run}
purpose=vm-disk-scan
labels="scangate-purpose=$purpose,scangate-run=$run"

metadata() {
  curl -sf -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/instance/$1" ||
    die "the metadata server did not answer: set $2"
}
scanner=${SCANNER_NAME:-$(metadata name SCANNER_NAME)}
scanner_zone=${SCANNER_ZONE:-$(metadata zone SCANNER_ZONE)}
scanner_zone=${scanner_zone##*/}  # the metadata server says projects/<number>/zones/<zone>
compute() { gcloud compute "$@" --project "$GCP_PROJECT"; }

# --- what this run holds; released in reverse order on exit ------------------------------------------------------
snapshot='' disk='' attached='' mounted=''
release_all() {
  local failed=''
  if [ -n "$mounted" ]; then umount "$mnt" && mounted='' || failed+=" mount $mnt"; fi
  if [ -n "$attached" ]; then
    if compute instances detach-disk "$scanner" --zone "$scanner_zone" --disk "$disk"; then attached=''; else failed+=" attachment of $disk to $scanner"; fi
  fi
  if [ -n "$disk" ]; then
    if [ -z "$attached" ] && compute disks delete "$disk" --zone "$scanner_zone" --quiet; then disk=''; else failed+=" disk $disk"; fi
  fi
  if [ -n "$snapshot" ]; then compute snapshots delete "$snapshot" --quiet && snapshot='' || failed+=" snapshot $snapshot"; fi
  if [ -n "$failed" ]; then
    say "cleanup failed, left over:$failed (labelled scangate-run=$run: re-run this script to remove them)"
    return 1
  fi
}
on_exit() {
  local rc=$?
  trap - EXIT
  set +e
  release_all || { [ "$rc" -eq 0 ] && rc=1; }
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. leftovers of an earlier run with this run id --------------------------------------------------------------
leftover_disks=$(compute disks list --filter "labels.scangate-run=$run" --format 'value(name,zone.basename(),users[0].basename())')
while IFS=$'\t' read -r name zone user; do
  [ -n "$name" ] || continue
  [ "$zone" = "$scanner_zone" ] || die "disk $name of run $run is in zone $zone, not the scanner's ($scanner_zone): remove it there"
  if [ -n "$user" ] && [ "$user" != "$scanner" ]; then
    die "disk $name of run $run is attached to $user, not this scanner ($scanner): another scan of $SOURCE_DISK may be running there"
  fi
  say "removing disk $name left by an earlier run${user:+ (attached to $user)}"
  disk=$name
  if [ -n "$user" ]; then
    attached=1
    if mountpoint -q "$mnt"; then mounted=1; fi
  fi
  release_all || exit 1
done <<<"$leftover_disks"
leftover_snapshots=$(compute snapshots list --filter "labels.scangate-run=$run" --format 'value(name)')
while read -r name; do
  [ -n "$name" ] || continue
  say "removing snapshot $name left by an earlier run"
  snapshot=$name
  release_all || exit 1
done <<<"$leftover_snapshots"
if mountpoint -q "$mnt"; then say "unmounting $mnt, left mounted by an earlier run"; umount "$mnt"; fi

# --- 2. snapshot -> disk -> attach read-only ----------------------------------------------------------------------
snapshot=$run
if ! compute snapshots create "$snapshot" --source-disk "$SOURCE_DISK" --source-disk-zone "$VM_ZONE" --labels "$labels"; then
  # A create that failed after GCP took it (a lost connection) left a snapshot: deleted on exit if it exists.
  compute snapshots describe "$snapshot" --format 'value(status)' >/dev/null 2>&1 || snapshot=''
  die "could not snapshot $SOURCE_DISK"
fi
for ((i = 0; ; i++)); do
  status=$(compute snapshots describe "$snapshot" --format 'value(status)')
  [ "$status" = READY ] && break
  [ "$status" = FAILED ] && die "snapshot $snapshot failed"
  ((i < 1800)) || die "snapshot $snapshot is still $status"
  sleep "$poll"
done
say "snapshot $snapshot of $SOURCE_DISK"
disk=$run
if ! compute disks create "$disk" --zone "$scanner_zone" --source-snapshot "$snapshot" --labels "$labels"; then
  compute disks describe "$disk" --zone "$scanner_zone" --format 'value(status)' >/dev/null 2>&1 || disk=''
  die "could not create disk $disk from $snapshot"
fi
say "disk $disk in $scanner_zone"
compute instances attach-disk "$scanner" --zone "$scanner_zone" --disk "$disk" --device-name "$disk" --mode ro
attached=1

# --- 3. find the block device (/dev/disk/by-id/google-<device name>) -------------------------------------------------
dev=''
for ((i = 0; i < 90; i++)); do
  if [ -e "$by_id/google-$disk" ]; then dev=$by_id/google-$disk; break; fi
  sleep "$poll"
done
[ -n "$dev" ] || die "disk $disk is attached but $by_id/google-$disk did not appear"

# --- 4. mount the partition that holds the root filesystem, read-only (the attachment is read-only too) -------------
mkdir -p "$mnt"
mounted_part=''
while read -r part _type fstype; do
  case $fstype in
    ''|swap|LVM2_member|crypto_LUKS) continue ;;
    ext2|ext3|ext4) options=ro,noexec,nodev,nosuid,noload ;;
    xfs) options=ro,noexec,nodev,nosuid,norecovery,nouuid ;;
    *) options=ro,noexec,nodev,nosuid ;;
  esac
  mount -o "$options" "$part" "$mnt" || continue
  mounted=1
  # The root filesystem has etc/ (Linux) or Windows/ (refused by scangate with a clear message); not a boot partition.
  for marker in etc Windows WINDOWS; do
    if [ -d "$mnt/$marker" ] && [ ! -L "$mnt/$marker" ]; then mounted_part=$part; break 2; fi
  done
  umount "$mnt"
  mounted=''
done < <(lsblk -lnpo NAME,TYPE,FSTYPE "$dev")
[ -n "$mounted_part" ] || die "no partition of $dev ($disk) holds a root filesystem (LVM and LUKS are not opened)"
say "mounted $mounted_part of $disk read-only at $mnt"

# --- 5. scan: the target is the VM and its source disk, not the temporary copy ---------------------------------------
set +e
"$scangate" scan vm-disk --mount-path "$mnt" --cloud gcp --vm-name "$VM_NAME" --disk "$SOURCE_DISK" \
  --gcp-project "$GCP_PROJECT" --zone "$VM_ZONE" "$@"
rc=$?
set -e
say "scangate exited $rc"
exit "$rc"

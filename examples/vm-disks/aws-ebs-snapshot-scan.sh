#!/usr/bin/env bash
# Agentless scan of one EBS volume of an EC2 instance, run on a scanner instance in the same region:
#   snapshot the volume -> volume from the snapshot in the scanner's AZ -> attach to the scanner -> block device
#   read-only -> mount read-only -> `scangate scan vm-disk` -> unmount -> detach -> delete the volume and the snapshot.
#
#   sudo VM_INSTANCE_ID=i-0abc123 SOURCE_VOLUME_ID=vol-0def456 AWS_REGION=eu-west-1 \
#     examples/vm-disks/aws-ebs-snapshot-scan.sh --bucket "$REPORT_BUCKET" --kms-key-id "$REPORT_KMS_KEY_ID"
#
# Arguments are passed to `scangate scan vm-disk` (QScanner, gate and upload options: docs/runner.md).
# Variables: VM_INSTANCE_ID, SOURCE_VOLUME_ID (the disk to scan, of that instance), AWS_REGION (else IMDS),
# SCANNER_INSTANCE_ID (else this instance, from IMDSv2), ACCOUNT_ID (else `aws sts get-caller-identity`),
# DEVICE (attachment name, default /dev/sdf), MOUNT_DIR (default /mnt/scangate/<run>), SCANGATE (default scangate),
# RUN_ID (default scangate-<source volume>), WAIT_ROUNDS (default 12 rounds of `aws ec2 wait`, ~10 min each),
# POLL_SECONDS (default 2, how often the device is looked for; 90 tries).
#
# Everything the run creates is tagged scangate-purpose=vm-disk-scan and scangate-run=<run>; the scanner role's
# policy (aws-scanner-policy.json, docs/vm-disks.md) lets it delete and detach only what carries that tag.
# Idempotent: a run first removes what an earlier run with the same run id left (after a crash or a kill -9:
# unmount, detach, delete the volume and the snapshot), then starts from a fresh snapshot, so a scan never reads an
# old copy of the disk. A leftover volume attached to another instance is not touched (another scan of the same disk
# may be running there): the run stops. Whatever this run created is removed on exit, on failure too (trap).
# Exit status: scangate's (0 passed, 42 gate failed, ...), else 1; cleanup that fails exits 1 and names what is left.
# EBS has no read-only attachment: the copy is attached read-write, its block device is set read-only
# (`blockdev --setro`) and mounted ro,noexec,nodev,nosuid without journal replay; the source volume is never attached.
set -euo pipefail

die() { echo "aws-ebs-snapshot-scan: $*" >&2; exit 1; }
say() { echo "aws-ebs-snapshot-scan: $*" >&2; }

: "${VM_INSTANCE_ID:?set VM_INSTANCE_ID (the instance whose disk is scanned)}"
: "${SOURCE_VOLUME_ID:?set SOURCE_VOLUME_ID (the volume of VM_INSTANCE_ID to scan)}"
scangate=${SCANGATE:-scangate}
device=${DEVICE:-/dev/sdf}
by_id=${BY_ID_DIR:-/dev/disk/by-id}
poll=${POLL_SECONDS:-2}
rounds=${WAIT_ROUNDS:-12}
run=${RUN_ID:-scangate-$SOURCE_VOLUME_ID}
mnt=${MOUNT_DIR:-/mnt/scangate/$run}
purpose=vm-disk-scan

imds() {
  local token
  token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token) ||
    die "IMDSv2 did not answer: set $2"
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1" || die "IMDS has no $1: set $2"
}
region=${AWS_REGION:-$(imds placement/region AWS_REGION)}
scanner=${SCANNER_INSTANCE_ID:-$(imds instance-id SCANNER_INSTANCE_ID)}
ec2() { aws ec2 "$@" --region "$region"; }
# `aws ec2 wait` gives up after about 10 minutes; a large snapshot takes longer.
wait_for() {
  local i
  for ((i = 1; i <= rounds; i++)); do ec2 wait "$@" && return 0; done
  return 1
}
tags() { echo "ResourceType=$1,Tags=[{Key=scangate-purpose,Value=$purpose},{Key=scangate-run,Value=$run},{Key=scangate-source,Value=$SOURCE_VOLUME_ID}]"; }

# --- what this run holds; released in reverse order on exit ------------------------------------------------------
snapshot='' volume='' attached='' mounted=''
release_all() {
  local failed=''
  if [ -n "$mounted" ]; then umount "$mnt" && mounted='' || failed+=" mount $mnt"; fi
  if [ -n "$attached" ]; then
    if ec2 detach-volume --volume-id "$volume" >/dev/null && wait_for volume-available --volume-ids "$volume"; then
      attached=''
    else
      failed+=" attachment of $volume to $scanner"
    fi
  fi
  if [ -n "$volume" ]; then
    if [ -z "$attached" ] && ec2 delete-volume --volume-id "$volume"; then volume=''; else failed+=" volume $volume"; fi
  fi
  if [ -n "$snapshot" ]; then ec2 delete-snapshot --snapshot-id "$snapshot" && snapshot='' || failed+=" snapshot $snapshot"; fi
  if [ -n "$failed" ]; then
    say "cleanup failed, left over:$failed (tagged scangate-run=$run: re-run this script to remove them)"
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
leftover_volumes=$(ec2 describe-volumes --filters "Name=tag:scangate-run,Values=$run" "Name=tag:scangate-purpose,Values=$purpose" \
  --query 'Volumes[].[VolumeId,State,Attachments[0].InstanceId]' --output text)
while read -r id state instance; do
  [ -n "$id" ] || continue
  if [ -n "$instance" ] && [ "$instance" != None ] && [ "$instance" != "$scanner" ]; then
    die "volume $id of run $run is attached to $instance, not this scanner ($scanner): another scan of $SOURCE_VOLUME_ID may be running there"
  fi
  say "removing volume $id left by an earlier run ($state${instance:+, attached to $instance})"
  if [ "$state" = creating ]; then wait_for volume-available --volume-ids "$id" || die "volume $id stays in state creating"; fi
  volume=$id
  if [ -n "$instance" ] && [ "$instance" != None ]; then
    attached=1
    if mountpoint -q "$mnt"; then mounted=1; fi
  fi
  release_all || exit 1
done <<<"$leftover_volumes"
leftover_snapshots=$(ec2 describe-snapshots --owner-ids self --filters "Name=tag:scangate-run,Values=$run" \
  "Name=tag:scangate-purpose,Values=$purpose" --query 'Snapshots[].[SnapshotId,State]' --output text)
while read -r id state; do
  [ -n "$id" ] || continue
  say "removing snapshot $id left by an earlier run ($state)"
  snapshot=$id
  release_all || exit 1
done <<<"$leftover_snapshots"
if mountpoint -q "$mnt"; then say "unmounting $mnt, left mounted by an earlier run"; umount "$mnt"; fi

# --- 2. snapshot -> volume -> attach -------------------------------------------------------------------------------
account=${ACCOUNT_ID:-$(aws sts get-caller-identity --query Account --output text)}
zone=$(ec2 describe-instances --instance-ids "$scanner" --query 'Reservations[0].Instances[0].Placement.AvailabilityZone' --output text)
snapshot=$(ec2 create-snapshot --volume-id "$SOURCE_VOLUME_ID" --description "scangate scan of $VM_INSTANCE_ID $SOURCE_VOLUME_ID" \
  --tag-specifications "$(tags snapshot)" --query SnapshotId --output text)
say "snapshot $snapshot of $SOURCE_VOLUME_ID"
wait_for snapshot-completed --snapshot-ids "$snapshot" || die "snapshot $snapshot did not complete"
volume=$(ec2 create-volume --snapshot-id "$snapshot" --availability-zone "$zone" --volume-type gp3 \
  --tag-specifications "$(tags volume)" --query VolumeId --output text)
say "volume $volume in $zone"
wait_for volume-available --volume-ids "$volume" || die "volume $volume did not become available"
ec2 attach-volume --volume-id "$volume" --instance-id "$scanner" --device "$device" >/dev/null
attached=1
wait_for volume-in-use --volume-ids "$volume" || die "volume $volume was not attached"

# --- 3. find the block device (Nitro: NVMe, serial = volume id without the dash; Xen: the device name) -------------
dev=''
for ((i = 0; i < 90; i++)); do
  for candidate in "$by_id/nvme-Amazon_Elastic_Block_Store_${volume//-/}" "$device" "${device/\/dev\/sd//dev/xvd}"; do
    if [ -b "$candidate" ] || [ -e "$candidate" ]; then dev=$candidate; break 2; fi
  done
  sleep "$poll"
done
[ -n "$dev" ] || die "volume $volume is attached but no block device appeared"

# --- 4. read-only, then mount the partition that holds the root filesystem -----------------------------------------
blockdev --setro "$dev"
mkdir -p "$mnt"
mounted_part=''
while read -r part type fstype; do
  case $fstype in
    ''|swap|LVM2_member|crypto_LUKS) continue ;;
    ext2|ext3|ext4) options=ro,noexec,nodev,nosuid,noload ;;
    xfs) options=ro,noexec,nodev,nosuid,norecovery,nouuid ;;
    *) options=ro,noexec,nodev,nosuid ;;
  esac
  if [ "$type" = part ]; then blockdev --setro "$part"; fi
  mount -o "$options" "$part" "$mnt" || continue
  mounted=1
  # The root filesystem has etc/ (Linux) or Windows/ (refused by scangate with a clear message); not a boot partition.
  for marker in etc Windows WINDOWS; do
    if [ -d "$mnt/$marker" ] && [ ! -L "$mnt/$marker" ]; then mounted_part=$part; break 2; fi
  done
  umount "$mnt"
  mounted=''
done < <(lsblk -lnpo NAME,TYPE,FSTYPE "$dev")
[ -n "$mounted_part" ] || die "no partition of $dev ($volume) holds a root filesystem (LVM and LUKS are not opened)"
say "mounted $mounted_part of $volume read-only at $mnt"

# --- 5. scan: the target is the VM and its source volume, not the temporary copy --------------------------------------
set +e
"$scangate" scan vm-disk --mount-path "$mnt" --cloud aws --instance-id "$VM_INSTANCE_ID" --volume-id "$SOURCE_VOLUME_ID" \
  --region "$region" --account-id "$account" "$@"
rc=$?
set -e
say "scangate exited $rc"
exit "$rc"

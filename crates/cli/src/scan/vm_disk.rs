//! `scangate scan vm-disk --mount-path DIR`: a VM disk (a snapshot's copy, attached and
//! mounted read-only on a scanner machine), scanned with QScanner's rootfs mode under the VM's
//! identity (docs/vm-disks.md).
//!
//! The mounted disk is untrusted content: its OS is detected through [`super::in_root`]
//! (links never leave the mount, os-release is read up to [`super::os_detect::MAX_OS_RELEASE_BYTES`]).
//! A Windows disk is refused (exit 2): QScanner documents no mode for it. So is a disk with no
//! recognisable OS (often the boot or EFI partition mounted instead of the root).

use super::args::{FsOpts, GateOpts, ScannerOpts, UploadOpts};
use super::os_detect::{self, DetectedOs};
use super::run::{run_qscanner, Target};
use super::{in_root, resolve_paths};
use crate::error::CliError;
use clap::Args;
use scangate_core::host::{HostFacts, VmTarget};
use std::path::PathBuf;

/// `scan vm-disk`.
#[derive(Debug, Args)]
pub(crate) struct VmDiskArgs {
    /// The mounted disk's root directory (mount it read-only: `mount -o ro,noexec,nodev,nosuid`).
    #[arg(long, env = "SCANGATE_MOUNT_PATH", value_name = "DIR", help_heading = "VM")]
    pub mount_path: PathBuf,
    /// The VM's cloud: aws (needs --instance-id, --volume-id, --region, --account-id) or gcp
    /// (needs --vm-name, --disk, --gcp-project, --zone). Without it, --target names the VM.
    #[arg(long, env = "SCANGATE_CLOUD", value_parser = ["aws", "gcp"], help_heading = "VM")]
    pub cloud: Option<String>,
    /// The VM: EC2 instance id (i-…) or GCP instance name.
    #[arg(long = "instance-id", visible_alias = "vm-name", env = "SCANGATE_INSTANCE", help_heading = "VM")]
    pub instance: Option<String>,
    /// The disk: the EBS volume the snapshot was taken from (vol-…, not the temporary copy) or
    /// the GCP disk name.
    #[arg(long = "volume-id", visible_alias = "disk", env = "SCANGATE_DISK", help_heading = "VM")]
    pub disk: Option<String>,
    /// aws: the VM's region (e.g. eu-west-1).
    #[arg(long = "region", env = "SCANGATE_VM_REGION", help_heading = "VM")]
    pub region: Option<String>,
    /// aws: the VM's account (12 digits).
    #[arg(long = "account-id", env = "SCANGATE_VM_ACCOUNT_ID", help_heading = "VM")]
    pub account_id: Option<String>,
    /// gcp: the VM's project.
    #[arg(long = "gcp-project", env = "SCANGATE_GCP_PROJECT", help_heading = "VM")]
    pub gcp_project: Option<String>,
    /// gcp: the VM's zone (e.g. europe-west1-b).
    #[arg(long = "zone", env = "SCANGATE_GCP_ZONE", help_heading = "VM")]
    pub zone: Option<String>,
    #[command(flatten)]
    pub fs: FsOpts,
    #[command(flatten)]
    pub scanner: ScannerOpts,
    #[command(flatten)]
    pub gate: GateOpts,
    #[command(flatten)]
    pub upload: UploadOpts,
}

/// The partition of a region: `cn-…` → aws-cn, `us-gov-…` → aws-us-gov, else aws.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The recorded target: the VM and disk for a cloud, else `--target`.
pub(super) fn vm_target(a: &VmDiskArgs) -> Result<String, CliError> {
    let need =
        |v: &Option<String>, flag: &str| {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).ok_or_else(|| {
                CliError::usage(format!("--cloud {}: {flag} is required", a.cloud.as_deref().unwrap_or("")))
            })
        };
    let given = a.fs.target_name.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let Some(cloud) = a.cloud.as_deref() else {
        return given.map(str::to_string).ok_or_else(|| {
            CliError::usage(
                "name the VM: --cloud aws --instance-id … --volume-id … --region … --account-id …, \
                 --cloud gcp --vm-name … --disk … --gcp-project … --zone …, or --target NAME / SCANGATE_TARGET",
            )
        });
    };
    if given.is_some() {
        return Err(CliError::usage(
            "--target / SCANGATE_TARGET and --cloud both name the VM: give one (with --cloud the target is the VM's ARN or self-link and its disk)",
        ));
    }
    let instance = need(&a.instance, "--instance-id / --vm-name / SCANGATE_INSTANCE")?;
    let disk = need(&a.disk, "--volume-id / --disk / SCANGATE_DISK")?;
    let vm = if cloud == "aws" {
        let region = need(&a.region, "--region / SCANGATE_VM_REGION")?;
        let account = need(&a.account_id, "--account-id / SCANGATE_VM_ACCOUNT_ID")?;
        VmTarget::aws(partition(&region), &region, &account, &instance, &disk)
    } else {
        let project = need(&a.gcp_project, "--gcp-project / SCANGATE_GCP_PROJECT")?;
        let zone = need(&a.zone, "--zone / SCANGATE_GCP_ZONE")?;
        VmTarget::gcp(&project, &zone, &instance, &disk)
    };
    vm.map(|v| v.target()).map_err(|e| CliError::usage(format!("--cloud {cloud}: {e}")))
}

/// Detects the disk's OS; a Windows or unrecognised disk is refused with exit 2.
pub(super) fn check_disk(dir: &std::path::Path) -> Result<DetectedOs, CliError> {
    let root = in_root::open_root(dir).map_err(|e| {
        CliError::usage(format!(
            "--mount-path / SCANGATE_MOUNT_PATH: cannot open {} as a directory: {e}",
            dir.display()
        ))
    })?;
    let os = os_detect::detect(&root).map_err(|e| {
        CliError::usage(format!(
            "--mount-path {}: refusing the disk: {e} (os-release is read inside the mount, capped)",
            dir.display()
        ))
    })?;
    match &os {
        DetectedOs::Windows { evidence } => Err(CliError::usage(format!(
            "--mount-path {}: this is a Windows disk ({evidence} found); QScanner documents no mode for \
             Windows filesystems, so scangate does not scan it (nothing was scanned or uploaded)",
            dir.display()
        ))),
        DetectedOs::Unknown => Err(CliError::usage(format!(
            "--mount-path {}: no operating system recognised (no etc/os-release, usr/lib/os-release, \
             Linux package database or Windows/System32): is this the disk's root partition? Nothing was scanned",
            dir.display()
        ))),
        DetectedOs::Linux { evidence, .. } => {
            eprintln!(
                "scangate: {} holds {} ({evidence})",
                dir.display(),
                os.describe().unwrap_or_else(|| "Linux".to_string())
            );
            if let Ok(st) = rustix::fs::statvfs(dir) {
                if !st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
                    eprintln!(
                        "scangate: warning: {} is mounted read-write; mount a VM disk read-only (-o ro,noexec,nodev,nosuid)",
                        dir.display()
                    );
                }
            }
            Ok(os)
        }
    }
}

pub(super) fn run(mut a: VmDiskArgs) -> Result<i32, CliError> {
    let target = vm_target(&a)?;
    let os = check_disk(&a.mount_path)?;
    resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
    eprintln!("scangate: VM disk target {target}");
    a.fs.target_name = Some(target);
    let facts = HostFacts { os: os.describe(), ..HostFacts::default() };
    run_qscanner(Target::Rootfs(a.mount_path.clone()), &a.scanner, None, Some(&a.fs), &a.gate, &a.upload, Some(&facts))
}

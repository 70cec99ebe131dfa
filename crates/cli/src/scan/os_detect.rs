//! Which operating system a root filesystem holds (a mounted VM disk, a container's root),
//! read through [`super::in_root`] (untrusted content: links stay inside, files are capped).

use super::in_root::{self, InRootError, Lookup};
use scangate_core::host::{parse_os_release, OsRelease};
use std::os::fd::OwnedFd;

/// os-release is a few hundred bytes; anything past this is not one.
pub(super) const MAX_OS_RELEASE_BYTES: u64 = 64 * 1024;

/// Where os-release lives (os-release(5): the first that exists wins).
const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// Files that mark a Linux root filesystem without os-release (old or minimal distributions).
const LINUX_MARKERS: [&str; 7] = [
    "etc/debian_version",
    "etc/redhat-release",
    "etc/alpine-release",
    "etc/SuSE-release",
    "etc/lsb-release",
    "var/lib/dpkg/status",
    "var/lib/rpm",
];

/// Windows system directories (NTFS is case-insensitive; mounts keep the on-disk spelling).
const WINDOWS_MARKERS: [&str; 4] = ["Windows/System32", "WINDOWS/system32", "Windows/system32", "WINDOWS/System32"];

/// What a root filesystem holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum DetectedOs {
    /// Linux: its os-release when there is one, and what showed it.
    Linux {
        release: Option<OsRelease>,
        evidence: String,
    },
    /// Windows: the system directory found.
    Windows {
        evidence: String,
    },
    Unknown,
}

impl DetectedOs {
    /// The OS as recorded (`scangate-os`).
    pub(super) fn describe(&self) -> Option<String> {
        match self {
            DetectedOs::Linux { release, .. } => {
                release.as_ref().and_then(OsRelease::describe).or(Some("Linux".into()))
            }
            DetectedOs::Windows { .. } => Some("Windows".into()),
            DetectedOs::Unknown => None,
        }
    }
}

/// Detects the OS of the root filesystem open at `root`. An os-release that is too large or
/// has too many links is an error (a hostile disk), not a guess.
pub(super) fn detect(root: &OwnedFd) -> Result<DetectedOs, InRootError> {
    for path in OS_RELEASE {
        if let Lookup::File(bytes) = in_root::read_file(root, path, MAX_OS_RELEASE_BYTES)? {
            let release = parse_os_release(&String::from_utf8_lossy(&bytes));
            return Ok(DetectedOs::Linux { release: Some(release), evidence: path.to_string() });
        }
    }
    for marker in LINUX_MARKERS {
        if in_root::is_file(root, marker) || in_root::is_dir(root, marker) {
            return Ok(DetectedOs::Linux { release: None, evidence: marker.to_string() });
        }
    }
    for marker in WINDOWS_MARKERS {
        if in_root::is_dir(root, marker) {
            return Ok(DetectedOs::Windows { evidence: marker.to_string() });
        }
    }
    Ok(DetectedOs::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_tree(files: &[(&str, &str)], dirs: &[&str]) -> DetectedOs {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in dirs {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        for (f, body) in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, body).expect("write");
        }
        detect(&in_root::open_root(dir.path()).expect("open")).expect("detect")
    }

    #[test]
    fn table() {
        let os = detect_tree(&[("usr/lib/os-release", "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nID=ubuntu\n")], &[]);
        assert_eq!(os.describe().as_deref(), Some("Ubuntu 22.04.4 LTS"));
        let os = detect_tree(&[("etc/debian_version", "12.5\n")], &["usr/bin"]);
        assert_eq!(os, DetectedOs::Linux { release: None, evidence: "etc/debian_version".into() });
        let os = detect_tree(&[], &["Windows/System32/config", "Program Files"]);
        assert_eq!(os, DetectedOs::Windows { evidence: "Windows/System32".into() });
        assert_eq!(
            detect_tree(&[], &["WINDOWS/system32"]),
            DetectedOs::Windows { evidence: "WINDOWS/system32".into() }
        );
        assert_eq!(detect_tree(&[("EFI/BOOT/BOOTX64.EFI", "x")], &[]), DetectedOs::Unknown);
    }
}

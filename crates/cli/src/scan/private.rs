//! Files the runner must not share with the content it scans: a private work directory
//! (mode 0700, owned by this user, never a symlink) and writes that never follow a symlink.
//!
//! The scanned repository is checked out in the build's working directory, and the CodeBuild
//! cache is restored from whatever an earlier build stored. Neither may plant a file the
//! runner or the buildspec later trusts, nor a symlink that redirects a write.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

/// The default name of each file in the work directory.
pub(super) const OUTPUTS_FILE: &str = "outputs.env";
pub(super) const JUNIT_FILE: &str = "junit.xml";
pub(super) const REPORTS_DIR: &str = "reports";

/// A name no other process of this run picks: pid, clock nanoseconds and a counter.
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos());
    format!("{prefix}{}-{nanos:x}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Creates a new directory with mode 0700 under `parent` (never an existing one).
pub(super) fn new_private_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    for _ in 0..32 {
        let dir = parent.join(unique(prefix));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free directory name after 32 attempts"))
}

/// Checks that `dir` is a directory (not a symlink to one) owned by this user that nobody else
/// can write or read (no group/other permission bits).
pub(super) fn check_private_dir(dir: &Path) -> Result<(), String> {
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!("{} is a symlink; a private directory must be a real directory", dir.display()));
    }
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!("{} belongs to uid {}, not to this user (uid {me})", dir.display(), meta.uid()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} has mode {:o}; a private directory has none of the group/other bits (0700)",
            dir.display(),
            meta.permissions().mode() & 0o7777
        ));
    }
    Ok(())
}

/// The work directory: `given` (created with mode 0700 when missing, else checked to be private),
/// or a new directory `scangate-…` under the system temporary directory.
pub(super) fn work_dir(given: Option<&Path>) -> Result<PathBuf, String> {
    match given {
        Some(dir) => {
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
            }
            check_private_dir(dir)?;
            Ok(dir.to_path_buf())
        }
        None => new_private_dir(&std::env::temp_dir(), "scangate-")
            .map_err(|e| format!("cannot create a private directory in {}: {e}", std::env::temp_dir().display())),
    }
}

/// Writes `bytes` to `path` without following a symlink at `path`: into a new file (created with
/// `create_new`, which never follows one) beside it, then renamed over `path` (which replaces a
/// symlink instead of writing through it). Mode 0600.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(unique(&format!(".{name}.")));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a regular file, refusing a symlink (checked on the path, then on the opened file).
pub(super) fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let before = fs::symlink_metadata(path)?;
    if !before.file_type().is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file (a symlink or a directory)"));
    }
    let f = fs::File::open(path)?;
    let after = f.metadata()?;
    if (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the file was replaced while it was opened"));
    }
    let mut out = Vec::new();
    f.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("larger than {limit} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn write_replaces_a_planted_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").expect("write victim");
        let path = dir.path().join("outputs.env");
        symlink(&victim, &path).expect("plant symlink");
        write_file(&path, b"scan_passed=false\n").expect("write");
        assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious", "the write went through the symlink");
        assert!(!fs::symlink_metadata(&path).expect("meta").file_type().is_symlink());
        assert_eq!(fs::read_to_string(&path).expect("read"), "scan_passed=false\n");
        assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn read_refuses_symlinks_and_oversized_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real");
        fs::write(&real, "a=1\n").expect("write");
        let link = dir.path().join("link");
        symlink(&real, &link).expect("symlink");
        assert!(read_regular(&link, 1024).is_err());
        assert_eq!(read_regular(&real, 1024).expect("read"), b"a=1\n".to_vec());
        assert!(read_regular(&real, 2).is_err());
    }

    #[test]
    fn work_dir_is_private_and_refuses_what_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = work_dir(Some(&dir.path().join("w"))).expect("create");
        assert_eq!(fs::metadata(&made).expect("meta").permissions().mode() & 0o777, 0o700);
        // Reused when it is already private.
        assert_eq!(work_dir(Some(&made)).expect("reuse"), made);
        // A symlink to a private directory is still refused.
        let link = dir.path().join("link");
        symlink(&made, &link).expect("symlink");
        assert!(work_dir(Some(&link)).expect_err("symlink").contains("symlink"));
        // A directory others can write.
        let open = dir.path().join("open");
        fs::create_dir(&open).expect("mkdir");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(work_dir(Some(&open)).expect_err("open").contains("0700"));
        let fresh = work_dir(None).expect("fresh");
        assert!(check_private_dir(&fresh).is_ok());
        let _ = fs::remove_dir(&fresh);
    }
}

//! Reading files of an untrusted root filesystem (a mounted VM disk, a running container's
//! `/proc/<pid>/root`) as that filesystem sees them, without ever leaving it.
//!
//! Paths are resolved one component at a time from a directory descriptor of the root, the way
//! the kernel would inside a chroot: every symbolic link is read (never followed by the kernel)
//! and resolved again from the root when absolute, `..` stops at the root, and at most
//! [`MAX_LINKS`] links are taken. Every component is opened with `O_NOFOLLOW` relative to the
//! previous one, so a link swapped in after it was checked fails instead of being followed.
//! The file must be a regular file (a FIFO or device is refused, opened non-blocking) and is
//! read up to a byte cap. `etc/os-release -> /etc/shadow` therefore reads the disk's own
//! `etc/shadow` (when there is one), never the scanner host's.

use rustix::fs::{openat, readlinkat, statat, AtFlags, FileType, Mode, OFlags};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;

/// Symbolic links resolved in one lookup (the kernel's own limit is 40).
pub(super) const MAX_LINKS: usize = 40;

/// What a lookup found.
#[derive(Debug)]
pub(super) enum Lookup {
    /// A regular file's contents (at most the cap).
    File(Vec<u8>),
    /// Not there (or not a regular file where a file was asked for).
    Missing,
}

/// An error reading inside the root: what and why.
#[derive(Debug)]
pub(super) enum InRootError {
    TooManyLinks { path: String },
    TooLarge { path: String, cap: u64 },
    Io { path: String, source: io::Error },
}

impl std::fmt::Display for InRootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InRootError::TooManyLinks { path } => write!(f, "{path}: more than {MAX_LINKS} symbolic links"),
            InRootError::TooLarge { path, cap } => write!(f, "{path}: larger than {cap} bytes"),
            InRootError::Io { path, source } => write!(f, "{path}: {source}"),
        }
    }
}

fn open_dir_at(dir: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    Ok(openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?)
}

/// Opens `root` itself (following it: `/proc/<pid>/root` is a link by design).
pub(super) fn open_root(root: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// Where a path leads inside the root: the descriptor of its parent directory and its last name.
enum Resolved {
    Found { parent: OwnedFd, name: String, kind: FileType },
    Missing,
}

/// Resolves `rel` inside `root` (see the module doc); the last component is not opened.
fn resolve(root: &OwnedFd, rel: &str) -> Result<Resolved, InRootError> {
    let err = |source: io::Error| InRootError::Io { path: rel.to_string(), source };
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(err);
    let mut stack: Vec<OwnedFd> = vec![dup(root)?];
    let mut pending: Vec<String> = rel.split('/').rev().map(str::to_string).collect();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        match name.as_str() {
            "" | "." => continue,
            ".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let Some(cur) = stack.last() else {
            return Ok(Resolved::Missing);
        };
        let st = match statat(cur, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(Resolved::Missing),
            Err(e) => return Err(err(e.into())),
        };
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::Symlink {
            links += 1;
            if links > MAX_LINKS {
                return Err(InRootError::TooManyLinks { path: rel.to_string() });
            }
            let target = readlinkat(cur, name.as_str(), Vec::new()).map_err(|e| err(e.into()))?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                stack.truncate(1);
            }
            pending.extend(target.split('/').rev().map(str::to_string));
            continue;
        }
        if pending.iter().all(|p| p.is_empty() || p == ".") {
            let parent = dup(cur)?;
            return Ok(Resolved::Found { parent, name, kind });
        }
        if kind != FileType::Directory {
            return Ok(Resolved::Missing);
        }
        match open_dir_at(cur, &name) {
            Ok(fd) => stack.push(fd),
            // Swapped for a link or removed since the stat: not followed.
            Err(e) => return Err(err(e)),
        }
    }
    // `rel` named the root itself (or only `.`/`..`).
    Ok(Resolved::Found { parent: dup(root)?, name: ".".to_string(), kind: FileType::Directory })
}

/// Reads the regular file `rel` inside `root`, at most `cap` bytes (more is an error).
pub(super) fn read_file(root: &OwnedFd, rel: &str, cap: u64) -> Result<Lookup, InRootError> {
    let err = |source: io::Error| InRootError::Io { path: rel.to_string(), source };
    let (parent, name) = match resolve(root, rel)? {
        Resolved::Found { parent, name, kind: FileType::RegularFile } => (parent, name),
        _ => return Ok(Lookup::Missing),
    };
    let fd = openat(
        &parent,
        name.as_str(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| err(e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Ok(Lookup::Missing);
    }
    let mut buf = Vec::new();
    File::from(fd).take(cap.saturating_add(1)).read_to_end(&mut buf).map_err(err)?;
    if buf.len() as u64 > cap {
        return Err(InRootError::TooLarge { path: rel.to_string(), cap });
    }
    Ok(Lookup::File(buf))
}

/// Whether `rel` is a directory inside `root`.
pub(super) fn is_dir(root: &OwnedFd, rel: &str) -> bool {
    matches!(resolve(root, rel), Ok(Resolved::Found { kind: FileType::Directory, .. }))
}

/// Whether `rel` is a regular file inside `root`.
pub(super) fn is_file(root: &OwnedFd, rel: &str) -> bool {
    matches!(resolve(root, rel), Ok(Resolved::Found { kind: FileType::RegularFile, .. }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn text(root: &OwnedFd, rel: &str) -> Option<String> {
        match read_file(root, rel, 1024).expect("read") {
            Lookup::File(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Lookup::Missing => None,
        }
    }

    /// Links inside the root resolve as in a chroot; none leads outside it.
    #[test]
    fn links_resolve_inside_the_root_only() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "HOST SECRET").expect("write");
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).expect("mkdir");
        std::fs::create_dir_all(root.join("usr/lib")).expect("mkdir");
        std::fs::write(root.join("usr/lib/os-release"), "ID=inside").expect("write");
        symlink("../usr/lib/os-release", root.join("etc/os-release")).expect("symlink");
        let secret = outside.path().join("secret");
        symlink(&secret, root.join("etc/abs")).expect("symlink");
        symlink("../../../../../../../..".to_string() + secret.to_str().expect("utf8"), root.join("etc/dots"))
            .expect("symlink");
        symlink(outside.path(), root.join("escape")).expect("symlink");
        symlink("loop", root.join("loop")).expect("symlink");
        let fd = open_root(root).expect("open");
        assert_eq!(text(&fd, "etc/os-release").as_deref(), Some("ID=inside"));
        assert_eq!(text(&fd, "etc/abs"), None, "an absolute link resolves inside the root");
        assert_eq!(text(&fd, "etc/dots"), None, "`..` stops at the root");
        assert_eq!(text(&fd, "escape/secret"), None, "a directory link resolves inside the root");
        assert_eq!(text(&fd, "../../../../../../../..".to_string().as_str()), None);
        assert!(matches!(read_file(&fd, "loop", 1024), Err(InRootError::TooManyLinks { .. })));
        // A link to a path that exists inside the root too reads the root's file.
        std::fs::create_dir_all(root.join(secret.parent().expect("parent").strip_prefix("/").expect("abs")))
            .expect("mkdir");
        std::fs::write(root.join(secret.strip_prefix("/").expect("abs")), "DISK FILE").expect("write");
        assert_eq!(text(&fd, "etc/abs").as_deref(), Some("DISK FILE"));
    }

    #[test]
    fn size_cap_and_special_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("big"), vec![b'x'; 2048]).expect("write");
        std::fs::create_dir(dir.path().join("d")).expect("mkdir");
        let fd = open_root(dir.path()).expect("open");
        assert!(matches!(read_file(&fd, "big", 1024), Err(InRootError::TooLarge { cap: 1024, .. })));
        assert!(matches!(read_file(&fd, "d", 1024), Ok(Lookup::Missing)), "a directory is no file");
        assert!(is_dir(&fd, "d") && !is_dir(&fd, "big") && is_file(&fd, "big"));
    }
}

//! Puts the commit into `scangate --version`: SCANGATE_COMMIT when set (release builds, builds from a source
//! archive), else `git rev-parse --short=12 HEAD`, else "unknown". Never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").current_dir(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=SCANGATE_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let from_env = std::env::var("SCANGATE_COMMIT")
        .ok()
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'));
    let commit = from_env.or_else(|| {
        // Rebuild when HEAD moves: HEAD itself, the branch it points at, and packed-refs (only files that exist,
        // or cargo would rerun this script on every build).
        let watch = [
            git(&dir, &["rev-parse", "--git-path", "HEAD"]),
            git(&dir, &["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&dir, &["rev-parse", "--git-path", &r])),
            git(&dir, &["rev-parse", "--git-path", "packed-refs"]),
        ];
        for path in watch.into_iter().flatten() {
            let path = if Path::new(&path).is_absolute() { PathBuf::from(&path) } else { dir.join(&path) };
            if path.is_file() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        git(&dir, &["rev-parse", "--short=12", "HEAD"])
    });
    println!("cargo:rustc-env=SCANGATE_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
}

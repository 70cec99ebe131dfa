//! The reports QScanner wrote in its output directory, recognised by QScanner's file names.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Reports found in the output directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Found {
    pub sarif: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub sboms: Vec<PathBuf>,
}

/// What kind of report a file name is, by QScanner's naming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Sarif,
    Json,
    Sbom,
}

pub(super) fn classify(name: &str) -> Option<Kind> {
    if name.ends_with("-Report.sarif.json") || name.ends_with(".sarif") {
        Some(Kind::Sarif)
    } else if name.ends_with("-ScanResult.json") {
        Some(Kind::Json)
    } else if name.ends_with(".spdx.json") || name.ends_with(".cdx.json") {
        Some(Kind::Sbom)
    } else {
        None
    }
}

/// Finds the reports in `dir` (and its direct subdirectories) written at or after `since`
/// (older files are a previous run's). When several of a kind exist, the newest wins; SBOMs
/// are all kept, SPDX first.
pub(super) fn find(dir: &Path, since: SystemTime) -> Found {
    let mut files: Vec<(PathBuf, SystemTime)> = Vec::new();
    collect(dir, since, 0, &mut files);
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut found = Found::default();
    for (path, _) in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match classify(&name) {
            Some(Kind::Sarif) if found.sarif.is_none() => found.sarif = Some(path),
            Some(Kind::Json) if found.json.is_none() => found.json = Some(path),
            Some(Kind::Sbom) => found.sboms.push(path),
            _ => {}
        }
    }
    found.sboms.sort_by_key(|p| (!p.to_string_lossy().ends_with(".spdx.json"), p.clone()));
    found
}

fn collect(dir: &Path, since: SystemTime, depth: u8, out: &mut Vec<(PathBuf, SystemTime)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.is_dir() && depth == 0 {
            collect(&entry.path(), since, depth + 1, out);
        } else if meta.is_file() {
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if modified >= since {
                out.push((entry.path(), modified));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = SystemTime::now() - std::time::Duration::from_secs(5);
        for f in ["img-Report.sarif.json", "img-ScanResult.json", "img.cdx.json", "img.spdx.json", "other.txt"] {
            fs::write(dir.path().join(f), "{}").expect("write");
        }
        let found = find(dir.path(), before);
        assert_eq!(found.sarif, Some(dir.path().join("img-Report.sarif.json")));
        assert_eq!(found.json, Some(dir.path().join("img-ScanResult.json")));
        assert_eq!(found.sboms, vec![dir.path().join("img.spdx.json"), dir.path().join("img.cdx.json")]);
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(find(dir.path(), later), Found::default());
    }
}

//! Where the repository's shared test inputs are: `tests/fixtures` (the hand-written QScanner
//! SARIF fixtures) and `tests/corpus/sarif` (the SARIF corpus, `tests/corpus/README.md`). A test
//! input of one crate only stays in that crate's own `tests/fixtures`.

use std::path::{Path, PathBuf};

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/fixtures/<name>`.
pub fn path(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// The SARIF corpus directory, `tests/corpus/sarif`.
pub fn corpus_dir() -> PathBuf {
    repo_root().join("tests/corpus/sarif")
}

/// `tests/corpus/sarif/<name>`.
pub fn corpus(name: &str) -> PathBuf {
    corpus_dir().join(name)
}

//! Air-gapped scans: the runner without a bucket writes `scangate-offline.json` beside the
//! reports (the metadata it would have written on the upload, and each file's SHA-256);
//! `scangate upload DIR` later uploads that set from a connected machine with the same
//! metadata, keeping the scan's own time (`scangate-scanned-at`) and target, and adding
//! `scangate-uploaded-at` (docs/hpc.md, "Air-gapped sites").
//!
//! The set is carried across an air gap and is treated as untrusted input: file names are
//! plain names inside DIR (no `/`, no `..`, no links), every file must match its SHA-256,
//! the metadata goes through the contract's parser, and a scan time in the future is refused
//! (it would make every real later scan of the target look older than it).

use super::args::UploadOpts;
use super::{remote, values};
use crate::error::CliError;
use clap::Args;
use scangate_core::contract::{self, ReportMetadata};
use scangate_core::verdict;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The manifest's file name in the reports directory.
pub(super) const MANIFEST: &str = "scangate-offline.json";
const SCHEMA: &str = "scangate.offline.v1";
/// A manifest is a few kilobytes.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Clock skew tolerated between the cluster and the uploading machine.
const FUTURE_SKEW_SECONDS: i64 = 300;

/// Writes the manifest for `files` (the SARIF first when there is one) into the SARIF's
/// directory. Returns its path.
pub(super) fn write_manifest(
    files: &[PathBuf],
    sarif: Option<&PathBuf>,
    metadata: &[(String, String)],
) -> Result<Option<PathBuf>, CliError> {
    let Some(dir) = files.first().and_then(|f| f.parent()) else {
        return Ok(None);
    };
    let mut entries = Vec::new();
    for f in files {
        let body = std::fs::read(f).map_err(|e| CliError::internal(format!("reading {}: {e}", f.display())))?;
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let role = if Some(f) == sarif { "sarif" } else { "companion" };
        // A file outside the SARIF's directory is copied in, so the set is one directory.
        if f.parent() != Some(dir) {
            std::fs::write(dir.join(&name), &body)
                .map_err(|e| CliError::internal(format!("copying {} into {}: {e}", f.display(), dir.display())))?;
        }
        entries.push(serde_json::json!({"name": name, "sha256": hex::encode(Sha256::digest(&body)), "role": role}));
    }
    let meta: serde_json::Map<String, serde_json::Value> =
        metadata.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    let doc = serde_json::json!({"schema": SCHEMA, "metadata": meta, "files": entries});
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(&doc).map_err(|e| CliError::internal(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| CliError::internal(format!("writing {}: {e}", path.display())))?;
    Ok(Some(path))
}

/// `scangate upload DIR`.
#[derive(Debug, Args)]
#[command(about = "Upload an offline scan (reports and scangate-offline.json, written by `scangate scan …` \
without a bucket) to the report bucket, keeping its scan time, target and host facts")]
pub(crate) struct UploadArgs {
    /// The directory holding scangate-offline.json and the reports it names.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub upload: UploadOpts,
}

/// One manifest entry, checked.
struct Entry {
    path: PathBuf,
    sarif: bool,
}

fn read_manifest(dir: &Path) -> Result<(Vec<Entry>, ReportMetadata), CliError> {
    let bad = |m: String| CliError::usage(format!("{}: {m}", dir.join(MANIFEST).display()));
    let path = dir.join(MANIFEST);
    let meta = std::fs::symlink_metadata(&path).map_err(|e| bad(format!("cannot read: {e}")))?;
    if !meta.is_file() || meta.len() > MAX_MANIFEST_BYTES {
        return Err(bad(format!("not a regular file of at most {MAX_MANIFEST_BYTES} bytes")));
    }
    let doc: serde_json::Value = std::fs::read(&path)
        .map_err(|e| bad(format!("cannot read: {e}")))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| bad(format!("not JSON: {e}"))))?;
    if doc["schema"] != SCHEMA {
        return Err(bad(format!("schema is not {SCHEMA}")));
    }
    let pairs: HashMap<String, String> = doc["metadata"]
        .as_object()
        .ok_or_else(|| bad("no metadata object".into()))?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .filter(|(k, _)| contract::meta::ALL.contains(&k.as_str()))
        .collect();
    let parsed = ReportMetadata::parse(&pairs).map_err(|e| bad(e.to_string()))?;
    let mut entries = Vec::new();
    for f in doc["files"].as_array().ok_or_else(|| bad("no files array".into()))? {
        let name = f["name"].as_str().unwrap_or_default();
        if name.is_empty() || name.contains('/') || name == "." || name == ".." || name == MANIFEST {
            return Err(bad(format!("file name {name:?} is not a plain name in the directory")));
        }
        let p = dir.join(name);
        let m = std::fs::symlink_metadata(&p).map_err(|e| bad(format!("{name}: {e}")))?;
        if !m.is_file() {
            return Err(bad(format!("{name}: not a regular file (a link or directory is not uploaded)")));
        }
        let body = std::fs::read(&p).map_err(|e| bad(format!("{name}: {e}")))?;
        let want = f["sha256"].as_str().unwrap_or_default();
        let got = hex::encode(Sha256::digest(&body));
        if !want.eq_ignore_ascii_case(&got) {
            return Err(bad(format!("{name}: SHA-256 {got} does not match the manifest's {want:?}")));
        }
        entries.push(Entry { path: p, sarif: f["role"] == "sarif" });
    }
    if entries.iter().filter(|e| e.sarif).count() != 1 {
        return Err(bad("the set must name exactly one SARIF report (role \"sarif\")".into()));
    }
    Ok((entries, parsed))
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

pub(crate) fn run(a: UploadArgs) -> i32 {
    match upload(&a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scangate upload: error: {}", e.message);
            e.code
        }
    }
}

fn upload(a: &UploadArgs) -> Result<i32, CliError> {
    let Some(bucket) = a.upload.bucket.as_deref() else {
        return Err(CliError::usage("--bucket / REPORT_BUCKET is required"));
    };
    let (entries, mut meta) = read_manifest(&a.dir)?;
    let now = time::OffsetDateTime::now_utc();
    let Some(scanned_at) = meta.scanned_at.as_deref().and_then(parse_time) else {
        return Err(CliError::usage(format!("{}: the metadata has no scangate-scanned-at", a.dir.display())));
    };
    if scanned_at - now > time::Duration::seconds(FUTURE_SKEW_SECONDS) {
        return Err(CliError::usage(format!(
            "{}: scangate-scanned-at {} is in the future: refusing (a future scan time would make every later scan \
             of the target look older)",
            a.dir.display(),
            meta.scanned_at.as_deref().unwrap_or_default()
        )));
    }
    meta.uploaded_at = Some(verdict::now_rfc3339());
    // Who uploads decides where: the flags win over what the cluster wrote.
    let project = a.upload.project.clone().unwrap_or_else(|| "offline".to_string());
    let build_id = match &a.upload.build_id {
        Some(b) => b.clone(),
        None => values::parse_key_part(&format!("offline-{}", scanned_at.unix_timestamp())).map_err(CliError::usage)?,
    };
    let prefix = contract::scan_dir(&project, &build_id);
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for e in entries.iter().filter(|e| e.sarif) {
        files.push((e.path.clone(), format!("{prefix}{}", contract::REPORT_OBJECT_NAME)));
    }
    for e in entries.iter().filter(|e| !e.sarif) {
        let name = e.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        files.push((e.path.clone(), format!("{prefix}{name}")));
    }
    let plan = remote::UploadPlan {
        bucket: bucket.to_string(),
        kms_key_id: a.upload.kms_key_id.clone(),
        expected_bucket_owner: a.upload.expected_bucket_owner.clone(),
        verdict_key: contract::verdict_key(&project, &build_id),
        junit_key: contract::junit_key(&project, &build_id),
        files,
        metadata: meta.to_pairs(),
    };
    let up = remote::upload(&plan)?;
    eprintln!(
        "scangate upload: {} files of the scan at {} (target {}) uploaded; the verdict will be at s3://{bucket}/{}",
        plan.files.len(),
        meta.scanned_at.as_deref().unwrap_or_default(),
        meta.target.as_deref().unwrap_or("-"),
        up.verdict_key
    );
    println!("verdict_key={}", up.verdict_key);
    Ok(crate::exit::PASSED)
}

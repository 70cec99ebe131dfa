//! The two hashes the lifecycle state keeps per finding: [`content_hash`] (what describes
//! the vulnerability; a change means the finding is imported again) and [`sighting_hash`]
//! (what describes the latest sighting Security Hub shows).

use super::budget::render;
use super::mapping::AsffContext;
use crate::finding::Finding;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// A hash of what describes the vulnerability, for the lifecycle state: package, installed
/// and fixed version, severity, CVSS, titles and texts, rule, location, CVEs. It does not
/// change with what describes the latest sighting ([`sighting_hash`]): the scanned image's
/// tag and digest (the whole `Resources` list, whose identity the lifecycle key already
/// fixes), the build, the report location, the scanner version, the layer, the times. A
/// rescan of a new image tag with the same findings therefore keeps every content hash.
/// 64 hex characters: the hex of [`content_digest`].
pub fn content_hash(finding: &Finding, ctx: &AsffContext) -> String {
    hex::encode(content_digest(finding, ctx))
}

/// [`content_hash`] as its 32 bytes (what the planner compares and the state holds in memory).
pub fn content_digest(finding: &Finding, ctx: &AsffContext) -> [u8; 32] {
    let mut f = render(finding, ctx);
    f.created_at = Cow::Borrowed("");
    f.updated_at = Cow::Borrowed("");
    f.resources = Cow::Borrowed(&[]);
    for key in SIGHTING_PRODUCT_FIELDS {
        f.product_fields.remove(key);
    }
    for v in &mut f.vulnerabilities {
        if let Some(p) = &mut v.vulnerable_packages {
            if p.source_layer_hash.is_some() {
                std::sync::Arc::make_mut(p).source_layer_hash = None;
            }
        }
    }
    // The JSON goes straight into the hash, no intermediate buffer. Serializing plain
    // structs cannot fail; if it did, the hash is the one of what was written (as the
    // empty buffer was before), still deterministic.
    let mut hasher = HashWriter(Sha256::new());
    let _ = serde_json::to_writer(&mut hasher, &f);
    hasher.0.finalize().into()
}

/// ProductFields that describe the sighting, not the vulnerability.
const SIGHTING_PRODUCT_FIELDS: [&str; 4] =
    ["scangate/ReportUri", "scangate/BuildArn", "scangate/ScannerVersion", "scangate/Layer"];

/// A hash of what describes the latest sighting of a finding and is shown in Security Hub
/// besides its content ([`content_hash`]): the scanned target as named (image tag and
/// digest), the CodeBuild project, the build, the report location, the scanner version and
/// the finding's layer. Times are in neither hash. 64 hex characters: the hex of
/// [`sighting_digest`].
pub fn sighting_hash(finding: &Finding, ctx: &AsffContext) -> String {
    hex::encode(sighting_digest(finding, ctx))
}

/// [`sighting_hash`] as its 32 bytes.
pub fn sighting_digest(finding: &Finding, ctx: &AsffContext) -> [u8; 32] {
    let mut h = Sha256::new();
    let parts = [
        Some(ctx.target.as_str()),
        ctx.codebuild_project.as_deref(),
        ctx.build_arn.as_deref(),
        ctx.report_uri.as_deref(),
        finding.scanner.version.as_deref(),
        finding.layer.as_deref(),
    ];
    for part in parts {
        // Length-prefixed, absent distinct from empty: no two tuples hash alike.
        match part {
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            None => h.update([0u8]),
        }
    }
    h.finalize().into()
}

/// Feeds written bytes into a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

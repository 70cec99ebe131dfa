//! GitHub code scanning SARIF: one run per target, inside the limits GitHub documents for a
//! SARIF upload (docs/ci/github.md, "Code scanning limits"):
//!
//! * at most 20 runs per file and 25 000 results per run (hard: larger uploads are rejected),
//!   of which only the top 5 000 per run are shown;
//! * at most 10 MB gzip-compressed per file;
//! * at most 20 tags per rule (10 shown) and 1 000 locations per result (100 shown).
//!
//! [`render`] keeps the worst findings first (severity, CVSS, rule, id: the order of the gate's
//! summary) up to [`Limits::max_results`], then halves what it keeps until the gzipped document
//! fits [`Limits::max_gzip_bytes`]. Whatever it leaves out is said in the run itself (a tool
//! execution notification and `properties.scangate`) and in [`Rendered::trimmed`], so the step
//! summary can say it too. Alerts keep their identity across runs through a partial fingerprint,
//! the finding's stable id.

use crate::finding::Finding;
use crate::severity::Severity;
use serde_json::{json, Map, Value};
use std::io::Write;

/// The limits a rendered document must stay within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Results per run: GitHub shows at most 5 000 (it accepts up to 25 000).
    pub max_results: usize,
    /// Gzip-compressed size of the whole file: GitHub's limit is 10 MB.
    pub max_gzip_bytes: usize,
    /// Tags per rule: GitHub keeps 10 (accepts 20).
    pub max_tags: usize,
}

/// GitHub's documented limits (the display limits, where lower than the hard ones).
pub const GITHUB: Limits = Limits { max_results: 5_000, max_gzip_bytes: 10 * 1000 * 1000, max_tags: 10 };

/// What the document left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trimmed {
    pub total: usize,
    pub kept: usize,
    pub reason: String,
}

/// A rendered code scanning document.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub sarif: Value,
    /// The gzip-compressed size of [`Rendered::sarif`] as compact JSON, in bytes.
    pub gzip_bytes: usize,
    pub trimmed: Option<Trimmed>,
}

/// GitHub's `security-severity` for a finding: its CVSS score when it has one, else the middle
/// of the band GitHub maps to the same label (critical above 9.0, high 7.0–8.9, medium 4.0–6.9,
/// low 0.1–3.9).
fn security_severity(f: &Finding) -> String {
    let score = f.cvss_score.filter(|s| s.is_finite() && *s > 0.0 && *s <= 10.0).unwrap_or(match f.severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Informational => 0.0,
    });
    format!("{score:.1}")
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "note",
    }
}

/// A relative URI for the finding: its own location, else the target, percent-encoded so that
/// an image reference (`app:1.2`) does not read as a URI scheme.
fn uri(f: &Finding, target: &str) -> String {
    let raw = f.location.as_ref().map(|l| l.uri.as_str()).filter(|u| !u.is_empty()).unwrap_or(target);
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    let trimmed = out.trim_start_matches('/');
    if trimmed.is_empty() {
        "target".into()
    } else {
        trimmed.to_string()
    }
}

fn message(f: &Finding) -> String {
    let mut text = f.title.clone();
    if let Some(p) = &f.package {
        text.push_str(&format!(" in {}", p.name));
        if let Some(v) = &p.installed_version {
            text.push_str(&format!(" {v}"));
        }
        if let Some(fixed) = &p.fixed_version {
            text.push_str(&format!(" (fixed in {fixed})"));
        }
    }
    text
}

fn rule(f: &Finding, limits: &Limits) -> Value {
    let mut tags: Vec<String> = vec!["security".into()];
    for t in f.cves.iter().chain(f.tags.iter()) {
        if tags.len() >= limits.max_tags {
            break;
        }
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let mut rule = json!({
        "id": f.rule_id,
        "name": f.rule_id,
        "shortDescription": { "text": f.title },
        "fullDescription": { "text": if f.description.is_empty() { &f.title } else { &f.description } },
        "defaultConfiguration": { "level": level(f.severity) },
        "properties": { "security-severity": security_severity(f), "tags": tags },
    });
    if let Some(help) = &f.help_text {
        rule["help"] = json!({ "text": help });
    }
    if let Some(uri) = &f.help_uri {
        rule["helpUri"] = json!(uri);
    }
    rule
}

fn document(findings: &[&Finding], total: usize, category: &str, target: &str, tool: &str, limits: &Limits) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_index: Map<String, Value> = Map::new();
    let mut results = Vec::with_capacity(findings.len());
    for f in findings {
        let index = match rule_index.get(&*f.rule_id) {
            Some(i) => i.clone(),
            None => {
                let i = json!(rules.len());
                rules.push(rule(f, limits));
                rule_index.insert(f.rule_id.to_string(), i.clone());
                i
            }
        };
        let mut location = json!({ "physicalLocation": { "artifactLocation": { "uri": uri(f, target) } } });
        if let Some(line) = f.location.as_ref().and_then(|l| l.start_line).filter(|l| *l >= 1) {
            location["physicalLocation"]["region"] = json!({ "startLine": line });
        }
        results.push(json!({
            "ruleId": f.rule_id,
            "ruleIndex": index,
            "level": level(f.severity),
            "message": { "text": message(f) },
            "locations": [location],
            "partialFingerprints": { "scangate/v1": f.id },
        }));
    }
    let kept = findings.len();
    let mut invocation = json!({ "executionSuccessful": true });
    if kept < total {
        invocation["toolExecutionNotifications"] = json!([{
            "level": "warning",
            "message": { "text": trim_note(total, kept) },
        }]);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": tool, "rules": rules } },
            "automationDetails": { "id": category },
            "invocations": [invocation],
            "results": results,
            "properties": { "scangate": { "target": target, "findings": total, "kept": kept } },
        }],
    })
}

fn trim_note(total: usize, kept: usize) -> String {
    format!(
        "scangate kept the {kept} worst of {total} findings to stay within GitHub code scanning's upload limits; \
         every finding is in Security Hub and the scangate summary"
    )
}

fn gzip_len(v: &Value) -> usize {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Count(0), flate2::Compression::default());
    // Writing into a counter cannot fail; a serialisation error would only make the count smaller.
    let _ = serde_json::to_writer(&mut gz, v);
    gz.finish().map(|c| c.0).unwrap_or(usize::MAX)
}

/// Renders the security findings of one target (quality findings stay out: code scanning is
/// about security here) as one code scanning run with `category` as its automation id.
pub fn render(findings: &[Finding], category: &str, target: &str, tool: &str, limits: &Limits) -> Rendered {
    let mut sorted: Vec<&Finding> =
        findings.iter().filter(|f| f.class == crate::finding::FindingClass::Security).collect();
    sorted.sort_by(|a, b| Finding::worst_first(a, b));
    let total = sorted.len();
    let mut keep = total.min(limits.max_results);
    let mut reason = (keep < total).then(|| format!("more than {} results per run", limits.max_results));
    loop {
        let mut sarif = document(&sorted[..keep], total, category, target, tool, limits);
        // The same bytes whichever serde_json features the build unifies (`preserve_order` keeps
        // insertion order, the default sorts): keys sorted explicitly.
        sarif.sort_all_objects();
        let gzip_bytes = gzip_len(&sarif);
        if gzip_bytes <= limits.max_gzip_bytes || keep == 0 {
            let trimmed = (keep < total).then(|| Trimmed {
                total,
                kept: keep,
                reason: reason.unwrap_or_else(|| "the size limit".into()),
            });
            return Rendered { sarif, gzip_bytes, trimmed };
        }
        keep /= 2;
        reason = Some(format!("more than {} bytes gzip-compressed", limits.max_gzip_bytes));
    }
}

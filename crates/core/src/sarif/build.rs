//! From read results and rules to deduplicated [`Finding`]s: rule resolution, severity,
//! CVE extraction, package derivation, kind, dedup.

use super::index::{id_hex, IdHex, MAX_INDEXED};
use super::kept::{Kept, Pushed};
use super::message;
use super::parse::{RawResult, RuleInfo, Tool, VulnSoftware};
use super::Warnings;
use crate::finding::{write_dedup_key, Finding, FindingClass, FindingKind, Location, Package, Scanner};
use crate::policy::Counts;
use crate::severity;
use crate::text::contains;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The findings so far, deduplicated across the whole document.
#[derive(Default)]
pub(crate) struct Output {
    pub w: Warnings,
    /// The findings, each with its dedup key's SHA-256 in an index (no key text held:
    /// [`super::index`]), in memory or spilled ([`super::kept`]).
    pub findings: Kept,
    /// Findings of suppressed results (`suppressions` accepted), apart from `findings`.
    pub suppressed: Kept,
    /// The spills' bytes together may not go over this ([`super::ReadLimits::max_spill_bytes`]).
    pub spill_cap: Option<u64>,
    /// A finding that would have taken the spills over `spill_cap` was met (and not kept).
    pub over_spill_cap: bool,
    /// Writing a spill failed: nothing more is kept, and the reader stops.
    pub spill_error: Option<std::io::Error>,
    pub results_read: usize,
    /// At most this many distinct findings (suppressed ones included) are kept; `None`: no cap.
    pub cap: Option<usize>,
    /// A distinct finding beyond `cap` was met (and not kept).
    pub over_cap: bool,
    /// Quality findings are counted, not kept ([`super::ReadLimits::count_quality`]): at most
    /// this many distinct ones; `None`: they are kept like the others.
    pub quality_cap: Option<usize>,
    /// The distinct unsuppressed quality findings counted and not kept: the first 16 bytes of
    /// the SHA-256 of their dedup key (16 bytes each, not the finding).
    pub quality_seen: HashSet<u128>,
    /// Their counts by severity (the severity of each one's first result, as a kept finding's).
    pub quality_counts: Counts,
    /// A distinct quality finding beyond `quality_cap` was met (and not counted).
    pub over_quality_cap: bool,
    /// At most this many bytes of text in the kept findings ([`super::ReadLimits::max_text_bytes`]).
    pub text_cap: Option<u64>,
    /// The bytes of text the kept findings hold so far ([`text_bytes`]).
    pub text_held: u64,
    /// A finding that would have taken `text_held` over `text_cap` was met (and not kept).
    pub over_text_cap: bool,
    /// The rules whose shared texts are counted in `text_held` (run, component, rule index):
    /// once per rule, however many findings share them.
    counted_rules: HashSet<(usize, usize, usize)>,
    /// Severity values as the report wrote them, shared between the findings that have the
    /// same one (at most [`MAX_INTERNED`] distinct values; more are not shared).
    interned: HashSet<Arc<str>>,
    /// What the reader holds besides the kept findings ([`super::ReadLimits::max_held_bytes`]).
    pub held: super::held::Held,
    /// Reused buffer for the key of the result being processed.
    keybuf: String,
}

/// A run being read. Results are processed as soon as their rule can be resolved (the tool
/// has been read, and their artifact index can be resolved); the rest wait in `pending`
/// until the run object closes.
#[derive(Default)]
pub(crate) struct RunState {
    pub index: usize,
    /// Shared by the run's findings.
    pub scanner: Arc<Scanner>,
    pub tool: Option<Tool>,
    /// Rule id → (component, rule index); the first rule with an id wins. Per rule, not per
    /// finding: the key is the rule's own id, shared.
    pub by_id: HashMap<Arc<str>, (usize, usize)>,
    pub rule_count: usize,
    /// What the scanner's name says about its findings (gitleaks → secrets, checkov → IaC).
    pub tool_kind: Option<FindingKind>,
    /// The driver is a security scanner by construction ([`SECURITY_SCANNERS`]).
    pub security_tool: bool,
    pub artifacts: Option<Vec<Option<String>>>,
    pub pending: Vec<RawResult>,
    pub results: usize,
    /// What the run's tables (rules, artifacts, `pending`) were charged against the reader's
    /// held-bytes cap ([`super::held`]), given back when the run closes.
    pub held: u64,
}

impl RunState {
    pub(crate) fn set_tool(&mut self, mut tool: Tool) {
        if tool.components.is_empty() {
            tool.components.push(Default::default());
        }
        self.by_id.clear();
        self.rule_count = 0;
        for (c, comp) in tool.components.iter_mut().enumerate() {
            for (i, rule) in comp.rules.iter_mut().enumerate() {
                prepare_rule(rule);
                rule.component = c;
                rule.index = i;
                if let Some(id) = &rule.id {
                    self.by_id.entry(id.clone()).or_insert((c, i));
                }
            }
            self.rule_count += comp.rules.len();
        }
        let driver = tool.components.first();
        let name = driver.and_then(|d| d.name.clone()).unwrap_or_else(|| "unknown".to_string());
        self.tool_kind = tool_kind(&name);
        self.security_tool = security_tool(&name);
        self.scanner = Arc::new(Scanner { name, version: driver.and_then(|d| d.version.clone()) });
        self.tool = Some(tool);
    }

    /// Whether a result can be turned into findings now.
    pub(crate) fn ready(&self, raw: &RawResult) -> bool {
        self.tool.is_some() && (raw.uri.is_some() || raw.artifact_index.is_none() || self.artifacts.is_some())
    }

    fn has_rules(&self) -> bool {
        self.rule_count > 0
    }
}

/// Derived, per-rule facts computed once when the tool is read.
fn prepare_rule(rule: &mut RuleInfo) {
    let mut cves = Vec::new();
    for s in &rule.cve_ids {
        push_cves(&mut cves, s);
    }
    for s in [rule.id.as_deref(), rule.name.as_deref(), rule.short.as_deref()].into_iter().flatten() {
        push_cves(&mut cves, s);
    }
    for t in &rule.tags {
        push_cves(&mut cves, t);
    }
    rule.strong_cve = !cves.is_empty();
    if cves.is_empty() {
        // Help text mentions CVEs of related issues too; only when nothing better names one.
        if let Some(h) = &rule.help_text {
            push_cves(&mut cves, h);
        }
    }
    rule.cves = cves.into();
    rule.shared_tags = std::mem::take(&mut rule.tags).into();
    // A blank help uri is not shown: the findings get none.
    if rule.help_uri.as_deref().is_some_and(|u| u.trim().is_empty()) {
        rule.help_uri = None;
    }
    let opt = |s: &Option<Arc<str>>| s.as_deref().map_or(0, str::len);
    let lists = rule.cves.iter().chain(rule.shared_tags.iter()).map(String::len).sum::<usize>();
    rule.shared_bytes =
        (opt(&rule.id) + opt(&rule.help_text) + opt(&rule.help_uri) + opt(&rule.cvss_vector) + lists) as u64;
    // Grype and Anchore write one rule per (vulnerability, package), with the package in the help.
    rule.help_package = rule.help_text.as_deref().and_then(|h| package_from_lines(h, true));
    if let Some(p) = &mut rule.help_package {
        if p.purl.is_none() {
            p.purl = rule.purls.first().cloned();
        }
    } else if let Some(purl) = rule.purls.first() {
        rule.help_package = package_from_purl(purl);
    }
}

/// What a tool's name says about the kind of its findings.
fn tool_kind(name: &str) -> Option<FindingKind> {
    let n = name.to_ascii_lowercase();
    const SECRETS: &[&str] = &["gitleaks", "trufflehog", "detect-secrets", "ggshield"];
    const IAC: &[&str] = &["checkov", "kics", "tfsec", "terrascan", "snyk iac", "cfn-lint", "cfn_nag", "hadolint"];
    if SECRETS.iter().any(|s| n.contains(s)) {
        Some(FindingKind::Secret)
    } else if IAC.iter().any(|s| n.contains(s)) {
        Some(FindingKind::Misconfiguration)
    } else {
        None
    }
}

/// Scanners whose every result is a security finding, matched case-insensitively as a part of
/// the driver's name: vulnerability and licence scanners of packages and images (QScanner,
/// Trivy, Grype, Anchore, Snyk, osv-scanner, Dependency-Check, npm/pip/cargo audit), secret
/// scanners (gitleaks, TruffleHog, detect-secrets, ggshield), IaC security scanners (checkov,
/// KICS, tfsec, Terrascan, cfn_nag) and SAST tools that only have security rules (Bandit,
/// gosec, Brakeman, njsscan). A tool that mixes lint and security rules (ESLint, ruff, CodeQL,
/// Semgrep, SonarQube, cfn-lint, hadolint) is not listed: its security results are told apart
/// by `security-severity` or a `security` tag. README, "How findings are counted".
pub(crate) const SECURITY_SCANNERS: &[&str] = &[
    "qualys",
    "qscanner",
    "trivy",
    "grype",
    "anchore",
    "snyk",
    "osv-scanner",
    "dependency-check",
    "npm audit",
    "pip-audit",
    "cargo-audit",
    "gitleaks",
    "trufflehog",
    "detect-secrets",
    "ggshield",
    "checkov",
    "kics",
    "tfsec",
    "terrascan",
    "cfn_nag",
    "bandit",
    "gosec",
    "brakeman",
    "njsscan",
];

fn security_tool(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECURITY_SCANNERS.iter().any(|s| n.contains(s))
}

/// Appends the CVE ids found in `text` (upper case, no duplicates).
pub(crate) fn push_cves(out: &mut Vec<String>, text: &str) {
    for id in cve_ids(text) {
        if !out.contains(&id) {
            out.push(id);
        }
    }
}

/// Finds `CVE-\d{4}-\d{4,}` (case-insensitive) not preceded by a letter or digit.
pub(crate) fn cve_ids(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 12 <= b.len() {
        let starts = b[i..i + 4].eq_ignore_ascii_case(b"CVE-") && (i == 0 || !b[i - 1].is_ascii_alphanumeric());
        if starts {
            let year = &b[i + 4..i + 8];
            if year.iter().all(u8::is_ascii_digit) && b[i + 8] == b'-' {
                let mut j = i + 9;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j - (i + 9) >= 4 {
                    // All bytes in i..j are ASCII, so this is a char boundary.
                    let id = String::from_utf8_lossy(&b[i..j]).to_ascii_uppercase();
                    if !out.contains(&id) {
                        out.push(id);
                    }
                    i = j;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// Best-effort package from text in the "Key: value" line format scanners use:
/// Trivy messages (`Package:`, `Installed Version:`, `Fixed Version:`) and Grype/Anchore
/// rule help (`Package:`, `Version:`, `Fix Version:`). `need_version` requires a version line
/// (Trivy's newer rule help names the package but is shared by all packages of a CVE).
pub(crate) fn package_from_lines(text: &str, need_version: bool) -> Option<Package> {
    let mut name = None;
    let mut installed = None;
    let mut fixed = None;
    for line in text.lines() {
        let line = line.trim();
        let value = |prefix: &str| -> Option<String> {
            line.strip_prefix(prefix).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
        };
        if name.is_none() {
            if let Some(v) = value("Package:") {
                name = Some(v);
                continue;
            }
        }
        if installed.is_none() {
            if let Some(v) = value("Installed Version:").or_else(|| value("Version:")) {
                installed = Some(v);
                continue;
            }
        }
        if fixed.is_none() {
            if let Some(v) = value("Fixed Version:").or_else(|| value("Fix Version:")) {
                if !v.eq_ignore_ascii_case("none") {
                    fixed = Some(v);
                }
            }
        }
    }
    let name = name?;
    if need_version && installed.is_none() {
        return None;
    }
    Some(Package { name, installed_version: installed, fixed_version: fixed, purl: None })
}

/// osv-scanner's message: `Package 'name@version' is vulnerable to 'ID'.`
fn package_from_osv_message(text: &str) -> Option<Package> {
    let rest = text.strip_prefix("Package '")?;
    let end = rest.find('\'')?;
    let (name, version) = rest[..end].rsplit_once('@')?;
    if name.is_empty() {
        return None;
    }
    Some(Package {
        name: name.to_string(),
        installed_version: Some(version.to_string()).filter(|v| !v.is_empty()),
        ..Default::default()
    })
}

/// `pkg:type/namespace/name@version?qualifiers#subpath` → name and version.
fn package_from_purl(purl: &str) -> Option<Package> {
    let rest = purl.strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (path, version) = match rest.rsplit_once('@') {
        Some((p, v)) => (p, Some(v.to_string())),
        None => (rest, None),
    };
    let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some(Package {
        name: name.to_string(),
        installed_version: version.filter(|v| !v.is_empty()),
        fixed_version: None,
        purl: Some(purl.to_string()),
    })
}

fn result_path(run: &RunState, raw: &RawResult, sub: &str) -> String {
    format!("runs[{}].results[{}].{}", run.index, raw.index, sub)
}

/// Finds the rule a result refers to. Every inconsistency is a warning; the id wins over an
/// index that points at a rule with another id.
fn resolve_rule<'r>(run: &'r RunState, raw: &RawResult, w: &mut Warnings) -> Option<&'r RuleInfo> {
    let tool = run.tool.as_ref()?;
    let id = raw.rule_id.as_deref().or(raw.ref_id.as_deref());
    if let (Some(a), Some(b)) = (raw.rule_id.as_deref(), raw.ref_id.as_deref()) {
        if a != b {
            w.push_lazy(
                || result_path(run, raw, "rule.id"),
                || format!("ruleId {:?} and rule.id {:?} differ; using ruleId", super::short(a), super::short(b)),
            );
        }
    }
    let (index, index_field) = match (raw.ref_index, raw.rule_index) {
        (Some(a), Some(b)) if a != b => {
            w.push_lazy(
                || result_path(run, raw, "rule.index"),
                || format!("rule.index {a} and ruleIndex {b} differ; using {a}"),
            );
            (Some(a), "rule.index")
        }
        (Some(a), _) => (Some(a), "rule.index"),
        (None, Some(b)) => (Some(b), "ruleIndex"),
        (None, None) => (None, "ruleIndex"),
    };
    let extensions = tool.components.len().saturating_sub(1);
    let component = if let Some(i) = raw.tc_index {
        if i >= 0 && (i as u64) < extensions as u64 {
            Some(i as usize + 1)
        } else {
            w.push_lazy(
                || result_path(run, raw, "rule.toolComponent.index"),
                || format!("{i} is not an index into tool.extensions ({extensions} extension(s))"),
            );
            None
        }
    } else if let Some(name) = raw.tc_name.as_deref() {
        let found = tool.components.iter().position(|c| c.name.as_deref() == Some(name));
        if found.is_none() {
            w.push_lazy(
                || result_path(run, raw, "rule.toolComponent.name"),
                || format!("no tool component named {:?}", super::short(name)),
            );
        }
        found
    } else {
        Some(0)
    };
    if let (Some(c), Some(i)) = (component, index) {
        let rules: &[RuleInfo] = tool.components.get(c).map_or(&[], |comp| comp.rules.as_slice());
        let where_ =
            || if c == 0 { "tool.driver.rules".to_string() } else { format!("tool.extensions[{}].rules", c - 1) };
        if i == -1 {
            // -1 is SARIF's "no index".
        } else if i >= 0 && (i as u64) < rules.len() as u64 {
            let rule = &rules[i as usize];
            match (id, rule.id.as_deref()) {
                (Some(want), Some(got)) if want != got => w.push_lazy(
                    || result_path(run, raw, index_field),
                    || {
                        format!(
                            "{i} points at rule {:?} in {}, but the result's rule id is {:?}; using the id",
                            super::short(got),
                            where_(),
                            super::short(want)
                        )
                    },
                ),
                _ => return Some(rule),
            }
        } else {
            w.push_lazy(
                || result_path(run, raw, index_field),
                || format!("{i} is not an index into {} ({} rule(s)); using the rule id", where_(), rules.len()),
            );
        }
    }
    let id = id?;
    match run.by_id.get(id) {
        Some(&(c, i)) => tool.components.get(c).and_then(|comp| comp.rules.get(i)),
        None => {
            if run.has_rules() {
                w.push_lazy(
                    || result_path(run, raw, if raw.rule_id.is_some() { "ruleId" } else { "rule.id" }),
                    || format!("no rule {:?} in this run; the finding has only what the result says", super::short(id)),
                );
            }
            None
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

const ADVISORY_PREFIXES: &[&str] =
    &["GHSA-", "OSV-", "PYSEC-", "RUSTSEC-", "GO-", "ALAS", "DSA-", "DLA-", "RHSA-", "USN-", "ELSA-", "GMS-"];

fn kind_of(
    run: &RunState,
    rule: Option<&RuleInfo>,
    rule_id: &str,
    tags: &[String],
    has_package: bool,
    strong_cve: bool,
) -> FindingKind {
    let tag = |t: &str| tags.iter().any(|x| x.eq_ignore_ascii_case(t));
    if run.tool_kind == Some(FindingKind::Secret) || tag("secret") || tag("secrets") {
        return FindingKind::Secret;
    }
    let name = rule.and_then(|r| r.name.as_deref()).unwrap_or("");
    let lic = |s: &str| s.to_ascii_lowercase().contains("license") || s.to_ascii_lowercase().contains("licence");
    if tag("license") || lic(rule_id) || lic(name) {
        return FindingKind::License;
    }
    if run.tool_kind == Some(FindingKind::Misconfiguration)
        || tag("misconfiguration")
        || tag("iac")
        || name.eq_ignore_ascii_case("misconfiguration")
    {
        return FindingKind::Misconfiguration;
    }
    let upper = rule_id.to_ascii_uppercase();
    let advisory = ADVISORY_PREFIXES.iter().any(|p| upper.starts_with(p))
        || (upper.starts_with("SNYK-") && !upper.starts_with("SNYK-CC-"));
    if strong_cve || has_package || advisory || tag("vulnerability") {
        return FindingKind::Vulnerability;
    }
    FindingKind::Code
}

/// Turns one result into findings (one per vulnerable package), merging duplicates.
pub(crate) fn process(out: &mut Output, run: &RunState, mut raw: RawResult) {
    for (sub, m) in std::mem::take(&mut raw.warnings) {
        out.w.push(|| result_path(run, &raw, &sub), m);
    }
    out.w.count += raw.warnings_dropped;
    let rule = resolve_rule(run, &raw, &mut out.w);
    let rule_id: &str = match raw.rule_id.as_deref().or(raw.ref_id.as_deref()).or(rule.and_then(|r| r.id.as_deref())) {
        Some(id) => id,
        None => {
            out.w.push(
                || result_path(run, &raw, "ruleId"),
                "no ruleId, rule.id or rule index; the rule is \"unknown\"".into(),
            );
            "unknown"
        }
    };

    let uri = match (&raw.uri, raw.artifact_index) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(i)) if i >= 0 => {
            let found = run.artifacts.as_ref().and_then(|a| a.get(i as usize)).cloned().flatten();
            if found.is_none() {
                out.w.push(
                    || result_path(run, &raw, "locations[0].physicalLocation.artifactLocation.index"),
                    format!(
                        "{i} is not an index into run.artifacts with a uri ({} artifact(s)); location unknown",
                        run.artifacts.as_ref().map_or(0, Vec::len)
                    ),
                );
            }
            found
        }
        _ => None,
    };
    let location = uri.map(|uri| Location { uri, start_line: raw.start_line });

    let packages: Vec<(Option<Package>, Option<String>)> = if !raw.packages.is_empty() {
        std::mem::take(&mut raw.packages)
            .into_iter()
            .map(|p: VulnSoftware| {
                let pkg = Package {
                    name: p.name.unwrap_or_default(),
                    installed_version: p.installed,
                    fixed_version: p.fixed,
                    purl: p.purl,
                };
                (Some(pkg), p.layer)
            })
            .collect()
    } else {
        let derived = raw
            .message
            .as_deref()
            .and_then(|m| package_from_lines(m, false).or_else(|| package_from_osv_message(m)))
            .or_else(|| rule.and_then(|r| r.help_package.clone()));
        vec![(derived, None)]
    };

    let message = raw.message.as_deref().unwrap_or("");
    // One message for several packages names none of them: each finding's title is then the rule's.
    let shared = packages.len() > 1;
    let mut key = std::mem::take(&mut out.keybuf);
    let spilling = matches!(out.findings, Kept::Spill(_));
    for (package, layer) in packages {
        key.clear();
        write_dedup_key(
            &mut key,
            &run.scanner.name,
            rule_id,
            package.as_ref(),
            location.as_ref(),
            raw.fingerprint.as_deref(),
            message,
        );
        let sha = sha256(&key);
        let id = id_hex(&sha);
        let held = out.findings.len() + out.suppressed.len();
        let kept = if raw.suppression.is_some() { &mut out.suppressed } else { &mut out.findings };
        if let Some(i) = kept.find(&sha, &id) {
            kept.repeat(i, raw.suppression.as_ref(), &mut out.held);
            continue;
        }
        // Counting quality findings apart: an unsuppressed result's class is known only once
        // its finding is built, so the cap is checked after (the finding is then dropped).
        let digest = match out.quality_cap {
            Some(_) if raw.suppression.is_none() => {
                let d = prefix_digest(&sha);
                if out.quality_seen.contains(&d) {
                    continue;
                }
                Some(d)
            }
            _ => None,
        };
        // The indices are u32: never more than MAX_INDEXED findings, whatever the cap.
        let cap = out.cap.map_or(MAX_INDEXED, |cap| cap.min(MAX_INDEXED));
        if digest.is_none() && held >= cap {
            out.over_cap = true;
            continue;
        }
        let affected = Affected { id: &id, package, layer, location: location.clone(), shared };
        let finding = build_finding(run, rule, &raw, rule_id, affected, &mut out.w, &mut out.interned);
        if let (Some(d), Some(quality_cap)) = (digest, out.quality_cap) {
            if finding.class == FindingClass::Quality {
                if out.quality_seen.len() >= quality_cap {
                    out.over_quality_cap = true;
                } else {
                    out.quality_seen.insert(d);
                    out.quality_counts.add(finding.severity);
                }
                continue;
            }
            if held >= cap {
                out.over_cap = true;
                continue;
            }
        }
        // Spilled, the findings' text is on disk: the spill's bytes are capped instead.
        if !spilling {
            // A rule's description or help text is copied into the description of each of its
            // findings: a long one referenced by many results would multiply the report's bytes, so
            // the kept text is capped. What the findings of a rule share (its id, help text and
            // uri, tags, CVEs) and the run's scanner count once.
            // The key's length is still counted, as when the index held the key's text: the cap
            // (what reports it accepts) does not move with the index's layout.
            let mut bytes = text_bytes(&finding, rule).saturating_add(key.len() as u64);
            let shared = [
                rule.map(|r| ((run.index, r.component, r.index), r.shared_bytes)),
                Some(((run.index, usize::MAX, usize::MAX), scanner_bytes(&run.scanner))),
            ];
            let first_use: Vec<_> =
                shared.into_iter().flatten().filter(|(k, _)| !out.counted_rules.contains(k)).collect();
            bytes = first_use.iter().fold(bytes, |b, (_, n)| b.saturating_add(*n));
            if out.text_cap.is_some_and(|cap| out.text_held.saturating_add(bytes) > cap) {
                out.over_text_cap = true;
                continue;
            }
            out.counted_rules.extend(first_use.into_iter().map(|(k, _)| k));
            out.text_held = out.text_held.saturating_add(bytes);
        }
        let (kept, other) = if raw.suppression.is_some() {
            (&mut out.suppressed, &out.findings)
        } else {
            (&mut out.findings, &out.suppressed)
        };
        let room = out.spill_cap.map(|cap| cap.saturating_sub(other.spill_bytes()));
        match kept.push(finding, &sha, room) {
            Ok(Pushed::Kept) => {}
            // Not reached: `held` < MAX_INDEXED above.
            Ok(Pushed::Full) => out.over_cap = true,
            Ok(Pushed::OverSpill) => out.over_spill_cap = true,
            Err(e) => {
                out.spill_error = Some(e);
                break;
            }
        }
    }
    out.keybuf = key;
}

/// The bytes of text a kept finding holds of its own (the struct's fixed size aside): its
/// strings, less what it shares with the other findings of its `rule` (counted once per rule:
/// [`RuleInfo::shared_bytes`]) and the run's scanner ([`scanner_bytes`], once per run).
pub(crate) fn text_bytes(f: &Finding, rule: Option<&RuleInfo>) -> u64 {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let strings = [&f.id, &f.title, &f.description];
    let mut n: usize = strings.iter().map(|s| s.len()).sum::<usize>() + f.severity_original.len();
    n += opt(&f.layer) + opt(&f.fingerprint) + f.location.as_ref().map_or(0, |l| l.uri.len());
    if let Some(p) = &f.package {
        n += p.name.len() + opt(&p.installed_version) + opt(&p.fixed_version) + opt(&p.purl);
    }
    // The help text and uri and the CVSS vector only ever come from the rule: shared.
    let shared_id = rule.and_then(|r| r.id.as_ref()).is_some_and(|id| Arc::ptr_eq(id, &f.rule_id));
    if !shared_id {
        n += f.rule_id.len();
    }
    if rule.is_none_or(|r| !Arc::ptr_eq(&r.cves, &f.cves)) {
        n += f.cves.iter().map(String::len).sum::<usize>();
    }
    if rule.is_none_or(|r| !Arc::ptr_eq(&r.shared_tags, &f.tags)) {
        n += f.tags.iter().map(String::len).sum::<usize>();
    }
    n as u64
}

/// The bytes of text a run's scanner holds (its name and version).
fn scanner_bytes(s: &Scanner) -> u64 {
    (s.name.len() + s.version.as_deref().map_or(0, str::len)) as u64
}

/// The most distinct severity values ([`Finding::severity_original`]) the reader shares
/// between findings; beyond, each finding has its own.
const MAX_INTERNED: usize = 1024;

/// `value` shared with the findings that have the same one.
fn intern(interned: &mut HashSet<Arc<str>>, value: &str) -> Arc<str> {
    if let Some(v) = interned.get(value) {
        return v.clone();
    }
    let v: Arc<str> = Arc::from(value);
    if interned.len() < MAX_INTERNED {
        interned.insert(v.clone());
    }
    v
}

/// The SHA-256 of a dedup key's text: the finding's id ([`id_hex`]) and, for a quality
/// finding counted apart, what it is remembered by ([`prefix_digest`]).
fn sha256(key: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    b.copy_from_slice(&Sha256::digest(key.as_bytes()));
    b
}

/// The digest a quality finding counted apart is remembered by: the first 16 bytes of the
/// SHA-256 of its dedup key text (a collision would merge two of them in the count; at 2^-128
/// per pair it is not a concern).
pub(crate) fn prefix_digest(sha: &[u8; 32]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&sha[..16]);
    u128::from_be_bytes(b)
}

/// [`prefix_digest`] of a finding's SHA-256 read back from its id (`None`: not an id).
pub(crate) fn id_digest(id: &str) -> Option<u128> {
    let mut b = [0u8; 16];
    hex::decode_to_slice(id.get(..32)?, &mut b).ok()?;
    Some(u128::from_be_bytes(b))
}

/// What one finding of a result is about: its dedup key, the package (a result yields one
/// finding per vulnerable package) with the image layer it is in, and the location.
struct Affected<'a> {
    /// The SHA-256 of its dedup key, as its id is written.
    id: &'a IdHex,
    package: Option<Package>,
    layer: Option<String>,
    location: Option<Location>,
    /// The result yields several findings (one per package): its message is about all of them.
    shared: bool,
}

fn build_finding(
    run: &RunState,
    rule: Option<&RuleInfo>,
    raw: &RawResult,
    rule_id: &str,
    affected: Affected,
    w: &mut Warnings,
    interned: &mut HashSet<Arc<str>>,
) -> Finding {
    let Affected { id, package, layer, location, shared } = affected;
    let r = rule;
    let sev = severity::resolve(
        raw.qualys.or(r.and_then(|r| r.qualys)),
        raw.security_severity.or(r.and_then(|r| r.security_severity)),
        raw.level.or(r.and_then(|r| r.default_level)),
    );
    let message = result_message(run, r, raw, w);
    let message = message.as_deref().map(str::trim).filter(|m| !m.is_empty());
    // Rule text that is a template (`{name}`) does not name the instance: never shown.
    fn rule_text(t: Option<&str>) -> Option<&str> {
        non_empty(t).filter(|t| !message::has_placeholder(t))
    }
    let rule_title = rule_text(r.and_then(|r| r.short.as_deref())).or(rule_text(r.and_then(|r| r.name.as_deref())));
    // The message names the instance; a block of `Key: value` lines (Trivy) is data, not a title,
    // and a message shared by the findings of several packages names none of them in particular
    // (it stays in the description).
    let message_title = message
        .filter(|m| !shared && !message::is_key_value_block(m))
        .and_then(|m| m.lines().map(str::trim).find(|l| !l.is_empty()));
    let title = message_title.or(rule_title).or(message.and_then(|m| m.lines().next())).unwrap_or(rule_id);
    let help = rule_text(r.and_then(|r| r.full.as_deref()))
        .or(rule_text(r.and_then(|r| r.help_text.as_deref())))
        .or(rule_text(r.and_then(|r| r.short.as_deref())));
    let description = match (message, help) {
        (Some(m), Some(h)) if m != h && !contains(m, h) => [m, "\n\n", h].concat(),
        (Some(m), _) => m.to_string(),
        (None, Some(h)) => h.to_string(),
        (None, None) => rule_id.to_string(),
    };
    // The rule's CVEs and tags are shared by its findings unless the result adds its own.
    let cves: Arc<[String]> = match r {
        Some(r) if raw.cve_ids.is_empty() => r.cves.clone(),
        _ => {
            let mut cves = Vec::new();
            for s in &raw.cve_ids {
                push_cves(&mut cves, s);
            }
            if let Some(r) = r {
                for c in r.cves.iter() {
                    if !cves.contains(c) {
                        cves.push(c.clone());
                    }
                }
            }
            cves.into()
        }
    };
    let strong_cve = !raw.cve_ids.is_empty() && !cves.is_empty() || r.is_some_and(|r| r.strong_cve);
    let tags: Arc<[String]> = match r {
        Some(r) if raw.tags.iter().all(|t| r.shared_tags.contains(t)) => r.shared_tags.clone(),
        _ => {
            let mut tags: Vec<String> = r.map(|r| r.shared_tags.to_vec()).unwrap_or_default();
            for t in &raw.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            tags.into()
        }
    };
    let kind = kind_of(run, r, rule_id, &tags, package.is_some(), strong_cve);
    let security = run.security_tool
        || raw.qualys.or(r.and_then(|r| r.qualys)).is_some()
        || raw.security_severity.or(r.and_then(|r| r.security_severity)).is_some()
        || matches!(kind, FindingKind::Vulnerability | FindingKind::Secret)
        || tags.iter().any(|t| t.eq_ignore_ascii_case("security"));
    let class = if security { FindingClass::Security } else { FindingClass::Quality };
    // The title names a CVE the finding has, when the message does not.
    let title = match cves.first() {
        Some(cve) if !contains_in_upper_case(title, cve) => [cve.as_str(), ": ", title].concat(),
        _ => title.to_string(),
    };
    // The rule's own id when the result names it (nearly always): shared.
    let rule_id = match r.and_then(|r| r.id.as_ref()) {
        Some(id) if **id == *rule_id => id.clone(),
        _ => Arc::from(rule_id),
    };
    Finding {
        id: id.iter().map(|&b| char::from(b)).collect(),
        rule_id,
        title,
        description,
        severity: sev.label,
        severity_source: sev.source,
        severity_original: intern(interned, &sev.original),
        kind,
        class,
        cves,
        cvss_score: raw.security_severity.or(r.and_then(|r| r.security_severity)).or(r.and_then(|r| r.cvss_score)),
        cvss_vector: r.and_then(|r| r.cvss_vector.clone()),
        package: package.map(Box::new),
        layer,
        location,
        help_uri: r.and_then(|r| r.help_uri.clone()),
        help_text: r.and_then(|r| r.help_text.clone()),
        tags,
        scanner: run.scanner.clone(),
        qds: raw.qds.or(r.and_then(|r| r.qds)),
        fingerprint: raw.fingerprint.clone(),
        occurrences: 1,
        exception: None,
        suppression: raw.suppression.clone().map(Box::new),
    }
}

/// `haystack.to_ascii_uppercase().contains(needle)`, without the upper-case copy: upper-casing
/// ASCII keeps every byte in place, so the needle is compared with the haystack's bytes
/// upper-cased where it could start (at its first byte in either case).
pub(crate) fn contains_in_upper_case(haystack: &str, needle: &str) -> bool {
    let crate::text::SearchWindow { h, n, first, last_start } = match crate::text::search_window(haystack, needle) {
        Ok(window) => window,
        Err(found) => return found,
    };
    let matches_at = |i: usize| h[i..i + n.len()].iter().zip(n).all(|(a, b)| a.to_ascii_uppercase() == *b);
    if !first.is_ascii_uppercase() {
        // Only a byte equal to it upper-cases to it.
        return memchr::memchr_iter(first, &h[..=last_start]).any(matches_at);
    }
    memchr::memchr2_iter(first, first.to_ascii_lowercase(), &h[..=last_start]).any(matches_at)
}

/// The result's message as plain text (SARIF 2.1.0 §3.11): its own `text` (else `markdown`),
/// else the message string `message.id` names (the rule's `messageStrings`, then its tool
/// component's `globalMessageStrings`, then the driver's); `{n}` placeholders filled from
/// `arguments`, embedded links to related locations turned into `path:line`. Built only for a
/// new distinct finding; a message id that cannot be found or a placeholder without an
/// argument is a warning.
fn result_message<'a>(
    run: &'a RunState,
    rule: Option<&'a RuleInfo>,
    raw: &'a RawResult,
    w: &mut Warnings,
) -> Option<std::borrow::Cow<'a, str>> {
    use std::borrow::Cow;
    let (text, from_strings): (&str, bool) = match (raw.message.as_deref(), raw.message_id.as_deref()) {
        (Some(t), _) => (t, false),
        (None, Some(id)) => {
            let components = run.tool.as_ref().map_or(&[][..], |t| t.components.as_slice());
            let own = rule.and_then(|r| find_in(&r.message_strings, id));
            let component = rule.map_or(0, |r| r.component);
            let global = || {
                components
                    .get(component)
                    .and_then(|c| find_in(&c.global_strings, id))
                    .or_else(|| components.first().and_then(|c| find_in(&c.global_strings, id)))
            };
            match own.or_else(global) {
                Some(t) => (t, true),
                None => {
                    w.push_lazy(
                        || result_path(run, raw, "message.id"),
                        || {
                            format!(
                                "no message string {:?} in the rule's messageStrings or the tool's \
                                 globalMessageStrings; the rule's text is used",
                                super::short(id)
                            )
                        },
                    );
                    return None;
                }
            }
        }
        (None, None) => return None,
    };
    let mut out: Cow<'a, str> = Cow::Borrowed(text);
    if from_strings || !raw.arguments.is_empty() {
        let (filled, missing) = message::format(text, &raw.arguments);
        if missing > 0 {
            w.push_lazy(
                || result_path(run, raw, "message.arguments"),
                || {
                    format!(
                        "{missing} placeholder(s) without an argument ({} given); left as written",
                        raw.arguments.len()
                    )
                },
            );
        }
        out = Cow::Owned(filled);
    }
    if out.contains("](") || out.contains('\\') {
        let artifact = |i: i64| -> Option<String> {
            usize::try_from(i).ok().and_then(|i| run.artifacts.as_ref()?.get(i).cloned().flatten())
        };
        if let Cow::Owned(plain) = message::plain_links(&out, &raw.related, &artifact) {
            out = Cow::Owned(plain);
        }
    }
    Some(out)
}

fn find_in<'a>(strings: &'a [(String, String)], id: &str) -> Option<&'a str> {
    strings.iter().find(|(k, _)| k == id).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::{contains, contains_in_upper_case};
    use proptest::prelude::*;

    #[test]
    fn searches_like_the_standard_library() {
        assert!(contains_in_upper_case("cve-2021-44228 in log4j", "CVE-2021-44228"));
        assert!(contains_in_upper_case("x", ""));
        assert!(!contains_in_upper_case("CVE-2021-4422", "CVE-2021-44228"));
        assert!(!contains_in_upper_case("cve-2021-44228", "cve-2021-44228"), "the needle is not upper-cased");
        assert!(contains("message and help", "help"));
        assert!(!contains("help", "help text"));
    }

    proptest! {
        #[test]
        fn contains_matches_str_contains(h in "[a-cC\\-é]{0,64}|a{0,40}b?a{0,20}", n in "[a-cC\\-é]{0,4}|a{0,12}b?") {
            prop_assert_eq!(contains(&h, &n), h.contains(n.as_str()));
            prop_assert_eq!(contains_in_upper_case(&h, &n), h.to_ascii_uppercase().contains(n.as_str()));
        }
    }
}

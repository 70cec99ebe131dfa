//! AWS Security Finding Format rendering.
//!
//! Every finding is rendered into typed structs (so the JSON field order is stable and
//! the output byte-identical for the same inputs), with every string bounded by the
//! Security Hub limits (reference/aws-limits.md): Title 256, Description 1024,
//! Remediation text 512, ProductFields values 2048, Details.Other values 1024, and
//! nothing near the 32 768-character string limit. A finding must stay under 240 KB
//! serialized: the renderer measures its output and, when a pathological finding
//! (thousands of CVEs, megabyte descriptions) does not fit, renders it again with
//! tighter caps until it does.
//!
//! Field names follow the Security Hub API reference (AwsSecurityFinding, Vulnerability,
//! SoftwarePackage, Cvss, VulnerabilityVendor, Resource, ResourceDetails).

use crate::finding::{Finding, FindingKind};
use crate::lifecycle::{ecr_parts, image_repository, LifecycleKey, ScanType};
use crate::severity::Severity;
use crate::text::truncate_chars;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Everything a finding's ASFF needs besides the finding.
#[derive(Clone, Debug)]
pub struct AsffContext {
    pub account_id: String,
    pub region: String,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    pub scan_type: ScanType,
    /// The scanned thing as the user named it (image ref, repo URL, path).
    pub target: String,
    pub lifecycle: LifecycleKey,
    /// The CodeBuild project name, when known (adds an AwsCodeBuildProject resource).
    pub codebuild_project: Option<String>,
    /// The build ARN, when known (a ProductField).
    pub build_arn: Option<String>,
    /// RFC 3339 time of this import (UpdatedAt; CreatedAt for new findings).
    pub updated_at: String,
    /// CreatedAt; defaults to `updated_at` when None.
    pub created_at: Option<String>,
    /// Where the report object is, for ProductFields (`s3://bucket/key` or a file path).
    pub report_uri: Option<String>,
}

impl AsffContext {
    /// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account_id, self.account_id
        )
    }

    fn created_at(&self) -> &str {
        self.created_at.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(&self.updated_at)
    }
}

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Security Hub's limit on one finding, serialized.
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// What the renderer aims for: below the limit with room for the request envelope.
pub const FINDING_BYTES_BUDGET: usize = 200 * 1024;
/// `Id` and `GeneratorId` limits.
pub const MAX_ID_CHARS: usize = 512;
pub const MAX_TITLE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
pub const MAX_REMEDIATION_TEXT_CHARS: usize = 512;
pub const MAX_PRODUCT_FIELDS: usize = 50;
pub const MAX_PRODUCT_FIELD_KEY_CHARS: usize = 128;
pub const MAX_PRODUCT_FIELD_VALUE_CHARS: usize = 2048;
pub const MAX_OTHER_PAIRS: usize = 50;
pub const MAX_OTHER_VALUE_CHARS: usize = 1024;
pub const MAX_RESOURCES: usize = 32;
/// URLs longer than this are dropped (not truncated: a cut URL is a wrong URL).
pub const MAX_URL_CHARS: usize = 2048;

/// The `Types` entries scangate uses, all from the ASFF Types taxonomy
/// (namespace/category/classifier; a partial path is valid).
pub mod types {
    /// A finding that names one or more CVEs (the taxonomy's only Vulnerabilities classifier).
    pub const CVE: &str = "Software and Configuration Checks/Vulnerabilities/CVE";
    /// A vulnerability known only by another id (GHSA, OSV, a Qualys QID without CVE).
    pub const VULNERABILITY: &str = "Software and Configuration Checks/Vulnerabilities";
    /// A credential or key in a file. "Passwords" is the taxonomy's category for
    /// credentials under the Sensitive Data Identifications namespace; secret scanners
    /// find passwords, tokens and keys, which Security Hub groups there.
    pub const SECRET: &str = "Sensitive Data Identifications/Passwords";
    /// An infrastructure-as-code or configuration check. The taxonomy's "Industry and
    /// Regulatory Standards" classifiers name specific standards (CIS, PCI-DSS) that a
    /// scanner rule does not claim, so the best-practices category is the honest one.
    pub const MISCONFIGURATION: &str = "Software and Configuration Checks/AWS Security Best Practices";
    /// Static-analysis results and licence violations: the namespace alone, which the
    /// taxonomy allows, because no defined category describes them.
    pub const SOFTWARE_CHECK: &str = "Software and Configuration Checks";
}

/// The ASFF `Id` of a finding in this lifecycle: deterministic, ≤ 512 characters.
pub fn finding_id(ctx: &AsffContext, finding: &Finding) -> String {
    let id = format!("scangate/{}/{}", ctx.lifecycle.hash(), finding.id);
    if id.chars().count() <= MAX_ID_CHARS {
        return id;
    }
    // A finding id that is not the usual 64-hex digest (hand-made, or from an old state
    // file): hash it rather than cut it, so two long ids cannot collide after truncation.
    format!("scangate/{}/{}", ctx.lifecycle.hash(), hex::encode(Sha256::digest(finding.id.as_bytes())))
}

/// The ASFF `GeneratorId`: `scangate/<scanner>/<rule id>`, ≤ 512 characters.
pub fn generator_id(finding: &Finding) -> String {
    let scanner = nonblank(&finding.scanner.name).unwrap_or("unknown");
    let rule = nonblank(&finding.rule_id).unwrap_or("unknown-rule");
    bounded(&format!("scangate/{scanner}/{rule}"), MAX_ID_CHARS)
}

/// The `Types` entry of a finding: CVE when it names a CVE, else by kind.
pub fn finding_type(finding: &Finding) -> &'static str {
    if !finding.cves.is_empty() {
        return types::CVE;
    }
    match finding.kind {
        FindingKind::Vulnerability => types::VULNERABILITY,
        FindingKind::Secret => types::SECRET,
        FindingKind::Misconfiguration => types::MISCONFIGURATION,
        FindingKind::License | FindingKind::Code => types::SOFTWARE_CHECK,
    }
}

/// `RecordState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordState {
    Active,
    Archived,
}

/// One ASFF finding, in the field order it is serialized in.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding {
    schema_version: &'static str,
    id: String,
    product_arn: String,
    generator_id: String,
    aws_account_id: String,
    types: Vec<String>,
    created_at: String,
    updated_at: String,
    severity: AsffSeverity,
    finding_provider_fields: ProviderFields,
    title: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<Remediation>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    product_fields: BTreeMap<String, String>,
    resources: Vec<Resource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerabilities: Vec<Vulnerability>,
    record_state: RecordState,
}

impl AsffFinding {
    /// The ASFF `Id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn record_state(&self) -> RecordState {
        self.record_state
    }

    /// The serialized size in bytes (compact JSON).
    pub fn serialized_len(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Serializing plain structs of strings and numbers into a counter cannot fail;
        // if it ever did, report the size as over every limit.
        match serde_json::to_writer(&mut counter, self) {
            Ok(()) => counter.0,
            Err(_) => usize::MAX,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct AsffSeverity {
    label: Severity,
    normalized: u8,
    original: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProviderFields {
    severity: ProviderSeverity,
    types: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProviderSeverity {
    label: Severity,
    original: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Remediation {
    recommendation: Recommendation,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Recommendation {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
    id: String,
    partition: String,
    region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<ResourceDetails>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_ecr_container_image: Option<EcrImageDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<ContainerDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_code_build_project: Option<CodeBuildDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct EcrImageDetails {
    registry_id: String,
    repository_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_digest: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    image_tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerDetails {
    image_name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CodeBuildDetails {
    name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Vulnerability {
    id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerable_packages: Vec<SoftwarePackage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cvss: Vec<Cvss>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor: Option<Vendor>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix_available: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SoftwarePackage {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed_in_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_manager: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_layer_hash: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Cvss {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_vector: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Vendor {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

/// Caps applied while rendering; tighter sets are tried when a finding is too large.
#[derive(Clone, Copy, Debug)]
struct Caps {
    vulnerabilities: usize,
    reference_urls: usize,
    /// Package names, versions, resource ids, vector strings.
    field: usize,
    description: usize,
    product_value: usize,
    other_value: usize,
}

const CAPS: [Caps; 3] = [
    Caps {
        vulnerabilities: 100,
        reference_urls: 10,
        field: 1024,
        description: MAX_DESCRIPTION_CHARS,
        product_value: MAX_PRODUCT_FIELD_VALUE_CHARS,
        other_value: MAX_OTHER_VALUE_CHARS,
    },
    Caps {
        vulnerabilities: 20,
        reference_urls: 3,
        field: 512,
        description: 1024,
        product_value: 512,
        other_value: 512,
    },
    // The last set is small enough that no input can exceed the budget (the limits test
    // feeds 100 KB strings of characters JSON escapes six-fold).
    Caps { vulnerabilities: 1, reference_urls: 1, field: 128, description: 512, product_value: 256, other_value: 256 },
];

/// Renders one finding as a typed ASFF finding (RecordState ACTIVE).
pub fn render(finding: &Finding, ctx: &AsffContext) -> AsffFinding {
    render_state(finding, ctx, RecordState::Active)
}

fn render_state(finding: &Finding, ctx: &AsffContext, state: RecordState) -> AsffFinding {
    let mut rendered = build(finding, ctx, &CAPS[0], state);
    for caps in &CAPS[1..] {
        if rendered.serialized_len() <= FINDING_BYTES_BUDGET {
            break;
        }
        rendered = build(finding, ctx, caps, state);
    }
    rendered
}

/// Renders one finding as an ASFF object (RecordState ACTIVE).
pub fn to_asff(finding: &Finding, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render(finding, ctx))
}

/// Renders a finding that went away: the same Id and required fields, RecordState ARCHIVED.
pub fn archived(finding: &Finding, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render_state(finding, ctx, RecordState::Archived))
}

fn to_value(f: &AsffFinding) -> serde_json::Value {
    // A struct of strings, integers and finite floats always converts.
    serde_json::to_value(f).unwrap_or(serde_json::Value::Null)
}

/// A hash of what a finding says in Security Hub, for the lifecycle state: it changes when
/// anything shown changes, but not with the import time, the report location or the build
/// (those change every scan and would make every finding look changed). 64 hex characters.
pub fn content_hash(finding: &Finding, ctx: &AsffContext) -> String {
    let mut f = render(finding, ctx);
    f.created_at.clear();
    f.updated_at.clear();
    f.product_fields.remove("scangate/ReportUri");
    f.product_fields.remove("scangate/BuildArn");
    let bytes = serde_json::to_vec(&f).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Writes `[finding, …]` as a JSON array, one finding at a time (no whole-array buffer).
pub fn write_asff_array<W: std::io::Write>(findings: &[Finding], ctx: &AsffContext, mut w: W) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, &render(f, ctx))?;
    }
    w.write_all(b"]")
}

fn build(finding: &Finding, ctx: &AsffContext, caps: &Caps, state: RecordState) -> AsffFinding {
    let finding_type = finding_type(finding).to_string();
    let title = title(finding);
    let description = nonblank(&finding.description)
        .map_or_else(|| title.clone(), |d| bounded(d, caps.description.min(MAX_DESCRIPTION_CHARS)));
    let original =
        nonblank(&finding.severity_original).map_or_else(|| finding.severity.label().to_string(), |o| bounded(o, 128));
    AsffFinding {
        schema_version: SCHEMA_VERSION,
        id: finding_id(ctx, finding),
        product_arn: ctx.product_arn(),
        generator_id: generator_id(finding),
        aws_account_id: ctx.account_id.clone(),
        types: vec![finding_type.clone()],
        created_at: ctx.created_at().to_string(),
        updated_at: ctx.updated_at.clone(),
        severity: AsffSeverity {
            label: finding.severity,
            normalized: finding.severity.normalized(),
            original: original.clone(),
        },
        finding_provider_fields: ProviderFields {
            severity: ProviderSeverity { label: finding.severity, original },
            types: vec![finding_type],
        },
        title,
        description,
        remediation: remediation(finding),
        product_fields: product_fields(finding, ctx, caps),
        resources: resources(finding, ctx, caps),
        vulnerabilities: vulnerabilities(finding, caps),
        record_state: state,
    }
}

/// The finding's title with what it affects (`… (openssl 3.0.4)`, `… (src/app.js:12)`), so
/// findings of one rule on different packages or lines can be told apart in the console.
fn title(finding: &Finding) -> String {
    let Some(base) = nonblank(&finding.title).or_else(|| nonblank(&finding.rule_id)) else {
        return "Finding reported by scangate".to_string();
    };
    let affected = finding.affected();
    let title = match nonblank(&affected) {
        Some(a) if !base.contains(a) => {
            let a = truncate_chars(a, 100);
            format!("{} ({a})", truncate_chars(base, MAX_TITLE_CHARS.saturating_sub(a.chars().count() + 3)))
        }
        _ => base.to_string(),
    };
    bounded(&title, MAX_TITLE_CHARS)
}

fn remediation(finding: &Finding) -> Option<Remediation> {
    let url = finding.help_uri.as_deref().and_then(valid_url).map(str::to_string);
    let fixed_text = finding.package.as_ref().and_then(|p| {
        let fixed = nonblank(p.fixed_version.as_deref()?)?;
        let name = nonblank(&p.name)?;
        Some(match p.installed_version.as_deref().and_then(nonblank) {
            Some(installed) => format!("Upgrade {name} from {installed} to {fixed} or later."),
            None => format!("Upgrade {name} to {fixed} or later."),
        })
    });
    let text = fixed_text
        .or_else(|| finding.help_text.as_deref().and_then(nonblank).map(str::to_string))
        .map(|t| bounded(&t, MAX_REMEDIATION_TEXT_CHARS));
    if text.is_none() && url.is_none() {
        return None;
    }
    Some(Remediation { recommendation: Recommendation { text, url } })
}

fn product_fields(finding: &Finding, ctx: &AsffContext, caps: &Caps) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let max = caps.product_value.min(MAX_PRODUCT_FIELD_VALUE_CHARS);
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value.and_then(nonblank) {
            if fields.len() < MAX_PRODUCT_FIELDS {
                fields.insert(bounded(key, MAX_PRODUCT_FIELD_KEY_CHARS), bounded(v, max));
            }
        }
    };
    put("scangate/Scanner", Some(&finding.scanner.name));
    put("scangate/ScannerVersion", finding.scanner.version.as_deref());
    put("scangate/RuleId", Some(&finding.rule_id));
    put("scangate/FindingId", Some(&finding.id));
    put("scangate/ScanType", Some(ctx.scan_type.as_str()));
    put("scangate/SeveritySource", Some(severity_source(finding)));
    put("scangate/Qds", finding.qds.filter(|q| q.is_finite()).map(format_number).as_deref());
    put("scangate/Layer", finding.layer.as_deref());
    put("scangate/ReportUri", ctx.report_uri.as_deref());
    put("scangate/BuildArn", ctx.build_arn.as_deref());
    put("scangate/LifecycleKey", Some(&ctx.lifecycle.key));
    put("scangate/Location", Some(&location(finding)));
    put("scangate/PackageUrl", finding.package.as_ref().and_then(|p| p.purl.as_deref()));
    if !finding.cves.is_empty() {
        put("scangate/Cves", Some(&finding.cves.join(",")));
        put("scangate/CveCount", Some(&finding.cves.len().to_string()));
    }
    if !finding.tags.is_empty() {
        put("scangate/Tags", Some(&finding.tags.join(",")));
    }
    if finding.occurrences > 1 {
        put("scangate/Occurrences", Some(&finding.occurrences.to_string()));
    }
    fields
}

fn severity_source(finding: &Finding) -> &'static str {
    match finding.severity_source {
        crate::severity::SeveritySource::Qualys => "qualys",
        crate::severity::SeveritySource::SecuritySeverity => "security-severity",
        crate::severity::SeveritySource::Level => "level",
    }
}

/// Where in the target: `path:line` for file findings (empty when there is no location).
fn location(finding: &Finding) -> String {
    match &finding.location {
        Some(l) if !l.uri.trim().is_empty() => match l.start_line {
            Some(n) => format!("{}:{}", l.uri, n),
            None => l.uri.clone(),
        },
        _ => String::new(),
    }
}

fn resources(finding: &Finding, ctx: &AsffContext, caps: &Caps) -> Vec<Resource> {
    let mut out = Vec::with_capacity(2);
    let target = nonblank(&ctx.target).unwrap_or("unknown");
    match ctx.scan_type {
        ScanType::Image => out.push(image_resource(target, ctx, caps)),
        ScanType::Repo | ScanType::Rootfs | ScanType::Other => {
            let mut other = BTreeMap::new();
            let max = caps.other_value.min(MAX_OTHER_VALUE_CHARS);
            other.insert("ScanType".to_string(), ctx.scan_type.as_str().to_string());
            other.insert("Target".to_string(), bounded(target, max));
            let loc = location(finding);
            if let Some(l) = nonblank(&loc) {
                other.insert("Path".to_string(), bounded(l, max));
            }
            debug_assert!(other.len() <= MAX_OTHER_PAIRS);
            out.push(Resource {
                kind: "Other".to_string(),
                id: bounded(target, caps.field),
                partition: ctx.partition.clone(),
                region: ctx.region.clone(),
                details: Some(ResourceDetails { other: Some(other), ..Default::default() }),
            });
        }
    }
    if let Some(project) = ctx.codebuild_project.as_deref().and_then(nonblank) {
        let name = bounded(project, 255);
        out.push(Resource {
            kind: "AwsCodeBuildProject".to_string(),
            id: format!("arn:{}:codebuild:{}:{}:project/{}", ctx.partition, ctx.region, ctx.account_id, name),
            partition: ctx.partition.clone(),
            region: ctx.region.clone(),
            details: Some(ResourceDetails {
                aws_code_build_project: Some(CodeBuildDetails { name }),
                ..Default::default()
            }),
        });
    }
    out.truncate(MAX_RESOURCES);
    out
}

fn image_resource(target: &str, ctx: &AsffContext, caps: &Caps) -> Resource {
    let repo = image_repository(target);
    let rest = target.get(repo.len()..).unwrap_or("");
    let (tag_part, digest) = match rest.split_once('@') {
        Some((t, d)) => (t, nonblank(d)),
        None => (rest, None),
    };
    let tag = tag_part.strip_prefix(':').and_then(nonblank);
    if let Some((registry, region, name)) =
        ecr_parts(target).filter(|(_, r, n)| nonblank(n).is_some() && nonblank(r).is_some())
    {
        let mut id = format!("arn:{}:ecr:{}:{}:repository/{}", ctx.partition, region, registry, name);
        if let Some(d) = digest {
            id.push('/');
            id.push_str(d);
        }
        return Resource {
            kind: "AwsEcrContainerImage".to_string(),
            id: bounded(&id, caps.field),
            partition: ctx.partition.clone(),
            region: region.to_string(),
            details: Some(ResourceDetails {
                aws_ecr_container_image: Some(EcrImageDetails {
                    registry_id: registry.to_string(),
                    repository_name: bounded(name, caps.field),
                    image_digest: digest.map(|d| bounded(d, caps.field)),
                    image_tags: tag.map(|t| bounded(t, caps.field)).into_iter().collect(),
                }),
                ..Default::default()
            }),
        };
    }
    Resource {
        kind: "Container".to_string(),
        id: bounded(target, caps.field),
        partition: ctx.partition.clone(),
        region: ctx.region.clone(),
        details: Some(ResourceDetails {
            container: Some(ContainerDetails { image_name: bounded(target, caps.field) }),
            ..Default::default()
        }),
    }
}

fn vulnerabilities(finding: &Finding, caps: &Caps) -> Vec<Vulnerability> {
    let ids: Vec<&str> = if !finding.cves.is_empty() {
        finding.cves.iter().filter_map(|c| nonblank(c)).take(caps.vulnerabilities).collect()
    } else if finding.kind == FindingKind::Vulnerability && finding.package.is_some() {
        // An advisory without a CVE (GHSA, OSV, RUSTSEC, a QID): the rule id names it.
        nonblank(&finding.rule_id).into_iter().collect()
    } else {
        Vec::new()
    };
    if ids.is_empty() {
        return Vec::new();
    }
    let package = finding.package.as_ref().and_then(|p| {
        let name = nonblank(&p.name)?;
        let fixed = p.fixed_version.as_deref().and_then(nonblank).map(|v| bounded(v, caps.field));
        let remediation = fixed.as_ref().map(|f| {
            bounded(&format!("Upgrade {} to {f} or later.", bounded(name, caps.field)), MAX_REMEDIATION_TEXT_CHARS)
        });
        Some(SoftwarePackage {
            name: bounded(name, caps.field),
            version: p.installed_version.as_deref().and_then(nonblank).map(|v| bounded(v, caps.field)),
            fixed_in_version: fixed,
            package_manager: p.purl.as_deref().and_then(purl_type).map(|t| bounded(t, 64)),
            remediation,
            source_layer_hash: finding.layer.as_deref().and_then(nonblank).map(|l| bounded(l, caps.field)),
        })
    });
    let fix_available = package.as_ref().map(|p| if p.fixed_in_version.is_some() { "YES" } else { "NO" });
    let cvss = cvss(finding, caps);
    let help = finding.help_uri.as_deref().and_then(valid_url);
    let vendor =
        nonblank(&finding.scanner.name).map(|name| Vendor { name: bounded(name, 128), url: help.map(str::to_string) });
    ids.into_iter()
        .map(|id| {
            let mut urls: Vec<String> = Vec::new();
            if let Some(h) = help {
                urls.push(h.to_string());
            }
            if is_cve(id) {
                urls.push(format!("https://nvd.nist.gov/vuln/detail/{id}"));
            }
            urls.dedup();
            urls.truncate(caps.reference_urls);
            Vulnerability {
                id: bounded(id, 128),
                vulnerable_packages: package.clone().into_iter().collect(),
                cvss: cvss.clone().into_iter().collect(),
                vendor: vendor.clone(),
                reference_urls: urls,
                fix_available,
            }
        })
        .collect()
}

fn cvss(finding: &Finding, caps: &Caps) -> Option<Cvss> {
    let score = finding.cvss_score.filter(|s| s.is_finite() && (0.0..=10.0).contains(s));
    let vector = finding.cvss_vector.as_deref().and_then(nonblank);
    if score.is_none() && vector.is_none() {
        return None;
    }
    let version = vector.and_then(cvss_version);
    Some(Cvss { version, base_score: score, base_vector: vector.map(|v| bounded(v, caps.field.min(256))) })
}

/// The CVSS version a vector declares (`CVSS:3.1/…` → `3.1`); a bare `AV:N/AC:L/Au:N/…` is 2.0.
fn cvss_version(vector: &str) -> Option<String> {
    if let Some(rest) = vector.strip_prefix("CVSS:") {
        let v = rest.split('/').next().unwrap_or("");
        if !v.is_empty() && v.len() <= 8 && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Some(v.to_string());
        }
        return None;
    }
    if vector.contains("Au:") {
        return Some("2.0".to_string());
    }
    None
}

fn is_cve(id: &str) -> bool {
    let mut parts = id.split('-');
    parts.next() == Some("CVE")
        && parts.next().is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        && parts.next().is_some_and(|n| n.len() >= 4 && n.len() <= 12 && n.bytes().all(|b| b.is_ascii_digit()))
        && parts.next().is_none()
}

/// The package type of a package URL: `pkg:npm/left-pad@1` → `npm`.
fn purl_type(purl: &str) -> Option<&str> {
    let rest = purl.strip_prefix("pkg:")?;
    let ty = rest.split('/').next()?;
    (!ty.is_empty()
        && ty.len() <= 64
        && ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'+'))
    .then_some(ty)
}

/// The URL when Security Hub would accept it: http(s), a host, ASCII without spaces or
/// controls, at most [`MAX_URL_CHARS`]. Anything else is dropped, never sent.
pub fn valid_url(s: &str) -> Option<&str> {
    let s = s.trim();
    if s.len() > MAX_URL_CHARS || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return None;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = host.split(':').next().unwrap_or("");
    if name.is_empty() || host.contains(['<', '>', '"', '\\', '{', '}', '|', '^', '`']) {
        return None;
    }
    Some(s)
}

/// A number as people write it: `85`, `72.5`.
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn nonblank(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

fn bounded(s: &str, max_chars: usize) -> String {
    truncate_chars(s, max_chars).into_owned()
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the processor keeps about an imported finding so it can archive it later,
/// when only its state file remembers it: the rendered identity and required fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingStub {
    /// The ASFF `Id`.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity_original: String,
    pub types: Vec<String>,
    pub generator_id: String,
    /// The finding's first resource (the scanned image, repository or path).
    pub resource: ResourceStub,
    /// CreatedAt of the first import, so the archived record keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// A resource's identity, enough for a valid `Resources` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceStub {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

impl FindingStub {
    /// The stub of a finding as it is rendered in this context.
    pub fn new(finding: &Finding, ctx: &AsffContext) -> FindingStub {
        let rendered = render(finding, ctx);
        FindingStub::from(&rendered)
    }
}

impl From<&AsffFinding> for FindingStub {
    fn from(f: &AsffFinding) -> FindingStub {
        let resource = f.resources.first().map_or_else(
            || ResourceStub {
                kind: "Other".to_string(),
                id: "unknown".to_string(),
                partition: "aws".to_string(),
                region: "us-east-1".to_string(),
            },
            |r| ResourceStub {
                kind: r.kind.clone(),
                id: r.id.clone(),
                partition: r.partition.clone(),
                region: r.region.clone(),
            },
        );
        FindingStub {
            id: f.id.clone(),
            title: f.title.clone(),
            severity: f.severity.label,
            severity_original: f.severity.original.clone(),
            types: f.types.clone(),
            generator_id: f.generator_id.clone(),
            resource,
            created_at: Some(f.created_at.clone()),
        }
    }
}

/// A full, valid ASFF finding with RecordState ARCHIVED from a stub: what the processor
/// imports for a finding that disappeared from the latest scan.
pub fn archived_from_stub(stub: &FindingStub, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render_stub(stub, ctx))
}

/// The typed form of [`archived_from_stub`].
pub fn render_stub(stub: &FindingStub, ctx: &AsffContext) -> AsffFinding {
    let title = nonblank(&stub.title)
        .map_or_else(|| "Finding reported by scangate".to_string(), |t| bounded(t, MAX_TITLE_CHARS));
    let mut types: Vec<String> =
        stub.types.iter().filter_map(|t| nonblank(t)).take(50).map(|t| bounded(t, 256)).collect();
    if types.is_empty() {
        types.push(types::SOFTWARE_CHECK.to_string());
    }
    let original =
        nonblank(&stub.severity_original).map_or_else(|| stub.severity.label().to_string(), |o| bounded(o, 128));
    let id = if nonblank(&stub.id).is_some() && stub.id.chars().count() <= MAX_ID_CHARS {
        stub.id.clone()
    } else {
        format!("scangate/{}/{}", ctx.lifecycle.hash(), hex::encode(Sha256::digest(stub.id.as_bytes())))
    };
    let generator_id =
        nonblank(&stub.generator_id).map_or_else(|| "scangate/unknown".to_string(), |g| bounded(g, MAX_ID_CHARS));
    let r = &stub.resource;
    let resource = Resource {
        kind: nonblank(&r.kind).map_or_else(|| "Other".to_string(), |k| bounded(k, 256)),
        id: nonblank(&r.id).map_or_else(|| "unknown".to_string(), |i| bounded(i, 1024)),
        partition: nonblank(&r.partition).map_or_else(|| ctx.partition.clone(), |p| bounded(p, 32)),
        region: nonblank(&r.region).map_or_else(|| ctx.region.clone(), |p| bounded(p, 32)),
        details: None,
    };
    let created_at = stub.created_at.as_deref().and_then(nonblank).unwrap_or(ctx.created_at()).to_string();
    let mut product_fields = BTreeMap::new();
    product_fields
        .insert("scangate/LifecycleKey".to_string(), bounded(&ctx.lifecycle.key, MAX_PRODUCT_FIELD_VALUE_CHARS));
    if let Some(uri) = ctx.report_uri.as_deref().and_then(nonblank) {
        product_fields.insert("scangate/ArchivedBy".to_string(), bounded(uri, MAX_PRODUCT_FIELD_VALUE_CHARS));
    }
    AsffFinding {
        schema_version: SCHEMA_VERSION,
        id,
        product_arn: ctx.product_arn(),
        generator_id,
        aws_account_id: ctx.account_id.clone(),
        types: types.clone(),
        created_at,
        updated_at: ctx.updated_at.clone(),
        severity: AsffSeverity {
            label: stub.severity,
            normalized: stub.severity.normalized(),
            original: original.clone(),
        },
        finding_provider_fields: ProviderFields {
            severity: ProviderSeverity { label: stub.severity, original },
            types,
        },
        description: bounded(
            &format!("No longer reported: the latest scan of {} did not find this. {title}", resource.id),
            MAX_DESCRIPTION_CHARS,
        ),
        title,
        remediation: None,
        product_fields,
        resources: vec![resource],
        vulnerabilities: Vec::new(),
        record_state: RecordState::Archived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(valid_url("https://nvd.nist.gov/x?y=1#z"), Some("https://nvd.nist.gov/x?y=1#z"));
        assert_eq!(valid_url(" HTTP://a.b "), Some("HTTP://a.b"));
        for bad in [
            "not a valid URI",
            "ftp://x",
            "https://",
            "https:///path",
            "https://a b",
            "javascript:alert(1)",
            "https://é.fr",
        ] {
            assert_eq!(valid_url(bad), None, "{bad}");
        }
        assert_eq!(valid_url(&format!("https://a.b/{}", "x".repeat(MAX_URL_CHARS))), None);
    }

    #[test]
    fn cve_ids_and_cvss_versions() {
        assert!(is_cve("CVE-2021-44228"));
        assert!(!is_cve("CVE-21-1"));
        assert!(!is_cve("GHSA-jfh8-c2jp-5v3q"));
        assert_eq!(cvss_version("CVSS:3.1/AV:N/AC:L"), Some("3.1".into()));
        assert_eq!(cvss_version("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some("2.0".into()));
        assert_eq!(cvss_version("CVSS:x/AV:N"), None);
        assert_eq!(purl_type("pkg:npm/left-pad@1.0"), Some("npm"));
        assert_eq!(purl_type("npm/left-pad"), None);
        assert_eq!(format_number(85.0), "85");
        assert_eq!(format_number(72.5), "72.5");
    }
}

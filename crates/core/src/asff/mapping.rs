//! The field mapping: a [`Finding`] and its [`AsffContext`] (account, region, scanned
//! target, lifecycle, build) → the fields of one ASFF finding: Id, GeneratorId, Types,
//! severity, title and description, remediation, ProductFields, Resources and
//! Vulnerabilities, every string cut to Security Hub's field limits and to the [`Caps`]
//! of the attempt.

use super::budget::Caps;
use super::model::{
    types, AsffFinding, AsffSeverity, CodeBuildDetails, ContainerDetails, Cvss, EcrImageDetails, Fields, NvdUrl,
    ProviderFields, ProviderSeverity, Recommendation, RecordState, ReferenceUrls, Remediation, Resource,
    ResourceDetails, SoftwarePackage, Text, Vendor, Vulnerability, MAX_DESCRIPTION_CHARS, MAX_ID_CHARS,
    MAX_OTHER_PAIRS, MAX_OTHER_VALUE_CHARS, MAX_PRODUCT_FIELDS, MAX_PRODUCT_FIELD_VALUE_CHARS,
    MAX_REMEDIATION_TEXT_CHARS, MAX_RESOURCES, MAX_TITLE_CHARS, MAX_URL_CHARS, SCHEMA_VERSION,
};
use crate::finding::{Finding, FindingClass, FindingKind};
use crate::host::{Cloud, HostFacts, VmTarget};
use crate::lifecycle::{ecr_parts, image_repository, LifecycleKey, ScanType};
use crate::severity::Severity;
use crate::text::{display_text, truncate_chars};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// The node and OS of a host scan (`scan running|vm-disk`): ProductFields `scangate/Host`,
    /// `scangate/Kernel`, `scangate/Machine`, `scangate/Os`, and the same in the resource's details.
    pub host: Option<HostFacts>,
}

impl AsffContext {
    /// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account_id, self.account_id
        )
    }

    pub(super) fn created_at(&self) -> &str {
        self.created_at.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(&self.updated_at)
    }
}

/// The ASFF `Id` of a finding in this lifecycle: deterministic, ≤ 512 characters.
pub fn finding_id(ctx: &AsffContext, finding: &Finding) -> String {
    finding_id_in(&ctx.lifecycle.hash(), finding)
}

fn finding_id_in(lifecycle_hash: &str, finding: &Finding) -> String {
    let id = concat(&["scangate/", lifecycle_hash, "/", &finding.id]);
    if id.chars().count() <= MAX_ID_CHARS {
        return id;
    }
    // A finding id that is not the usual 64-hex digest (hand-made, or from an old state
    // file): hash it rather than cut it, so two long ids cannot collide after truncation.
    concat(&["scangate/", lifecycle_hash, "/", &hex::encode(Sha256::digest(finding.id.as_bytes()))])
}

/// The ASFF `GeneratorId`: `scangate/<scanner>/<rule id>`, ≤ 512 characters.
pub fn generator_id(finding: &Finding) -> String {
    generator_text(finding).into_owned()
}

fn generator_text(finding: &Finding) -> Text<'static> {
    let scanner = nonblank(&finding.scanner.name).unwrap_or("unknown");
    let rule = nonblank(&finding.rule_id).unwrap_or("unknown-rule");
    bounded_owned(concat(&["scangate/", scanner, "/", rule]), MAX_ID_CHARS)
}

/// The pieces joined, in one allocation of the right size (cheaper than `format!`).
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// The `Types` entry of a finding: code quality for a quality finding, CVE when it names a
/// CVE, else by kind.
pub fn finding_type(finding: &Finding) -> &'static str {
    if finding.class == FindingClass::Quality {
        return types::CODE_QUALITY;
    }
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

/// The per-context strings every finding repeats, computed once per context.
pub(super) struct Prepared<'a> {
    ctx: &'a AsffContext,
    product_arn: Text<'a>,
    lifecycle_hash: Text<'a>,
    /// An image scan's resources at the first caps: they depend on the context alone.
    resources: Option<Cow<'a, [Resource<'a>]>>,
}

impl<'a> Prepared<'a> {
    /// Owns its strings: what [`build`] takes from it is copied into each finding.
    pub(super) fn new(ctx: &'a AsffContext) -> Prepared<'a> {
        Prepared {
            ctx,
            product_arn: Cow::Owned(ctx.product_arn()),
            lifecycle_hash: Cow::Owned(ctx.lifecycle.hash()),
            resources: None,
        }
    }

    /// [`Prepared::new`] with an image scan's resources made once too, for a writer of many
    /// findings (through [`Prepared::borrowed`], every finding borrows them).
    pub(super) fn for_many(ctx: &'a AsffContext) -> Prepared<'a> {
        let resources =
            matches!(ctx.scan_type, ScanType::Image).then(|| Cow::Owned(image_resources(ctx, &super::budget::CAPS[0])));
        Prepared { resources, ..Prepared::new(ctx) }
    }

    /// Borrows this one's strings: the findings [`build`] makes from it borrow them too (no copy
    /// per finding), and live no longer than this one.
    pub(super) fn borrowed(&self) -> Prepared<'_> {
        Prepared {
            ctx: self.ctx,
            product_arn: Cow::Borrowed(&self.product_arn),
            lifecycle_hash: Cow::Borrowed(&self.lifecycle_hash),
            resources: self.resources.as_deref().map(Cow::Borrowed),
        }
    }
}

/// One finding's ASFF. Its texts borrow from the finding, the context and `p` wherever they
/// are written unchanged; only what is composed, cut or sanitized is allocated.
pub(super) fn build<'a>(finding: &'a Finding, p: &Prepared<'a>, caps: &Caps, state: RecordState) -> AsffFinding<'a> {
    let ctx = p.ctx;
    let finding_type = finding_type(finding);
    let title = title(finding);
    let description = nonblank(&finding.description)
        .map_or_else(|| title.clone(), |d| bounded(d, caps.description.min(MAX_DESCRIPTION_CHARS)));
    let original = nonblank(&finding.severity_original)
        .map_or_else(|| Cow::Borrowed(finding.severity.label()), |o| bounded(o, 128));
    let label = asff_severity(finding);
    AsffFinding {
        schema_version: SCHEMA_VERSION,
        id: Cow::Owned(finding_id_in(&p.lifecycle_hash, finding)),
        product_arn: p.product_arn.clone(),
        generator_id: generator_text(finding),
        aws_account_id: Cow::Borrowed(&ctx.account_id),
        types: Cow::Borrowed(types::list(finding_type)),
        created_at: Cow::Borrowed(ctx.created_at()),
        updated_at: Cow::Borrowed(&ctx.updated_at),
        severity: AsffSeverity { label, normalized: label.normalized(), original: original.clone() },
        finding_provider_fields: ProviderFields {
            severity: ProviderSeverity { label, original },
            types: Cow::Borrowed(types::list(finding_type)),
        },
        title,
        description,
        remediation: remediation(finding),
        product_fields: product_fields(finding, ctx, caps),
        resources: match &p.resources {
            Some(r) if *caps == super::budget::CAPS[0] => r.clone(),
            _ => Cow::Owned(resources(finding, ctx, caps)),
        },
        vulnerabilities: vulnerabilities(finding, caps),
        record_state: state,
    }
}

/// The Security Hub severity: the finding's, except for a quality finding, which is not a
/// security risk whatever level its linter gave it: LOW for an `error` (or a higher
/// severity), INFORMATIONAL otherwise. `Severity.Original` keeps the level.
pub(crate) fn asff_severity(finding: &Finding) -> Severity {
    match finding.class {
        FindingClass::Security => finding.severity,
        FindingClass::Quality if finding.severity >= Severity::High => Severity::Low,
        FindingClass::Quality => Severity::Informational,
    }
}

/// The finding's title with what it affects (`… (openssl 3.0.4)`, `… (src/app.js:12)`), so
/// findings of one rule on different packages or lines can be told apart in the console.
fn title(finding: &Finding) -> Text<'_> {
    let Some(base) = nonblank(&finding.title).or_else(|| nonblank(&finding.rule_id)) else {
        return Cow::Borrowed("Finding reported by scangate");
    };
    let affected = finding.affected();
    match nonblank(&affected) {
        Some(a) if !crate::text::contains(base, a) => {
            let a = truncate_chars(a, 100);
            let base = truncate_chars(base, MAX_TITLE_CHARS.saturating_sub(a.chars().count() + 3));
            bounded_owned(concat(&[&base, " (", &a, ")"]), MAX_TITLE_CHARS)
        }
        _ => bounded(base, MAX_TITLE_CHARS),
    }
}

fn remediation(finding: &Finding) -> Option<Remediation<'_>> {
    let url = finding.help_uri.as_deref().and_then(valid_url).map(Cow::Borrowed);
    let fixed_text = finding.package.as_ref().and_then(|p| {
        let fixed = nonblank(p.fixed_version.as_deref()?)?;
        let name = nonblank(&p.name)?;
        Some(match p.installed_version.as_deref().and_then(nonblank) {
            Some(installed) => concat(&["Upgrade ", name, " from ", installed, " to ", fixed, " or later."]),
            None => concat(&["Upgrade ", name, " to ", fixed, " or later."]),
        })
    });
    let text = match fixed_text {
        Some(t) => Some(bounded_owned(t, MAX_REMEDIATION_TEXT_CHARS)),
        None => finding.help_text.as_deref().and_then(nonblank).map(|t| bounded(t, MAX_REMEDIATION_TEXT_CHARS)),
    };
    if text.is_none() && url.is_none() {
        return None;
    }
    Some(Remediation { recommendation: Recommendation { text, url } })
}

fn product_fields<'a>(finding: &'a Finding, ctx: &'a AsffContext, caps: &Caps) -> Fields<'a> {
    let mut fields = Fields::with_capacity(24);
    let max = caps.product_value.min(MAX_PRODUCT_FIELD_VALUE_CHARS);
    // Keys are constants, all within Security Hub's 128-character key limit (the unit tests check).
    let mut put = |key: &'static str, value: Option<Text<'a>>| {
        if let Some(v) = value.filter(|v| nonblank(v).is_some()) {
            if fields.len() < MAX_PRODUCT_FIELDS {
                fields.insert(key, bounded_text(v, max));
            }
        }
    };
    let b = |value: Option<&'a str>| value.map(Cow::Borrowed);
    let host = ctx.host.as_ref();
    // Put in key order, the order they are written in, so each is appended (another order
    // writes the same, only slower). There are fewer keys than MAX_PRODUCT_FIELDS, so the
    // order never decides which are kept.
    put("scangate/BuildArn", b(ctx.build_arn.as_deref()));
    if !finding.cves.is_empty() {
        put("scangate/CveCount", Some(Cow::Owned(finding.cves.len().to_string())));
        put("scangate/Cves", Some(Cow::Owned(finding.cves.join(","))));
    }
    // A waived finding stays visible with its exception (docs/waivers.md). ProductFields, not
    // Note or UserDefinedFields: those are the customer's (BatchUpdateFindings), and
    // BatchImportFindings cannot change them once the finding exists.
    if let Some(e) = &finding.exception {
        let what = match e.status {
            Some(status) => Cow::Owned(format!("{}:{}", e.kind.as_str(), status.as_str())),
            None => Cow::Borrowed(e.kind.as_str()),
        };
        put("scangate/Exception", Some(what));
        put("scangate/ExceptionDocument", b(Some(&e.document_sha256)));
        put("scangate/ExceptionExpires", b(e.expires.as_deref()));
        put("scangate/ExceptionId", b(Some(&e.id)));
        put("scangate/ExceptionOwner", b(e.owner.as_deref()));
        put("scangate/ExceptionReason", b(Some(&e.reason)));
        put("scangate/ExceptionRef", b(Some(&e.reference)));
    }
    put("scangate/FindingId", b(Some(&finding.id)));
    put("scangate/Host", b(host.and_then(|h| h.hostname.as_deref())));
    put("scangate/Kernel", b(host.and_then(|h| h.kernel.as_deref())));
    put("scangate/Layer", b(finding.layer.as_deref()));
    put("scangate/LifecycleKey", b(Some(&ctx.lifecycle.key)));
    put("scangate/Location", Some(location(finding)));
    put("scangate/Machine", b(host.and_then(|h| h.machine.as_deref())));
    if finding.occurrences > 1 {
        put("scangate/Occurrences", Some(Cow::Owned(finding.occurrences.to_string())));
    }
    put("scangate/Os", b(host.and_then(|h| h.os.as_deref())));
    put("scangate/PackageUrl", b(finding.package.as_ref().and_then(|p| p.purl.as_deref())));
    put("scangate/Qds", finding.qds.filter(|q| q.is_finite()).map(|q| Cow::Owned(format_number(q))));
    put("scangate/ReportUri", b(ctx.report_uri.as_deref()));
    put("scangate/RuleId", b(Some(&finding.rule_id)));
    put("scangate/ScanType", b(Some(ctx.scan_type.as_str())));
    put("scangate/Scanner", b(Some(&finding.scanner.name)));
    put("scangate/ScannerVersion", b(finding.scanner.version.as_deref()));
    put("scangate/SeveritySource", b(Some(severity_source(finding))));
    // A SARIF suppression is shown whether HONOR_SUPPRESSIONS honoured it or not, with its
    // justification: the finding stays ACTIVE either way (docs/security.md, "Suppressions").
    // ProductFields for the reason given above: Workflow, Note and UserDefinedFields cannot
    // be changed by BatchImportFindings once the finding exists.
    if let Some(s) = &finding.suppression {
        put("scangate/Suppressed", Some(Cow::Borrowed(if s.honoured { "true" } else { "false" })));
        put("scangate/SuppressionJustification", b(s.justification.as_deref()));
        put("scangate/SuppressionKinds", Some(Cow::Owned(s.kinds_text())));
    }
    if !finding.tags.is_empty() {
        put("scangate/Tags", Some(Cow::Owned(finding.tags.join(","))));
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
fn location(finding: &Finding) -> Text<'_> {
    match &finding.location {
        Some(l) if !l.uri.trim().is_empty() => match l.start_line {
            Some(n) => Cow::Owned(format!("{}:{}", l.uri, n)),
            None => Cow::Borrowed(&l.uri),
        },
        _ => Cow::Borrowed(""),
    }
}

/// An image scan's resources (the image, the build project): the context alone decides them,
/// so [`Prepared`] makes them once.
fn image_resources<'a>(ctx: &'a AsffContext, caps: &Caps) -> Vec<Resource<'a>> {
    let target = nonblank(&ctx.target).unwrap_or("unknown");
    let mut out = vec![image_resource(target, ctx, caps)];
    push_codebuild(ctx, &mut out);
    out.truncate(MAX_RESOURCES);
    out
}

fn resources<'a>(finding: &'a Finding, ctx: &'a AsffContext, caps: &Caps) -> Vec<Resource<'a>> {
    let mut out = Vec::with_capacity(2);
    let target = nonblank(&ctx.target).unwrap_or("unknown");
    match ctx.scan_type {
        ScanType::Image => return image_resources(ctx, caps),
        ScanType::Rootfs if VmTarget::parse(target).is_some() => {
            if let Some(vm) = VmTarget::parse(target) {
                vm_resources(&vm, finding, ctx, caps, &mut out);
            }
        }
        ScanType::Repo | ScanType::Rootfs | ScanType::Other => {
            let other = other_details(target, finding, ctx, caps);
            out.push(Resource {
                kind: Cow::Borrowed("Other"),
                id: bounded(target, caps.field),
                partition: Cow::Borrowed(&ctx.partition),
                region: Cow::Borrowed(&ctx.region),
                details: Some(ResourceDetails { other: Some(other), ..Default::default() }),
            });
        }
    }
    push_codebuild(ctx, &mut out);
    out.truncate(MAX_RESOURCES);
    out
}

/// The CodeBuild project's resource, when the build is known.
fn push_codebuild<'a>(ctx: &'a AsffContext, out: &mut Vec<Resource<'a>>) {
    if let Some(project) = ctx.codebuild_project.as_deref().and_then(nonblank) {
        let name = bounded(project, 255);
        out.push(Resource {
            kind: Cow::Borrowed("AwsCodeBuildProject"),
            id: Cow::Owned(format!(
                "arn:{}:codebuild:{}:{}:project/{}",
                ctx.partition, ctx.region, ctx.account_id, name
            )),
            partition: Cow::Borrowed(&ctx.partition),
            region: Cow::Borrowed(&ctx.region),
            details: Some(ResourceDetails {
                aws_code_build_project: Some(CodeBuildDetails { name }),
                ..Default::default()
            }),
        });
    }
}

/// `Details.Other` of a resource that has no typed details: scan type, target, the finding's
/// path, and the node and OS of a host scan.
fn other_details<'a>(
    target: &'a str,
    finding: &'a Finding,
    ctx: &'a AsffContext,
    caps: &Caps,
) -> BTreeMap<&'static str, Text<'a>> {
    let mut other = BTreeMap::new();
    let max = caps.other_value.min(MAX_OTHER_VALUE_CHARS);
    other.insert("ScanType", Cow::Borrowed(ctx.scan_type.as_str()));
    other.insert("Target", bounded(target, max));
    let loc = location(finding);
    if nonblank(&loc).is_some() {
        other.insert("Path", bounded_text(loc, max));
    }
    if let Some(h) = &ctx.host {
        for (k, v) in [("Host", &h.hostname), ("Kernel", &h.kernel), ("Machine", &h.machine), ("Os", &h.os)] {
            if let Some(v) = v.as_deref().and_then(nonblank) {
                other.insert(k, bounded(v, max));
            }
        }
    }
    debug_assert!(other.len() <= MAX_OTHER_PAIRS);
    other
}

/// A VM disk scan (crate::host::VmTarget): on AWS the instance (`AwsEc2Instance`, its ARN)
/// and the source volume (`AwsEc2Volume`), in the VM's own region; on GCP one `Other`
/// resource whose id is the instance's self-link, with the disk in its details.
fn vm_resources<'a>(
    vm: &VmTarget,
    finding: &'a Finding,
    ctx: &'a AsffContext,
    caps: &Caps,
    out: &mut Vec<Resource<'a>>,
) {
    let target = vm.target();
    let mut other: BTreeMap<&'static str, Text<'a>> =
        other_details(&target, finding, ctx, caps).into_iter().map(|(k, v)| (k, owned(v))).collect();
    other.insert("Disk", owned(bounded(&vm.disk, caps.other_value.min(MAX_OTHER_VALUE_CHARS))));
    match (vm.cloud, vm.aws_parts(), vm.volume_arn()) {
        (Cloud::Aws, Some((partition, region, _)), Some(volume_arn)) => {
            out.push(Resource {
                kind: Cow::Borrowed("AwsEc2Instance"),
                id: owned(bounded(&vm.instance, caps.field)),
                partition: Cow::Owned(partition.to_string()),
                region: Cow::Owned(region.to_string()),
                details: Some(ResourceDetails { other: Some(other), ..Default::default() }),
            });
            out.push(Resource {
                kind: Cow::Borrowed("AwsEc2Volume"),
                id: bounded_owned(volume_arn, caps.field),
                partition: Cow::Owned(partition.to_string()),
                region: Cow::Owned(region.to_string()),
                details: None,
            });
        }
        _ => {
            other.insert("Cloud", Cow::Borrowed("gcp"));
            out.push(Resource {
                kind: Cow::Borrowed("Other"),
                id: owned(bounded(&vm.instance, caps.field)),
                partition: Cow::Borrowed(&ctx.partition),
                region: Cow::Borrowed(&ctx.region),
                details: Some(ResourceDetails { other: Some(other), ..Default::default() }),
            });
        }
    }
}

fn image_resource<'a>(target: &'a str, ctx: &'a AsffContext, caps: &Caps) -> Resource<'a> {
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
            kind: Cow::Borrowed("AwsEcrContainerImage"),
            id: bounded_owned(id, caps.field),
            partition: Cow::Borrowed(&ctx.partition),
            region: Cow::Borrowed(region),
            details: Some(ResourceDetails {
                aws_ecr_container_image: Some(EcrImageDetails {
                    registry_id: Cow::Borrowed(registry),
                    repository_name: bounded(name, caps.field),
                    image_digest: digest.map(|d| bounded(d, caps.field)),
                    image_tags: tag.map(|t| bounded(t, caps.field)).into_iter().collect(),
                }),
                ..Default::default()
            }),
        };
    }
    Resource {
        kind: Cow::Borrowed("Container"),
        id: bounded(target, caps.field),
        partition: Cow::Borrowed(&ctx.partition),
        region: Cow::Borrowed(&ctx.region),
        details: Some(ResourceDetails {
            container: Some(ContainerDetails { image_name: bounded(target, caps.field) }),
            ..Default::default()
        }),
    }
}

fn vulnerabilities<'a>(finding: &'a Finding, caps: &Caps) -> Vec<Vulnerability<'a>> {
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
            let text = concat(&["Upgrade ", &bounded(name, caps.field), " to ", f, " or later."]);
            bounded_owned(text, MAX_REMEDIATION_TEXT_CHARS)
        });
        Some(Arc::new(SoftwarePackage {
            name: bounded(name, caps.field),
            version: p.installed_version.as_deref().and_then(nonblank).map(|v| bounded(v, caps.field)),
            fixed_in_version: fixed,
            package_manager: p.purl.as_deref().and_then(purl_type).map(|t| bounded(t, 64)),
            remediation,
            source_layer_hash: finding.layer.as_deref().and_then(nonblank).map(|l| bounded(l, caps.field)),
        }))
    });
    // The one definition FAIL_ONLY_FIXABLE gates on ([`Finding::fix_available`]).
    let fix_available = finding.fix_available().filter(|_| package.is_some()).map(|fix| if fix { "YES" } else { "NO" });
    let cvss = cvss(finding, caps);
    let help = finding.help_uri.as_deref().and_then(valid_url);
    let vendor =
        nonblank(&finding.scanner.name).map(|name| Vendor { name: bounded(name, 128), url: help.map(Cow::Borrowed) });
    ids.into_iter()
        .map(|id| Vulnerability {
            id: bounded(id, 128),
            vulnerable_packages: package.clone(),
            cvss: cvss.clone(),
            vendor: vendor.clone(),
            reference_urls: ReferenceUrls {
                help,
                nvd: if is_cve(id) { NvdUrl::new(id) } else { None },
                limit: caps.reference_urls,
            },
            fix_available,
        })
        .collect()
}

fn cvss<'a>(finding: &'a Finding, caps: &Caps) -> Option<Cvss<'a>> {
    let score = finding.cvss_score.filter(|s| s.is_finite() && (0.0..=10.0).contains(s));
    let vector = finding.cvss_vector.as_deref().and_then(nonblank);
    if score.is_none() && vector.is_none() {
        return None;
    }
    let version = vector.and_then(cvss_version).map(Cow::Borrowed);
    Some(Cvss { version, base_score: score, base_vector: vector.map(|v| bounded(v, caps.field.min(256))) })
}

/// The CVSS version a vector declares (`CVSS:3.1/…` → `3.1`); a bare `AV:N/AC:L/Au:N/…` is 2.0.
fn cvss_version(vector: &str) -> Option<&str> {
    if let Some(rest) = vector.strip_prefix("CVSS:") {
        let v = rest.split('/').next().unwrap_or("");
        if !v.is_empty() && v.len() <= 8 && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Some(v);
        }
        return None;
    }
    if vector.contains("Au:") {
        return Some("2.0");
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
    let scheme = |p: &str| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let rest = if scheme("https://") {
        &s[8..]
    } else if scheme("http://") {
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

pub(super) fn nonblank(s: &str) -> Option<&str> {
    // Nearly every text starts with a printable ASCII byte: not blank, without trimming.
    if s.as_bytes().first().is_some_and(u8::is_ascii_graphic) {
        return Some(s);
    }
    (!s.trim().is_empty()).then_some(s)
}

/// Every text field of a finding passes here: cut to `max_chars`, then through the one
/// sanitizer ([`display_text`]: no control characters but line breaks and tabs, no terminal
/// escapes or bidi controls; it never lengthens a text, so the cut holds).
pub(super) fn bounded(s: &str, max_chars: usize) -> Text<'_> {
    match truncate_chars(s, max_chars) {
        Cow::Borrowed(t) => display_text(t),
        Cow::Owned(t) => Cow::Owned(display_text(&t).into_owned()),
    }
}

/// [`bounded`] of a text already built: kept without a copy when nothing is cut or replaced.
pub(super) fn bounded_owned<'a>(s: String, max_chars: usize) -> Text<'a> {
    let changed = match bounded(&s, max_chars) {
        Cow::Borrowed(_) => None,
        Cow::Owned(changed) => Some(changed),
    };
    Cow::Owned(changed.unwrap_or(s))
}

/// [`bounded`] of a text either borrowed or built.
pub(super) fn bounded_text(t: Text<'_>, max_chars: usize) -> Text<'_> {
    match t {
        Cow::Borrowed(b) => bounded(b, max_chars),
        Cow::Owned(o) => bounded_owned(o, max_chars),
    }
}

/// A text that outlives what it was borrowed from.
fn owned(t: Text<'_>) -> Text<'static> {
    Cow::Owned(t.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asff::budget::render;
    use crate::finding::{Location, Package, Scanner};
    use crate::severity::{Severity, SeveritySource};

    /// Security Hub's limit on a ProductFields key.
    const MAX_PRODUCT_FIELD_KEY_CHARS: usize = 128;

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
        assert_eq!(cvss_version("CVSS:3.1/AV:N/AC:L"), Some("3.1"));
        assert_eq!(cvss_version("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some("2.0"));
        assert_eq!(cvss_version("CVSS:x/AV:N"), None);
        assert_eq!(purl_type("pkg:npm/left-pad@1.0"), Some("npm"));
        assert_eq!(purl_type("npm/left-pad"), None);
        assert_eq!(format_number(85.0), "85");
        assert_eq!(format_number(72.5), "72.5");
    }

    fn sample_finding() -> Finding {
        Finding {
            id: "i".into(),
            rule_id: "r".into(),
            title: String::new(),
            description: String::new(),
            severity: Severity::Low,
            severity_source: SeveritySource::Qualys,
            severity_original: String::new().into(),
            kind: FindingKind::Code,
            class: Default::default(),
            cves: vec!["CVE-2024-1234".into()].into(),
            cvss_score: None,
            cvss_vector: None,
            package: Some(Package { purl: Some("pkg:npm/x@1".into()), ..Default::default() }.into()),
            layer: Some("l".into()),
            location: Some(Location { uri: "u".into(), start_line: Some(1) }),
            help_uri: None,
            help_text: None,
            tags: vec!["t".into()].into(),
            scanner: Scanner { name: "s".into(), version: Some("1".into()) }.into(),
            qds: Some(1.0),
            fingerprint: None,
            occurrences: 2,
            exception: None,
            suppression: None,
        }
    }

    #[test]
    fn product_field_keys_are_within_limits() {
        let f = sample_finding();
        let ctx = AsffContext {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            partition: "aws".into(),
            scan_type: ScanType::Repo,
            target: "t".into(),
            lifecycle: LifecycleKey::new("123456789012", "eu-west-1", ScanType::Repo, "t"),
            codebuild_project: None,
            build_arn: Some("b".into()),
            updated_at: "2026-01-31T12:00:00Z".into(),
            created_at: None,
            report_uri: Some("r".into()),
            host: None,
        };
        let rendered = render(&f, &ctx);
        assert!(rendered.product_fields.len() >= 15);
        for k in rendered.product_fields.keys() {
            assert!(k.chars().count() <= MAX_PRODUCT_FIELD_KEY_CHARS, "{k}");
        }
    }
    /// A VM disk scan names the VM: AWS gets the instance and the source volume as typed
    /// resources in the VM's region, GCP one `Other` resource with the self-link; a host scan's
    /// node and OS are ProductFields and resource details.
    #[test]
    fn vm_disk_and_host_resources() {
        use crate::host::{HostFacts, VmTarget};
        let f = sample_finding();
        let host = HostFacts {
            hostname: Some("node01".into()),
            kernel: Some("6.1.0".into()),
            machine: Some("x86_64".into()),
            os: Some("Rocky Linux 9.3".into()),
        };
        let ctx = |target: String, host: Option<HostFacts>| AsffContext {
            account_id: "111111111111".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            scan_type: ScanType::Rootfs,
            lifecycle: LifecycleKey::new("111111111111", "us-east-1", ScanType::Rootfs, &target),
            target,
            codebuild_project: None,
            build_arn: None,
            updated_at: "2026-01-31T12:00:00Z".into(),
            created_at: None,
            report_uri: None,
            host,
        };
        let aws = VmTarget::aws("aws", "eu-west-1", "123456789012", "i-0abc", "vol-0def").expect("valid");
        let c = ctx(aws.target(), Some(host.clone()));
        let r = render(&f, &c);
        let kinds: Vec<(&str, &str, &str)> =
            r.resources.iter().map(|r| (r.kind.as_ref(), r.id.as_ref(), r.region.as_ref())).collect();
        assert_eq!(
            kinds,
            vec![
                ("AwsEc2Instance", "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc", "eu-west-1"),
                ("AwsEc2Volume", "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0def", "eu-west-1"),
            ]
        );
        let other = r.resources[0].details.as_ref().and_then(|d| d.other.as_ref()).expect("details");
        assert_eq!(other.get("Disk").map(|v| v.as_ref()), Some("vol-0def"));
        assert_eq!(other.get("Os").map(|v| v.as_ref()), Some("Rocky Linux 9.3"));
        assert_eq!(r.product_fields.get("scangate/Kernel").map(|v| v.as_ref()), Some("6.1.0"));
        assert_eq!(r.product_fields.get("scangate/Host").map(|v| v.as_ref()), Some("node01"));

        let gcp = VmTarget::gcp("proj", "europe-west1-b", "web-1", "boot").expect("valid");
        let c = ctx(gcp.target(), None);
        let r = render(&f, &c);
        assert_eq!(r.resources.len(), 1);
        assert_eq!(r.resources[0].kind, "Other");
        assert_eq!(r.resources[0].id, gcp.instance, "the id is the instance's self-link");
        let other = r.resources[0].details.as_ref().and_then(|d| d.other.as_ref()).expect("details");
        assert_eq!(other.get("Cloud").map(|v| v.as_ref()), Some("gcp"));
        assert!(!r.product_fields.contains_key("scangate/Kernel"), "no host facts, no fields");

        // A running container on a node: Other, with the node and OS in its details.
        let c = ctx("node01:/shared/app.sif".into(), Some(host));
        let r = render(&f, &c);
        assert_eq!(r.resources[0].kind, "Other");
        let other = r.resources[0].details.as_ref().and_then(|d| d.other.as_ref()).expect("details");
        assert_eq!(other.get("Host").map(|v| v.as_ref()), Some("node01"));
        assert_eq!(other.get("Machine").map(|v| v.as_ref()), Some("x86_64"));
    }
}

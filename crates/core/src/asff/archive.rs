//! Archiving: the ASFF record (RecordState ARCHIVED) of a finding that went away, either
//! rendered from the finding itself ([`archived`]) or, when only the lifecycle state
//! remembers it, from the [`FindingStub`] kept at import ([`archived_from_stub`]).

use super::budget::{render, render_state};
use super::mapping::{bounded, bounded_owned, nonblank, AsffContext};
use super::model::{
    to_value, types, AsffFinding, AsffSeverity, ProviderFields, ProviderSeverity, RecordState, Resource,
    MAX_DESCRIPTION_CHARS, MAX_ID_CHARS, MAX_PRODUCT_FIELD_VALUE_CHARS, MAX_TITLE_CHARS, SCHEMA_VERSION,
};
use crate::finding::Finding;
use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Renders a finding that went away: the same Id and required fields, RecordState ARCHIVED.
pub fn archived(finding: &Finding, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render_state(finding, ctx, RecordState::Archived))
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

impl From<&AsffFinding<'_>> for FindingStub {
    fn from(f: &AsffFinding<'_>) -> FindingStub {
        let resource = f.resources.first().map_or_else(
            || ResourceStub {
                kind: "Other".to_string(),
                id: "unknown".to_string(),
                partition: "aws".to_string(),
                region: "us-east-1".to_string(),
            },
            |r| ResourceStub {
                kind: r.kind.to_string(),
                id: r.id.to_string(),
                partition: r.partition.to_string(),
                region: r.region.to_string(),
            },
        );
        FindingStub {
            id: f.id.to_string(),
            title: f.title.to_string(),
            severity: f.severity.label,
            severity_original: f.severity.original.to_string(),
            types: f.types.iter().map(|t| t.to_string()).collect(),
            generator_id: f.generator_id.to_string(),
            resource,
            created_at: Some(f.created_at.to_string()),
        }
    }
}

/// A full, valid ASFF finding with RecordState ARCHIVED from a stub: what the processor
/// imports for a finding that disappeared from the latest scan.
pub fn archived_from_stub(stub: &FindingStub, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render_stub(stub, ctx))
}

/// The typed form of [`archived_from_stub`].
pub(super) fn render_stub<'a>(stub: &'a FindingStub, ctx: &'a AsffContext) -> AsffFinding<'a> {
    let title = nonblank(&stub.title)
        .map_or_else(|| Cow::Borrowed("Finding reported by scangate"), |t| bounded(t, MAX_TITLE_CHARS));
    let mut types: Vec<Cow<'a, str>> =
        stub.types.iter().filter_map(|t| nonblank(t)).take(50).map(|t| bounded(t, 256)).collect();
    if types.is_empty() {
        types.push(Cow::Borrowed(types::SOFTWARE_CHECK));
    }
    let original =
        nonblank(&stub.severity_original).map_or_else(|| Cow::Borrowed(stub.severity.label()), |o| bounded(o, 128));
    let id = if nonblank(&stub.id).is_some() && stub.id.chars().count() <= MAX_ID_CHARS {
        Cow::Borrowed(stub.id.as_str())
    } else {
        Cow::Owned(format!("scangate/{}/{}", ctx.lifecycle.hash(), hex::encode(Sha256::digest(stub.id.as_bytes()))))
    };
    let generator_id =
        nonblank(&stub.generator_id).map_or_else(|| Cow::Borrowed("scangate/unknown"), |g| bounded(g, MAX_ID_CHARS));
    let r = &stub.resource;
    let resource = Resource {
        kind: nonblank(&r.kind).map_or(Cow::Borrowed("Other"), |k| Cow::Owned(bounded(k, 256).into_owned())),
        id: nonblank(&r.id).map_or_else(|| Cow::Borrowed("unknown"), |i| bounded(i, 1024)),
        partition: nonblank(&r.partition).map_or_else(|| Cow::Borrowed(ctx.partition.as_str()), |p| bounded(p, 32)),
        region: nonblank(&r.region).map_or_else(|| Cow::Borrowed(ctx.region.as_str()), |p| bounded(p, 32)),
        details: None,
    };
    let created_at = Cow::Borrowed(stub.created_at.as_deref().and_then(nonblank).unwrap_or(ctx.created_at()));
    let mut product_fields = BTreeMap::new();
    product_fields.insert("scangate/LifecycleKey", bounded(&ctx.lifecycle.key, MAX_PRODUCT_FIELD_VALUE_CHARS));
    if let Some(uri) = ctx.report_uri.as_deref().and_then(nonblank) {
        product_fields.insert("scangate/ArchivedBy", bounded(uri, MAX_PRODUCT_FIELD_VALUE_CHARS));
    }
    AsffFinding {
        schema_version: SCHEMA_VERSION,
        id,
        product_arn: Cow::Owned(ctx.product_arn()),
        generator_id,
        aws_account_id: Cow::Borrowed(&ctx.account_id),
        types: types.clone(),
        created_at,
        updated_at: Cow::Borrowed(&ctx.updated_at),
        severity: AsffSeverity {
            label: stub.severity,
            normalized: stub.severity.normalized(),
            original: original.clone(),
        },
        finding_provider_fields: ProviderFields {
            severity: ProviderSeverity { label: stub.severity, original },
            types,
        },
        description: bounded_owned(
            format!("No longer reported: the latest scan of {} did not find this. {title}", resource.id),
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

//! Archiving: the ASFF record (RecordState ARCHIVED) of a finding that went away, either
//! rendered from the finding itself ([`archived`]) or, when only the lifecycle state
//! remembers it, from the [`FindingStub`] kept at import ([`archived_from_stub`]).

use super::budget::{render, render_state};
use super::mapping::{bounded, bounded_owned, nonblank, AsffContext};
use super::model::{
    to_value, types, AsffFinding, AsffSeverity, Fields, ProviderFields, ProviderSeverity, RecordState, Resource,
    MAX_DESCRIPTION_CHARS, MAX_ID_CHARS, MAX_PRODUCT_FIELD_VALUE_CHARS, MAX_TITLE_CHARS, SCHEMA_VERSION,
};
use crate::finding::Finding;
use crate::lifecycle::compact::{FindingKey, Stamp};
use crate::severity::Severity;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

/// Renders a finding that went away: the same Id and required fields, RecordState ARCHIVED.
pub fn archived(finding: &Finding, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render_state(finding, ctx, RecordState::Archived))
}

/// What the processor keeps about an imported finding so it can archive it later,
/// when only its state file remembers it: the rendered identity and required fields.
/// Compact in memory: the texts many findings share (severity, types, generator, the
/// resource) are shared ([`StubInterner`]), and a lifecycle state holds no `id` when it is the
/// entry's key ([`FindingStub::serialize_as`] writes it from the key). Serialized as it always
/// was (a JSON object of `id`, `title`, ... in that order).
#[derive(Clone, Debug, PartialEq)]
pub struct FindingStub {
    /// The ASFF `Id`; None when a lifecycle state's entry holds the stub under that id.
    pub id: Option<Box<str>>,
    pub title: Box<str>,
    pub severity: Severity,
    pub severity_original: Arc<str>,
    pub types: Arc<[Box<str>]>,
    pub generator_id: Arc<str>,
    /// The finding's first resource (the scanned image, repository or path).
    pub resource: Arc<ResourceStub>,
    /// CreatedAt of the first import, so the archived record keeps it.
    pub created_at: Option<Stamp>,
}

/// A resource's identity, enough for a valid `Resources` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceStub {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

/// Shares equal texts between the stubs built or read together (one report's stubs, one
/// state object's entries): one `Arc` per distinct value. Made per use and dropped with it;
/// nothing is shared across invocations.
#[derive(Default)]
pub struct StubInterner {
    texts: HashSet<Arc<str>>,
    types: HashSet<Arc<[Box<str>]>>,
    resources: HashSet<Arc<ResourceStub>>,
}

impl StubInterner {
    fn text(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.texts.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.texts.insert(a.clone());
        a
    }

    fn types(&mut self, t: Vec<Box<str>>) -> Arc<[Box<str>]> {
        if let Some(a) = self.types.get(&t[..]) {
            return a.clone();
        }
        let a: Arc<[Box<str>]> = Arc::from(t);
        self.types.insert(a.clone());
        a
    }

    fn resource(&mut self, r: ResourceStub) -> Arc<ResourceStub> {
        if let Some(a) = self.resources.get(&r) {
            return a.clone();
        }
        let a = Arc::new(r);
        self.resources.insert(a.clone());
        a
    }
}

/// A stub as written: the field order and rules of the state object's `stub`.
#[derive(Serialize)]
struct StubOut<'a> {
    id: &'a str,
    title: &'a str,
    severity: Severity,
    #[serde(skip_serializing_if = "str::is_empty")]
    severity_original: &'a str,
    types: &'a [Box<str>],
    generator_id: &'a str,
    resource: &'a ResourceStub,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<&'a Stamp>,
}

/// A stub as read.
#[derive(Deserialize)]
pub struct StubIn {
    id: String,
    title: String,
    severity: Severity,
    #[serde(default)]
    severity_original: String,
    types: Vec<String>,
    generator_id: String,
    resource: ResourceStub,
    #[serde(default)]
    created_at: Option<String>,
}

impl StubIn {
    /// The stub, its texts shared through `interner`; no `id` when it is `key`'s.
    pub fn into_stub(self, key: Option<&FindingKey>, interner: &mut StubInterner) -> FindingStub {
        let id = match key {
            Some(k) if k.is(&self.id) => None,
            _ => Some(self.id.into_boxed_str()),
        };
        FindingStub {
            id,
            title: self.title.into_boxed_str(),
            severity: self.severity,
            severity_original: interner.text(&self.severity_original),
            types: interner.types(self.types.into_iter().map(String::into_boxed_str).collect()),
            generator_id: interner.text(&self.generator_id),
            resource: interner.resource(self.resource),
            created_at: self.created_at.map(Stamp::from),
        }
    }
}

impl FindingStub {
    /// The stub of a finding as it is rendered in this context.
    pub fn new(finding: &Finding, ctx: &AsffContext) -> FindingStub {
        FindingStub::new_in(finding, ctx, &mut StubInterner::default())
    }

    /// [`FindingStub::new`], sharing texts with the stubs built before through `interner`.
    pub fn new_in(finding: &Finding, ctx: &AsffContext, interner: &mut StubInterner) -> FindingStub {
        let rendered = render(finding, ctx);
        FindingStub::from_rendered(&rendered, interner)
    }

    /// The stub of a rendered finding.
    pub fn from_rendered(f: &AsffFinding<'_>, interner: &mut StubInterner) -> FindingStub {
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
            id: Some(f.id.as_ref().into()),
            title: f.title.as_ref().into(),
            severity: f.severity.label,
            severity_original: interner.text(&f.severity.original),
            types: interner.types(f.types.iter().map(|t| Box::from(t.as_ref())).collect()),
            generator_id: interner.text(&f.generator_id),
            resource: interner.resource(resource),
            created_at: Some(Stamp::from(f.created_at.as_ref())),
        }
    }

    /// The stub's `id`, else `key` (the id of the entry that holds it).
    pub fn id_or<'a>(&'a self, key: &'a str) -> &'a str {
        self.id.as_deref().unwrap_or(key)
    }

    /// Serializes the stub with `key` as its `id` when it holds none.
    pub fn serialize_as<S: Serializer>(&self, key: &FindingKey, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.id {
            Some(id) => self.out(id).serialize(serializer),
            None => key.with_str(|k| self.out(k).serialize(serializer)),
        }
    }

    fn out<'a>(&'a self, id: &'a str) -> StubOut<'a> {
        StubOut {
            id,
            title: &self.title,
            severity: self.severity,
            severity_original: &self.severity_original,
            types: &self.types,
            generator_id: &self.generator_id,
            resource: &self.resource,
            created_at: self.created_at.as_ref(),
        }
    }
}

impl Serialize for FindingStub {
    /// A stub without its `id` serializes only with its key ([`FindingStub::serialize_as`]).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.id {
            Some(id) => self.out(id).serialize(serializer),
            None => Err(serde::ser::Error::custom("a stub without its id is written with the key of its entry")),
        }
    }
}

impl<'de> Deserialize<'de> for FindingStub {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FindingStub, D::Error> {
        Ok(StubIn::deserialize(deserializer)?.into_stub(None, &mut StubInterner::default()))
    }
}

/// A full, valid ASFF finding with RecordState ARCHIVED from a stub: what the processor
/// imports for a finding that disappeared from the latest scan.
pub fn archived_from_stub(stub: &FindingStub, ctx: &AsffContext) -> serde_json::Value {
    archived_from_stub_as(stub, "", ctx)
}

/// [`archived_from_stub`] of a stub a lifecycle state holds under the id `key` (used when
/// the stub holds no `id` of its own).
pub fn archived_from_stub_as(stub: &FindingStub, key: &str, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render_stub_as(stub, key, ctx))
}

/// The typed form of [`archived_from_stub`].
#[cfg(test)]
pub(super) fn render_stub<'a>(stub: &'a FindingStub, ctx: &'a AsffContext) -> AsffFinding<'a> {
    render_stub_as(stub, "", ctx)
}

/// The typed form of [`archived_from_stub_as`].
fn render_stub_as<'a>(stub: &'a FindingStub, key: &'a str, ctx: &'a AsffContext) -> AsffFinding<'a> {
    let stub_id = stub.id_or(key);
    let title = nonblank(&stub.title)
        .map_or_else(|| Cow::Borrowed("Finding reported by scangate"), |t| bounded(t, MAX_TITLE_CHARS));
    let mut types: Vec<Cow<'a, str>> =
        stub.types.iter().filter_map(|t| nonblank(t)).take(50).map(|t| bounded(t, 256)).collect();
    if types.is_empty() {
        types.push(Cow::Borrowed(types::SOFTWARE_CHECK));
    }
    let original =
        nonblank(&stub.severity_original).map_or_else(|| Cow::Borrowed(stub.severity.label()), |o| bounded(o, 128));
    let id = if nonblank(stub_id).is_some() && stub_id.chars().count() <= MAX_ID_CHARS {
        Cow::Borrowed(stub_id)
    } else {
        Cow::Owned(format!("scangate/{}/{}", ctx.lifecycle.hash(), hex::encode(Sha256::digest(stub_id.as_bytes()))))
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
    let created_at = match &stub.created_at {
        Some(Stamp::Text(t)) if nonblank(t).is_some() => Cow::Borrowed(&**t),
        Some(s @ Stamp::Millis(_)) => Cow::Owned(s.to_string()),
        _ => Cow::Borrowed(ctx.created_at()),
    };
    let mut product_fields = Fields::default();
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
        types: Cow::Owned(types.clone()),
        created_at,
        updated_at: Cow::Borrowed(&ctx.updated_at),
        severity: AsffSeverity {
            label: stub.severity,
            normalized: stub.severity.normalized(),
            original: original.clone(),
        },
        finding_provider_fields: ProviderFields {
            severity: ProviderSeverity { label: stub.severity, original },
            types: Cow::Owned(types),
        },
        description: bounded_owned(
            format!("No longer reported: the latest scan of {} did not find this. {title}", resource.id),
            MAX_DESCRIPTION_CHARS,
        ),
        title,
        remediation: None,
        product_fields,
        resources: Cow::Owned(vec![resource]),
        vulnerabilities: Vec::new(),
        record_state: RecordState::Archived,
    }
}

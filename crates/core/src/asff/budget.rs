//! The size budget: a finding must stay under Security Hub's 240 KB limit serialized.
//! [`render`] builds a finding with the widest [`Caps`] and, when a pathological finding
//! (thousands of CVEs, megabyte descriptions) does not fit, builds it again with tighter
//! caps until it does. [`AsffFinding::size_bound`] is the cheap check that lets the usual
//! finding skip being measured.

use super::mapping::{build, AsffContext, Prepared};
use super::model::{
    to_value, AsffFinding, RecordState, MAX_DESCRIPTION_CHARS, MAX_OTHER_VALUE_CHARS, MAX_PRODUCT_FIELD_VALUE_CHARS,
};
use crate::finding::Finding;

/// Security Hub's limit on one finding, serialized.
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// What the renderer aims for: below the limit with room for the request envelope.
pub const FINDING_BYTES_BUDGET: usize = 200 * 1024;

/// Caps applied while rendering; tighter sets are tried when a finding is too large.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Caps {
    pub(super) vulnerabilities: usize,
    pub(super) reference_urls: usize,
    /// Package names, versions, resource ids, vector strings.
    pub(super) field: usize,
    pub(super) description: usize,
    pub(super) product_value: usize,
    pub(super) other_value: usize,
}

pub(super) const CAPS: [Caps; 3] = [
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
pub fn render<'a>(finding: &'a Finding, ctx: &'a AsffContext) -> AsffFinding<'a> {
    render_state(finding, ctx, RecordState::Active)
}

pub(super) fn render_state<'a>(finding: &'a Finding, ctx: &'a AsffContext, state: RecordState) -> AsffFinding<'a> {
    render_prepared(finding, &Prepared::new(ctx), state)
}

/// Whether a rendering is within [`FINDING_BYTES_BUDGET`]: by the cheap bound when it is
/// clearly under, else by measuring.
fn fits(rendered: &AsffFinding) -> bool {
    rendered.size_bound() <= FINDING_BYTES_BUDGET || rendered.serialized_len() <= FINDING_BYTES_BUDGET
}

fn render_prepared<'a>(finding: &'a Finding, p: &Prepared<'a>, state: RecordState) -> AsffFinding<'a> {
    let rendered = build(finding, p, &CAPS[0], state);
    if fits(&rendered) {
        return rendered;
    }
    shrink(finding, p, state)
}

/// The rendering with the first tighter caps that fit (the last set when none does).
pub(super) fn shrink<'a>(finding: &'a Finding, p: &Prepared<'a>, state: RecordState) -> AsffFinding<'a> {
    let mut rendered = build(finding, p, &CAPS[1], state);
    for caps in &CAPS[2..] {
        if fits(&rendered) {
            break;
        }
        rendered = build(finding, p, caps, state);
    }
    rendered
}

/// Renders one finding as an ASFF object (RecordState ACTIVE).
pub fn to_asff(finding: &Finding, ctx: &AsffContext) -> serde_json::Value {
    to_value(&render(finding, ctx))
}

impl AsffFinding<'_> {
    /// A conservative upper bound of [`AsffFinding::serialized_len`], computed from the
    /// string lengths alone (no serialization): every string counted as if each byte were
    /// escaped six-fold (`\u001f`), every field and element charged [`SLOT_BYTES`] for its
    /// key, quotes, colon, comma and brackets. Never less than the real size.
    pub(super) fn size_bound(&self) -> usize {
        let mut b = Bound(0);
        b.slots(17);
        for t in [&self.id, &self.product_arn, &self.generator_id, &self.aws_account_id, &self.created_at] {
            b.text(t);
        }
        b.text(self.schema_version);
        b.text(&self.updated_at);
        b.text(&self.title);
        b.text(&self.description);
        b.list(&self.types);
        // Label, Normalized (a u8), Original.
        b.slots(3);
        b.text(self.severity.label.label());
        b.0 += 3;
        b.text(&self.severity.original);
        // Severity { Label, Original }, Types.
        b.slots(4);
        b.text(self.finding_provider_fields.severity.label.label());
        b.text(&self.finding_provider_fields.severity.original);
        b.list(&self.finding_provider_fields.types);
        if let Some(r) = &self.remediation {
            b.slots(3);
            b.opt(r.recommendation.text.as_deref());
            b.opt(r.recommendation.url.as_deref());
        }
        b.map(self.product_fields.iter().map(|(k, v)| (k, v.as_ref())));
        for r in self.resources.iter() {
            b.slots(6);
            b.text(&r.kind);
            b.text(&r.id);
            b.text(&r.partition);
            b.text(&r.region);
            if let Some(d) = &r.details {
                b.slots(4);
                if let Some(e) = &d.aws_ecr_container_image {
                    b.slots(4);
                    b.text(&e.registry_id);
                    b.text(&e.repository_name);
                    b.opt(e.image_digest.as_deref());
                    b.list(&e.image_tags);
                }
                if let Some(c) = &d.container {
                    b.slots(1);
                    b.text(&c.image_name);
                }
                if let Some(c) = &d.aws_code_build_project {
                    b.slots(1);
                    b.text(&c.name);
                }
                if let Some(o) = &d.other {
                    b.map(o.iter().map(|(k, v)| (*k, v.as_ref())));
                }
            }
        }
        for v in &self.vulnerabilities {
            b.slots(7);
            b.text(&v.id);
            if let Some(p) = &v.vulnerable_packages {
                b.slots(7);
                b.text(&p.name);
                for o in [&p.version, &p.fixed_in_version, &p.package_manager, &p.remediation, &p.source_layer_hash] {
                    b.opt(o.as_deref());
                }
            }
            if let Some(c) = &v.cvss {
                b.slots(4);
                b.opt(c.version.as_deref());
                // An f64 as serde_json writes it (ryu): at most 24 characters.
                b.0 += 24;
                b.opt(c.base_vector.as_deref());
            }
            if let Some(vendor) = &v.vendor {
                b.slots(3);
                b.text(&vendor.name);
                b.opt(vendor.url.as_deref());
            }
            b.slots(1);
            for u in v.reference_urls.iter() {
                b.text(u);
            }
            b.opt(v.fix_available);
        }
        // RecordState.
        b.text("ARCHIVED");
        b.0
    }

    /// The serialized size in bytes (compact JSON).
    pub(super) fn serialized_len(&self) -> usize {
        // Serializing plain structs of strings and numbers cannot fail; if it ever did,
        // report the size as over every limit.
        crate::text::json_len(self).unwrap_or(usize::MAX)
    }
}

/// What [`AsffFinding::size_bound`] charges each field or element besides its strings: its
/// key (the longest, `FindingProviderFields`, is 21 characters) with quotes and colon, a
/// comma, and the brackets of a nested object or array.
const SLOT_BYTES: usize = 40;

/// The running total of [`AsffFinding::size_bound`].
struct Bound(usize);

impl Bound {
    fn slots(&mut self, n: usize) {
        self.0 += n * SLOT_BYTES;
    }
    /// A string value: quotes, comma, and at most six bytes per byte (`\u00XX`).
    fn text(&mut self, s: &str) {
        self.0 += 3 + 6 * s.len();
    }
    fn opt(&mut self, s: Option<&str>) {
        if let Some(s) = s {
            self.slots(1);
            self.text(s);
        }
    }
    fn list<S: AsRef<str>>(&mut self, items: &[S]) {
        self.slots(1);
        for i in items {
            self.text(i.as_ref());
        }
    }
    fn map<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
        self.slots(1);
        for (k, v) in pairs {
            self.text(k);
            self.text(v);
        }
    }
}

/// The size bound that lets the renderer skip measuring must never be below the real size,
/// or a finding over the budget could slip through unmeasured.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::asff::archive::{render_stub, FindingStub};
    use crate::asff::test_strategies::{context, finding};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn bound_is_never_below_the_serialized_size(f in finding(), ctx in context()) {
            let p = Prepared::for_many(&ctx);
            for caps in &CAPS {
                for state in [RecordState::Active, RecordState::Archived] {
                    let rendered = build(&f, &p, caps, state);
                    let real = rendered.serialized_len();
                    prop_assert!(rendered.size_bound() >= real, "bound {} < real {}", rendered.size_bound(), real);
                }
            }
            let stub = FindingStub::new(&f, &ctx);
            let archived = render_stub(&stub, &ctx);
            prop_assert!(archived.size_bound() >= archived.serialized_len());
        }
    }
}

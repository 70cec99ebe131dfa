//! AWS Security Finding Format (ASFF): how scangate hands its findings to Security Hub.
//!
//! Every [`Finding`](crate::finding::Finding) of a report becomes one ASFF finding whose
//! `Id` is fixed by the lifecycle (the scanned target in this account and region), so a
//! rescan updates the same Security Hub finding and a finding that went away can be
//! archived. Every string stays within the Security Hub limits (docs/design.md, "ASFF"),
//! and the output is byte-identical for the same inputs.
//!
//! Data flow, one file per step:
//! - `mapping.rs`: a finding and its [`AsffContext`] → the ASFF fields (Id, Types,
//!   severity, title, ProductFields, Resources, Vulnerabilities), each cut to the caps of
//!   the attempt;
//! - `model.rs`: the typed ASFF finding those fields fill, in its serialized field order,
//!   with the `Types` values and the field limits;
//! - `budget.rs`: [`render`] keeps a finding under Security Hub's 240 KB limit, building it
//!   again with tighter caps when a pathological finding does not fit;
//! - `writer.rs`: [`write_asff_array`] streams a report's findings as one JSON array,
//!   serialized by `json.rs` (serde_json's bytes, with a faster string escape);
//!   [`write_asff_slices`] writes the same bytes, rendered by several threads;
//! - `archive.rs`: the ARCHIVED record of a finding that went away, from the finding or
//!   from the [`FindingStub`] the lifecycle state kept;
//! - `hashes.rs`: the content and sighting hashes the lifecycle state compares between
//!   scans.

mod archive;
mod budget;
mod hashes;
mod json;
mod mapping;
mod model;
#[cfg(test)]
mod test_strategies;
mod writer;

pub use archive::{
    archived, archived_from_stub, archived_from_stub_as, FindingStub, ResourceStub, StubIn, StubInterner,
};
pub use budget::{render, to_asff, FINDING_BYTES_BUDGET, MAX_FINDING_BYTES};
pub use hashes::{content_digest, content_hash, sighting_digest, sighting_hash};
pub use mapping::{finding_id, finding_type, generator_id, valid_url, AsffContext};
pub use model::{
    types, AsffFinding, RecordState, MAX_DESCRIPTION_CHARS, MAX_ID_CHARS, MAX_OTHER_PAIRS, MAX_OTHER_VALUE_CHARS,
    MAX_PRODUCT_FIELDS, MAX_PRODUCT_FIELD_VALUE_CHARS, MAX_REMEDIATION_TEXT_CHARS, MAX_RESOURCES, MAX_TITLE_CHARS,
    MAX_URL_CHARS, SCHEMA_VERSION,
};
pub use writer::{write_asff_array, write_asff_slices};

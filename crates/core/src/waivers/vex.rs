//! OpenVEX documents: statements about a vulnerability in a product (an image digest or a
//! package URL).

use super::glob::{image_digest, purl_parts};
use super::load::{kind, parse, Obj};
use super::{sha256_hex, ExceptionError};
use serde_json::Value;

/// Statements are at most this many per document.
pub const MAX_STATEMENTS: usize = 10_000;

/// The four OpenVEX statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// `not_affected` and `fixed` take the finding out of the counts; the others leave it.
    pub fn exempts(self) -> bool {
        matches!(self, VexStatus::NotAffected | VexStatus::Fixed)
    }
}

/// The justifications OpenVEX defines for `not_affected`.
pub const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// A product a statement is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Product {
    /// An image by digest (`sha256:…`, or the version of a `pkg:oci/…` purl).
    Digest(String),
    /// A package URL (not `pkg:oci`); without a version it covers every version.
    Purl(String),
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VexStatement {
    /// `statements[i]` in its document.
    pub reference: String,
    /// The statement's `@id` when it has one.
    pub statement_id: Option<String>,
    /// The vulnerability name and its aliases, upper case.
    pub vulnerabilities: Vec<String>,
    pub products: Vec<Product>,
    /// Package URLs inside the product the statement is about; empty: the whole product.
    pub subcomponents: Vec<String>,
    pub status: VexStatus,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    /// RFC 3339 (the statement's, else the document's): a later statement overrides an earlier one.
    pub timestamp: Option<time::OffsetDateTime>,
}

/// A parsed and validated OpenVEX document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VexDocument {
    pub source: String,
    pub sha256: String,
    pub id: Option<String>,
    pub author: Option<String>,
    pub statements: Vec<VexStatement>,
}

fn timestamp(o: &Obj<'_>, field: &str) -> Result<Option<time::OffsetDateTime>, ExceptionError> {
    match o.opt_str(field)? {
        None => Ok(None),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|_| o.err(field, format!("expected an RFC 3339 timestamp, got {s:?}"))),
    }
}

impl VexDocument {
    /// Parses and validates an OpenVEX document (JSON, or YAML of the same shape).
    pub fn parse(bytes: &[u8], source: &str) -> Result<VexDocument, ExceptionError> {
        let value = parse(bytes, source)?;
        let root = Obj::of(&value, "$".into(), source)?;
        match root.opt_str("@context")? {
            Some(c) if c.starts_with("https://openvex.dev/ns") => {}
            Some(c) => return Err(root.err("@context", format!("expected an OpenVEX context, got {c:?}"))),
            None => return Err(root.err("@context", "required field missing (https://openvex.dev/ns/v0.2.0)")),
        }
        let doc_time = timestamp(&root, "timestamp")?;
        let items = root.opt_array("statements")?.ok_or_else(|| root.err("statements", "required field missing"))?;
        if items.len() > MAX_STATEMENTS {
            return Err(root.err("statements", format!("{} statements; at most {MAX_STATEMENTS}", items.len())));
        }
        let statements = items
            .iter()
            .enumerate()
            .map(|(i, item)| statement(item, i, source, doc_time))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VexDocument {
            source: source.to_string(),
            sha256: sha256_hex(bytes),
            id: root.opt_str("@id")?.map(str::to_string),
            author: root.opt_str("author")?.map(str::to_string),
            statements,
        })
    }
}

fn statement(
    item: &Value,
    i: usize,
    file: &str,
    doc_time: Option<time::OffsetDateTime>,
) -> Result<VexStatement, ExceptionError> {
    let o = Obj::of(item, format!("$.statements[{i}]"), file)?;
    let mut vulnerabilities = Vec::new();
    match o.map.get("vulnerability") {
        Some(Value::String(s)) if !s.trim().is_empty() => vulnerabilities.push(s.trim().to_ascii_uppercase()),
        Some(v @ Value::Object(_)) => {
            let vo = Obj::of(v, o.child("vulnerability"), file)?;
            vulnerabilities.push(vo.str("name")?.to_ascii_uppercase());
            for (j, alias) in vo.opt_array("aliases")?.into_iter().flatten().enumerate() {
                match alias {
                    Value::String(a) if !a.trim().is_empty() => vulnerabilities.push(a.trim().to_ascii_uppercase()),
                    other => {
                        return Err(vo.err(&format!("aliases[{j}]"), format!("expected a string, got {}", kind(other))))
                    }
                }
            }
        }
        None => return Err(o.err("vulnerability", "required field missing")),
        Some(other) => {
            return Err(o.err("vulnerability", format!("expected an object with a name, got {}", kind(other))))
        }
    }
    let products = products(&o, "products", file)?;
    if products.is_empty() {
        return Err(o.err("products", "required: at least one product (an image digest or a package URL)"));
    }
    let mut subcomponents = Vec::new();
    for (j, p) in products_raw(&o, "subcomponents", file)?.into_iter().enumerate() {
        match purl_parts(&p) {
            Some(_) => subcomponents.push(p),
            None => return Err(o.err(&format!("subcomponents[{j}]"), format!("expected a package URL, got {p:?}"))),
        }
    }
    let status = match o.str("status")? {
        "not_affected" => VexStatus::NotAffected,
        "affected" => VexStatus::Affected,
        "fixed" => VexStatus::Fixed,
        "under_investigation" => VexStatus::UnderInvestigation,
        other => {
            return Err(o.err(
                "status",
                format!("expected not_affected, affected, fixed or under_investigation, got {other:?}"),
            ))
        }
    };
    let justification = o.opt_str("justification")?.map(str::to_string);
    if let Some(j) = &justification {
        if !JUSTIFICATIONS.contains(&j.as_str()) {
            return Err(o.err("justification", format!("expected one of {}, got {j:?}", JUSTIFICATIONS.join(", "))));
        }
    }
    let impact_statement = o.opt_str("impact_statement")?.map(str::to_string);
    if status == VexStatus::NotAffected && justification.is_none() && impact_statement.is_none() {
        return Err(o.err("justification", "not_affected needs a justification or an impact_statement"));
    }
    Ok(VexStatement {
        reference: format!("statements[{i}]"),
        statement_id: o.opt_str("@id")?.map(str::to_string),
        vulnerabilities,
        products,
        subcomponents,
        status,
        justification,
        impact_statement,
        timestamp: timestamp(&o, "timestamp")?.or(doc_time),
    })
}

/// The identifiers of a product list: strings, or objects with `@id`, `identifiers.purl`
/// or `hashes.sha-256`.
fn products_raw(o: &Obj<'_>, field: &str, file: &str) -> Result<Vec<String>, ExceptionError> {
    let mut out = Vec::new();
    for (j, p) in o.opt_array(field)?.into_iter().flatten().enumerate() {
        let path = format!("{}[{j}]", o.child(field));
        match p {
            Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            Value::Object(_) => {
                let po = Obj::of(p, path.clone(), file)?;
                let mut found = false;
                if let Some(id) = po.opt_str("@id")? {
                    out.push(id.to_string());
                    found = true;
                }
                if let Some(ids) = po.map.get("identifiers") {
                    if let Some(purl) = Obj::of(ids, po.child("identifiers"), file)?.opt_str("purl")? {
                        out.push(purl.to_string());
                        found = true;
                    }
                }
                if let Some(hashes) = po.map.get("hashes") {
                    if let Some(h) = Obj::of(hashes, po.child("hashes"), file)?.opt_str("sha-256")? {
                        out.push(format!("sha256:{h}"));
                        found = true;
                    }
                }
                if !found {
                    return Err(ExceptionError::new(file, &path, "a product needs an @id, identifiers.purl or hashes"));
                }
            }
            other => return Err(ExceptionError::new(file, &path, format!("expected a product, got {}", kind(other)))),
        }
    }
    Ok(out)
}

fn products(o: &Obj<'_>, field: &str, file: &str) -> Result<Vec<Product>, ExceptionError> {
    let mut out = Vec::new();
    for (j, p) in products_raw(o, field, file)?.into_iter().enumerate() {
        let product = if p.starts_with("pkg:oci/") {
            // The version of an OCI purl is the image digest (`@sha256%3A…`).
            purl_parts(&p).and_then(|(_, v)| v).and_then(|v| image_digest(&v)).map(Product::Digest)
        } else if p.starts_with("pkg:") {
            purl_parts(&p).map(|_| Product::Purl(p.clone()))
        } else {
            image_digest(&p).map(Product::Digest)
        };
        match product {
            Some(product) => out.push(product),
            None => {
                return Err(o.err(
                    &format!("{field}[{j}]"),
                    format!("expected an image digest (sha256:…, pkg:oci/…@sha256:…) or a package URL, got {p:?}"),
                ))
            }
        }
    }
    Ok(out)
}

//! The ASFF output model: the serde types of one finding, in the field order they are
//! serialized in (so the JSON is byte-identical for the same inputs), the `Types` values
//! scangate writes, and Security Hub's limits on the fields.
//!
//! Field names follow the Security Hub API reference (AwsSecurityFinding, Vulnerability,
//! SoftwarePackage, Cvss, VulnerabilityVendor, Resource, ResourceDetails).

use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A text of the model: borrowed from the finding or its context when it is written as it is
/// (the usual case: nothing to cut or sanitize), owned when it had to be built or changed.
pub(super) type Text<'a> = Cow<'a, str>;

/// A list of texts: borrowed (a `Types` list scangate writes, [`types::list`]) or built.
pub(super) type Texts<'a> = Cow<'a, [Text<'a>]>;

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";

/// `Id` and `GeneratorId` limits.
pub const MAX_ID_CHARS: usize = 512;
pub const MAX_TITLE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
pub const MAX_REMEDIATION_TEXT_CHARS: usize = 512;
pub const MAX_PRODUCT_FIELDS: usize = 50;
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
    /// A quality finding (a linter's result without `security-severity`), imported only with
    /// `QUALITY_FINDINGS=gate`. The taxonomy defines no category for code quality and allows
    /// a provider's own ("the defined categories and classifiers may also be used, but are not
    /// required"), so it is named plainly under the checks namespace.
    pub const CODE_QUALITY: &str = "Software and Configuration Checks/Code Quality";

    use super::Text;
    use std::borrow::Cow;

    /// `[t]` for one of the types above, without building a list per finding.
    pub(crate) fn list(t: &'static str) -> &'static [Text<'static>] {
        const fn one(t: &'static str) -> [Text<'static>; 1] {
            [Cow::Borrowed(t)]
        }
        static LISTS: [[Text<'static>; 1]; 6] =
            [one(CVE), one(VULNERABILITY), one(SECRET), one(MISCONFIGURATION), one(SOFTWARE_CHECK), one(CODE_QUALITY)];
        // The six have six lengths: at most one comparison of bytes.
        match LISTS.iter().find(|l| l[0] == t) {
            Some(l) => l,
            // Every caller passes one of the constants above (a test checks each).
            None => &[],
        }
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
pub struct AsffFinding<'a> {
    pub(super) schema_version: &'static str,
    pub(super) id: Text<'a>,
    pub(super) product_arn: Text<'a>,
    pub(super) generator_id: Text<'a>,
    pub(super) aws_account_id: Text<'a>,
    pub(super) types: Texts<'a>,
    pub(super) created_at: Text<'a>,
    pub(super) updated_at: Text<'a>,
    pub(super) severity: AsffSeverity<'a>,
    pub(super) finding_provider_fields: ProviderFields<'a>,
    pub(super) title: Text<'a>,
    pub(super) description: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) remediation: Option<Remediation<'a>>,
    #[serde(skip_serializing_if = "Fields::is_empty")]
    pub(super) product_fields: Fields<'a>,
    /// Borrowed from [`Prepared`](super::mapping) when they depend on the context alone.
    pub(super) resources: Cow<'a, [Resource<'a>]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) vulnerabilities: Vec<Vulnerability<'a>>,
    pub(super) record_state: RecordState,
}

impl AsffFinding<'_> {
    /// The ASFF `Id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn record_state(&self) -> RecordState {
        self.record_state
    }
}

/// `ProductFields`: pairs in key order (the order a `BTreeMap` writes them) in one vector: no
/// tree nodes for the dozen or so fields of a finding, and one comparison per field when they
/// are put in key order, as the mapping does (any order gives the same pairs, only slower).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Fields<'a>(Vec<(&'static str, Text<'a>)>);

impl<'a> Fields<'a> {
    pub(super) fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }

    /// Sets `key` to `value` (replacing a value it had), keeping the keys in order.
    pub(super) fn insert(&mut self, key: &'static str, value: Text<'a>) {
        match self.0.last() {
            Some((last, _)) if *last >= key => match self.0.binary_search_by(|(k, _)| (*k).cmp(key)) {
                Ok(i) => self.0[i].1 = value,
                Err(i) => self.0.insert(i, (key, value)),
            },
            _ => self.0.push((key, value)),
        }
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Text<'a>> {
        let i = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.remove(i).1)
    }

    #[cfg(test)]
    pub(super) fn get(&self, key: &str) -> Option<&Text<'a>> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    #[cfg(test)]
    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    #[cfg(test)]
    pub(super) fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&'static str, &Text<'a>)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AsffSeverity<'a> {
    pub(super) label: Severity,
    pub(super) normalized: u8,
    pub(super) original: Text<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProviderFields<'a> {
    pub(super) severity: ProviderSeverity<'a>,
    pub(super) types: Texts<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProviderSeverity<'a> {
    pub(super) label: Severity,
    pub(super) original: Text<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Remediation<'a> {
    pub(super) recommendation: Recommendation<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Recommendation<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) url: Option<Text<'a>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Resource<'a> {
    #[serde(rename = "Type")]
    pub(super) kind: Cow<'static, str>,
    pub(super) id: Text<'a>,
    pub(super) partition: Text<'a>,
    pub(super) region: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) details: Option<ResourceDetails<'a>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceDetails<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) aws_ecr_container_image: Option<EcrImageDetails<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) container: Option<ContainerDetails<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) aws_code_build_project: Option<CodeBuildDetails<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) other: Option<BTreeMap<&'static str, Text<'a>>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EcrImageDetails<'a> {
    pub(super) registry_id: Text<'a>,
    pub(super) repository_name: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) image_digest: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) image_tags: Vec<Text<'a>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ContainerDetails<'a> {
    pub(super) image_name: Text<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CodeBuildDetails<'a> {
    pub(super) name: Text<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Vulnerability<'a> {
    pub(super) id: Text<'a>,
    /// The finding's one package, shared by its vulnerabilities (written as a one-element list).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "one_list")]
    pub(super) vulnerable_packages: Option<Arc<SoftwarePackage<'a>>>,
    /// Written as a one-element list.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "one_list")]
    pub(super) cvss: Option<Cvss<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) vendor: Option<Vendor<'a>>,
    #[serde(skip_serializing_if = "ReferenceUrls::is_empty")]
    pub(super) reference_urls: ReferenceUrls<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) fix_available: Option<&'static str>,
}

/// An optional value written as a list of it (none or one); an `Arc` is written as what it holds
/// (serde's `rc` feature).
fn one_list<S: serde::Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter())
}

/// The NVD page of a CVE id: `https://nvd.nist.gov/vuln/detail/` and the id, kept on the stack
/// (a CVE id is at most 22 bytes).
pub(super) const NVD_PREFIX: &str = "https://nvd.nist.gov/vuln/detail/";
const NVD_CAP: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct NvdUrl {
    len: u8,
    bytes: [u8; NVD_CAP],
}

impl NvdUrl {
    /// The URL of `id`, or None when it would not fit (never for an id [`is_cve`] accepts).
    pub(super) fn new(id: &str) -> Option<NvdUrl> {
        let len = NVD_PREFIX.len() + id.len();
        if len > NVD_CAP {
            return None;
        }
        let mut bytes = [0u8; NVD_CAP];
        bytes[..NVD_PREFIX.len()].copy_from_slice(NVD_PREFIX.as_bytes());
        bytes[NVD_PREFIX.len()..len].copy_from_slice(id.as_bytes());
        Some(NvdUrl { len: len as u8, bytes })
    }

    pub(super) fn as_str(&self) -> &str {
        // Two whole `&str`s copied in: valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for NvdUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// A vulnerability's `ReferenceUrls`: the finding's help URL and a CVE's NVD page, at most
/// `limit` of them, the NVD page left out when it is the help URL. Written as a list.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ReferenceUrls<'a> {
    pub(super) help: Option<&'a str>,
    pub(super) nvd: Option<NvdUrl>,
    pub(super) limit: usize,
}

impl<'a> ReferenceUrls<'a> {
    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        let nvd = self.nvd.as_ref().map(NvdUrl::as_str).filter(|n| self.help != Some(*n));
        self.help.into_iter().chain(nvd).take(self.limit)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl Serialize for ReferenceUrls<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SoftwarePackage<'a> {
    pub(super) name: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) fixed_in_version: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) package_manager: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) remediation: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) source_layer_hash: Option<Text<'a>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Cvss<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) base_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) base_vector: Option<Text<'a>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Vendor<'a> {
    pub(super) name: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) url: Option<Text<'a>>,
}

pub(super) fn to_value(f: &AsffFinding<'_>) -> serde_json::Value {
    // A struct of strings, integers and finite floats always converts.
    serde_json::to_value(f).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_type_has_its_list() {
        for t in [
            types::CVE,
            types::VULNERABILITY,
            types::SECRET,
            types::MISCONFIGURATION,
            types::SOFTWARE_CHECK,
            types::CODE_QUALITY,
        ] {
            assert_eq!(types::list(t), [Cow::Borrowed(t)], "{t}");
        }
    }

    #[test]
    fn reference_urls_are_the_list_they_replace() {
        let nvd = NvdUrl::new("CVE-2024-12345");
        let nvd_str = "https://nvd.nist.gov/vuln/detail/CVE-2024-12345";
        type Case<'s> = (Option<&'s str>, Option<NvdUrl>, usize, Vec<&'s str>);
        let cases: [Case; 6] = [
            (Some("https://h.example/x"), nvd, 10, vec!["https://h.example/x", nvd_str]),
            (Some("https://h.example/x"), nvd, 1, vec!["https://h.example/x"]),
            (Some(nvd_str), nvd, 10, vec![nvd_str]),
            (None, nvd, 10, vec![nvd_str]),
            (Some("https://h.example/x"), None, 10, vec!["https://h.example/x"]),
            (None, None, 10, vec![]),
        ];
        for (help, nvd, limit, want) in cases {
            let urls = ReferenceUrls { help, nvd, limit };
            assert_eq!(urls.iter().collect::<Vec<_>>(), want, "{help:?} {nvd:?} {limit}");
            assert_eq!(urls.is_empty(), want.is_empty());
            let mut fast = Vec::new();
            super::super::json::to_writer(&mut fast, &urls).expect("writes");
            assert_eq!(fast, serde_json::to_vec(&want).expect("writes"));
        }
        // Longer than the stack buffer: no URL rather than a cut one.
        assert!(NvdUrl::new(&"9".repeat(40)).is_none());
    }

    const KEYS: [&str; 6] = ["scangate/B", "scangate/Cves", "scangate/CveCount", "scangate/a", "Os", "scangate/"];

    proptest! {
        /// Whatever the order the pairs are put in, the fields hold and write what a
        /// `BTreeMap` does (serde_json and the ASFF serializer alike).
        #[test]
        fn fields_are_a_sorted_map(pairs in prop::collection::vec((0usize..KEYS.len(), "[a-z\\\"]{0,3}"), 0..12)) {
            let mut fields = Fields::default();
            let mut map = BTreeMap::new();
            for (k, v) in &pairs {
                fields.insert(KEYS[*k], Cow::Owned(v.clone()));
                map.insert(KEYS[*k], Cow::<str>::Owned(v.clone()));
            }
            let ours = serde_json::to_vec(&fields).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&ours, &serde_json::to_vec(&map).map_err(|e| TestCaseError::fail(e.to_string()))?);
            let mut fast = Vec::new();
            super::super::json::to_writer(&mut fast, &fields).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&fast, &ours);
            prop_assert_eq!(fields.len(), map.len());
            prop_assert!(fields.keys().eq(map.keys().copied()));
            if let Some((k, _)) = pairs.first() {
                prop_assert_eq!(fields.remove(KEYS[*k]), map.remove(KEYS[*k]));
                prop_assert!(!fields.contains_key(KEYS[*k]));
            }
        }
    }
}

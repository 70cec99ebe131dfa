//! `run.results[]`: one result, its rule and tool-component references, fingerprints,
//! suppressions and `properties` (severities, CVE ids, tags, QScanner's `vulnerableSoftware`).
//! The result's location is read in `location.rs`.

use super::location::{LocationsBody, RelatedLocationsBody};
use super::{cvss_from, level_from, next_str_list, qualys_from, scalar_text, wrong};
use crate::sarif::lenient::{Arr, ArrBody, Keys, Obj, ObjBody, Scalar, Shape, StrList, MAX_LIST_ITEMS};
use crate::sarif::message::Related;
use crate::severity::Level;
use crate::suppression::{Suppression, SuppressionKind};
use serde::de::{IgnoredAny, MapAccess, SeqAccess};

/// A vulnerable package as QScanner lists it under `result.properties.vulnerableSoftware[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct VulnSoftware {
    pub name: Option<String>,
    pub installed: Option<String>,
    pub fixed: Option<String>,
    pub layer: Option<String>,
    pub purl: Option<String>,
}

/// A result as read, before its rule is known. Small and owned; dropped once processed.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawResult {
    pub index: usize,
    pub rule_id: Option<String>,
    pub rule_index: Option<i64>,
    pub ref_id: Option<String>,
    pub ref_index: Option<i64>,
    pub tc_index: Option<i64>,
    pub tc_name: Option<String>,
    pub level: Option<Level>,
    /// `message.text`, else `message.markdown`, as written (the dedup key's last resort).
    pub message: Option<String>,
    /// `message.id`: a key into the rule's or tool component's message strings.
    pub message_id: Option<String>,
    /// `message.arguments`: the values of the `{n}` placeholders.
    pub arguments: Vec<String>,
    /// `relatedLocations` with an `id` (the targets of embedded links), at most
    /// [`MAX_RELATED`]; only kept when the message has a link.
    pub related: Vec<Related>,
    pub uri: Option<String>,
    pub artifact_index: Option<i64>,
    pub start_line: Option<u64>,
    pub fingerprint: Option<String>,
    pub qualys: Option<i64>,
    pub security_severity: Option<f64>,
    pub cve_ids: Vec<String>,
    pub tags: Vec<String>,
    pub qds: Option<f64>,
    pub packages: Vec<VulnSoftware>,
    /// Some when `suppressions` is non-empty and every entry's status is `accepted` or
    /// absent: the entries' kinds and the first justification. Whether it suppresses is
    /// `HONOR_SUPPRESSIONS`'s decision ([`crate::suppression`]).
    pub suppression: Option<Suppression>,
    /// (path relative to the result, message); turned into warnings when processed.
    pub warnings: Vec<(String, String)>,
    /// Warnings beyond [`crate::sarif::MAX_KEPT_WARNINGS`], only counted.
    pub warnings_dropped: usize,
}

impl RawResult {
    /// Keeps the first [`crate::sarif::MAX_KEPT_WARNINGS`]; the rest are counted.
    pub(super) fn warn(&mut self, sub: &str, msg: String) {
        if self.warnings.len() >= crate::sarif::MAX_KEPT_WARNINGS {
            self.warnings_dropped += 1;
            return;
        }
        self.warnings.push((sub.to_string(), msg));
    }
}

/// Reads one result object into a [`RawResult`].
pub(crate) struct ResultBody {
    pub index: usize,
}

impl<'de> ObjBody<'de> for ResultBody {
    type Out = RawResult;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<RawResult, A::Error> {
        const F: &[&str] = &[
            "ruleId",
            "ruleIndex",
            "rule",
            "level",
            "message",
            "locations",
            "fingerprints",
            "partialFingerprints",
            "properties",
            "suppressions",
            "relatedLocations",
        ];
        let mut r = RawResult { index: self.index, ..Default::default() };
        let mut partial: Option<String> = None;
        while let Some(k) = map.next_key_seed(Keys(F))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(s) => r.rule_id = s,
                    Err(got) => r.warn("ruleId", wrong("a string", got)),
                },
                Some(1) => match map.next_value::<Scalar>()?.into_i64() {
                    Ok(v) => r.rule_index = v,
                    Err(got) => r.warn("ruleIndex", wrong("an integer", &got)),
                },
                Some(2) => match map.next_value_seed(Obj(RuleRefBody { r: &mut r }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => r.warn("rule", wrong("an object", got)),
                },
                Some(3) => match level_from(map.next_value::<Scalar>()?) {
                    Ok(l) => r.level = l,
                    Err(m) => r.warn("level", m),
                },
                Some(4) => match map.next_value_seed(Obj(MessageBody { r: &mut r }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => r.warn("message", wrong("an object", got)),
                },
                Some(5) => match map.next_value_seed(Arr(LocationsBody { r: &mut r }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => r.warn("locations", wrong("an array", got)),
                },
                Some(6) => match map.next_value_seed(Obj(FirstStringValue))? {
                    Shape::Got(v) => {
                        if r.fingerprint.is_none() {
                            r.fingerprint = v;
                        }
                    }
                    Shape::Null => {}
                    Shape::Wrong(got) => r.warn("fingerprints", wrong("an object", got)),
                },
                Some(7) => match map.next_value_seed(Obj(FirstStringValue))? {
                    Shape::Got(v) => partial = v,
                    Shape::Null => {}
                    Shape::Wrong(got) => r.warn("partialFingerprints", wrong("an object", got)),
                },
                Some(8) => match map.next_value_seed(Obj(ResultPropsBody { r: &mut r }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => r.warn("properties", wrong("an object", got)),
                },
                Some(9) => match map.next_value_seed(Arr(SuppressionsBody { r: &mut r }))? {
                    Shape::Got(suppression) => r.suppression = suppression,
                    Shape::Null => {}
                    Shape::Wrong(got) => r.warn("suppressions", wrong("an array; not suppressed", got)),
                },
                Some(10) => match map.next_value_seed(Arr(RelatedLocationsBody { out: &mut r.related }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => r.warn("relatedLocations", wrong("an array", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if r.fingerprint.is_none() {
            r.fingerprint = partial;
        }
        let has_link = |m: &Option<String>| m.as_deref().is_some_and(|m| m.contains("]("));
        if !has_link(&r.message) && r.message_id.is_none() {
            // Nothing can point at them: do not keep them.
            r.related = Vec::new();
        }
        Ok(r)
    }
}

/// How many related locations a result keeps for its message's links.
pub(crate) const MAX_RELATED: usize = 256;

/// `result.message`: `text` (else `markdown`), `id` and `arguments` (SARIF 2.1.0 §3.11).
struct MessageBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for MessageBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.r;
        let (mut text, mut markdown) = (None, None);
        while let Some(k) = map.next_key_seed(Keys(&["text", "markdown", "id", "arguments"]))? {
            match k {
                Some(0) => text = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(1) => markdown = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(2) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(id) => r.message_id = id.filter(|s| !s.is_empty()),
                    Err(got) => r.warn("message.id", wrong("a string", got)),
                },
                Some(3) => match map.next_value_seed(Arr(StrList))? {
                    Shape::Got(s) => {
                        if s.not_strings > 0 {
                            r.warn("message.arguments", super::not_kept(s.not_strings));
                        }
                        r.arguments = s.items;
                    }
                    Shape::Null => {}
                    Shape::Wrong(got) => r.warn("message.arguments", wrong("an array of strings", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let present = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        r.message = present(text).or(present(markdown));
        Ok(())
    }
}

/// `result.suppressions`: Some when the array is non-empty and every entry's `status` is
/// `accepted` or absent (SARIF 2.1.0 §3.35.3: `underReview` and `rejected` do not suppress),
/// with the entries' `kind`s (§3.35.2) and the first non-blank `justification` (§3.35.5).
/// An entry that is not an object, or has an unknown status, does not suppress (warned); an
/// entry without a known `kind` is kept as [`SuppressionKind::Unknown`] (warned).
struct SuppressionsBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ArrBody<'de> for SuppressionsBody<'_> {
    type Out = Option<Suppression>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Suppression>, A::Error> {
        let mut all_accepted = true;
        let mut kinds = Vec::new();
        let mut justification: Option<String> = None;
        let mut i = 0usize;
        while let Some(shape) = seq.next_element_seed(Obj(SuppressionBody))? {
            match shape {
                Shape::Got(entry) => {
                    match entry.status {
                        Ok(true) => {}
                        Ok(false) => all_accepted = false,
                        Err(status) => {
                            all_accepted = false;
                            self.r.warn(
                                &format!("suppressions[{i}].status"),
                                format!("unknown status {status:?} (accepted, underReview, rejected); not suppressed"),
                            );
                        }
                    }
                    let kind = SuppressionKind::from_sarif(entry.kind.as_deref());
                    if kind == SuppressionKind::Unknown {
                        let got = entry.kind.as_deref().map_or_else(|| "missing".to_string(), |k| format!("{k:?}"));
                        self.r.warn(
                            &format!("suppressions[{i}].kind"),
                            format!(
                                "{} (expected inSource or external); honoured only with HONOR_SUPPRESSIONS=all",
                                crate::sarif::short(&got)
                            ),
                        );
                    }
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                    if justification.is_none() {
                        justification =
                            entry.justification.as_deref().and_then(crate::suppression::clean_justification);
                    }
                }
                Shape::Null | Shape::Wrong(_) => {
                    all_accepted = false;
                    if !kinds.contains(&SuppressionKind::Unknown) {
                        kinds.push(SuppressionKind::Unknown);
                    }
                    self.r.warn(&format!("suppressions[{i}]"), "expected an object; not suppressed".into());
                }
            }
            i += 1;
        }
        if kinds.is_empty() || !all_accepted {
            return Ok(None);
        }
        let mut s = Suppression::new(kinds, None);
        s.justification = justification;
        Ok(Some(s))
    }
}

/// One suppression entry as read.
struct SuppressionEntry {
    /// Ok(true) when it suppresses (status `accepted` or absent), Ok(false) for
    /// `underReview`/`rejected`, Err(status) for anything else.
    status: Result<bool, String>,
    kind: Option<String>,
    justification: Option<String>,
}

struct SuppressionBody;

impl<'de> ObjBody<'de> for SuppressionBody {
    type Out = SuppressionEntry;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = SuppressionEntry { status: Ok(true), kind: None, justification: None };
        while let Some(k) = map.next_key_seed(Keys(&["status", "kind", "justification"]))? {
            match k {
                Some(0) => {
                    out.status = match map.next_value::<Scalar>()?.into_string() {
                        Ok(None) => Ok(true),
                        Ok(Some(s)) => match s.as_str() {
                            "accepted" => Ok(true),
                            "underReview" | "rejected" => Ok(false),
                            _ => Err(crate::sarif::short(&s).into_owned()),
                        },
                        Err(got) => Err(got.to_string()),
                    }
                }
                Some(1) => out.kind = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(2) => {
                    // Only a bounded prefix is kept: a justification cannot hold memory.
                    out.justification = map.next_value::<Scalar>()?.into_string().ok().flatten().map(|j| {
                        crate::text::truncate_chars(&j, crate::suppression::MAX_JUSTIFICATION_CHARS * 2).into_owned()
                    });
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A result as a plain `Deserialize` type, for `serde_json`'s stream reader (which takes no
/// seed); the caller sets [`RawResult::index`].
pub(crate) struct LenientResult(pub Shape<RawResult>);

impl<'de> serde::Deserialize<'de> for LenientResult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::DeserializeSeed::deserialize(Obj(ResultBody { index: 0 }), d).map(LenientResult)
    }
}

/// `result.rule`: a `reportingDescriptorReference`.
struct RuleRefBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for RuleRefBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.r;
        while let Some(k) = map.next_key_seed(Keys(&["id", "index", "toolComponent"]))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(s) => r.ref_id = s,
                    Err(got) => r.warn("rule.id", wrong("a string", got)),
                },
                Some(1) => match map.next_value::<Scalar>()?.into_i64() {
                    Ok(v) => r.ref_index = v,
                    Err(got) => r.warn("rule.index", wrong("an integer", &got)),
                },
                Some(2) => match map.next_value_seed(Obj(ToolCompRefBody { r: &mut *r }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => r.warn("rule.toolComponent", wrong("an object", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct ToolCompRefBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for ToolCompRefBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.r;
        while let Some(k) = map.next_key_seed(Keys(&["index", "name"]))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_i64() {
                    Ok(v) => r.tc_index = v,
                    Err(got) => r.warn("rule.toolComponent.index", wrong("an integer", &got)),
                },
                Some(1) => r.tc_name = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The first string value of an object such as `fingerprints`.
struct FirstStringValue;

impl<'de> ObjBody<'de> for FirstStringValue {
    type Out = Option<String>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut out = None;
        while let Some(k) = map.next_key_seed(Keys(&[]))? {
            let _ = k;
            if out.is_none() {
                if let Scalar::Str(s) = map.next_value::<Scalar>()? {
                    out = Some(s);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

struct ResultPropsBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for ResultPropsBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        const F: &[&str] = &["security-severity", "severity", "cve-ids", "qds", "tags", "vulnerableSoftware"];
        let r = self.r;
        let mut warns = Vec::new();
        while let Some(k) = map.next_key_seed(Keys(F))? {
            match k {
                Some(0) => match cvss_from(map.next_value::<Scalar>()?) {
                    Ok(v) => r.security_severity = v,
                    Err(m) => warns.push(("properties.security-severity".into(), m)),
                },
                Some(1) => match qualys_from(map.next_value::<Scalar>()?) {
                    Ok(v) => r.qualys = v,
                    Err(m) => warns.push(("properties.severity".into(), m)),
                },
                Some(2) => next_str_list(&mut map, &mut r.cve_ids, "properties.cve-ids", &mut warns)?,
                Some(3) => match map.next_value::<Scalar>()?.into_f64_lenient() {
                    Ok(v) => r.qds = v,
                    Err(got) => warns.push(("properties.qds".into(), wrong("a number", &got))),
                },
                Some(4) => next_str_list(&mut map, &mut r.tags, "properties.tags", &mut warns)?,
                Some(5) => match map.next_value_seed(Arr(VulnSoftwareList { warns: &mut warns }))? {
                    Shape::Got(v) => r.packages = v,
                    Shape::Null => {}
                    Shape::Wrong(got) => warns.push(("properties.vulnerableSoftware".into(), wrong("an array", got))),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (sub, m) in warns {
            r.warn(&sub, m);
        }
        Ok(())
    }
}

struct VulnSoftwareList<'a> {
    warns: &'a mut Vec<(String, String)>,
}

impl<'de> ArrBody<'de> for VulnSoftwareList<'_> {
    type Out = Vec<VulnSoftware>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<VulnSoftware>, A::Error> {
        let mut out = Vec::new();
        let mut i = 0usize;
        let mut dropped = false;
        while let Some(v) = seq.next_element_seed(Obj(VulnSoftwareBody))? {
            let sub = || format!("properties.vulnerableSoftware[{i}]");
            if i >= MAX_LIST_ITEMS {
                // Validated, not kept (a result naming more packages is not a scanner's).
                if !dropped {
                    dropped = true;
                    self.warns.push((sub(), format!("beyond the first {MAX_LIST_ITEMS} packages; the rest ignored")));
                }
                i += 1;
                continue;
            }
            match v {
                Shape::Got(p) if p.name.is_some() => out.push(p),
                Shape::Got(_) => self.warns.push((sub(), "package without a name; ignored".into())),
                Shape::Null => self.warns.push((sub(), "null; ignored".into())),
                Shape::Wrong(got) => self.warns.push((sub(), wrong("an object", got))),
            }
            i += 1;
        }
        Ok(out)
    }
}

struct VulnSoftwareBody;

impl<'de> ObjBody<'de> for VulnSoftwareBody {
    type Out = VulnSoftware;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<VulnSoftware, A::Error> {
        const F: &[&str] = &["name", "installedVersion", "fixedVersion", "layerSHA", "purl", "version"];
        let mut p = VulnSoftware::default();
        while let Some(k) = map.next_key_seed(Keys(F))? {
            let v = match k {
                Some(_) => scalar_text(map.next_value::<Scalar>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            match k {
                Some(0) => p.name = v,
                Some(1) => p.installed = v,
                Some(2) => p.fixed = v,
                Some(3) => p.layer = v,
                Some(4) => p.purl = v,
                Some(5) if p.installed.is_none() => p.installed = v,
                _ => {}
            }
        }
        Ok(p)
    }
}

//! Typed, lenient readers for the parts of a SARIF run that scangate uses: the tool and its
//! rules, results, artifacts and run properties. Everything else is skipped with `IgnoredAny`.
//! A field of the wrong type becomes a warning, never an error.

use super::lenient::{next_text, Arr, ArrBody, Keys, Obj, ObjBody, Scalar, Shape, StrList};
use super::Warnings;
use crate::severity::Level;
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

/// What scangate keeps of a rule (`reportingDescriptor`).
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleInfo {
    pub id: Option<String>,
    pub name: Option<String>,
    pub short: Option<String>,
    pub full: Option<String>,
    pub help_text: Option<String>,
    pub help_uri: Option<String>,
    pub default_level: Option<Level>,
    pub qualys: Option<i64>,
    pub security_severity: Option<f64>,
    pub cvss_score: Option<f64>,
    pub cvss_vector: Option<String>,
    pub cve_ids: Vec<String>,
    pub tags: Vec<String>,
    pub qds: Option<f64>,
    pub purls: Vec<String>,
    // Derived once when the tool is read (see `build::prepare_rule`).
    /// CVE ids from `cve-ids`, the id, name, short description, tags, else the help text.
    pub cves: Vec<String>,
    /// Whether a CVE came from something other than the help text.
    pub strong_cve: bool,
    /// The package a per-package rule (Grype, Anchore) names in its help or purls.
    pub help_package: Option<crate::finding::Package>,
}

/// One tool component (the driver or an extension) and its rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Component {
    pub name: Option<String>,
    pub version: Option<String>,
    pub rules: Vec<RuleInfo>,
}

/// `run.tool`: the driver is component 0, extension `i` is component `i + 1`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tool {
    pub components: Vec<Component>,
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
    pub message: Option<String>,
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
    /// `suppressions` is non-empty and every entry's status is `accepted` or absent.
    pub suppressed: bool,
    /// (path relative to the result, message); turned into warnings when processed.
    pub warnings: Vec<(String, String)>,
}

impl RawResult {
    fn warn(&mut self, sub: &str, msg: String) {
        self.warnings.push((sub.to_string(), msg));
    }
}

/// `run.properties`, as far as the target and the policy go.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunProps {
    pub policy_result: Option<String>,
    pub image_id: Option<String>,
    pub image_name: Option<String>,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

fn wrong(expected: &str, got: &str) -> String {
    format!("expected {expected}, got {got}; ignored")
}

/// Parses a SARIF level; anything else is reported.
fn level_from(v: Scalar) -> Result<Option<Level>, String> {
    match v {
        Scalar::Null => Ok(None),
        Scalar::Str(s) => match Level::parse(&s) {
            Some(l) => Ok(Some(l)),
            None => {
                Err(format!("unknown level {:?} (expected none, note, warning or error); ignored", super::short(&s)))
            }
        },
        other => Err(wrong("a level string", other.kind())),
    }
}

/// A Qualys severity: 1–5 as a number or a numeric string. Other numbers are reported;
/// non-numeric strings are other tools' labels and are not Qualys severities.
fn qualys_from(v: Scalar) -> Result<Option<i64>, String> {
    let n = match v {
        Scalar::Null => return Ok(None),
        Scalar::Str(s) => match s.trim().parse::<f64>() {
            Ok(f) => f,
            Err(_) => return Ok(None),
        },
        Scalar::Int(i) => i as f64,
        Scalar::UInt(u) => u as f64,
        Scalar::Float(f) => f,
        other => return Err(wrong("a severity 1-5", other.kind())),
    };
    if n.fract() == 0.0 && (1.0..=5.0).contains(&n) {
        Ok(Some(n as i64))
    } else {
        Err(format!("severity {n} is not a Qualys severity 1-5; ignored"))
    }
}

/// A CVSS score from `security-severity`: number or numeric string in 0–10; null is absent.
fn cvss_from(v: Scalar) -> Result<Option<f64>, String> {
    match v.into_f64_lenient() {
        Ok(Some(f)) if (0.0..=10.0).contains(&f) => Ok(Some(f)),
        Ok(Some(f)) => Err(format!("security-severity {f} is outside 0-10; ignored")),
        Ok(None) => Ok(None),
        Err(got) => Err(format!("expected a CVSS score (number or numeric string), got {got}; ignored")),
    }
}

// ---------------------------------------------------------------- tool and rules

pub(crate) struct ToolBody<'a> {
    pub path: &'a str,
    pub w: &'a mut Warnings,
}

impl<'de> ObjBody<'de> for ToolBody<'_> {
    type Out = Tool;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Tool, A::Error> {
        let mut driver: Option<Component> = None;
        let mut driver_missing = false;
        let mut extensions: Vec<Component> = Vec::new();
        while let Some(k) = map.next_key_seed(Keys(&["driver", "extensions"]))? {
            match k {
                Some(0) => {
                    let path = format!("{}.driver", self.path);
                    match map.next_value_seed(Obj(ComponentBody { path: &path, w: self.w }))? {
                        Shape::Got((c, name_ok)) => {
                            driver_missing = !name_ok;
                            if !name_ok {
                                self.w.push(
                                    || format!("{path}.name"),
                                    "missing, null or empty; the scanner is \"unknown\"".into(),
                                );
                            }
                            driver = Some(c);
                        }
                        Shape::Null => {
                            driver_missing = true;
                            self.w.push(|| path.clone(), "driver is null; the scanner is unknown".into());
                        }
                        Shape::Wrong(got) => {
                            driver_missing = true;
                            self.w.push(|| path.clone(), wrong("an object", got));
                        }
                    }
                }
                Some(1) => {
                    let path = format!("{}.extensions", self.path);
                    match map.next_value_seed(Arr(ExtensionsBody { path: &path, w: self.w }))? {
                        Shape::Got(v) => extensions = v,
                        Shape::Null => {}
                        Shape::Wrong(got) => self.w.push(|| path.clone(), wrong("an array", got)),
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if driver.is_none() && !driver_missing {
            self.w.push(|| format!("{}.driver", self.path), "missing; the scanner is unknown".into());
        }
        let mut components = Vec::with_capacity(1 + extensions.len());
        components.push(driver.unwrap_or_default());
        components.extend(extensions);
        Ok(Tool { components })
    }
}

struct ExtensionsBody<'a> {
    path: &'a str,
    w: &'a mut Warnings,
}

impl<'de> ArrBody<'de> for ExtensionsBody<'_> {
    type Out = Vec<Component>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Component>, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, out.len());
            match seq.next_element_seed(Obj(ComponentBody { path: &path, w: self.w }))? {
                None => break,
                Some(Shape::Got((c, _))) => out.push(c),
                Some(Shape::Null) => out.push(Component::default()),
                Some(Shape::Wrong(got)) => {
                    self.w.push(|| path.clone(), wrong("an object", got));
                    out.push(Component::default());
                }
            }
        }
        Ok(out)
    }
}

/// A `toolComponent`; the flag says whether it had a usable name.
struct ComponentBody<'a> {
    path: &'a str,
    w: &'a mut Warnings,
}

impl<'de> ObjBody<'de> for ComponentBody<'_> {
    type Out = (Component, bool);
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut c = Component::default();
        let mut semantic: Option<String> = None;
        while let Some(k) = map.next_key_seed(Keys(&["name", "version", "semanticVersion", "rules"]))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(s) => c.name = s.filter(|s| !s.trim().is_empty()),
                    Err(got) => self.w.push(|| format!("{}.name", self.path), wrong("a string", got)),
                },
                Some(1) | Some(2) => {
                    let v = match map.next_value::<Scalar>()? {
                        Scalar::Str(s) => Some(s),
                        Scalar::Int(i) => Some(i.to_string()),
                        Scalar::UInt(u) => Some(u.to_string()),
                        Scalar::Float(f) => Some(f.to_string()),
                        _ => None,
                    };
                    if k == Some(1) {
                        c.version = v;
                    } else {
                        semantic = v;
                    }
                }
                Some(3) => {
                    let path = format!("{}.rules", self.path);
                    match map.next_value_seed(Arr(RulesBody { path: &path, w: self.w }))? {
                        Shape::Got(r) => c.rules = r,
                        Shape::Null => {}
                        Shape::Wrong(got) => self.w.push(|| path.clone(), wrong("an array", got)),
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if c.version.is_none() {
            c.version = semantic;
        }
        let named = c.name.is_some();
        Ok((c, named))
    }
}

struct RulesBody<'a> {
    path: &'a str,
    w: &'a mut Warnings,
}

impl<'de> ArrBody<'de> for RulesBody<'_> {
    type Out = Vec<RuleInfo>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RuleInfo>, A::Error> {
        let mut out = Vec::new();
        loop {
            let i = out.len();
            match seq.next_element_seed(Obj(RuleBody { path: self.path, i, w: self.w }))? {
                None => break,
                Some(Shape::Got(r)) => out.push(r),
                // Keep the slot so rule indexes stay right.
                Some(Shape::Null) => {
                    self.w.push(|| format!("{}[{i}]", self.path), "rule is null".into());
                    out.push(RuleInfo::default());
                }
                Some(Shape::Wrong(got)) => {
                    self.w.push(|| format!("{}[{i}]", self.path), wrong("a rule object", got));
                    out.push(RuleInfo::default());
                }
            }
        }
        Ok(out)
    }
}

struct RuleBody<'a> {
    path: &'a str,
    i: usize,
    w: &'a mut Warnings,
}

impl RuleBody<'_> {
    fn warn(&mut self, sub: &str, msg: String) {
        let (p, i) = (self.path, self.i);
        self.w.push(|| format!("{p}[{i}].{sub}"), msg);
    }
}

impl<'de> ObjBody<'de> for RuleBody<'_> {
    type Out = RuleInfo;
    fn body<A: MapAccess<'de>>(mut self, mut map: A) -> Result<RuleInfo, A::Error> {
        const F: &[&str] = &[
            "id",
            "name",
            "shortDescription",
            "fullDescription",
            "help",
            "helpUri",
            "defaultConfiguration",
            "properties",
        ];
        let mut r = RuleInfo::default();
        while let Some(k) = map.next_key_seed(Keys(F))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()? {
                    Scalar::Str(s) => r.id = Some(s),
                    other => self.warn("id", wrong("a string", other.kind())),
                },
                Some(1) => r.name = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(2) => r.short = next_text(&mut map)?,
                Some(3) => r.full = next_text(&mut map)?,
                Some(4) => r.help_text = next_text(&mut map)?,
                Some(5) => r.help_uri = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(6) => match map.next_value_seed(Obj(DefaultConfigBody))? {
                    Shape::Got(Ok(l)) => r.default_level = l,
                    Shape::Got(Err(m)) => self.warn("defaultConfiguration.level", m),
                    Shape::Null => {}
                    Shape::Wrong(got) => self.warn("defaultConfiguration", wrong("an object", got)),
                },
                Some(7) => {
                    let mut warns = Vec::new();
                    match map.next_value_seed(Obj(RulePropsBody { r: &mut r, warns: &mut warns }))? {
                        Shape::Got(()) | Shape::Null => {}
                        Shape::Wrong(got) => self.warn("properties", wrong("an object", got)),
                    }
                    for (sub, m) in warns {
                        self.warn(&sub, m);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
}

struct DefaultConfigBody;

impl<'de> ObjBody<'de> for DefaultConfigBody {
    type Out = Result<Option<Level>, String>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = Ok(None);
        while let Some(k) = map.next_key_seed(Keys(&["level"]))? {
            match k {
                Some(0) => out = level_from(map.next_value::<Scalar>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Reads a string list value into `into`, reporting a wrong kind or non-string elements.
fn next_str_list<'de, A: MapAccess<'de>>(
    map: &mut A,
    into: &mut Vec<String>,
    sub: &str,
    warns: &mut Vec<(String, String)>,
) -> Result<(), A::Error> {
    match map.next_value_seed(Arr(StrList))? {
        Shape::Got(s) => {
            if s.not_strings > 0 {
                warns.push((sub.to_string(), format!("{} element(s) are not strings; ignored", s.not_strings)));
            }
            into.extend(s.items);
        }
        Shape::Null => {}
        Shape::Wrong(got) => warns.push((sub.to_string(), wrong("an array of strings", got))),
    }
    Ok(())
}

struct RulePropsBody<'a> {
    r: &'a mut RuleInfo,
    warns: &'a mut Vec<(String, String)>,
}

impl<'de> ObjBody<'de> for RulePropsBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        const F: &[&str] =
            &["security-severity", "severity", "cve-ids", "qds", "tags", "purls", "cvssv3_baseScore", "cvssv3_vector"];
        let r = self.r;
        while let Some(k) = map.next_key_seed(Keys(F))? {
            match k {
                Some(0) => match cvss_from(map.next_value::<Scalar>()?) {
                    Ok(v) => r.security_severity = v,
                    Err(m) => self.warns.push(("properties.security-severity".into(), m)),
                },
                Some(1) => match qualys_from(map.next_value::<Scalar>()?) {
                    Ok(v) => r.qualys = v,
                    Err(m) => self.warns.push(("properties.severity".into(), m)),
                },
                Some(2) => next_str_list(&mut map, &mut r.cve_ids, "properties.cve-ids", self.warns)?,
                Some(3) => match map.next_value::<Scalar>()?.into_f64_lenient() {
                    Ok(v) => r.qds = v,
                    Err(got) => self.warns.push(("properties.qds".into(), wrong("a number", &got))),
                },
                Some(4) => next_str_list(&mut map, &mut r.tags, "properties.tags", self.warns)?,
                Some(5) => next_str_list(&mut map, &mut r.purls, "properties.purls", self.warns)?,
                Some(6) => {
                    if let Ok(Some(v)) = map.next_value::<Scalar>()?.into_f64_lenient() {
                        if (0.0..=10.0).contains(&v) {
                            r.cvss_score = Some(v);
                        }
                    }
                }
                Some(7) => r.cvss_vector = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- results

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
                Some(4) => match map.next_value_seed(Obj(super::lenient::TextObj))? {
                    Shape::Got(t) => r.message = t.best(),
                    Shape::Null => {}
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
                    Shape::Got(suppressed) => r.suppressed = suppressed,
                    Shape::Null => {}
                    Shape::Wrong(got) => r.warn("suppressions", wrong("an array; not suppressed", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if r.fingerprint.is_none() {
            r.fingerprint = partial;
        }
        Ok(r)
    }
}

/// `result.suppressions`: true when the array is non-empty and every entry's `status` is
/// `accepted` or absent (SARIF 2.1.0 §3.35.3: `underReview` and `rejected` do not suppress).
/// An entry that is not an object, or has an unknown status, does not suppress (warned).
struct SuppressionsBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ArrBody<'de> for SuppressionsBody<'_> {
    type Out = bool;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut any = false;
        let mut all_accepted = true;
        let mut i = 0usize;
        while let Some(shape) = seq.next_element_seed(Obj(SuppressionBody))? {
            any = true;
            match shape {
                Shape::Got(Ok(true)) => {}
                Shape::Got(Ok(false)) => all_accepted = false,
                Shape::Got(Err(status)) => {
                    all_accepted = false;
                    self.r.warn(
                        &format!("suppressions[{i}].status"),
                        format!("unknown status {status:?} (accepted, underReview, rejected); not suppressed"),
                    );
                }
                Shape::Null | Shape::Wrong(_) => {
                    all_accepted = false;
                    self.r.warn(&format!("suppressions[{i}]"), "expected an object; not suppressed".into());
                }
            }
            i += 1;
        }
        Ok(any && all_accepted)
    }
}

/// One suppression: Ok(true) when it suppresses (status `accepted` or absent), Ok(false)
/// for `underReview`/`rejected`, Err(status) for anything else.
struct SuppressionBody;

impl<'de> ObjBody<'de> for SuppressionBody {
    type Out = Result<bool, String>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = Ok(true);
        while let Some(k) = map.next_key_seed(Keys(&["status"]))? {
            match k {
                Some(0) => {
                    out = match map.next_value::<Scalar>()?.into_string() {
                        Ok(None) => Ok(true),
                        Ok(Some(s)) => match s.as_str() {
                            "accepted" => Ok(true),
                            "underReview" | "rejected" => Ok(false),
                            _ => Err(super::short(&s).into_owned()),
                        },
                        Err(got) => Err(got.to_string()),
                    }
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

/// `result.locations`: only the first location is read.
struct LocationsBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ArrBody<'de> for LocationsBody<'_> {
    type Out = ();
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match seq.next_element_seed(Obj(LocationBody { r: &mut *self.r }))? {
            None => return Ok(()),
            Some(Shape::Got(())) => {}
            Some(Shape::Null) => self.r.warn("locations[0]", "location is null; ignored".into()),
            Some(Shape::Wrong(got)) => self.r.warn("locations[0]", wrong("an object", got)),
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

struct LocationBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for LocationBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key_seed(Keys(&["physicalLocation"]))? {
            match k {
                Some(0) => match map.next_value_seed(Obj(PhysicalBody { r: &mut *self.r }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => self.r.warn("locations[0].physicalLocation", wrong("an object", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct PhysicalBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for PhysicalBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.r;
        while let Some(k) = map.next_key_seed(Keys(&["artifactLocation", "region"]))? {
            match k {
                Some(0) => match map.next_value_seed(Obj(ArtifactLocationBody))? {
                    Shape::Got((uri, index, bad)) => {
                        r.uri = uri;
                        r.artifact_index = index;
                        if let Some(m) = bad {
                            r.warn("locations[0].physicalLocation.artifactLocation", m);
                        }
                    }
                    Shape::Null => {}
                    Shape::Wrong(got) => {
                        r.warn("locations[0].physicalLocation.artifactLocation", wrong("an object", got))
                    }
                },
                Some(1) => match map.next_value_seed(Obj(RegionBody))? {
                    Shape::Got(Ok(line)) => r.start_line = line,
                    Shape::Got(Err(m)) => r.warn("locations[0].physicalLocation.region.startLine", m),
                    Shape::Null => {}
                    Shape::Wrong(got) => r.warn("locations[0].physicalLocation.region", wrong("an object", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `artifactLocation`: `uri` and/or `index` into `run.artifacts`. `uriBaseId` is not applied:
/// the relative uri is the stable identity of a file across builds (the base changes).
struct ArtifactLocationBody;

impl<'de> ObjBody<'de> for ArtifactLocationBody {
    type Out = (Option<String>, Option<i64>, Option<String>);
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let (mut uri, mut index, mut bad) = (None, None, None);
        while let Some(k) = map.next_key_seed(Keys(&["uri", "index"]))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(s) => uri = s.filter(|s| !s.is_empty()),
                    Err(got) => bad = Some(format!("uri: {}", wrong("a string", got))),
                },
                Some(1) => match map.next_value::<Scalar>()?.into_i64() {
                    Ok(v) => index = v,
                    Err(got) => bad = Some(format!("index: {}", wrong("an integer", &got))),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((uri, index, bad))
    }
}

struct RegionBody;

impl<'de> ObjBody<'de> for RegionBody {
    type Out = Result<Option<u64>, String>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = Ok(None);
        while let Some(k) = map.next_key_seed(Keys(&["startLine"]))? {
            match k {
                Some(0) => {
                    out = match map.next_value::<Scalar>()?.into_i64() {
                        Ok(Some(n)) if n >= 1 => Ok(Some(n as u64)),
                        Ok(Some(n)) => Err(format!("startLine {n} is not a line number (1 or more); ignored")),
                        Ok(None) => Ok(None),
                        Err(got) => Err(wrong("an integer", &got)),
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
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
        r.warnings.extend(warns);
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
        while let Some(v) = seq.next_element_seed(Obj(VulnSoftwareBody))? {
            let sub = || format!("properties.vulnerableSoftware[{i}]");
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

/// A string, or a number written as text; empty and null are absent.
fn scalar_text(v: Scalar) -> Option<String> {
    match v {
        Scalar::Str(s) if !s.trim().is_empty() => Some(s),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::UInt(u) => Some(u.to_string()),
        Scalar::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------- artifacts and run properties

/// `run.artifacts[]`: only each artifact's `location.uri`, so indexes can be resolved.
pub(crate) struct ArtifactsBody;

impl<'de> ArrBody<'de> for ArtifactsBody {
    type Out = Vec<Option<String>>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Obj(ArtifactBody))? {
            out.push(match v {
                Shape::Got(u) => u,
                _ => None,
            });
        }
        Ok(out)
    }
}

struct ArtifactBody;

impl<'de> ObjBody<'de> for ArtifactBody {
    type Out = Option<String>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut uri = None;
        while let Some(k) = map.next_key_seed(Keys(&["location"]))? {
            match k {
                Some(0) => {
                    if let Shape::Got((u, _, _)) = map.next_value_seed(Obj(ArtifactLocationBody))? {
                        uri = u;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(uri)
    }
}

pub(crate) struct RunPropsBody<'a> {
    pub path: &'a str,
    pub w: &'a mut Warnings,
}

impl<'de> ObjBody<'de> for RunPropsBody<'_> {
    type Out = RunProps;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<RunProps, A::Error> {
        const F: &[&str] = &["policyResult", "imageID", "imageName", "repoTags", "repoDigests"];
        let mut p = RunProps::default();
        let mut warns = Vec::new();
        while let Some(k) = map.next_key_seed(Keys(F))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(s) => p.policy_result = s,
                    Err(got) => warns.push(("policyResult".to_string(), wrong("a string", got))),
                },
                Some(1) => p.image_id = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(2) => p.image_name = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(3) => next_str_list(&mut map, &mut p.repo_tags, "repoTags", &mut warns)?,
                Some(4) => next_str_list(&mut map, &mut p.repo_digests, "repoDigests", &mut warns)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (sub, m) in warns {
            self.w.push(|| format!("{}.{sub}", self.path), m);
        }
        Ok(p)
    }
}

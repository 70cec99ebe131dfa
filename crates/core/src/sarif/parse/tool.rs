//! `run.tool`: the driver and its extensions (tool components), each component's rules, and a
//! rule's `defaultConfiguration` and `properties` (severities, CVSS, CVE ids, tags, purls).

use super::{cvss_from, level_from, next_str_list, qualys_from, wrong};
use crate::sarif::held::{self, Held};
use crate::sarif::lenient::{next_text, Arr, ArrBody, Keys, Obj, ObjBody, Scalar, Shape, TextObj};
use crate::sarif::Warnings;
use crate::severity::Level;
use serde::de::{IgnoredAny, MapAccess, SeqAccess};
use std::sync::Arc;

/// What scangate keeps of a rule (`reportingDescriptor`).
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleInfo {
    /// `Arc`: the rule's texts are shared by its findings, not copied into each.
    pub id: Option<Arc<str>>,
    pub name: Option<String>,
    pub short: Option<String>,
    pub full: Option<String>,
    pub help_text: Option<Arc<str>>,
    pub help_uri: Option<Arc<str>>,
    pub default_level: Option<Level>,
    pub qualys: Option<i64>,
    pub security_severity: Option<f64>,
    pub cvss_score: Option<f64>,
    pub cvss_vector: Option<Arc<str>>,
    pub cve_ids: Vec<String>,
    pub tags: Vec<String>,
    pub qds: Option<f64>,
    pub purls: Vec<String>,
    /// `messageStrings`: (id, text, else markdown), in document order (SARIF 2.1.0 §3.49.11).
    pub message_strings: Vec<(String, String)>,
    // Derived once when the tool is read (see `build::prepare_rule`).
    /// CVE ids from `cve-ids`, the id, name, short description, tags, else the help text.
    pub cves: Arc<[String]>,
    /// `tags`, as the rule's findings share them.
    pub shared_tags: Arc<[String]>,
    /// The bytes of the texts the rule's findings share (id, help text and uri, CVSS vector,
    /// tags, CVEs): counted once per rule against the reader's text cap.
    pub shared_bytes: u64,
    /// The rule's position in its component's rules.
    pub index: usize,
    /// Whether a CVE came from something other than the help text.
    pub strong_cve: bool,
    /// The package a per-package rule (Grype, Anchore) names in its help or purls.
    pub help_package: Option<crate::finding::Package>,
    /// The tool component the rule belongs to (0: the driver), for its global message strings.
    pub component: usize,
}

/// One tool component (the driver or an extension) and its rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Component {
    pub name: Option<String>,
    pub version: Option<String>,
    pub rules: Vec<RuleInfo>,
    /// `globalMessageStrings`: (id, text, else markdown).
    pub global_strings: Vec<(String, String)>,
}

/// `run.tool`: the driver is component 0, extension `i` is component `i + 1`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tool {
    pub components: Vec<Component>,
}

/// Reads `run.tool`; every component and rule kept is charged to `held` (once one does not
/// fit, the rest is only validated and the driver stops with the reason `held` carries).
pub(crate) struct ToolBody<'a> {
    pub path: &'a str,
    pub w: &'a mut Warnings,
    pub held: &'a mut Held,
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
                    match map.next_value_seed(Obj(ComponentBody { path: &path, w: self.w, held: self.held }))? {
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
                    match map.next_value_seed(Arr(ExtensionsBody { path: &path, w: self.w, held: self.held }))? {
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
    held: &'a mut Held,
}

impl<'de> ArrBody<'de> for ExtensionsBody<'_> {
    type Out = Vec<Component>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Component>, A::Error> {
        let mut out = Vec::new();
        loop {
            if self.held.over.is_some() {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
            let path = format!("{}[{}]", self.path, out.len());
            match seq.next_element_seed(Obj(ComponentBody { path: &path, w: self.w, held: self.held }))? {
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
    held: &'a mut Held,
}

impl<'de> ObjBody<'de> for ComponentBody<'_> {
    type Out = (Component, bool);
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut c = Component::default();
        let mut semantic: Option<String> = None;
        while let Some(k) =
            map.next_key_seed(Keys(&["name", "version", "semanticVersion", "rules", "globalMessageStrings"]))?
        {
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
                    match map.next_value_seed(Arr(RulesBody { path: &path, w: self.w, held: self.held }))? {
                        Shape::Got(r) => c.rules = r,
                        Shape::Null => {}
                        Shape::Wrong(got) => self.w.push(|| path.clone(), wrong("an array", got)),
                    }
                }
                Some(4) => match map.next_value_seed(Obj(MessageStringsBody))? {
                    Shape::Got(v) => c.global_strings = v,
                    Shape::Null => {}
                    Shape::Wrong(got) => {
                        self.w.push(|| format!("{}.globalMessageStrings", self.path), wrong("an object", got))
                    }
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if c.version.is_none() {
            c.version = semantic;
        }
        self.held.charge(held::component(&c.name, &c.version, &c.global_strings), || {
            format!("{}: a tool component and its message strings", self.path)
        });
        let named = c.name.is_some();
        Ok((c, named))
    }
}

struct RulesBody<'a> {
    path: &'a str,
    w: &'a mut Warnings,
    held: &'a mut Held,
}

impl<'de> ArrBody<'de> for RulesBody<'_> {
    type Out = Vec<RuleInfo>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RuleInfo>, A::Error> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        loop {
            if self.held.over.is_some() {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
            let i = out.len();
            let rule = seq.next_element_seed(Obj(RuleBody { path: self.path, i, w: self.w }))?;
            let charge = match &rule {
                Some(Shape::Got(r)) => held::rule(r),
                Some(_) => held::rule(&RuleInfo::default()),
                None => 0,
            };
            bytes += charge;
            if !self.held.charge(charge, || format!("{}: {} rules holding about {bytes} bytes", self.path, i + 1)) {
                continue;
            }
            match rule {
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
            "messageStrings",
        ];
        let mut r = RuleInfo::default();
        while let Some(k) = map.next_key_seed(Keys(F))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()? {
                    Scalar::Str(s) => r.id = Some(s.into()),
                    other => self.warn("id", wrong("a string", other.kind())),
                },
                Some(1) => r.name = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(2) => r.short = next_text(&mut map)?,
                Some(3) => r.full = next_text(&mut map)?,
                Some(4) => r.help_text = next_text(&mut map)?.map(Arc::from),
                Some(5) => r.help_uri = map.next_value::<Scalar>()?.into_string().ok().flatten().map(Arc::from),
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
                Some(8) => match map.next_value_seed(Obj(MessageStringsBody))? {
                    Shape::Got(v) => r.message_strings = v,
                    Shape::Null => {}
                    Shape::Wrong(got) => self.warn("messageStrings", wrong("an object", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
}

/// `messageStrings` / `globalMessageStrings`: id → multiformatMessageString; the text
/// form is kept (else the markdown), once per rule or component.
struct MessageStringsBody;

impl<'de> ObjBody<'de> for MessageStringsBody {
    type Out = Vec<(String, String)>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::new();
        while let Some(id) = map.next_key::<String>()? {
            if let Shape::Got(t) = map.next_value_seed(Obj(TextObj))? {
                if let Some(text) = t.best() {
                    out.push((id, text));
                }
            }
        }
        Ok(out)
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
                Some(7) => r.cvss_vector = map.next_value::<Scalar>()?.into_string().ok().flatten().map(Arc::from),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

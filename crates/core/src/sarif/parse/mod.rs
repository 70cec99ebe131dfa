//! Typed, lenient readers for the parts of a SARIF run that scangate uses: the tool and its
//! rules, results, artifacts and run properties. Everything else is skipped with `IgnoredAny`.
//! A field of the wrong type becomes a warning, never an error.

use super::lenient::{Arr, Keys, ObjBody, Scalar, Shape, StrList};
use super::Warnings;
use crate::severity::Level;
use serde::de::{IgnoredAny, MapAccess};

mod artifacts;
mod location;
mod result;
mod tool;

pub(crate) use artifacts::ArtifactsBody;
pub(crate) use result::{LenientResult, RawResult, ResultBody, VulnSoftware};
pub(crate) use tool::{RuleInfo, Tool, ToolBody};

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

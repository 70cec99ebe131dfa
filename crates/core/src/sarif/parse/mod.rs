//! Typed, lenient readers for the parts of a SARIF run that scangate uses, one file per part:
//! `tool.rs` (`run.tool`: driver, extensions, rules, rule properties, default configuration),
//! `result.rs` (a result, its rule reference, fingerprints, suppressions, properties and
//! vulnerable software), `location.rs` (a result's first location: artifact location, region),
//! `artifacts.rs` (`run.artifacts`, to resolve artifact indexes) and `run_props.rs`
//! (`run.properties`: the target and the policy result). Everything else is skipped with
//! `IgnoredAny`. A field of the wrong type becomes a warning, never an error.
//!
//! This file holds what the readers share: the warning text for a wrong type, the SARIF level,
//! Qualys severity and CVSS score conversions, string lists and scalars written as text.

use super::lenient::{Arr, Scalar, Shape, StrList};
use crate::severity::Level;
use serde::de::MapAccess;

mod artifacts;
mod location;
mod result;
mod run_props;
mod tool;

pub(crate) use artifacts::ArtifactsBody;
pub(crate) use result::{LenientResult, RawResult, ResultBody, VulnSoftware};
pub(crate) use run_props::{RunProps, RunPropsBody};
pub(crate) use tool::{Component, RuleInfo, Tool, ToolBody};

/// The warning for the elements of a string list that were not kept.
fn not_kept(n: usize) -> String {
    format!("{n} element(s) are not strings or beyond the first {}; ignored", crate::sarif::lenient::MAX_LIST_ITEMS)
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
                warns.push((sub.to_string(), not_kept(s.not_strings)));
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

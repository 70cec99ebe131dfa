//! Small serde building blocks for reading SARIF leniently and without building trees.
//!
//! * [`Keys`] matches an object key against a fixed list without allocating.
//! * [`Scalar`] reads any JSON value; arrays and objects are skipped (`IgnoredAny`) and only
//!   reported by kind, so a wrong-typed field never aborts the document.
//! * [`Obj`] and [`Arr`] run a typed body on an object or an array and report any other JSON
//!   kind as [`Shape::Null`] or [`Shape::Wrong`] (after skipping it) instead of failing.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Matches a key against a fixed list; `None` for keys the caller does not read.
pub(crate) struct Keys(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Keys {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Keys {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|k| *k == v))
    }
}

/// Any JSON value, with containers skipped and reduced to their kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Array,
    Object,
}

impl Scalar {
    /// The JSON kind, for messages ("expected a string, got a number").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Array => "an array",
            Scalar::Object => "an object",
        }
    }

    /// A string; `Ok(None)` for null; `Err(kind)` for anything else.
    pub(crate) fn into_string(self) -> Result<Option<String>, &'static str> {
        match self {
            Scalar::Str(s) => Ok(Some(s)),
            Scalar::Null => Ok(None),
            other => Err(other.kind()),
        }
    }

    /// A number, or a string holding a number (`"7.5"`); `Ok(None)` for null.
    /// `Err` carries a short description of what was there instead.
    pub(crate) fn into_f64_lenient(self) -> Result<Option<f64>, String> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Int(i) => Ok(Some(i as f64)),
            Scalar::UInt(u) => Ok(Some(u as f64)),
            Scalar::Float(f) => Ok(Some(f)),
            Scalar::Str(s) => {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                match t.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    _ => Err(format!("the string {:?} is not a number", crate::sarif::short(&s))),
                }
            }
            other => Err(other.kind().to_string()),
        }
    }

    /// An integer (a float with no fraction counts); `Ok(None)` for null.
    pub(crate) fn into_i64(self) -> Result<Option<i64>, String> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Int(i) => Ok(Some(i)),
            Scalar::UInt(u) => i64::try_from(u).map(Some).map_err(|_| format!("{u} is too large")),
            Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            Scalar::Float(f) => Err(format!("{f} is not an integer")),
            other => Err(other.kind().to_string()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

/// What a lenient container read found.
#[derive(Debug)]
pub(crate) enum Shape<T> {
    Got(T),
    Null,
    /// Another JSON kind ("a string", "a number", ...), already skipped.
    Wrong(&'static str),
}

/// The typed reading of one JSON object.
pub(crate) trait ObjBody<'de> {
    type Out;
    fn body<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error>;
}

/// The typed reading of one JSON array.
pub(crate) trait ArrBody<'de> {
    type Out;
    fn body<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Out, A::Error>;
}

/// Reads an object with `B`, or reports the other kind.
pub(crate) struct Obj<B>(pub B);
/// Reads an array with `B`, or reports the other kind.
pub(crate) struct Arr<B>(pub B);

impl<'de, B: ObjBody<'de>> DeserializeSeed<'de> for Obj<B> {
    type Value = Shape<B::Out>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ObjVisitor(self.0))
    }
}

impl<'de, B: ArrBody<'de>> DeserializeSeed<'de> for Arr<B> {
    type Value = Shape<B::Out>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ArrVisitor(self.0))
    }
}

/// The visitor methods every lenient container visitor shares: scalars are "wrong".
macro_rules! wrong_scalars {
    () => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Shape::Null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Shape::Null)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Shape::Wrong("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Shape::Wrong("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Shape::Wrong("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Shape::Wrong("a number"))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Shape::Wrong("a string"))
        }
    };
}

struct ObjVisitor<B>(B);

impl<'de, B: ObjBody<'de>> Visitor<'de> for ObjVisitor<B> {
    type Value = Shape<B::Out>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    wrong_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Wrong("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Shape::Got(self.0.body(map)?))
    }
}

struct ArrVisitor<B>(B);

impl<'de, B: ArrBody<'de>> Visitor<'de> for ArrVisitor<B> {
    type Value = Shape<B::Out>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    wrong_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(Shape::Got(self.0.body(seq)?))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Shape::Wrong("an object"))
    }
}

/// An array of strings; non-string elements are counted, not fatal.
pub(crate) struct StrList;

/// The strings of a [`StrList`] and how many elements were not strings or beyond
/// [`MAX_LIST_ITEMS`] (not kept).
#[derive(Debug, Default)]
pub(crate) struct Strings {
    pub items: Vec<String>,
    pub not_strings: usize,
}

/// How many elements a list inside a rule or result keeps (strings, packages): one element
/// of a few bytes (`"",`) would otherwise cost a structure of tens of bytes, multiplying a
/// value's size in memory. The rest are validated, counted in a warning and dropped.
pub(crate) const MAX_LIST_ITEMS: usize = 1_000;

impl<'de> ArrBody<'de> for StrList {
    type Out = Strings;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
        let mut out = Strings::default();
        while let Some(v) = seq.next_element::<Scalar>()? {
            match v {
                Scalar::Str(s) if out.items.len() < MAX_LIST_ITEMS => out.items.push(s),
                _ => out.not_strings += 1,
            }
        }
        Ok(out)
    }
}

/// An object `{ "text": ..., "markdown": ... }` (message, multiformatMessageString).
pub(crate) struct TextObj;

/// The two renderings of a SARIF message string.
#[derive(Debug, Default)]
pub(crate) struct Text {
    pub text: Option<String>,
    pub markdown: Option<String>,
}

impl Text {
    /// The plain text, else the markdown; empty strings count as absent.
    pub(crate) fn best(self) -> Option<String> {
        self.text.filter(|s| !s.trim().is_empty()).or(self.markdown.filter(|s| !s.trim().is_empty()))
    }
}

impl<'de> ObjBody<'de> for TextObj {
    type Out = Text;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        let mut out = Text::default();
        while let Some(k) = map.next_key_seed(Keys(&["text", "markdown"]))? {
            match k {
                Some(0) => out.text = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                // The markdown is only a fallback: not copied when there is text.
                Some(1) if out.text.as_deref().is_some_and(|t| !t.trim().is_empty()) => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(1) => out.markdown = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Reads the next value of a map as a [`TextObj`], treating any other kind as absent.
pub(crate) fn next_text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<String>, A::Error> {
    Ok(match map.next_value_seed(Obj(TextObj))? {
        Shape::Got(t) => t.best(),
        _ => None,
    })
}

//! A compact JSON serializer for the ASFF model, byte-identical to `serde_json::to_writer`
//! for the types in `model.rs`, with a faster string escape: ASFF output is mostly long
//! strings (titles, descriptions, ids, ARNs), and serde_json decides every byte of every
//! string with a table lookup and a branch. Here sixteen bytes that need no escape are
//! checked at once (branch-free, so the compiler vectorizes it) and copied as a run.
//!
//! What it covers is what the model uses: structs, sequences, maps with string keys,
//! strings, integers, floats, booleans, options and unit variants. Anything else (bytes,
//! tuple and struct variants, non-string map keys) is refused with an error rather than
//! written in a form that could differ from serde_json's; the writer's tests compare its
//! output with serde_json's on arbitrary findings.

use serde::ser::{self, Error as _, Impossible, Serialize};
use std::ops::DerefMut;

type Error = serde_json::Error;

/// Appends `value` as compact JSON to `out`. Output goes to a byte vector (not a `Write`):
/// the many small pieces of a finding (brackets, commas, keys) are then plain appends.
pub(super) fn to_writer<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Json { w: out })
}

pub(super) struct Json<W> {
    w: W,
}

/// serde_json's escapes for a byte that is not [`plain`]: `\"`, `\\`, the short forms of five
/// controls; `None` for the other controls (`\u00xx`, lower-case hex). DEL and non-ASCII are
/// written as they are.
fn escape_byte(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        0x0c => b"\\f",
        b'\r' => b"\\r",
        _ => return None,
    })
}

#[inline]
fn plain(b: u8) -> bool {
    b >= 0x20 && b != b'"' && b != b'\\'
}

pub(super) fn write_str(w: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    w.reserve(bytes.len() + 2);
    w.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(block) = bytes.get(i..i + 16) {
            if block.iter().fold(true, |all, &b| all & plain(b)) {
                i += 16;
                continue;
            }
        } else if bytes[i..].iter().fold(true, |all, &b| all & plain(b)) {
            // A short string or the last bytes of a long one, none to escape (the usual
            // case): decided at once rather than byte by byte.
            break;
        }
        let b = bytes[i];
        if plain(b) {
            i += 1;
            continue;
        }
        w.extend_from_slice(&bytes[start..i]);
        match escape_byte(b) {
            Some(short) => w.extend_from_slice(short),
            None => {
                w.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
            }
        }
        i += 1;
        start = i;
    }
    w.extend_from_slice(&bytes[start..]);
    w.push(b'"');
}

fn unsupported(what: &str) -> Error {
    Error::custom(format!("the ASFF serializer does not write {what}"))
}

impl<W: DerefMut<Target = Vec<u8>>> Json<W> {
    fn raw(&mut self, b: &[u8]) -> Result<(), Error> {
        self.w.extend_from_slice(b);
        Ok(())
    }

    /// A number or other scalar as serde_json writes it.
    fn scalar<T: Serialize>(&mut self, v: T) -> Result<(), Error> {
        serde_json::to_writer(&mut *self.w, &v)
    }
}

pub(super) struct Compound<'a, W> {
    ser: &'a mut Json<W>,
    first: bool,
}

impl<W: DerefMut<Target = Vec<u8>>> Compound<'_, W> {
    fn comma(&mut self) -> Result<(), Error> {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.ser.raw(b",")
        }
    }
}

impl<'a, W: DerefMut<Target = Vec<u8>>> ser::Serializer for &'a mut Json<W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, W>;
    type SerializeTuple = Compound<'a, W>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Compound<'a, W>;
    type SerializeStruct = Compound<'a, W>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.raw(if v { b"true" } else { b"false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.scalar(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(&mut self.w, v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.raw(b"null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.raw(b"null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.raw(b"null")
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(unsupported("newtype variants"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a, W>, Error> {
        self.raw(b"[")?;
        Ok(Compound { ser: self, first: true })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, W>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(unsupported("tuple structs"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(unsupported("tuple variants"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a, W>, Error> {
        self.raw(b"{")?;
        Ok(Compound { ser: self, first: true })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a, W>, Error> {
        self.raw(b"{")?;
        Ok(Compound { ser: self, first: true })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(unsupported("struct variants"))
    }
}

impl<W: DerefMut<Target = Vec<u8>>> ser::SerializeSeq for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma()?;
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.raw(b"]")
    }
}

impl<W: DerefMut<Target = Vec<u8>>> ser::SerializeTuple for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl<W: DerefMut<Target = Vec<u8>>> ser::SerializeMap for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma()?;
        key.serialize(KeySerializer { ser: &mut *self.ser })?;
        self.ser.raw(b":")
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.raw(b"}")
    }
}

impl<W: DerefMut<Target = Vec<u8>>> ser::SerializeStruct for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.comma()?;
        // A field name of the model (a Rust identifier or a `rename`): nothing to escape,
        // which the tests comparing with serde_json would show otherwise.
        if key.bytes().all(plain) {
            let w = &mut self.ser.w;
            w.push(b'"');
            w.extend_from_slice(key.as_bytes());
            w.extend_from_slice(b"\":");
        } else {
            write_str(&mut self.ser.w, key);
            self.ser.raw(b":")?;
        }
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.raw(b"}")
    }
}

/// Map keys: strings only (the model's maps are keyed by `&'static str`).
struct KeySerializer<'a, W> {
    ser: &'a mut Json<W>,
}

macro_rules! refuse {
    ($($name:ident($($t:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $t),*) -> Result<(), Error> { Err(unsupported("a map key that is not a string")) })*
    };
}

impl<W: DerefMut<Target = Vec<u8>>> ser::Serializer for KeySerializer<'_, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(&mut self.ser.w, v);
        Ok(())
    }
    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(unsupported("a map key that is not a string"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(unsupported("a map key that is not a string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn ours<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        to_writer(&mut out, v).expect("serializes");
        out
    }

    #[test]
    fn escapes_like_serde_json() {
        let all: String = (0u32..0x80).filter_map(char::from_u32).chain(['é', '😀', '\u{2028}']).collect();
        for s in [all.as_str(), "", "plain text longer than sixteen bytes \" with a quote", "\u{1}\u{1f}\\\u{7f}"] {
            assert_eq!(ours(&s), serde_json::to_vec(&s).expect("serializes"), "{s:?}");
        }
        let mut m = BTreeMap::new();
        m.insert("k\"ey", vec![Some(1.5f64), None, Some(f64::NAN), Some(10.0)]);
        m.insert("empty", vec![]);
        assert_eq!(ours(&m), serde_json::to_vec(&m).expect("serializes"));
    }

    #[test]
    fn refuses_what_it_does_not_write() {
        let mut m = BTreeMap::new();
        m.insert(1u8, "x");
        assert!(to_writer(&mut Vec::new(), &m).is_err());
    }

    proptest! {
        #[test]
        fn strings_escape_like_serde_json(s in "\\PC{0,80}|[\\x00-\\x7f]{0,80}") {
            prop_assert_eq!(ours(&s), serde_json::to_vec(&s).map_err(|e| TestCaseError::fail(e.to_string()))?);
        }
    }
}

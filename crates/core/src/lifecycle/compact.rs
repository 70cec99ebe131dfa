//! Compact in-memory forms of what a lifecycle state holds per finding, each read from and
//! written as exactly the text the state object holds (`scangate.state.v1` is unchanged):
//! [`FindingKey`] (an ASFF id), [`StateHash`] (a content or sighting hash) and [`Stamp`] (a
//! time). The usual shapes are held as bytes or an integer; anything else as the text found.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The 32 bytes of 64 lowercase hex characters, if `text` is that.
fn lower_hex_32(text: &[u8]) -> Option<[u8; 32]> {
    lower_hex(text)
}

/// The `N` bytes of `2 * N` lowercase hex characters, if `text` is that.
fn lower_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Writes the lowercase hex of `bytes` into `out` (twice as long).
fn write_hex(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

/// `scangate/` + 32 hex (the lifecycle hash, `LifecycleKey::hash`) + `/` + 64 hex (the
/// finding id).
const PREFIX: &[u8] = b"scangate/";
const LIFECYCLE_HEX: usize = 32;
const SEP: usize = PREFIX.len() + LIFECYCLE_HEX;
const KEY_LEN: usize = SEP + 1 + 64;

/// An ASFF finding id as the state holds it in memory: the processor's own ids
/// (`scangate/<32-hex lifecycle hash>/<64-hex finding id>`, lowercase) as their 48 bytes, any
/// other id as its text. Each id has one form, so equality and hashing are the text's; the
/// order is exactly the order of the texts (the state's map keeps its key order).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FindingKey(KeyRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum KeyRepr {
    Scangate { lifecycle: [u8; 16], finding: [u8; 32] },
    Other(Box<str>),
}

impl FindingKey {
    /// The key of an id.
    pub fn new(id: &str) -> FindingKey {
        match Self::scangate(id) {
            Some(k) => k,
            None => FindingKey(KeyRepr::Other(id.into())),
        }
    }

    fn scangate(id: &str) -> Option<FindingKey> {
        let b = id.as_bytes();
        if b.len() != KEY_LEN || !b.starts_with(PREFIX) || b[SEP] != b'/' {
            return None;
        }
        let lifecycle = lower_hex(&b[PREFIX.len()..SEP])?;
        let finding = lower_hex(&b[SEP + 1..])?;
        Some(FindingKey(KeyRepr::Scangate { lifecycle, finding }))
    }

    /// The key `scangate/<lifecycle>/<finding>` of the processor's own form, from its bytes
    /// (the hex of each, lowercase): what [`FindingKey::parts`] returns.
    pub fn from_parts(lifecycle: [u8; 16], finding: [u8; 32]) -> FindingKey {
        FindingKey(KeyRepr::Scangate { lifecycle, finding })
    }

    /// The bytes of a key of the processor's own form (lifecycle hash, finding id); None for
    /// any other id. One report's ids share the lifecycle: its findings can be held as the
    /// 32 bytes of the finding id alone.
    pub fn parts(&self) -> Option<(&[u8; 16], &[u8; 32])> {
        match &self.0 {
            KeyRepr::Scangate { lifecycle, finding } => Some((lifecycle, finding)),
            KeyRepr::Other(_) => None,
        }
    }

    /// Calls `f` with the id's text (built on the stack for the compact form).
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match &self.0 {
            KeyRepr::Other(s) => f(s),
            KeyRepr::Scangate { lifecycle, finding } => {
                let mut buf = [0u8; KEY_LEN];
                buf[..PREFIX.len()].copy_from_slice(PREFIX);
                write_hex(lifecycle, &mut buf[PREFIX.len()..SEP]);
                buf[SEP] = b'/';
                write_hex(finding, &mut buf[SEP + 1..]);
                // Only ASCII was written.
                f(std::str::from_utf8(&buf).unwrap_or_default())
            }
        }
    }

    /// Whether the id's text is `text`.
    pub fn is(&self, text: &str) -> bool {
        match &self.0 {
            KeyRepr::Other(s) => &**s == text,
            KeyRepr::Scangate { .. } => FindingKey::scangate(text).is_some_and(|k| &k == self),
        }
    }
}

impl From<&str> for FindingKey {
    fn from(id: &str) -> FindingKey {
        FindingKey::new(id)
    }
}

impl From<String> for FindingKey {
    fn from(id: String) -> FindingKey {
        match FindingKey::scangate(&id) {
            Some(k) => k,
            None => FindingKey(KeyRepr::Other(id.into_boxed_str())),
        }
    }
}

impl PartialEq<str> for FindingKey {
    fn eq(&self, other: &str) -> bool {
        self.is(other)
    }
}

impl PartialEq<&str> for FindingKey {
    fn eq(&self, other: &&str) -> bool {
        self.is(other)
    }
}

impl Ord for FindingKey {
    fn cmp(&self, other: &FindingKey) -> Ordering {
        match (&self.0, &other.0) {
            // Same prefix and separator; lowercase hex sorts as its bytes.
            (KeyRepr::Scangate { lifecycle: a, finding: b }, KeyRepr::Scangate { lifecycle: c, finding: d }) => {
                a.cmp(c).then_with(|| b.cmp(d))
            }
            (KeyRepr::Other(a), KeyRepr::Other(b)) => a.cmp(b),
            _ => self.with_str(|a| other.with_str(|b| a.cmp(b))),
        }
    }
}

impl PartialOrd for FindingKey {
    fn partial_cmp(&self, other: &FindingKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for FindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|s| f.write_str(s))
    }
}

impl fmt::Debug for FindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|s| fmt::Debug::fmt(s, f))
    }
}

impl Serialize for FindingKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_str(|s| serializer.serialize_str(s))
    }
}

/// Reads a string into `T` (borrowed or owned).
struct TextVisitor<T>(std::marker::PhantomData<T>);

impl<T: From<String> + for<'a> From<&'a str>> Visitor<'_> for TextVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from(v))
    }
}

impl<'de> Deserialize<'de> for FindingKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FindingKey, D::Error> {
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// A content or sighting hash as the state holds it in memory: 64 lowercase hex characters
/// as their 32 bytes, anything else (a legacy whole-finding hash, `in-flight`) as its text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum StateHash {
    Sha256([u8; 32]),
    Text(Box<str>),
}

impl StateHash {
    /// The hash of a text.
    pub fn new(text: &str) -> StateHash {
        match lower_hex_32(text.as_bytes()) {
            Some(d) => StateHash::Sha256(d),
            None => StateHash::Text(text.into()),
        }
    }

    /// Whether this is the hex of `digest`.
    pub fn is_digest(&self, digest: &[u8; 32]) -> bool {
        matches!(self, StateHash::Sha256(d) if d == digest)
    }

    /// Calls `f` with the hash's text.
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            StateHash::Text(s) => f(s),
            StateHash::Sha256(d) => {
                let mut buf = [0u8; 64];
                write_hex(d, &mut buf);
                f(std::str::from_utf8(&buf).unwrap_or_default())
            }
        }
    }
}

impl From<&str> for StateHash {
    fn from(text: &str) -> StateHash {
        StateHash::new(text)
    }
}

impl From<String> for StateHash {
    fn from(text: String) -> StateHash {
        match lower_hex_32(text.as_bytes()) {
            Some(d) => StateHash::Sha256(d),
            None => StateHash::Text(text.into_boxed_str()),
        }
    }
}

impl From<[u8; 32]> for StateHash {
    fn from(digest: [u8; 32]) -> StateHash {
        StateHash::Sha256(digest)
    }
}

impl PartialEq<str> for StateHash {
    fn eq(&self, other: &str) -> bool {
        *self == StateHash::new(other)
    }
}

impl PartialEq<&str> for StateHash {
    fn eq(&self, other: &&str) -> bool {
        *self == StateHash::new(other)
    }
}

impl fmt::Display for StateHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|s| f.write_str(s))
    }
}

impl fmt::Debug for StateHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_str(|s| fmt::Debug::fmt(s, f))
    }
}

impl Serialize for StateHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_str(|s| serializer.serialize_str(s))
    }
}

impl<'de> Deserialize<'de> for StateHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StateHash, D::Error> {
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// A time as the state holds it in memory: unix milliseconds when the text is exactly what
/// [`crate::verdict::rfc3339`] writes for that instant, else the text as found (another
/// offset or precision, or no time at all: "yesterday" stays "yesterday").
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Stamp {
    Millis(i64),
    Text(Box<str>),
}

impl Stamp {
    /// The stamp of a text.
    pub fn new(text: &str) -> Stamp {
        match Stamp::millis_of(text) {
            Some(ms) => Stamp::Millis(ms),
            None => Stamp::Text(text.into()),
        }
    }

    /// The stamp of an instant: what [`crate::verdict::rfc3339`] writes for it.
    pub fn at(t: OffsetDateTime) -> Stamp {
        Stamp::new(&crate::verdict::rfc3339(t))
    }

    fn millis_of(text: &str) -> Option<i64> {
        // The shape rfc3339 writes: 24 characters, `.mmmZ`.
        if text.len() != 24 || !text.ends_with('Z') {
            return None;
        }
        let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?;
        (Stamp::format(ms)? == text).then_some(ms)
    }

    fn format(ms: i64) -> Option<String> {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
        Some(crate::verdict::rfc3339(t))
    }

    /// The instant, if the text is an RFC 3339 time.
    pub fn time(&self) -> Option<OffsetDateTime> {
        match self {
            Stamp::Millis(ms) => OffsetDateTime::from_unix_timestamp_nanos(i128::from(*ms) * 1_000_000).ok(),
            Stamp::Text(s) => OffsetDateTime::parse(s, &Rfc3339).ok(),
        }
    }
}

impl From<&str> for Stamp {
    fn from(text: &str) -> Stamp {
        Stamp::new(text)
    }
}

impl From<String> for Stamp {
    fn from(text: String) -> Stamp {
        match Stamp::millis_of(&text) {
            Some(ms) => Stamp::Millis(ms),
            None => Stamp::Text(text.into_boxed_str()),
        }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stamp::Text(s) => f.write_str(s),
            // Every Millis was read from its text, so it formats.
            Stamp::Millis(ms) => f.write_str(&Stamp::format(*ms).unwrap_or_default()),
        }
    }
}

impl fmt::Debug for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq<str> for Stamp {
    fn eq(&self, other: &str) -> bool {
        *self == Stamp::new(other)
    }
}

impl PartialEq<&str> for Stamp {
    fn eq(&self, other: &&str) -> bool {
        *self == Stamp::new(other)
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Stamp::Text(s) => serializer.serialize_str(s),
            Stamp::Millis(_) => serializer.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Stamp, D::Error> {
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scangate_id() -> impl Strategy<Value = String> {
        ("[0-9a-f]{32}", "[0-9a-f]{64}").prop_map(|(l, f)| format!("scangate/{l}/{f}"))
    }

    /// Ids of every shape: the processor's, near misses of it, and any text.
    fn any_id() -> impl Strategy<Value = String> {
        prop_oneof![
            scangate_id(),
            scangate_id().prop_map(|s| s.to_uppercase()),
            scangate_id().prop_map(|s| format!("{s}x")),
            scangate_id().prop_map(|s| s[..105].to_string()),
            ("[0-9a-f]{64}", "[0-9a-f]{64}").prop_map(|(l, f)| format!("scangate/{l}/{f}")),
            "scangate/[0-9a-f]{30,34}/?[0-9a-fg]{62,66}",
            "scangate/[0-9a-f]{0,70}/?[0-9a-fg]{0,66}",
            ".{0,20}",
            "[a-z~/]{0,4}",
        ]
    }

    fn any_hash() -> impl Strategy<Value = String> {
        prop_oneof!["[0-9a-f]{64}", "[0-9a-fA-F]{63,65}", "in-flight", ".{0,10}"]
    }

    fn any_time() -> impl Strategy<Value = String> {
        prop_oneof![
            (0i64..253_402_300_799_999).prop_map(|ms| Stamp::format(ms).unwrap_or_default()),
            (0i64..4_000_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| {
                let t = OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH)
                    + time::Duration::nanoseconds(i64::from(n));
                t.format(&Rfc3339).unwrap_or_default()
            }),
            "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{0,4})?(Z|z|[+-]0[0-9]:[0-5][0-9])",
            ".{0,26}",
        ]
    }

    proptest! {
        #[test]
        fn keys_round_trip_and_order_as_their_text(a in any_id(), b in any_id()) {
            let (ka, kb) = (FindingKey::new(&a), FindingKey::new(&b));
            prop_assert_eq!(ka.to_string(), a.clone());
            prop_assert_eq!(serde_json::to_string(&ka).ok(), serde_json::to_string(&a).ok());
            let back: FindingKey = serde_json::from_str(&serde_json::to_string(&a).unwrap_or_default()).expect("reads");
            prop_assert_eq!(&back, &ka);
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(ka == kb, a == b);
            prop_assert!(ka.is(&a));
            prop_assert_eq!(FindingKey::from(a.clone()), ka);
        }

        #[test]
        fn hashes_round_trip_and_order_as_their_text(a in any_hash(), b in any_hash()) {
            let (ha, hb) = (StateHash::new(&a), StateHash::new(&b));
            prop_assert_eq!(ha.to_string(), a.clone());
            prop_assert_eq!(serde_json::to_string(&ha).ok(), serde_json::to_string(&a).ok());
            prop_assert_eq!(ha == hb, a == b);
            prop_assert_eq!(StateHash::from(a.clone()), ha);
        }

        #[test]
        fn times_round_trip_exactly(a in any_time()) {
            let s = Stamp::new(&a);
            prop_assert_eq!(s.to_string(), a.clone());
            prop_assert_eq!(serde_json::to_string(&s).ok(), serde_json::to_string(&a).ok());
            prop_assert_eq!(s.time(), OffsetDateTime::parse(&a, &Rfc3339).ok());
            prop_assert_eq!(Stamp::from(a.clone()), s);
        }
    }

    #[test]
    fn usual_shapes_are_compact_and_the_rest_kept_as_found() {
        let id = format!("scangate/{}/{}", "ab".repeat(16), "01".repeat(32));
        assert!(matches!(FindingKey::new(&id).0, KeyRepr::Scangate { .. }));
        assert!(matches!(FindingKey::new(&id.to_uppercase()).0, KeyRepr::Other(_)));
        let long = format!("scangate/{}/{}", "ab".repeat(32), "01".repeat(32));
        assert!(matches!(FindingKey::new(&long).0, KeyRepr::Other(_)), "a lifecycle hash of another length");
        assert!(matches!(StateHash::new(&"0f".repeat(32)), StateHash::Sha256(_)));
        assert!(matches!(StateHash::new(&"0F".repeat(32)), StateHash::Text(_)));
        assert_eq!(Stamp::new("2026-11-20T08:00:00.000Z"), Stamp::Millis(1_795_161_600_000));
        for text in [
            "yesterday",
            "2026-11-20T08:00:00Z",
            "2026-11-20T09:00:00+01:00",
            "2026-11-20T08:00:00.123456Z",
            "2026-11-20t08:00:00.000z",
            "2026-11-20T08:00:00.000+00:00",
            "2026-11-20T08:00:00.000Z ",
        ] {
            assert!(matches!(Stamp::new(text), Stamp::Text(_)), "{text}");
            assert_eq!(Stamp::new(text).to_string(), text);
        }
        assert_eq!(Stamp::new("yesterday").time(), None);
        assert_eq!(Stamp::new("2026-11-20T09:00:00+01:00").time(), Stamp::new("2026-11-20T08:00:00.000Z").time());
        // Smaller than the strings they replace.
        assert!(std::mem::size_of::<FindingKey>() <= 56);
        assert!(std::mem::size_of::<StateHash>() <= 40);
        assert!(std::mem::size_of::<Stamp>() <= 24);
    }
}

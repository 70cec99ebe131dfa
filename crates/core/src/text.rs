//! Text helpers shared by the renderers: the sanitizer every human-facing string from a report
//! goes through ([`sanitize`], [`display_text`], [`display_line`], [`markdown_inline`]),
//! truncation with a visible marker, XML-safe text, the percent-encoding of an S3 key in a URL
//! or a copy source, and the length of a value as compact JSON.

mod sanitize;

pub use sanitize::{
    display_line, display_text, is_unsafe_char, markdown_inline, markdown_rendered, sanitize, Form, REPLACEMENT,
};

/// What a substring search needs: the haystack's and the needle's bytes, the needle's first byte
/// and the last place in the haystack it could start.
pub(crate) struct SearchWindow<'a> {
    pub h: &'a [u8],
    pub n: &'a [u8],
    pub first: u8,
    pub last_start: usize,
}

/// The [`SearchWindow`] of `needle` in `haystack`; `Err` holds the answer when there is nothing
/// to search (an empty needle is in every text, a longer one in none).
pub(crate) fn search_window<'a>(haystack: &'a str, needle: &'a str) -> Result<SearchWindow<'a>, bool> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return Err(true);
    };
    if n.len() > h.len() {
        return Err(false);
    }
    Ok(SearchWindow { h, n, first, last_start: h.len() - n.len() })
}

/// `haystack.contains(needle)`, cheap for the one-off searches of the renderers (is the help
/// text already in the message, the package in the title): no searcher is built for a needle
/// longer than the haystack, and the places where the needle's first byte occurs are
/// compared first; only after [`CONTAINS_TRIES`] of them does a linear-time searcher take
/// over, so a repetitive text cannot make it quadratic.
pub(crate) fn contains(haystack: &str, needle: &str) -> bool {
    let SearchWindow { h, n, first, last_start } = match search_window(haystack, needle) {
        Ok(window) => window,
        Err(found) => return found,
    };
    for (tried, i) in memchr::memchr_iter(first, &h[..=last_start]).enumerate() {
        if tried == CONTAINS_TRIES {
            return memchr::memmem::find(&h[i..], n).is_some();
        }
        if &h[i..i + n.len()] == n {
            return true;
        }
    }
    false
}

/// How many candidate places [`contains`] compares before it builds a searcher.
const CONTAINS_TRIES: usize = 8;

/// The marker appended to any text scangate had to shorten.
pub const TRUNCATION_MARKER: &str = "…[truncated by scangate]";

/// Shortens `s` to at most `max_chars` characters (Unicode scalar values), ending in
/// [`TRUNCATION_MARKER`] when anything was cut. Never splits a character.
pub fn truncate_chars(s: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    // Fast path: byte length bounds the char count.
    if s.len() <= max_chars || s.chars().count() <= max_chars {
        return std::borrow::Cow::Borrowed(s);
    }
    let marker_len = TRUNCATION_MARKER.chars().count();
    if max_chars <= marker_len {
        return std::borrow::Cow::Owned(s.chars().take(max_chars).collect());
    }
    let keep = max_chars - marker_len;
    let cut = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    let mut out = String::with_capacity(cut + TRUNCATION_MARKER.len());
    out.push_str(&s[..cut]);
    out.push_str(TRUNCATION_MARKER);
    std::borrow::Cow::Owned(out)
}

/// Shortens `s` to at most `max_bytes` UTF-8 bytes, with the marker, on a char boundary.
/// The length in bytes of `value` serialized as compact JSON, without building it: to size
/// a buffer once, or to check a size limit.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<usize> {
    struct Len(usize);
    impl std::io::Write for Len {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut len = Len(0);
    serde_json::to_writer(&mut len, value)?;
    Ok(len.0)
}

#[cfg(test)]
fn truncate_bytes(s: &str, max_bytes: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max_bytes {
        return std::borrow::Cow::Borrowed(s);
    }
    if max_bytes <= TRUNCATION_MARKER.len() {
        let mut cut = max_bytes;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        return std::borrow::Cow::Owned(s[..cut].to_string());
    }
    let mut cut = max_bytes - TRUNCATION_MARKER.len();
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(max_bytes);
    out.push_str(&s[..cut]);
    out.push_str(TRUNCATION_MARKER);
    std::borrow::Cow::Owned(out)
}

/// Removes characters XML 1.0 cannot carry even escaped (C0 controls but tab, CR, LF;
/// U+FFFE, U+FFFF; lone surrogates cannot occur in a Rust `str`). Each is replaced by U+FFFD.
pub fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    fn ok(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    }
    if s.chars().all(ok) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().map(|c| if ok(c) { c } else { '\u{FFFD}' }).collect())
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`: an S3 key (or
/// bucket) in a console URL or an `x-amz-copy-source` header.
pub fn url_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_len_is_the_length_of_the_compact_json() {
        let value = serde_json::json!({"a": [1, 2, "é"], "b": null, "c": "quote \" and \\"});
        let written = serde_json::to_vec(&value).expect("serializes");
        assert_eq!(json_len(&value).expect("counts"), written.len());
        assert_eq!(json_len("").expect("counts"), 2);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        let s = "é".repeat(2000);
        let t = truncate_chars(&s, 1024);
        assert_eq!(t.chars().count(), 1024);
        assert!(t.ends_with(TRUNCATION_MARKER));
        let b = truncate_bytes(&s, 1001);
        assert!(b.len() <= 1001);
        assert!(b.ends_with(TRUNCATION_MARKER));
        assert_eq!(truncate_chars("short", 10), "short");
    }

    #[test]
    fn xml_safe_replaces_controls() {
        assert_eq!(xml_safe("a\u{0}b\u{1b}c\td"), "a\u{FFFD}b\u{FFFD}c\td");
        assert!(matches!(xml_safe("plain"), std::borrow::Cow::Borrowed(_)));
    }
}

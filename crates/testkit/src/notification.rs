//! S3 event notifications as S3 writes them. No dependencies.

/// A key in URL-form encoding, as S3 writes keys into event notifications (a space is `+`,
/// everything but ASCII letters, digits and `-_.~/` is `%XX`): the input of
/// `scangate_core::events::decode_key`.
pub fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

//! SARIF message strings (SARIF 2.1.0 §3.11): a result's message as its tool wrote it.
//!
//! * `message.id` + `arguments`: the string is looked up in the rule's `messageStrings`, then
//!   in the `globalMessageStrings` of the rule's tool component, then the driver's (§3.11.7).
//! * Placeholders `{0}`, `{1}` … are filled from `arguments`; `{{` and `}}` are literal braces
//!   (§3.11.5). Formatting applies to a string that came from `messageStrings` or that has
//!   arguments; a plain `text` without arguments is taken as written (its braces are code).
//! * Embedded links `[text](n)` whose target is an integer point at the result's
//!   `relatedLocations` entry with `id` n (§3.11.6); in plain-text outputs they become the
//!   link text followed by the related location's `path:line` in parentheses (only the
//!   location when the link text already is it). Other targets become `text (target)`;
//!   `\[` and `\]` are unescaped.
//! * `text` is preferred to `markdown`; a message that has only `markdown` is used with its
//!   links resolved the same way (other markdown is left as written).

use std::borrow::Cow;

/// A related location of a result, as far as a link to it needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Related {
    pub id: i64,
    pub uri: Option<String>,
    pub artifact_index: Option<i64>,
    pub line: Option<u64>,
}

/// How many bytes filling placeholders or resolving links may add to a message: a template
/// of many `{0}` with a long argument, or many links to a long path, would otherwise multiply
/// a result's bytes. Beyond it the message is cut and ends with `…`.
pub(crate) const MAX_EXPANSION: usize = 64 * 1024;

/// Fills `{n}` placeholders from `args` and turns `{{`/`}}` into braces. A placeholder with
/// no argument is left as written and counted in the second value. At most
/// [`MAX_EXPANSION`] bytes longer than the template and its arguments.
pub(crate) fn format(template: &str, args: &[String]) -> (String, usize) {
    let mut out = String::with_capacity(template.len());
    let mut missing = 0;
    let mut rest = template;
    let limit = template.len() + args.iter().map(String::len).sum::<usize>() + MAX_EXPANSION;
    while let Some(i) = rest.find(['{', '}']) {
        if out.len() > limit {
            out.push('…');
            return (out, missing);
        }
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(after) = tail.strip_prefix('{') {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && after.as_bytes().get(digits) == Some(&b'}') {
                let n: Option<usize> = after[..digits].parse().ok();
                match n.and_then(|n| args.get(n)) {
                    Some(a) => out.push_str(a),
                    None => {
                        missing += 1;
                        out.push_str(&tail[..digits + 2]);
                    }
                }
                rest = &after[digits + 1..];
            } else {
                out.push('{');
                rest = after;
            }
        } else {
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    (out, missing)
}

/// Whether `s` holds a template placeholder: `{0}` or `{name}` (ruff's rule descriptions
/// are templates such as ``Variable `{name}` is shadowing a Python builtin``). Such rule
/// text never becomes a finding's title or description: it does not name the instance.
pub(crate) fn has_placeholder(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'{') {
        let start = i + off + 1;
        if b.get(start) == Some(&b'{') {
            i = start + 1;
            continue;
        }
        let len = b[start..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
        if len > 0 && len <= 64 && b.get(start + len) == Some(&b'}') {
            return true;
        }
        i = start;
        if i >= b.len() {
            break;
        }
    }
    false
}

/// Replaces embedded links with plain text: `[text](n)` → `text (path:line)` from the
/// related location with id n, `[text](target)` → `text (target)`; `\[`/`\]` unescaped.
/// At most [`MAX_EXPANSION`] bytes (and one path) longer than `text`.
/// `artifact` resolves an artifact index to its uri. Text without links is borrowed.
pub(crate) fn plain_links<'a>(
    text: &'a str,
    related: &[Related],
    artifact: &dyn Fn(i64) -> Option<String>,
) -> Cow<'a, str> {
    if !text.contains("](") && !text.contains("\\[") && !text.contains("\\]") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    let limit = text.len() + MAX_EXPANSION;
    while !rest.is_empty() {
        if out.len() > limit {
            out.push('…');
            break;
        }
        let Some(i) = rest.find(['[', '\\']) else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(esc) = tail.strip_prefix('\\') {
            match esc.chars().next() {
                Some(c @ ('[' | ']')) => {
                    out.push(c);
                    rest = &esc[1..];
                }
                _ => {
                    out.push('\\');
                    rest = esc;
                }
            }
            continue;
        }
        match link_at(tail) {
            Some((label, target, used)) => {
                let place = target
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| related.iter().find(|r| r.id == id))
                    .and_then(|r| where_(r, artifact));
                let label = unescape(label);
                match place {
                    Some(p) if label.contains(&p) || label.is_empty() => {
                        out.push_str(if label.is_empty() { &p } else { &label })
                    }
                    Some(p) => {
                        out.push_str(&label);
                        out.push_str(" (");
                        out.push_str(&p);
                        out.push(')');
                    }
                    // An integer target with no such related location: the label alone.
                    None if target.parse::<i64>().is_ok() => out.push_str(&label),
                    None => {
                        out.push_str(&label);
                        out.push_str(" (");
                        out.push_str(target);
                        out.push(')');
                    }
                }
                rest = &tail[used..];
            }
            None => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    Cow::Owned(out)
}

/// `[label](target)` at the start of `s`: the label (escaped brackets allowed), the target and
/// the bytes used. Nested unescaped brackets are not a link.
fn link_at(s: &str) -> Option<(&str, &str, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => return None,
            b']' => break,
            _ => i += 1,
        }
    }
    if i >= b.len() || b.get(i + 1) != Some(&b'(') {
        return None;
    }
    let close = s[i + 2..].find(')')? + i + 2;
    let target = &s[i + 2..close];
    if target.is_empty() || target.contains(char::is_whitespace) {
        return None;
    }
    Some((&s[1..i], target, close + 1))
}

fn unescape(s: &str) -> Cow<'_, str> {
    if s.contains('\\') {
        Cow::Owned(s.replace("\\[", "[").replace("\\]", "]"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `path:line` (or `path`) of a related location.
fn where_(r: &Related, artifact: &dyn Fn(i64) -> Option<String>) -> Option<String> {
    let uri = r.uri.clone().or_else(|| r.artifact_index.and_then(artifact))?;
    Some(match r.line {
        Some(n) => format!("{uri}:{n}"),
        None => uri,
    })
}

/// Whether a message is a block of `Key: value` lines (Trivy's `Package: …` /
/// `Installed Version: …`): data about the instance, not a sentence to title it with.
pub(crate) fn is_key_value_block(text: &str) -> bool {
    let is_key = |line: &str| {
        line.split_once(": ").is_some_and(|(key, _)| {
            !key.is_empty() && key.len() <= 40 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        })
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    // The first line is a `Key: value` line, and so is at least one more.
    lines.next().is_some_and(is_key) && lines.any(is_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_and_escaped_braces() {
        // The SARIF 2.1.0 §3.11.5 example shape.
        let (s, missing) = format("Variable \"{0}\" was used without being initialized.", &args(&["x"]));
        assert_eq!((s.as_str(), missing), ("Variable \"x\" was used without being initialized.", 0));
        let (s, _) = format("{1} then {0}, {{literal}} and }}", &args(&["a", "b"]));
        assert_eq!(s, "b then a, {literal} and }");
        let (s, missing) = format("{0} and {3} and {x} and {", &args(&["a"]));
        assert_eq!((s.as_str(), missing), ("a and {3} and {x} and {", 1));
        let (s, _) = format("é{0}ü", &args(&["ß"]));
        assert_eq!(s, "éßü");
    }

    #[test]
    fn placeholder_detection() {
        assert!(has_placeholder("Variable `{name}` is shadowing a Python builtin"));
        assert!(has_placeholder("{0} is unused"));
        assert!(!has_placeholder("a {{literal}} brace"));
        assert!(!has_placeholder("code { x } and {} and {a b}"));
        assert!(!has_placeholder("trailing {"));
    }

    #[test]
    fn links_become_locations() {
        let related = vec![
            Related { id: 1, uri: Some("src/a.js".into()), artifact_index: None, line: Some(12) },
            Related { id: 2, uri: None, artifact_index: Some(0), line: None },
            Related { id: 0, uri: Some("b.js".into()), artifact_index: None, line: Some(4) },
        ];
        let artifact = |i: i64| (i == 0).then(|| "lib/x.js".to_string());
        let t = plain_links("This [regular expression](1) that depends on [a value](2).", &related, &artifact);
        assert_eq!(t, "This regular expression (src/a.js:12) that depends on a value (lib/x.js).");
        // jscpd's link text already is the location.
        let t = plain_links("duplicated at [b.js:4](0)", &related, &artifact);
        assert_eq!(t, "duplicated at b.js:4");
        let t =
            plain_links("see [docs](https://example.com/x) and [gone](9) and \\[not a link\\]", &related, &artifact);
        assert_eq!(t, "see docs (https://example.com/x) and gone and [not a link]");
        assert!(matches!(plain_links("no links [here]", &related, &artifact), Cow::Borrowed(_)));
        assert_eq!(plain_links("[a [b](1)", &related, &artifact), "[a b (src/a.js:12)");
    }

    #[test]
    fn key_value_blocks() {
        assert!(is_key_value_block(
            "Package: musl\nInstalled Version: 1.1\nVulnerability CVE-2019-1549\nSeverity: HIGH\n"
        ));
        assert!(!is_key_value_block("Variable `x` is unused"));
        assert!(!is_key_value_block("Note: one line"));
    }
}

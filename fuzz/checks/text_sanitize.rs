//! What the `text_sanitize` fuzz target checks.
//!
//! The one sanitizer for human-facing report text (`scangate_core::text::sanitize`) on any
//! input, in its three forms, never a panic: no control character (but `\n` and tab in the
//! multi-line form), escape sequence, bidi control or invisible format character survives; the
//! one-line and Markdown forms have no line break or tab; the multi-line and one-line forms are
//! idempotent and never longer than their input; printable ASCII passes both unchanged; the
//! Markdown form reads, once its escapes are undone the way a renderer reads them, as the
//! one-line form (no text lost), and has no raw `<`, `>` nor an unescaped `[`, `]`, `` ` ``, `|`.

use scangate_core::text::{is_unsafe_char, markdown_rendered, sanitize, Form};

/// Runs the sanitizer on `data` (as UTF-8, invalid bytes replaced) and checks it. Returns how
/// many characters each form kept.
pub(crate) fn check(data: &[u8]) -> Result<String, String> {
    let input = String::from_utf8_lossy(data);
    let text = sanitize(&input, Form::Text);
    let line = sanitize(&input, Form::Line);
    let md = sanitize(&input, Form::Markdown);
    for (form, out) in [("text", &text), ("line", &line), ("markdown", &md)] {
        if let Some(c) = out.chars().find(|&c| is_unsafe_char(c)) {
            panic!("{form}: U+{:04X} survived in {out:?} from {input:?}", c as u32);
        }
    }
    assert!(!line.contains(['\n', '\t', '\r']), "line form has a break: {line:?}");
    assert!(!md.contains(['\n', '\t', '\r', '<', '>']), "markdown form: {md:?}");
    for (form, once) in [(Form::Text, &text), (Form::Line, &line)] {
        assert_eq!(sanitize(once, form), once.as_ref(), "{form:?} is not idempotent on {input:?}");
        assert!(once.chars().count() <= input.chars().count(), "{form:?} lengthened {input:?}");
    }
    if input.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        assert_eq!(text, input, "printable ASCII changed (text)");
        assert_eq!(line, input, "printable ASCII changed (line)");
    }
    assert_eq!(markdown_rendered(&md), line.as_ref(), "markdown lost text of {input:?}");
    let mut escaped = false;
    for c in md.chars() {
        assert!(escaped || !matches!(c, '[' | ']' | '`' | '|'), "unescaped {c:?} in {md:?}");
        escaped = !escaped && c == '\\';
    }
    Ok(format!("text {} line {} markdown {}", text.chars().count(), line.chars().count(), md.chars().count()))
}

//! The one sanitizer for human-facing text taken from a report or its metadata (titles,
//! descriptions, rule ids, package names, paths, targets, scanner names, verdict reasons):
//! whatever a scanned repository or the uploader of a report put there, the text that
//! reaches a terminal, a CodeBuild or CloudWatch log, a CodePipeline message, the Security
//! Hub console, a JUnit report or `summary.md` cannot drive a terminal, hide or reorder what
//! a reader sees, or plant a link.
//!
//! What is replaced, each by one U+FFFD (`�`, so a reader sees that something was there):
//!
//! - a terminal escape sequence as a whole: CSI (`ESC [` or U+009B, parameters, intermediates,
//!   final byte), OSC, DCS, SOS, PM and APC strings (`ESC ]` … up to BEL or ST; an unterminated
//!   one loses only its introducer), and the two- or three-character `ESC` sequences
//!   (`ESC 7`, `ESC ( B`, `ESC c` …);
//! - every other C0 control (but tab and line breaks, below), DEL, and the C1 controls
//!   U+0080–U+009F;
//! - Unicode bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C:
//!   the "trojan source" class) and invisible format characters that can hide or smuggle text
//!   (U+00AD, U+180E, U+200B, U+2060–U+2064, U+206A–U+206F, U+FEFF, U+FFF9–U+FFFB, tag
//!   characters U+E0000–U+E007F). Zero-width joiners (U+200C, U+200D) and variation selectors
//!   stay: scripts and emoji need them and they cannot reorder or hide text.
//!
//! Line breaks (`\r\n`, a lone `\r`, NEL U+0085, U+2028, U+2029) become `\n` in
//! [`Form::Text`] (a lone CR would let a line overwrite itself in a terminal), and a space in
//! [`Form::Line`] and [`Form::Markdown`], like tabs. [`Form::Markdown`] also escapes what
//! could make a link, an image, raw HTML or a table break in a Markdown table cell or list
//! line: `\` `` ` `` `[` `]` `|` are backslash-escaped, `<` and `>` become `&lt;` and `&gt;`,
//! `&` before a letter, digit or `#` is escaped (no entity reference), and the `:` of
//! `http://`, `https://`, `ftp://` and the `.` of `www.` are escaped so no extended autolink
//! forms (an e-mail address may still be linked: its text is its target). The text itself is
//! kept: rendered, the cell reads as the [`Form::Line`] text.
//!
//! The sanitizer never adds characters in [`Form::Text`] and [`Form::Line`] (so a text cut to
//! a limit first stays within it), is idempotent in those forms, and returns its input
//! borrowed when nothing needed changing, which is the case for printable ASCII (and all
//! ordinary text) in [`Form::Text`] and [`Form::Line`]. It is applied where text leaves
//! scangate, never to what identifies a finding: deduplication and lifecycle keys, finding
//! ids and object keys are computed from the report as read.

use std::borrow::Cow;

/// What replaces each removed control character, escape sequence or invisible character.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Where the sanitized text goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Multi-line text (ASFF descriptions, JUnit messages, a Markdown document printed to a
    /// log): keeps `\n` and tab.
    Text,
    /// One line (a table cell, a log line, a verdict reason, a CodePipeline message or output
    /// variable): line breaks and tabs become spaces.
    Line,
    /// One line inside a Markdown table cell or list item (`summary.md`): [`Form::Line`] plus
    /// escaping of links, images, autolinks, raw HTML, code spans and table pipes.
    Markdown,
}

/// Multi-line form: [`sanitize`] with [`Form::Text`].
pub fn display_text(s: &str) -> Cow<'_, str> {
    sanitize(s, Form::Text)
}

/// One-line form: [`sanitize`] with [`Form::Line`].
pub fn display_line(s: &str) -> Cow<'_, str> {
    sanitize(s, Form::Line)
}

/// Markdown-cell form: [`sanitize`] with [`Form::Markdown`].
pub fn markdown_inline(s: &str) -> Cow<'_, str> {
    sanitize(s, Form::Markdown)
}

/// Whether `c` is never let through by [`sanitize`]: a control character other than `\n`
/// and `\t`, a bidirectional control, or an invisible format character (the list in the
/// module documentation).
pub fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_or_invisible(c)
}

fn is_bidi_or_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}')
}

/// Whether `c` passes through `form` unchanged (in Markdown, context aside: `:` and `.` are
/// checked where they follow a scheme or `www`).
fn passes(c: char, form: Form) -> bool {
    match form {
        Form::Text => c == '\n' || c == '\t' || !(is_unsafe_char(c) || is_line_break(c)),
        Form::Line => !(is_unsafe_char(c) || is_line_break(c) || c == '\t'),
        Form::Markdown => {
            !(is_unsafe_char(c)
                || is_line_break(c)
                || matches!(c, '\t' | '\\' | '`' | '[' | ']' | '|' | '<' | '>' | '&' | ':' | '.'))
        }
    }
}

/// Sanitizes `s` for `form` (see the module documentation). Borrowed when nothing changed.
pub fn sanitize(s: &str, form: Form) -> Cow<'_, str> {
    let Some(first) = first_change(s, form) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    let mut rest = &s[first..];
    while let Some(c) = rest.chars().next() {
        let (consumed, emit) = step(rest, c);
        rest = &rest[consumed..];
        match emit {
            // An entity reference (`&lt;`, `&#91;`) would show as another character.
            Emit::Char('&')
                if form == Form::Markdown && rest.starts_with(|n: char| n.is_ascii_alphanumeric() || n == '#') =>
            {
                out.push_str("\\&")
            }
            Emit::Char(c) => push(&mut out, c, form),
            Emit::Replacement => out.push(REPLACEMENT),
            Emit::LineBreak => out.push(if form == Form::Text { '\n' } else { ' ' }),
        }
        if form != Form::Markdown {
            // What passes unchanged up to the next change is copied as a whole (in these
            // forms a passing character is pushed as it is, one at a time, by the steps).
            let n = first_change(rest, form).unwrap_or(rest.len());
            out.push_str(&rest[..n]);
            rest = &rest[n..];
        }
    }
    if form == Form::Markdown {
        let escaped = escape_autolinks(&out);
        if let Cow::Owned(e) = escaped {
            out = e;
        }
    }
    if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    }
}

/// The byte offset of the first character that does not pass `form` unchanged: what
/// `s.char_indices().find(|(_, c)| !passes(c, form))` gives, with ASCII decided per byte
/// (nearly all report text is ASCII, and every text field of every finding comes here).
fn first_change(s: &str, form: Form) -> Option<usize> {
    let ascii_passes = |b: u8| match form {
        Form::Text => (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t',
        Form::Line => (0x20..0x7f).contains(&b),
        Form::Markdown => {
            (0x20..0x7f).contains(&b)
                && !matches!(b, b'\\' | b'`' | b'[' | b']' | b'|' | b'<' | b'>' | b'&' | b':' | b'.')
        }
    };
    // In the block test below: line breaks and tabs pass in the text form.
    let text = form == Form::Text;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Sixteen bytes at a time (branch-free, so the compiler vectorizes it): printable
        // ASCII, and bytes of characters that pass (see `may_change`); a block with anything
        // else is decided byte by byte below. A block can end inside a character: the rest
        // of it is then continuation bytes of a character that passes.
        if form != Form::Markdown {
            while let Some(block) = bytes.get(i..i + 16) {
                let passing = |b: u8| {
                    (b.wrapping_sub(0x20) < 0x5f)
                        | (text & ((b == b'\n') | (b == b'\t')))
                        | ((b >= 0x80) & !may_change(b))
                };
                if !block.iter().fold(true, |all, &b| all & passing(b)) {
                    break;
                }
                i += 16;
            }
            if i >= bytes.len() {
                break;
            }
        }
        let b = bytes[i];
        if b < 0x80 {
            if !ascii_passes(b) {
                return Some(i);
            }
            i += 1;
            continue;
        }
        if form != Form::Markdown && b < 0xC0 {
            // A continuation byte after a block: its character started there, and passes.
            i += 1;
            continue;
        }
        // `i` is a char boundary: only whole characters are stepped over.
        let c = s.get(i..).and_then(|rest| rest.chars().next())?;
        if !passes(c, form) {
            return Some(i);
        }
        i += c.len_utf8();
    }
    None
}

/// Whether `b` is the UTF-8 lead byte of a character that may not pass: every non-ASCII
/// character [`passes`] refuses (C1 controls and U+0085: lead C2; U+061C: D8; U+180E: E1;
/// U+200B–U+206F: E2; U+FEFF, U+FFF9–U+FFFB: EF; U+E0000–U+E007F: F3) starts with one of
/// these; a character that starts with any other byte passes in every form.
#[inline]
fn may_change(b: u8) -> bool {
    (b == 0xC2) | (b == 0xD8) | (b == 0xE1) | (b == 0xE2) | (b == 0xEF) | (b == 0xF3)
}

enum Emit {
    Char(char),
    Replacement,
    LineBreak,
}

/// The bytes of `rest` (which starts with `c`) consumed by one step, and what they become.
fn step(rest: &str, c: char) -> (usize, Emit) {
    let len = c.len_utf8();
    match c {
        '\r' => {
            let n = if rest[1..].starts_with('\n') { 2 } else { 1 };
            (n, Emit::LineBreak)
        }
        '\n' | '\u{0085}' | '\u{2028}' | '\u{2029}' => (len, Emit::LineBreak),
        '\t' => (1, Emit::Char('\t')),
        '\u{1b}' => (escape_len(rest), Emit::Replacement),
        '\u{9b}' => (len + csi_body_len(&rest[len..]), Emit::Replacement),
        '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => {
            (len + string_body_len(&rest[len..]), Emit::Replacement)
        }
        c if is_unsafe_char(c) => (len, Emit::Replacement),
        c => (len, Emit::Char(c)),
    }
}

/// The length of the escape sequence `ESC …` at the start of `s` (at least the ESC).
fn escape_len(s: &str) -> usize {
    let b = s.as_bytes();
    match b.get(1) {
        Some(b'[') => 2 + csi_body_len(&s[2..]),
        Some(b']' | b'P' | b'X' | b'^' | b'_') => 2 + string_body_len(&s[2..]),
        Some(0x20..=0x2F) => {
            // nF: intermediates, then one final byte 0x30–0x7E.
            let mut i = 1;
            while matches!(b.get(i), Some(0x20..=0x2F)) {
                i += 1;
            }
            if matches!(b.get(i), Some(0x30..=0x7E)) {
                i + 1
            } else {
                i
            }
        }
        // Fp, Fe, Fs: one final byte.
        Some(0x30..=0x7E) => 2,
        _ => 1,
    }
}

/// The length of a control sequence's body after its introducer: parameter bytes
/// 0x30–0x3F, intermediate bytes 0x20–0x2F, and a final byte 0x40–0x7E when there is one.
fn csi_body_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while matches!(b.get(i), Some(0x30..=0x3F)) {
        i += 1;
    }
    while matches!(b.get(i), Some(0x20..=0x2F)) {
        i += 1;
    }
    if matches!(b.get(i), Some(0x40..=0x7E)) {
        i + 1
    } else {
        i
    }
}

/// The length of a command string's body (OSC, DCS, SOS, PM, APC) up to and including its
/// terminator (BEL, `ESC \` or U+009C), or 0 when it is not terminated before the next
/// other control character or the end: then only the introducer is replaced and the rest is
/// sanitized as text. So each character is looked at a bounded number of times.
fn string_body_len(s: &str) -> usize {
    for (i, c) in s.char_indices() {
        match c {
            '\u{7}' => return i + 1,
            '\u{9c}' => return i + c.len_utf8(),
            '\u{1b}' if s[i + 1..].starts_with('\\') => return i + 2,
            c if c.is_control() => return 0,
            _ => {}
        }
    }
    0
}

fn push(out: &mut String, c: char, form: Form) {
    match (form, c) {
        (Form::Line | Form::Markdown, '\t') => out.push(' '),
        (Form::Markdown, '\\' | '`' | '[' | ']' | '|') => {
            out.push('\\');
            out.push(c);
        }
        (Form::Markdown, '<') => out.push_str("&lt;"),
        (Form::Markdown, '>') => out.push_str("&gt;"),
        _ => out.push(c),
    }
}

/// Escapes the `:` of `http://`, `https://`, `ftp://` (any case) and the `.` of `www.` where
/// it starts a word (GitHub's extended autolinks), so a bare URL stays text. `s3://` and other
/// schemes are not autolinked and stay as they are.
fn escape_autolinks(s: &str) -> Cow<'_, str> {
    if !s.contains("://") && !s.to_ascii_lowercase().contains("www.") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let b = s.as_bytes();
    let mut last = 0;
    for i in 0..b.len() {
        let scheme = |name: &[u8]| i >= name.len() && b[i - name.len()..i].eq_ignore_ascii_case(name);
        let at = if b[i..].starts_with(b"://") && (scheme(b"http") || scheme(b"https") || scheme(b"ftp")) {
            Some(i)
        } else if b.len() - i >= 4
            && b[i..i + 4].eq_ignore_ascii_case(b"www.")
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'.' | b'-' | b'/' | b'@')))
        {
            Some(i + 3)
        } else {
            None
        };
        if let Some(at) = at {
            out.push_str(&s[last..at]);
            out.push('\\');
            last = at;
        }
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// The text a Markdown renderer shows for [`markdown_inline`]'s output: `\x` read as `x`,
/// `&lt;` and `&gt;` as `<` and `>`. The sanitizer's tests and its fuzz target check that
/// this equals the one-line form (no text lost to the escaping).
pub fn markdown_rendered(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut rest = md;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("&lt;") {
            out.push('<');
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix("&gt;") {
            out.push('>');
            rest = r;
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c == '\\' {
            if let Some(n) = rest.chars().next() {
                out.push(n);
                rest = &rest[n.len_utf8()..];
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ESC: &str = "\u{1b}";

    #[test]
    fn printable_ascii_and_ordinary_text_are_borrowed() {
        for s in ["", "openssl 3.0.4 → 3.0.5", "CVE-2024-1234: héllo wörld 日本 👍🏽", "a b\tc"] {
            assert!(matches!(display_text(s), Cow::Borrowed(_)), "{s:?}");
        }
        assert!(matches!(display_line("pkg:npm/left-pad@1.0 src/app.js:12"), Cow::Borrowed(_)));
        assert!(matches!(markdown_inline("openssl 3.0.4 (fixed in 3.0.5)"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_sequences_go_as_a_whole() {
        let table = [
            // (input, Line form)
            (format!("{ESC}[31mred{ESC}[0m"), "�red�"),
            (format!("{ESC}[2J{ESC}[1;1HPASSED"), "��PASSED"),
            (format!("{ESC}[?1049h"), "�"),
            ("\u{9b}31mred".to_string(), "�red"),
            (format!("{ESC}]8;;https://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\"), "�click�"),
            (format!("{ESC}]0;title\u{7}after"), "�after"),
            (format!("{ESC}]52;c;ZXZpbA==\u{9c}x"), "�x"),
            (format!("{ESC}Pq#0;2;0;0;0{ESC}\\sixel"), "�sixel"),
            // Unterminated: only the introducer goes, the text stays (and is sanitized).
            (format!("{ESC}]0;no end"), "�0;no end"),
            (format!("{ESC}]0;stop{ESC}[1mbold"), "�0;stop�bold"),
            (format!("{ESC}(B{ESC}7{ESC}c{ESC}"), "����"),
            (format!("{ESC}é"), "�é"),
            (
                "bell\u{7} back\u{8}space del\u{7f} nul\u{0} c1\u{85}\u{90}x".to_string(),
                "bell� back�space del� nul� c1 �x",
            ),
        ];
        for (input, want) in table {
            assert_eq!(display_line(&input), want, "{input:?}");
        }
    }

    #[test]
    fn line_breaks_per_form() {
        let s = "one\r\ntwo\rthree\nfour\u{2028}five\tsix";
        assert_eq!(display_text(s), "one\ntwo\nthree\nfour\nfive\tsix");
        assert_eq!(display_line(s), "one two three four five six");
        // A carriage return can no longer overwrite "FAILED" with "PASSED".
        assert_eq!(display_line("FAILED\rPASSED"), "FAILED PASSED");
    }

    #[test]
    fn bidi_and_invisible_characters() {
        // The trojan-source pattern: RLO makes "deny" read backwards in an editor or console.
        let s = "access\u{202E}ynned\u{202C} \u{2066}x\u{2069} a\u{200B}b soft\u{AD}hyphen tag\u{E0041}";
        assert_eq!(display_line(s), "access�ynned� �x� a�b soft�hyphen tag�");
        // Joiners and variation selectors are kept.
        let emoji = "👩\u{200D}💻 ❤\u{FE0F} نامه\u{200C}ای";
        assert_eq!(display_line(emoji), emoji);
    }

    #[test]
    fn markdown_neutralizes_links_images_html_and_tables() {
        let table = [
            ("[click here](https://evil.example)", "\\[click here\\](https\\://evil.example)"),
            ("![x](https://evil.example/t.png)", "!\\[x\\](https\\://evil.example/t.png)"),
            ("<https://evil.example>", "&lt;https\\://evil.example&gt;"),
            ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
            ("a|b", "a\\|b"),
            ("a\\|b", "a\\\\\\|b"),
            ("`code`", "\\`code\\`"),
            ("see www.evil.example or HTTP://x", "see www\\.evil.example or HTTP\\://x"),
            ("s3://bucket/key and git+ssh://h/r", "s3://bucket/key and git+ssh://h/r"),
            ("line\nbreak", "line break"),
            ("[ref]: https://evil.example", "\\[ref\\]: https\\://evil.example"),
            ("not.a.www.link", "not.a.www.link"),
            ("AT&T &lt;b&gt; &#91;x&#93; R & D", "AT\\&T \\&lt;b\\&gt; \\&#91;x\\&#93; R & D"),
        ];
        for (input, want) in table {
            assert_eq!(markdown_inline(input), want, "{input:?}");
        }
    }

    fn hostile_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[ -~]{0,12}",
            Just(ESC.to_string()),
            Just("\u{9b}".to_string()),
            Just("\u{9d}".to_string()),
            Just("\u{9c}".to_string()),
            Just("[".to_string()),
            Just("]8;;".to_string()),
            Just("\\".to_string()),
            Just("\u{7}".to_string()),
            Just("\r\n".to_string()),
            Just("\u{202E}".to_string()),
            Just("\u{2067}".to_string()),
            Just("\u{200B}".to_string()),
            Just("https://".to_string()),
            Just("www.".to_string()),
            Just("<".to_string()),
            Just("&lt;".to_string()),
            Just("&#91;".to_string()),
            any::<char>().prop_map(String::from),
            Just("é 🚀 脆弱性\tnaïve\n".to_string()),
            Just("\u{85}\u{ad}\u{61c}\u{180e}\u{feff}\u{fffa}\u{e0001}".to_string()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    /// Every character, at each place in a sixteen-byte block (and so inside or across the
    /// blocks the fast scan tests at once): the first change is found where the per-character
    /// definition puts it.
    #[test]
    fn first_change_of_every_character() {
        let mut s = String::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            for pad in [0usize, 14] {
                s.clear();
                s.extend(std::iter::repeat_n('x', pad).chain([c, 'é']).chain(std::iter::repeat_n('y', 16)));
                for form in [Form::Text, Form::Line] {
                    let expected = (!passes(c, form)).then_some(pad);
                    assert_eq!(first_change(&s, form), expected, "{c:?} {pad} {form:?}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn no_unsafe_character_survives(s in hostile_text()) {
            for form in [Form::Text, Form::Line, Form::Markdown] {
                let out = sanitize(&s, form);
                prop_assert!(!out.chars().any(is_unsafe_char), "{form:?} {s:?} -> {out:?}");
                if form != Form::Text {
                    prop_assert!(!out.contains(['\n', '\t']), "{form:?} {s:?} -> {out:?}");
                }
            }
        }

        #[test]
        fn text_and_line_forms_are_idempotent_and_never_longer(s in hostile_text()) {
            for form in [Form::Text, Form::Line] {
                let once = sanitize(&s, form).into_owned();
                let twice = sanitize(&once, form).into_owned();
                prop_assert_eq!(twice, once.clone());
                prop_assert!(once.chars().count() <= s.chars().count());
            }
        }

        /// The per-byte scan finds the same first character as the plain per-character one.
        #[test]
        fn first_change_matches_the_per_character_scan(s in hostile_text()) {
            for form in [Form::Text, Form::Line, Form::Markdown] {
                let plain = s.char_indices().find(|&(_, c)| !passes(c, form)).map(|(i, _)| i);
                prop_assert_eq!(first_change(&s, form), plain, "{:?} {:?}", form, s);
            }
        }

        #[test]
        fn printable_ascii_is_unchanged(s in "[ -~]{0,64}") {
            prop_assert!(matches!(display_text(&s), Cow::Borrowed(_)));
            prop_assert!(matches!(display_line(&s), Cow::Borrowed(_)));
        }

        #[test]
        fn markdown_keeps_the_text_of_the_line_form(s in hostile_text()) {
            let line = display_line(&s).into_owned();
            let md = markdown_inline(&s).into_owned();
            prop_assert_eq!(markdown_rendered(&md), line);
            // No raw HTML tag or autolink can open, no unescaped link bracket or table pipe.
            prop_assert!(!md.contains('<') && !md.contains('>'));
            let mut escaped = false;
            for c in md.chars() {
                if !escaped {
                    prop_assert!(!matches!(c, '[' | ']' | '|' | '`'), "{:?}", md);
                }
                escaped = !escaped && c == '\\';
            }
        }
    }
}

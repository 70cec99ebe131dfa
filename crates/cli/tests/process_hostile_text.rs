//! Terminal and log injection through report text, performed end to end: `scangate process` on
//! `tests/fixtures/hostile-text.sarif` (terminal escape sequences, OSC 8 hyperlinks, carriage
//! returns, BEL, backspace, DEL, C1 controls, bidi overrides, invisible characters, Markdown
//! links, images and HTML in every text field) with every output: the table, `--format json`,
//! `--verdict`, `--junit`, `--asff`, `--summary`, and standard error. None of them may carry a
//! control character (but line breaks and tabs where a text has lines), an escape sequence or a
//! bidi control, and `summary.md` may not carry a link, an image or raw HTML. The text itself
//! must still be there, with U+FFFD where something was taken out.

use scangate_core::text::is_unsafe_char;
use scangate_testkit::fixtures;
use std::process::{Command, Output, Stdio};

fn scangate(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scangate"));
    for var in ["MAX_CRITICAL", "MAX_HIGH", "MAX_MEDIUM", "MAX_LOW", "FAIL_ON_POLICY_DENY", "FAIL_ON_POLICY_AUDIT"] {
        cmd.env_remove(var);
    }
    cmd.args(args).stdin(Stdio::null()).output().expect("run scangate")
}

fn utf8(b: &[u8], what: &str) -> String {
    String::from_utf8(b.to_vec()).unwrap_or_else(|e| panic!("{what} is not UTF-8: {e}"))
}

/// No unsafe character in `text`; `\n` and `\t` only where `lines` (the JSON and XML files
/// are multi-line documents; the table and summary lines are checked by [`assert_lines`]).
fn assert_clean(what: &str, text: &str) {
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| is_unsafe_char(c)) {
        let from = text[..i].char_indices().rev().nth(40).map_or(0, |(j, _)| j);
        panic!("{what}: {c:?} (U+{:04X}) at byte {i}, after {:?}", c as u32, &text[from..i]);
    }
}

/// Every string value of a JSON document, recursively.
fn json_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k);
            json_strings(x, out)
        }),
        _ => {}
    }
}

/// The decoded strings of a JSON document are clean: one line each unless `multiline` (ASFF
/// descriptions and remediation keep their line breaks; titles are checked apart).
fn assert_json_clean(what: &str, doc: &str, multiline: bool) {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    assert_clean(what, doc);
    let mut strings = Vec::new();
    json_strings(&v, &mut strings);
    assert!(!strings.is_empty(), "{what}: no strings");
    for s in strings {
        assert_clean(&format!("{what}: value {s:?}"), s);
        assert!(multiline || !s.contains(['\n', '\t']), "{what}: a line break in {s:?}");
    }
}

/// Numeric character references to control characters (`&#27;`, `&#x1b;`) would decode into
/// what the sanitizer took out.
fn assert_no_control_references(what: &str, xml: &str) {
    for (i, _) in xml.match_indices("&#") {
        let rest = &xml[i + 2..];
        let end = rest.find(';').unwrap_or(rest.len());
        let code = match rest.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(&hex[..end - 1], 16),
            None => rest[..end].parse(),
        };
        let c = code.ok().and_then(char::from_u32);
        assert!(!c.is_some_and(|c| is_unsafe_char(c) || c == '\r'), "{what}: reference {:?}", &xml[i..i + 2 + end + 1]);
    }
}

#[test]
fn hostile_report_text_leaves_no_escape_in_any_output() {
    let dir = tempfile::tempdir().expect("tmp dir");
    let path = |name: &str| dir.path().join(name).to_str().expect("utf8").to_string();
    let (asff, junit, verdict, summary) =
        (path("asff.json"), path("junit.xml"), path("verdict.json"), path("summary.md"));
    let gitlab = path("gl-container-scanning-report.json");
    let fixture = fixtures::path("hostile-text.sarif");
    let fixture = fixture.to_str().expect("utf8");
    let files = [
        "--asff",
        &asff,
        "--junit",
        &junit,
        "--verdict",
        &verdict,
        "--summary",
        &summary,
        "--gitlab-report",
        &gitlab,
        "--timestamp",
        "2026-12-06T21:00:00Z",
    ];

    // The table (what a terminal or the CodeBuild log shows), with every output file.
    let mut args = vec!["process", "--worst", "50"];
    args.extend(files);
    args.push(fixture);
    let table = scangate(&args);
    assert_eq!(table.status.code(), Some(42), "{}", String::from_utf8_lossy(&table.stderr));
    let stdout = utf8(&table.stdout, "the table");
    let stderr = utf8(&table.stderr, "standard error");
    for line in stdout.lines() {
        assert_clean("the table", line);
        assert!(!line.contains('\t'), "the table: a tab in {line:?}");
    }
    assert_clean("standard error", &stderr);
    // The text is still there, and the reader sees that something was taken out.
    // A title is the result's message, its first line (a carriage return ends it), clipped.
    assert!(stdout.contains("Qualys advisory") && stdout.contains("AWS key in config"), "{stdout}");
    assert!(stdout.contains('\u{FFFD}'), "{stdout}");
    assert!(stdout.contains("the scan did not complete: ") && stdout.contains("engine failed"), "{stdout}");
    assert!(stdout.contains("Verdict: FAILED"), "{stdout}");

    // --gitlab-report: every string on one line and clean; GitLab renders descriptions and
    // solutions as Markdown, so no link, image or HTML can form there from report text.
    let gl_doc = std::fs::read_to_string(&gitlab).expect("--gitlab-report written");
    assert_json_clean("--gitlab-report", &gl_doc, false);
    let gl: serde_json::Value = serde_json::from_str(&gl_doc).expect("json");
    let vulns = gl["vulnerabilities"].as_array().expect("vulnerabilities");
    assert!(!vulns.is_empty());
    for v in vulns {
        for field in ["description", "solution"] {
            let Some(md) = v[field].as_str() else { continue };
            assert!(!md.contains('<') && !md.contains("http://") && !md.contains("https://"), "{field}: {md}");
            for (i, c) in md.char_indices() {
                if matches!(c, '[' | ']' | '`') {
                    assert!(md[..i].ends_with('\\'), "{field}: unescaped {c:?} in {md:?}");
                }
            }
        }
        assert!(v.get("links").is_none_or(|l| l.to_string().chars().all(|c| !is_unsafe_char(c))));
    }
    assert_eq!(gl["scan"]["status"], "failure", "the scanner said the scan did not complete");

    // --format json: the verdict on standard output, the same as --verdict.
    let json = scangate(&["process", "--format", "json", "--timestamp", "2026-12-06T21:00:00Z", fixture]);
    assert_eq!(json.status.code(), Some(42));
    let printed = utf8(&json.stdout, "--format json");
    assert_json_clean("--format json", &printed, false);
    let written = std::fs::read_to_string(&verdict).expect("verdict.json");
    assert_json_clean("--verdict", &written, false);
    let v: serde_json::Value = serde_json::from_str(&written).expect("verdict");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(reasons.iter().any(|r| r.as_str().is_some_and(|r| r.contains("scan completed OK"))), "{reasons:?}");
    assert!(v["target"].as_str().is_some_and(|t| t.starts_with("shop/web")), "{v}");

    // --asff: every string of every finding; descriptions and remediation may keep their lines.
    let asff_doc = std::fs::read_to_string(&asff).expect("asff.json");
    assert_json_clean("--asff", &asff_doc, true);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&asff_doc).expect("array");
    assert_eq!(findings.len(), 2, "{asff_doc}");
    for f in &findings {
        let title = f["Title"].as_str().expect("title");
        // A carriage return became a line break (ASFF text keeps its lines), never a CR that
        // lets "libssl" overwrite "PASSED".
        assert!(!title.contains('\r') && title.contains('\u{FFFD}'), "{title:?}");
        // The finding's identity is computed from the report as read, not from the cleaned text.
        assert!(f["Id"].as_str().is_some_and(|id| id.len() > 64 && id.is_ascii()), "{f}");
    }

    // --junit: valid XML text, no control character raw or as a reference.
    let xml = std::fs::read_to_string(&junit).expect("junit.xml");
    assert_clean("--junit", &xml);
    assert_no_control_references("--junit", &xml);
    assert!(xml.contains("PASSED") && xml.contains('\u{FFFD}'), "{xml}");

    // --summary: clean, and no link, image, autolink or HTML can form from report text.
    let md = std::fs::read_to_string(&summary).expect("summary.md");
    for line in md.lines() {
        assert_clean("--summary", line);
    }
    assert!(!md.contains('<') && !md.contains('\t'), "{md}");
    for pattern in ["![", "[click]", "https://evil", "www.evil", "`code`"] {
        assert!(!md.contains(pattern), "--summary holds {pattern:?}:\n{md}");
    }
    // Report text is in the worst-findings table and the list lines: no unescaped bracket,
    // backtick or pipe of its own (the table's own pipes are outside the cells).
    for line in md.lines().filter(|l| l.contains('\u{FFFD}')) {
        let cells = line.trim_start_matches("- ").trim_matches('|');
        let mut escaped = false;
        let mut unescaped_pipes = 0;
        for c in cells.chars() {
            if !escaped {
                assert!(!matches!(c, '[' | ']' | '`'), "--summary: unescaped {c:?} in {line:?}");
                unescaped_pipes += usize::from(c == '|');
            }
            escaped = !escaped && c == '\\';
        }
        assert!(unescaped_pipes <= 4, "--summary: a cell broke the table: {line:?}");
    }
    // The message's link is plain text by the time it is a title ("click (url)"), its URL no autolink.
    assert!(md.contains("click (https\\://evil.example/x)"), "the link's text is kept, escaped:\n{md}");
    assert!(!md.contains("](http"), "no Markdown link survives:\n{md}");
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt;"), "{md}");
}

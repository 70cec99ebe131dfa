//! The document driver: a small streaming scanner for the outer structure of a SARIF log
//! (log object → `runs` → each run → `results`), which cuts out each value scangate needs
//! (one result, the tool, the artifacts, the run properties) and hands its bytes to
//! `serde_json::from_slice` with the typed bodies of [`super::parse`].
//!
//! Why not `serde_json::from_reader` for everything: its reader goes byte by byte through
//! `io::Bytes` and copies every string into a scratch buffer, which made the reader four times
//! slower than a plain `IgnoredAny` pass. Here the scanner only tracks strings and bracket
//! depth, bytes are copied in bulk, and each value is parsed from a slice (strings are scanned
//! in bulk and borrowed). Memory: the buffer, plus the largest single value cut out (one result,
//! the tool with its rules, or an unknown key's value, which is validated and dropped).
//!
//! Every value cut out is fully parsed or validated by serde_json, so a document this driver
//! accepts is valid JSON; errors carry the line and column in the whole document.

use super::build::{self, RunState};
use super::held;
use super::lenient::{Arr, Obj, Scalar, Shape};
use super::parse::{ArtifactsBody, LenientResult, ResultBody, RunPropsBody, ToolBody};
use super::{short, Ctx, SUPPORTED_VERSION};
use serde::de::{DeserializeSeed, IgnoredAny};
use std::io::{self, Read};

const BUF: usize = 64 * 1024;

/// Why reading stopped.
pub(crate) enum Stop {
    Io(io::Error),
    /// Writing the findings' spill failed.
    Spill(io::Error),
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    NotSarif {
        path: String,
        message: String,
    },
    /// Over [`super::ReadLimits::max_held_bytes`]: what, and the limit.
    TooLarge {
        what: String,
        limit: u64,
    },
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Io(e)
    }
}

/// A position in the document: 1-based line and column (bytes, as serde_json counts).
#[derive(Clone, Copy, Debug)]
struct Pos {
    line: usize,
    column: usize,
}

/// Where a captured value's bytes are.
#[derive(Clone, Copy, Debug)]
enum Cap {
    /// `buf[a..b]`, valid until the scanner reads on.
    InBuf(usize, usize),
    /// In the caller's `out` buffer.
    Copied,
}

/// The next `"` or `\\` at or after `from`: a short scalar look first (most strings are short
/// keys and values), then `memchr2`.
fn find_quote_or_backslash(buf: &[u8], from: usize) -> Option<usize> {
    let lim = (from + 16).min(buf.len());
    for (k, &b) in buf[from..lim].iter().enumerate() {
        if b == b'"' || b == b'\\' {
            return Some(from + k);
        }
    }
    memchr::memchr2(b'"', b'\\', &buf[lim..]).map(|n| lim + n)
}

/// One step inside a JSON string, from `i` (< `buf.len()`): skips the byte an escape left
/// pending, else moves past the next quote or backslash (a backslash leaves `esc` set for
/// the next step, which may come with the next buffer). Returns the next position and
/// whether the string closed.
#[inline]
fn string_step(buf: &[u8], i: usize, esc: &mut bool) -> (usize, bool) {
    if *esc {
        *esc = false;
        return (i + 1, false);
    }
    match find_quote_or_backslash(buf, i) {
        None => (buf.len(), false),
        Some(j) => {
            *esc = buf[j] == b'\\';
            (j + 1, !*esc)
        }
    }
}

struct Scanner<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    line: usize,
    /// Absolute offset of the first byte of the current line.
    line_start: u64,
    /// The longest value [`Scanner::capture`] may cut out ([`super::ReadLimits::max_held_bytes`]).
    max_value: u64,
    /// Absolute offset of the value being cut out.
    cap_start: u64,
}

fn kind_of(first: u8) -> &'static str {
    match first {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

impl<R: Read> Scanner<R> {
    fn new(src: R) -> Self {
        Scanner {
            src,
            buf: vec![0; BUF],
            pos: 0,
            len: 0,
            base: 0,
            line: 1,
            line_start: 0,
            max_value: u64::MAX,
            cap_start: 0,
        }
    }

    fn here(&self) -> Pos {
        let abs = self.base + self.pos as u64;
        Pos { line: self.line, column: (abs - self.line_start + 1) as usize }
    }

    fn error_here(&self, message: &str) -> Stop {
        let p = self.here();
        Stop::Json { line: p.line, column: p.column, message: message.to_string() }
    }

    /// Makes `buf[pos]` readable; `false` at the end of the input.
    fn fill(&mut self) -> Result<bool, Stop> {
        if self.pos < self.len {
            return Ok(true);
        }
        self.base += self.len as u64;
        self.pos = 0;
        self.len = 0;
        loop {
            match self.src.read(&mut self.buf) {
                Ok(n) => {
                    self.len = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Stop::Io(e)),
            }
        }
    }

    /// Skips a UTF-8 byte order mark at the very start (some Windows tools write one).
    fn skip_bom(&mut self) -> Result<(), Stop> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        if !self.fill()? {
            return Ok(());
        }
        // A trickling reader may hand out fewer than three bytes at first.
        while self.len < BOM.len() {
            match self.src.read(&mut self.buf[self.len..]) {
                Ok(0) => break,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        if self.buf[..self.len].starts_with(BOM) {
            self.pos = BOM.len();
            self.line_start = BOM.len() as u64;
        }
        Ok(())
    }

    /// Skips whitespace; the next byte, not consumed, or `None` at the end.
    fn peek_non_ws(&mut self) -> Result<Option<u8>, Stop> {
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            let b = self.buf[self.pos];
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.base + self.pos as u64;
                }
                _ => return Ok(Some(b)),
            }
        }
    }

    fn expect_non_ws(&mut self, what: &str) -> Result<u8, Stop> {
        match self.peek_non_ws()? {
            Some(b) => Ok(b),
            None => Err(self.error_here(&format!("EOF while parsing {what}"))),
        }
    }

    /// Cuts out the value that starts at the next non-whitespace byte: in place when it lies
    /// in the buffer as read, else copied into `out`. See [`Scanner::bytes`].
    fn capture(&mut self, out: &mut Vec<u8>) -> Result<(Pos, Cap), Stop> {
        out.clear();
        let first = self.expect_non_ws("a value")?;
        let start = self.here();
        self.cap_start = self.base + self.pos as u64;
        let cap = match first {
            b'{' | b'[' => self.capture_container(out)?,
            b'"' => self.capture_string(out)?,
            b',' | b'}' | b']' | b':' => return Err(self.error_here("expected value")),
            _ => Some(self.capture_scalar(out)?),
        };
        match cap {
            Some(cap) => Ok((start, cap)),
            None => {
                // The input ended inside the value (all of it is in `out`): report serde_json's
                // first error in it, as reading it in place would, else the end of input.
                parse_slice(out, std::marker::PhantomData::<IgnoredAny>, start)?;
                Err(self.error_here("EOF while parsing a value"))
            }
        }
    }

    /// The bytes of the value [`Scanner::capture`] cut out last.
    fn bytes<'a>(&'a self, cap: Cap, out: &'a [u8]) -> &'a [u8] {
        match cap {
            Cap::InBuf(a, b) => &self.buf[a..b],
            Cap::Copied => out,
        }
    }

    /// Ends one buffer's worth of a capture: `Some` when the capture is complete. A value
    /// longer than `max_value` is not copied on: [`Stop::TooLarge`] with where it starts.
    fn span(
        &mut self,
        start: usize,
        i: usize,
        done: bool,
        first: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<Cap>, Stop> {
        self.pos = i;
        let len = if first { (i - start) as u64 } else { (out.len() + (i - start)) as u64 };
        if len > self.max_value {
            return Err(self.value_too_long());
        }
        if done && first {
            return Ok(Some(Cap::InBuf(start, i)));
        }
        out.extend_from_slice(&self.buf[start..i]);
        Ok(done.then_some(Cap::Copied))
    }

    fn value_too_long(&self) -> Stop {
        Stop::TooLarge { what: format!("the JSON value at byte offset {}", self.cap_start), limit: self.max_value }
    }

    /// `Ok(None)`: the input ended inside the value.
    fn capture_container(&mut self, out: &mut Vec<u8>) -> Result<Option<Cap>, Stop> {
        let mut depth = 0usize;
        let mut in_str = false;
        // A backslash ended the previous buffer: the next byte is escaped.
        let mut esc = false;
        let mut first = true;
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            let start = self.pos;
            let end = self.len;
            let mut i = start;
            let mut done = false;
            while i < end {
                if in_str {
                    // Raw newlines cannot occur in a valid string; serde_json rejects them
                    // with a position when the value is parsed, so they are not counted here.
                    let closed;
                    (i, closed) = string_step(&self.buf[..end], i, &mut esc);
                    in_str = !closed;
                    continue;
                }
                let b = self.buf[i];
                i += 1;
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            done = true;
                            break;
                        }
                    }
                    b'\n' => {
                        self.line += 1;
                        self.line_start = self.base + i as u64;
                    }
                    _ => {}
                }
            }
            if let Some(cap) = self.span(start, i, done, first, out)? {
                return Ok(Some(cap));
            }
            first = false;
        }
    }

    /// `Ok(None)`: the input ended inside the string.
    fn capture_string(&mut self, out: &mut Vec<u8>) -> Result<Option<Cap>, Stop> {
        let mut esc = false;
        let mut first = true;
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            let start = self.pos;
            let end = self.len;
            // Skip the opening quote.
            let mut i = if first { start + 1 } else { start };
            let mut done = false;
            while i < end {
                let closed;
                (i, closed) = string_step(&self.buf[..end], i, &mut esc);
                if closed {
                    done = true;
                    break;
                }
            }
            if let Some(cap) = self.span(start, i, done, first, out)? {
                return Ok(Some(cap));
            }
            first = false;
        }
    }

    fn capture_scalar(&mut self, out: &mut Vec<u8>) -> Result<Cap, Stop> {
        let mut first = true;
        loop {
            if !self.fill()? {
                // The end of the input ends a scalar.
                return Ok(if first { Cap::InBuf(self.pos, self.pos) } else { Cap::Copied });
            }
            let start = self.pos;
            let end = self.len;
            let stop = self.buf[start..end].iter().position(|b| {
                matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':' | b'{' | b'[' | b'"')
            });
            let i = stop.map_or(end, |n| start + n);
            if let Some(cap) = self.span(start, i, stop.is_some(), first, out)? {
                return Ok(cap);
            }
            first = false;
            if out.len() > 4096 {
                return Err(self.error_here("invalid value"));
            }
        }
    }

    /// Parses the object that starts at `buf[pos]` straight from the buffer when it ends there
    /// (the common case: no copy, no separate scan). `Ok(None)`: it runs past the buffer, and
    /// the caller takes the slow path ([`Scanner::capture`]) from the same position.
    fn parse_in_place<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, Stop> {
        if self.pos >= self.len || self.buf[self.pos] != b'{' {
            // Only objects: a number cut by the buffer end would parse as a shorter number.
            return Ok(None);
        }
        let slice = &self.buf[self.pos..self.len];
        let mut stream = serde_json::Deserializer::from_slice(slice).into_iter::<T>();
        match stream.next() {
            Some(Ok(v)) => {
                let used = stream.byte_offset();
                let consumed = &self.buf[self.pos..self.pos + used];
                // A value that parsed has newlines only between tokens.
                if let Some(last) = memchr::memrchr(b'\n', consumed) {
                    self.line += memchr::memchr_iter(b'\n', consumed).count();
                    self.line_start = self.base + (self.pos + last + 1) as u64;
                }
                self.pos += used;
                Ok(Some(v))
            }
            // Cut by the buffer end, or broken: the slow path reads it again and reports the
            // same error wherever the buffer boundaries fall.
            Some(Err(_)) | None => Ok(None),
        }
    }

    /// Reads an object key (the next value must be a string) and the colon after it.
    fn key(&mut self, scratch: &mut Vec<u8>) -> Result<String, Stop> {
        match self.expect_non_ws("an object")? {
            b'"' => {}
            _ => return Err(self.error_here("key must be a string")),
        }
        let (start, cap) = self.capture(scratch)?;
        let bytes = self.bytes(cap, scratch);
        // A captured string starts and ends with its quotes.
        let inner: &[u8] = if bytes.len() >= 2 { &bytes[1..bytes.len() - 1] } else { &[] };
        let plain = bytes.len() >= 2 && inner.iter().all(|&b| b != b'\\' && b >= 0x20);
        let key: String = if plain {
            match std::str::from_utf8(inner) {
                Ok(s) => s.to_string(),
                Err(_) => return Err(json_at(start, 1, start.column, "invalid unicode in a key")),
            }
        } else {
            parse_slice(bytes, std::marker::PhantomData::<String>, start)?
        };
        match self.expect_non_ws("an object")? {
            b':' => {
                self.pos += 1;
                Ok(key)
            }
            _ => Err(self.error_here("expected `:`")),
        }
    }

    /// After a member or element: `true` if another follows (a comma was read), `false` at
    /// the closing bracket (consumed).
    fn next_or_close(&mut self, close: u8, what: &str) -> Result<bool, Stop> {
        match self.expect_non_ws(what)? {
            b',' => {
                self.pos += 1;
                match self.expect_non_ws(what)? {
                    b if b == close => Err(self.error_here("trailing comma")),
                    _ => Ok(true),
                }
            }
            b if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.error_here(if close == b'}' { "expected `,` or `}`" } else { "expected `,` or `]`" })),
        }
    }

    /// Opens an object or array (`open`), or returns the kind of what is there instead after
    /// validating it. `Ok(None)`: the container is open and empty-checked by the caller.
    fn open(&mut self, open: u8, scratch: &mut Vec<u8>) -> Result<Option<&'static str>, Stop> {
        let first = self.expect_non_ws("a value")?;
        if first == open {
            self.pos += 1;
            return Ok(None);
        }
        let (start, cap) = self.capture(scratch)?;
        parse_slice(self.bytes(cap, scratch), std::marker::PhantomData::<IgnoredAny>, start)?;
        Ok(Some(kind_of(first)))
    }

    /// Consumes `close` if it is next (an empty container).
    fn close_if(&mut self, close: u8, what: &str) -> Result<bool, Stop> {
        if self.expect_non_ws(what)? == close {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }
}

fn json_at(start: Pos, line: usize, column: usize, message: &str) -> Stop {
    Stop::Json {
        line: start.line + line.saturating_sub(1),
        column: if line <= 1 { start.column + column.saturating_sub(1) } else { column },
        message: message.to_string(),
    }
}

/// Parses a cut-out value, translating error positions to the whole document.
fn parse_slice<'a, S: DeserializeSeed<'a>>(bytes: &'a [u8], seed: S, start: Pos) -> Result<S::Value, Stop> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    v.map_err(|e| json_error(e, start))
}

/// A serde_json error in a value that starts at `start`, placed in the whole document.
fn json_error(e: serde_json::Error, start: Pos) -> Stop {
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => &full,
    };
    json_at(start, e.line(), e.column(), message)
}

/// Reads the whole document into `ctx`; no single value longer than `max_value` is cut out.
pub(crate) fn drive<R: Read>(src: R, ctx: &mut Ctx, max_value: Option<u64>) -> Result<(), Stop> {
    let mut s = Scanner::new(src);
    s.max_value = max_value.unwrap_or(u64::MAX);
    s.skip_bom()?;
    let mut scratch = Vec::with_capacity(64 * 1024);
    let mut keybuf = Vec::new();
    if let Some(kind) = s.open(b'{', &mut scratch)? {
        if s.peek_non_ws()?.is_some() {
            return Err(s.error_here("trailing characters"));
        }
        return Err(Stop::NotSarif { path: "$".into(), message: format!("expected a SARIF log object, got {kind}") });
    }
    if !s.close_if(b'}', "an object")? {
        loop {
            let key = s.key(&mut keybuf)?;
            match key.as_str() {
                "version" => {
                    let (start, cap) = s.capture(&mut scratch)?;
                    match parse_slice(s.bytes(cap, &scratch), std::marker::PhantomData::<Scalar>, start)? {
                        Scalar::Str(v) if v == SUPPORTED_VERSION => ctx.version = Some(v),
                        Scalar::Str(v) => {
                            return Err(Stop::NotSarif {
                                path: "version".into(),
                                message: format!("version {:?} is not {SUPPORTED_VERSION}", short(&v)),
                            })
                        }
                        other => {
                            return Err(Stop::NotSarif {
                                path: "version".into(),
                                message: format!("expected the string \"{SUPPORTED_VERSION}\", got {}", other.kind()),
                            })
                        }
                    }
                }
                "runs" => {
                    if ctx.saw_runs {
                        return Err(Stop::NotSarif { path: "runs".into(), message: "appears twice".into() });
                    }
                    ctx.saw_runs = true;
                    runs(&mut s, ctx, &mut scratch, &mut keybuf)?;
                }
                _ => skip_value(&mut s, &mut scratch)?,
            }
            if !s.next_or_close(b'}', "an object")? {
                break;
            }
        }
    }
    if s.peek_non_ws()?.is_some() {
        return Err(s.error_here("trailing characters"));
    }
    Ok(())
}

/// Cuts out a value nobody reads and checks it is JSON.
fn skip_value<R: Read>(s: &mut Scanner<R>, scratch: &mut Vec<u8>) -> Result<(), Stop> {
    let (start, cap) = s.capture(scratch)?;
    parse_slice(s.bytes(cap, scratch), std::marker::PhantomData::<IgnoredAny>, start)?;
    Ok(())
}

fn runs<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx, scratch: &mut Vec<u8>, keybuf: &mut Vec<u8>) -> Result<(), Stop> {
    if let Some(kind) = s.open(b'[', scratch)? {
        return Err(Stop::NotSarif { path: "runs".into(), message: format!("expected an array of runs, got {kind}") });
    }
    if s.close_if(b']', "a list")? {
        return Ok(());
    }
    let mut index = 0usize;
    loop {
        if let Some(kind) = s.open(b'{', scratch)? {
            return Err(Stop::NotSarif {
                path: format!("runs[{index}]"),
                message: format!("expected a run object, got {kind}"),
            });
        }
        run(s, ctx, index, scratch, keybuf)?;
        index += 1;
        if !s.next_or_close(b']', "a list")? {
            return Ok(());
        }
    }
}

fn run<R: Read>(
    s: &mut Scanner<R>,
    ctx: &mut Ctx,
    ri: usize,
    scratch: &mut Vec<u8>,
    keybuf: &mut Vec<u8>,
) -> Result<(), Stop> {
    let mut run = RunState { index: ri, ..Default::default() };
    let mut saw_tool = false;
    let mut problems: Vec<String> = Vec::new();
    if !s.close_if(b'}', "an object")? {
        loop {
            let key = s.key(keybuf)?;
            match key.as_str() {
                "tool" => {
                    saw_tool = true;
                    let path = format!("runs[{ri}].tool");
                    let (start, cap) = s.capture(scratch)?;
                    let before = ctx.out.held.used;
                    let body = ToolBody { path: &path, w: &mut ctx.out.w, held: &mut ctx.out.held };
                    let parsed = parse_slice(s.bytes(cap, scratch), Obj(body), start)?;
                    over(&mut ctx.out.held)?;
                    run.held += ctx.out.held.used - before;
                    match parsed {
                        Shape::Got(tool) => run.set_tool(tool),
                        Shape::Null => {
                            ctx.out.w.push(|| path.clone(), "tool is null; the scanner is unknown".into());
                            run.set_tool(Default::default());
                        }
                        Shape::Wrong(got) => {
                            ctx.out.w.push(
                                || path.clone(),
                                format!("expected an object, got {got}; the scanner is unknown"),
                            );
                            run.set_tool(Default::default());
                        }
                    }
                }
                "results" => results(s, ctx, &mut run, scratch)?,
                "artifacts" => {
                    let (start, cap) = s.capture(scratch)?;
                    let path = format!("runs[{ri}].artifacts");
                    let before = ctx.out.held.used;
                    let body = ArtifactsBody { path: &path, held: &mut ctx.out.held };
                    let parsed = parse_slice(s.bytes(cap, scratch), Arr(body), start)?;
                    over(&mut ctx.out.held)?;
                    run.held += ctx.out.held.used - before;
                    match parsed {
                        Shape::Got(a) => run.artifacts = Some(a),
                        Shape::Null => {}
                        Shape::Wrong(got) => {
                            ctx.out.w.push(|| path.clone(), format!("expected an array, got {got}; ignored"))
                        }
                    }
                }
                "invocations" => {
                    let path = format!("runs[{ri}].invocations");
                    let (_, cap) = s.capture(scratch)?;
                    let bytes = s.bytes(cap, scratch);
                    if bytes != b"null" {
                        problems.extend(super::invocation_problems(bytes, &path, &mut ctx.out.w));
                    }
                }
                "properties" => {
                    let path = format!("runs[{ri}].properties");
                    let (start, cap) = s.capture(scratch)?;
                    match parse_slice(
                        s.bytes(cap, scratch),
                        Obj(RunPropsBody { path: &path, w: &mut ctx.out.w }),
                        start,
                    )? {
                        Shape::Got(p) => super::apply_run_props(ctx, &path, p),
                        Shape::Null => {}
                        Shape::Wrong(got) => {
                            ctx.out.w.push(|| path.clone(), format!("expected an object, got {got}; ignored"))
                        }
                    }
                    over(&mut ctx.out.held)?;
                }
                _ => skip_value(s, scratch)?,
            }
            if !s.next_or_close(b'}', "an object")? {
                break;
            }
        }
    }
    if !saw_tool {
        ctx.out.w.push(|| format!("runs[{ri}].tool"), "missing; the scanner is unknown".into());
        run.set_tool(Default::default());
    }
    if run.artifacts.is_none() {
        run.artifacts = Some(Vec::new());
    }
    for raw in std::mem::take(&mut run.pending) {
        build::process(&mut ctx.out, &run, raw);
        processed(&mut ctx.out)?;
    }
    // The run's tables go with it; its summary and reasons stay with the report.
    ctx.out.held.release(std::mem::take(&mut run.held));
    let summary = super::RunSummary {
        scanner: crate::finding::Scanner::clone(&run.scanner),
        rules: run.rule_count,
        results: run.results,
    };
    let mut bytes = held::run_summary(&summary);
    let name = if run.scanner.name.is_empty() { "unknown scanner" } else { run.scanner.name.as_str() };
    let reasons: Vec<String> = problems.into_iter().map(|p| format!("{name}: {p}")).collect();
    bytes += held::strings(&reasons);
    let runs = ctx.runs.len() + 1;
    ctx.out.held.charge(bytes, || format!("runs[{ri}]: the summaries and completeness reasons of {runs} runs"));
    over(&mut ctx.out.held)?;
    ctx.incomplete.extend(reasons);
    ctx.runs.push(summary);
    Ok(())
}

/// Stops reading when keeping a result's findings failed: writing the spill, or over the
/// held-bytes cap (a spill's merged suppressions).
#[inline]
fn processed(out: &mut build::Output) -> Result<(), Stop> {
    if let Some(e) = out.spill_error.take() {
        return Err(Stop::Spill(e));
    }
    if out.held.over.is_some() {
        return over(&mut out.held);
    }
    Ok(())
}

/// Stops reading when something went over the held-bytes cap.
fn over(held: &mut held::Held) -> Result<(), Stop> {
    match (held.over.take(), held.cap) {
        (Some(what), Some(limit)) => Err(Stop::TooLarge { what, limit }),
        _ => Ok(()),
    }
}

fn results<R: Read>(s: &mut Scanner<R>, ctx: &mut Ctx, run: &mut RunState, scratch: &mut Vec<u8>) -> Result<(), Stop> {
    let ri = run.index;
    if let Some(kind) = s.open(b'[', scratch)? {
        if kind == "null" {
            return Ok(());
        }
        return Err(Stop::NotSarif {
            path: format!("runs[{ri}].results"),
            message: format!("expected an array of results (or null), got {kind}"),
        });
    }
    if s.close_if(b']', "a list")? {
        return Ok(());
    }
    // Several "results" keys occur only in broken documents; keep counting.
    let mut index = run.results;
    let out = &mut ctx.out;
    loop {
        s.expect_non_ws("a list")?;
        let shape = match s.parse_in_place::<LenientResult>()? {
            Some(LenientResult(shape)) => shape,
            None => {
                let (start, cap) = s.capture(scratch)?;
                parse_slice(s.bytes(cap, scratch), Obj(ResultBody { index }), start)?
            }
        };
        match shape {
            Shape::Got(mut raw) => {
                raw.index = index;
                out.results_read += 1;
                if run.ready(&raw) {
                    build::process(out, run, raw);
                    processed(out)?;
                } else {
                    // Waiting for the run's tool or artifacts: held until the run closes.
                    let bytes = held::raw_result(&raw);
                    let n = run.pending.len() + 1;
                    out.held.charge(bytes, || {
                        format!("runs[{ri}].results: {n} results waiting for the run's tool (it comes after them)")
                    });
                    over(&mut out.held)?;
                    run.held += bytes;
                    run.pending.push(raw);
                }
            }
            Shape::Null => {
                out.w.push(|| format!("runs[{ri}].results[{index}]"), "result is null; no finding".into());
            }
            Shape::Wrong(got) => {
                out.w.push(
                    || format!("runs[{ri}].results[{index}]"),
                    format!("expected a result object, got {got}; no finding"),
                );
            }
        }
        index += 1;
        run.results = index;
        if !s.next_or_close(b']', "a list")? {
            return Ok(());
        }
    }
}

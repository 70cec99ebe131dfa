//! A spill: findings written to an unnamed file in a temp dir as they are met, and read back by
//! position ([`FindingSource`]), so that a caller whose memory must not grow with a report (the
//! report-processor, docs/scale.md) holds per finding only its position in the file.
//!
//! The file is created with [`tempfile::tempfile_in`]: it has no name in the directory and its
//! space is given back when the last handle closes (the [`Spill`] or [`SpillWriter`] is
//! dropped, on a panic or a process kill too): a Lambda's `/tmp` does not fill up across
//! invocations.
//!
//! Encoding (one record per finding, back to back; each record's start is held in memory):
//! varints for lengths and numbers, strings as length and UTF-8 bytes, an f64 as its 8 bits
//! (exact), a finding id that is 64 lowercase hex characters as its 32 bytes. Values a finding
//! shares with others through an `Arc` (its rule id, texts, tags and CVEs, the severity as
//! written, the CVSS vector, the run's scanner) are kept once in a table in memory, bounded by
//! [`MAX_TABLE_BYTES`], and the record holds their number: the file grows with the findings'
//! own text, not with a rule's long text times its findings, and a finding read back shares
//! those values with the others as it did before it was written. An `Arc` nobody else holds
//! (a value of this finding's own), or one met after the table is full, is written in the
//! record, and read back as a value of its own.

use crate::finding::{Finding, FindingClass, FindingKind, Location, Package, Scanner};
use crate::severity::{Severity, SeveritySource};
use crate::source::{FindingSource, SourceError};
use crate::suppression::{Suppression, SuppressionKind};
use crate::waivers::{Exception, ExceptionKind, VexStatus};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// The most bytes of shared values (their text, and [`TABLE_ENTRY`] for each) one spill keeps
/// in memory; values met beyond are written into each record that refers to them.
pub const MAX_TABLE_BYTES: u64 = 16 << 20;

/// What one table entry costs besides its text (the `Arc` in the list, the pointer map's entry).
const TABLE_ENTRY: u64 = 64;

/// Buffer of the writer and of a sequential read.
const BUF: usize = 256 * 1024;

// Which optional parts a record has.
const CVSS_SCORE: u64 = 1 << 0;
const CVSS_VECTOR: u64 = 1 << 1;
const PACKAGE: u64 = 1 << 2;
const LAYER: u64 = 1 << 3;
const LOCATION: u64 = 1 << 4;
const START_LINE: u64 = 1 << 5;
const HELP_URI: u64 = 1 << 6;
const HELP_TEXT: u64 = 1 << 7;
const QDS: u64 = 1 << 8;
const FINGERPRINT: u64 = 1 << 9;
const EXCEPTION: u64 = 1 << 10;
const SUPPRESSION: u64 = 1 << 11;
/// The id is 64 lowercase hex characters, written as its 32 bytes.
const ID_DIGEST: u64 = 1 << 12;

/// Values shared through an `Arc`, by the address of their value (valid as a key because the
/// table holds a clone: the address cannot be reused while the table lives).
struct Shared<T: ?Sized> {
    values: Vec<Arc<T>>,
    by_ptr: HashMap<usize, u32>,
}

impl<T: ?Sized> Default for Shared<T> {
    fn default() -> Self {
        Shared { values: Vec::new(), by_ptr: HashMap::new() }
    }
}

impl<T: ?Sized> Shared<T> {
    /// Writes `a` as a table reference (its number + 1), adding it when another holder shares
    /// it and the budget allows; else as 0 followed by `inline`'s encoding of the value.
    fn put(&mut self, out: &mut Vec<u8>, a: &Arc<T>, cost: u64, budget: &mut u64, inline: impl FnOnce(&mut Vec<u8>)) {
        let key = Arc::as_ptr(a).cast::<u8>() as usize;
        if let Some(&i) = self.by_ptr.get(&key) {
            put_varint(out, u64::from(i) + 1);
            return;
        }
        let cost = cost.saturating_add(TABLE_ENTRY);
        if Arc::strong_count(a) > 1 && cost <= *budget {
            if let Ok(i) = u32::try_from(self.values.len()) {
                if i < u32::MAX {
                    *budget -= cost;
                    self.values.push(a.clone());
                    self.by_ptr.insert(key, i);
                    put_varint(out, u64::from(i) + 1);
                    return;
                }
            }
        }
        put_varint(out, 0);
        inline(out);
    }

    fn get(&self, n: u64, what: &str) -> Result<Arc<T>, String> {
        usize::try_from(n - 1)
            .ok()
            .and_then(|i| self.values.get(i))
            .cloned()
            .ok_or_else(|| format!("shared {what} {} not in the table ({} held)", n - 1, self.values.len()))
    }
}

/// The shared values of one spill.
#[derive(Default)]
struct Table {
    strs: Shared<str>,
    lists: Shared<[String]>,
    scanners: Shared<Scanner>,
    /// Bytes the table may still take ([`MAX_TABLE_BYTES`]).
    budget: u64,
}

impl Table {
    fn new() -> Table {
        Table { budget: MAX_TABLE_BYTES, ..Table::default() }
    }

    fn put_str(&mut self, out: &mut Vec<u8>, a: &Arc<str>) {
        self.strs.put(out, a, a.len() as u64, &mut self.budget, |out| put_str(out, a));
    }

    fn put_list(&mut self, out: &mut Vec<u8>, a: &Arc<[String]>) {
        let cost = a.iter().map(|s| s.len() as u64 + 24).sum::<u64>();
        self.lists.put(out, a, cost, &mut self.budget, |out| put_list(out, a));
    }

    fn put_scanner(&mut self, out: &mut Vec<u8>, a: &Arc<Scanner>) {
        let cost = (a.name.len() + a.version.as_deref().map_or(0, str::len)) as u64;
        self.scanners.put(out, a, cost, &mut self.budget, |out| {
            put_str(out, &a.name);
            match &a.version {
                Some(v) => {
                    out.push(1);
                    put_str(out, v);
                }
                None => out.push(0),
            }
        });
    }

    /// What the table holds in memory (text and per-entry cost).
    fn bytes(&self) -> u64 {
        MAX_TABLE_BYTES - self.budget
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_list(out: &mut Vec<u8>, l: &[String]) {
    put_varint(out, l.len() as u64);
    for s in l {
        put_str(out, s);
    }
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

fn severity_code(s: Severity) -> u8 {
    match s {
        Severity::Informational => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn source_code(s: SeveritySource) -> u8 {
    match s {
        SeveritySource::Qualys => 0,
        SeveritySource::SecuritySeverity => 1,
        SeveritySource::Level => 2,
    }
}

fn kind_code(k: FindingKind) -> u8 {
    match k {
        FindingKind::Vulnerability => 0,
        FindingKind::Secret => 1,
        FindingKind::License => 2,
        FindingKind::Misconfiguration => 3,
        FindingKind::Code => 4,
    }
}

fn class_code(c: FindingClass) -> u8 {
    match c {
        FindingClass::Security => 0,
        FindingClass::Quality => 1,
    }
}

/// A suppression kind as one bit (the reader's merged kinds are a mask of these).
pub(crate) fn suppression_bit(k: SuppressionKind) -> u8 {
    match k {
        SuppressionKind::InSource => 1,
        SuppressionKind::External => 2,
        SuppressionKind::Unknown => 4,
    }
}

const SUPPRESSION_KINDS: [SuppressionKind; 3] =
    [SuppressionKind::InSource, SuppressionKind::External, SuppressionKind::Unknown];

fn vex_code(s: VexStatus) -> u8 {
    match s {
        VexStatus::NotAffected => 0,
        VexStatus::Affected => 1,
        VexStatus::Fixed => 2,
        VexStatus::UnderInvestigation => 3,
    }
}

fn is_lower_hex_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Appends `f`'s record to `out`.
fn encode(out: &mut Vec<u8>, f: &Finding, table: &mut Table) {
    let digest = is_lower_hex_id(&f.id);
    let mut flags = 0;
    for (present, bit) in [
        (f.cvss_score.is_some(), CVSS_SCORE),
        (f.cvss_vector.is_some(), CVSS_VECTOR),
        (f.package.is_some(), PACKAGE),
        (f.layer.is_some(), LAYER),
        (f.location.is_some(), LOCATION),
        (f.location.as_ref().is_some_and(|l| l.start_line.is_some()), START_LINE),
        (f.help_uri.is_some(), HELP_URI),
        (f.help_text.is_some(), HELP_TEXT),
        (f.qds.is_some(), QDS),
        (f.fingerprint.is_some(), FINGERPRINT),
        (f.exception.is_some(), EXCEPTION),
        (f.suppression.is_some(), SUPPRESSION),
        (digest, ID_DIGEST),
    ] {
        if present {
            flags |= bit;
        }
    }
    put_varint(out, flags);
    out.push(severity_code(f.severity) | source_code(f.severity_source) << 3 | class_code(f.class) << 5);
    out.push(kind_code(f.kind));
    if digest {
        let mut b = [0u8; 32];
        // Checked above: 64 lowercase hex characters decode.
        let _ = hex::decode_to_slice(&f.id, &mut b);
        out.extend_from_slice(&b);
    } else {
        put_str(out, &f.id);
    }
    table.put_str(out, &f.rule_id);
    put_str(out, &f.title);
    put_str(out, &f.description);
    table.put_str(out, &f.severity_original);
    table.put_list(out, &f.cves);
    if let Some(v) = f.cvss_score {
        put_f64(out, v);
    }
    if let Some(v) = &f.cvss_vector {
        table.put_str(out, v);
    }
    if let Some(p) = &f.package {
        put_str(out, &p.name);
        let opts = [&p.installed_version, &p.fixed_version, &p.purl];
        out.push(opts.iter().enumerate().fold(0u8, |m, (i, o)| m | (u8::from(o.is_some()) << i)));
        for s in opts.into_iter().flatten() {
            put_str(out, s);
        }
    }
    if let Some(l) = &f.layer {
        put_str(out, l);
    }
    if let Some(l) = &f.location {
        put_str(out, &l.uri);
        if let Some(n) = l.start_line {
            put_varint(out, n);
        }
    }
    if let Some(v) = &f.help_uri {
        table.put_str(out, v);
    }
    if let Some(v) = &f.help_text {
        table.put_str(out, v);
    }
    table.put_list(out, &f.tags);
    table.put_scanner(out, &f.scanner);
    if let Some(v) = f.qds {
        put_f64(out, v);
    }
    if let Some(v) = &f.fingerprint {
        put_str(out, v);
    }
    put_varint(out, u64::from(f.occurrences));
    if let Some(e) = &f.exception {
        out.push(match e.kind {
            ExceptionKind::Waiver => 0,
            ExceptionKind::Vex => 1,
        });
        put_str(out, &e.reference);
        put_str(out, &e.id);
        put_str(out, &e.reason);
        put_str(out, &e.document_sha256);
        let opts = u8::from(e.owner.is_some()) | u8::from(e.expires.is_some()) << 1;
        out.push(opts | e.status.map_or(0, |s| (vex_code(s) + 1) << 2));
        for s in [&e.owner, &e.expires].into_iter().flatten() {
            put_str(out, s);
        }
    }
    if let Some(s) = &f.suppression {
        put_varint(out, s.kinds.len() as u64);
        out.extend(s.kinds.iter().map(|&k| suppression_bit(k)));
        out.push(u8::from(s.honoured) | u8::from(s.justification.is_some()) << 1);
        if let Some(j) = &s.justification {
            put_str(out, j);
        }
    }
}

/// Reads one record.
struct Dec<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len()).ok_or_else(|| {
            format!("record of {} bytes ends at byte {} where {n} more were expected", self.b.len(), self.pos)
        })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(format!("a number longer than 64 bits before byte {}", self.pos))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n).map_err(|_| format!("length {n} at byte {}", self.pos))
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.len()?;
        let at = self.pos;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|e| format!("text at byte {at} is not UTF-8: {e}"))
    }

    fn f64(&mut self) -> Result<f64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let n = self.len()?;
        // Each string takes at least one byte: a corrupt count cannot allocate beyond the record.
        let mut out = Vec::with_capacity(n.min(self.b.len() - self.pos));
        for _ in 0..n {
            out.push(self.string()?);
        }
        Ok(out)
    }

    fn arc_str(&mut self, t: &Table) -> Result<Arc<str>, String> {
        match self.varint()? {
            0 => Ok(Arc::from(self.string()?)),
            n => t.strs.get(n, "text"),
        }
    }

    fn arc_list(&mut self, t: &Table) -> Result<Arc<[String]>, String> {
        match self.varint()? {
            0 => Ok(self.list()?.into()),
            n => t.lists.get(n, "list"),
        }
    }

    fn scanner(&mut self, t: &Table) -> Result<Arc<Scanner>, String> {
        match self.varint()? {
            0 => {
                let name = self.string()?;
                let version = match self.u8()? {
                    0 => None,
                    _ => Some(self.string()?),
                };
                Ok(Arc::new(Scanner { name, version }))
            }
            n => t.scanners.get(n, "scanner"),
        }
    }

    fn opt_string(&mut self, present: bool) -> Result<Option<String>, String> {
        if present {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }
}

fn bad(what: &str, code: u8) -> String {
    format!("unknown {what} code {code}")
}

fn decode(b: &[u8], t: &Table) -> Result<Finding, String> {
    let mut d = Dec { b, pos: 0 };
    let flags = d.varint()?;
    let has = |bit: u64| flags & bit != 0;
    let codes = d.u8()?;
    let severity = match codes & 7 {
        0 => Severity::Informational,
        1 => Severity::Low,
        2 => Severity::Medium,
        3 => Severity::High,
        4 => Severity::Critical,
        c => return Err(bad("severity", c)),
    };
    let severity_source = match codes >> 3 & 3 {
        0 => SeveritySource::Qualys,
        1 => SeveritySource::SecuritySeverity,
        2 => SeveritySource::Level,
        c => return Err(bad("severity source", c)),
    };
    let class = if codes >> 5 & 1 == 0 { FindingClass::Security } else { FindingClass::Quality };
    let kind = match d.u8()? {
        0 => FindingKind::Vulnerability,
        1 => FindingKind::Secret,
        2 => FindingKind::License,
        3 => FindingKind::Misconfiguration,
        4 => FindingKind::Code,
        c => return Err(bad("kind", c)),
    };
    let id = if has(ID_DIGEST) { hex::encode(d.take(32)?) } else { d.string()? };
    let rule_id = d.arc_str(t)?;
    let title = d.string()?;
    let description = d.string()?;
    let severity_original = d.arc_str(t)?;
    let cves = d.arc_list(t)?;
    let cvss_score = if has(CVSS_SCORE) { Some(d.f64()?) } else { None };
    let cvss_vector = if has(CVSS_VECTOR) { Some(d.arc_str(t)?) } else { None };
    let package = if has(PACKAGE) {
        let name = d.string()?;
        let opts = d.u8()?;
        Some(Box::new(Package {
            name,
            installed_version: d.opt_string(opts & 1 != 0)?,
            fixed_version: d.opt_string(opts & 2 != 0)?,
            purl: d.opt_string(opts & 4 != 0)?,
        }))
    } else {
        None
    };
    let layer = d.opt_string(has(LAYER))?;
    let location = if has(LOCATION) {
        let uri = d.string()?;
        let start_line = if has(START_LINE) { Some(d.varint()?) } else { None };
        Some(Location { uri, start_line })
    } else {
        None
    };
    let help_uri = if has(HELP_URI) { Some(d.arc_str(t)?) } else { None };
    let help_text = if has(HELP_TEXT) { Some(d.arc_str(t)?) } else { None };
    let tags = d.arc_list(t)?;
    let scanner = d.scanner(t)?;
    let qds = if has(QDS) { Some(d.f64()?) } else { None };
    let fingerprint = d.opt_string(has(FINGERPRINT))?;
    let occurrences = d.varint()?;
    let occurrences = u32::try_from(occurrences).map_err(|_| format!("occurrences {occurrences} over u32"))?;
    let exception = if has(EXCEPTION) {
        let kind = match d.u8()? {
            0 => ExceptionKind::Waiver,
            1 => ExceptionKind::Vex,
            c => return Err(bad("exception kind", c)),
        };
        let (reference, id, reason, document_sha256) = (d.string()?, d.string()?, d.string()?, d.string()?);
        let opts = d.u8()?;
        let status = match opts >> 2 {
            0 => None,
            1 => Some(VexStatus::NotAffected),
            2 => Some(VexStatus::Affected),
            3 => Some(VexStatus::Fixed),
            4 => Some(VexStatus::UnderInvestigation),
            c => return Err(bad("VEX status", c)),
        };
        let owner = d.opt_string(opts & 1 != 0)?;
        let expires = d.opt_string(opts & 2 != 0)?;
        Some(Box::new(Exception { kind, reference, id, reason, owner, expires, status, document_sha256 }))
    } else {
        None
    };
    let suppression = if has(SUPPRESSION) {
        let n = d.len()?;
        let kinds = d
            .take(n)?
            .iter()
            .map(|&b| {
                SUPPRESSION_KINDS
                    .into_iter()
                    .find(|&k| suppression_bit(k) == b)
                    .ok_or_else(|| bad("suppression kind", b))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let opts = d.u8()?;
        let justification = d.opt_string(opts & 2 != 0)?;
        Some(Box::new(Suppression { kinds, justification, honoured: opts & 1 != 0 }))
    } else {
        None
    };
    if d.pos != b.len() {
        return Err(format!("{} bytes left over after the finding", b.len() - d.pos));
    }
    Ok(Finding {
        id,
        rule_id,
        title,
        description,
        severity,
        severity_source,
        severity_original,
        kind,
        class,
        cves,
        cvss_score,
        cvss_vector,
        package,
        layer,
        location,
        help_uri,
        help_text,
        tags,
        scanner,
        qds,
        fingerprint,
        occurrences,
        exception,
        suppression,
    })
}

/// Changes made to findings after they were written (the reader's duplicates), applied as
/// they are read back.
#[derive(Default)]
pub(crate) struct Overlay {
    /// Each finding's occurrences (empty: as written).
    pub occurrences: Vec<u32>,
    /// Suppression kinds later occurrences added, as [`suppression_bit`]s (empty: none).
    pub kinds: Vec<u8>,
    /// The first justification a later occurrence gave, for a finding written without one.
    pub justifications: HashMap<u32, String>,
}

impl Overlay {
    fn apply(&self, i: usize, f: &mut Finding) {
        if let Some(&n) = self.occurrences.get(i) {
            f.occurrences = n;
        }
        let Some(s) = f.suppression.as_mut() else { return };
        let mask = self.kinds.get(i).copied().unwrap_or(0);
        let justification = u32::try_from(i).ok().and_then(|i| self.justifications.get(&i));
        if mask != 0 || justification.is_some() {
            let kinds = SUPPRESSION_KINDS.into_iter().filter(|&k| mask & suppression_bit(k) != 0).collect();
            s.merge(&Suppression { kinds, justification: justification.cloned(), honoured: false });
        }
    }

    fn bytes(&self) -> u64 {
        let map: usize = self.justifications.values().map(|s| s.len() + 64).sum();
        (self.occurrences.capacity() * 4 + self.kinds.capacity() + map) as u64
    }
}

/// Writes findings to a spill ([`SpillWriter::finish`] gives the [`Spill`] to read them from).
pub struct SpillWriter {
    out: BufWriter<File>,
    name: String,
    /// Where each record starts.
    offsets: Vec<u64>,
    bytes: u64,
    table: Table,
    record: Vec<u8>,
}

impl SpillWriter {
    /// A spill in a new unnamed file in `dir` (gone when the spill is dropped).
    pub fn new(dir: &Path) -> io::Result<SpillWriter> {
        let file = tempfile::tempfile_in(dir)?;
        Ok(SpillWriter {
            out: BufWriter::with_capacity(BUF, file),
            name: format!("findings spilled to {}", dir.display()),
            offsets: Vec::new(),
            bytes: 0,
            table: Table::new(),
            record: Vec::new(),
        })
    }

    /// Names the spill in read errors ([`SourceError::what`]).
    pub fn named(mut self, name: impl Into<String>) -> SpillWriter {
        self.name = name.into();
        self
    }

    /// Appends `f`.
    pub fn push(&mut self, f: &Finding) -> io::Result<()> {
        self.push_within(f, None).map(|_| ())
    }

    /// Appends `f` unless the file would then be longer than `limit` bytes: `Ok(false)`, and
    /// nothing written.
    pub fn push_within(&mut self, f: &Finding, limit: Option<u64>) -> io::Result<bool> {
        self.record.clear();
        encode(&mut self.record, f, &mut self.table);
        let end = self.bytes.saturating_add(self.record.len() as u64);
        if limit.is_some_and(|limit| end > limit) {
            return Ok(false);
        }
        self.out.write_all(&self.record)?;
        self.offsets.push(self.bytes);
        self.bytes = end;
        Ok(true)
    }

    /// How many findings so far.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The file's bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes what is buffered; the findings are then read from the [`Spill`].
    pub fn finish(self) -> io::Result<Spill> {
        let SpillWriter { out, name, mut offsets, bytes, table, .. } = self;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        offsets.push(bytes);
        offsets.shrink_to_fit();
        Ok(Spill { file, name, offsets, table, overlay: Overlay::default() })
    }
}

/// Findings in a spill file, read by position; `Sync` (reads are positioned, `pread`), so
/// threads may read at once.
pub struct Spill {
    file: File,
    name: String,
    /// Where each record starts, then the file's end.
    offsets: Vec<u64>,
    table: Table,
    overlay: Overlay,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("name", &self.name)
            .field("len", &self.len())
            .field("bytes", &self.bytes())
            .finish()
    }
}

/// A positioned reader of the file (its own offset, so a shared `&File` is enough).
struct At<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Spill {
    /// The file's size: the ephemeral storage it takes.
    pub fn bytes(&self) -> u64 {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// What it holds in memory: the records' positions, the shared values' table and the
    /// changes made after writing.
    pub fn memory_bytes(&self) -> u64 {
        (self.offsets.capacity() * 8) as u64 + self.table.bytes() + self.overlay.bytes()
    }

    pub(crate) fn set_overlay(&mut self, overlay: Overlay) {
        self.overlay = overlay;
    }

    fn error(&self, index: usize, reason: String) -> SourceError {
        SourceError { what: self.name.clone(), index, reason }
    }

    fn range(&self, i: usize) -> Result<(u64, usize), SourceError> {
        match (self.offsets.get(i), i.checked_add(1).and_then(|j| self.offsets.get(j))) {
            (Some(&a), Some(&b)) => Ok((a, (b - a) as usize)),
            _ => Err(self.error(i, format!("past the end ({} findings)", self.len()))),
        }
    }

    fn decode(&self, i: usize, record: &[u8]) -> Result<Finding, SourceError> {
        let mut f = decode(record, &self.table).map_err(|e| self.error(i, e))?;
        self.overlay.apply(i, &mut f);
        Ok(f)
    }
}

impl FindingSource for Spill {
    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError> {
        let (at, n) = self.range(i)?;
        let mut record = vec![0; n];
        self.file.read_exact_at(&mut record, at).map_err(|e| self.error(i, format!("reading at byte {at}: {e}")))?;
        self.decode(i, &record).map(Cow::Owned)
    }

    fn for_each_finding(&self, f: &mut dyn FnMut(usize, &Finding)) -> Result<(), SourceError> {
        let mut reader = BufReader::with_capacity(BUF, At { file: &self.file, pos: 0 });
        let mut record = Vec::new();
        for i in 0..self.len() {
            let (at, n) = self.range(i)?;
            record.resize(n, 0);
            reader.read_exact(&mut record).map_err(|e| self.error(i, format!("reading at byte {at}: {e}")))?;
            let finding = self.decode(i, &record)?;
            f(i, &finding);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::waivers::{Exception, ExceptionKind};
    use proptest::prelude::*;

    fn finding(i: usize) -> Finding {
        Finding { title: format!("t{i}"), ..Finding::plain(&format!("{i:064x}"), Severity::High) }
    }

    fn spill_of(findings: &[Finding]) -> Spill {
        let mut w = SpillWriter::new(&std::env::temp_dir()).expect("a temp file");
        for f in findings {
            w.push(f).expect("written");
        }
        w.finish().expect("flushed")
    }

    fn all(s: &Spill) -> Vec<Finding> {
        let mut out = Vec::new();
        s.for_each_finding(&mut |i, f| {
            assert_eq!(i, out.len());
            out.push(f.clone())
        })
        .expect("readable");
        out
    }

    /// Equal, with the floats compared by their bits (a NaN is not equal to itself).
    fn same(a: &Finding, b: &Finding) -> bool {
        let bits = |f: &Finding| (f.cvss_score.map(f64::to_bits), f.qds.map(f64::to_bits));
        let plain = |f: &Finding| Finding { cvss_score: None, qds: None, ..f.clone() };
        bits(a) == bits(b) && plain(a) == plain(b)
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[a-f0-9]{64}", "[A-F0-9]{64}", "\\PC{0,12}", "[a-z\u{1f}é\n]{0,5}"]
    }

    fn opt<T: std::fmt::Debug + Clone + 'static>(s: impl Strategy<Value = T> + 'static) -> BoxedStrategy<Option<T>> {
        prop::option::of(s).boxed()
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            Just(-0.0),
            Just(9.8),
            Just(f64::NAN),
            Just(f64::MIN_POSITIVE / 3.0)
        ]
    }

    prop_compose! {
        fn any_finding()(
            (id, rule_id, title, description, original) in (text(), text(), text(), text(), text()),
            (sev, source, kind, class) in (0u8..5, 0u8..3, 0u8..5, any::<bool>()),
            (cves, tags) in (prop::collection::vec(text(), 0..3), prop::collection::vec(text(), 0..3)),
            (cvss_score, qds, cvss_vector) in (opt(float()), opt(float()), opt(text())),
            package in opt((text(), opt(text()), opt(text()), opt(text()))),
            (layer, location, fingerprint) in (opt(text()), opt((text(), opt(any::<u64>()))), opt(text())),
            (help_uri, help_text, scanner) in (opt(text()), opt(text()), (text(), opt(text()))),
            occurrences in any::<u32>(),
            exception in opt((any::<bool>(), text(), text(), opt(text()), opt(text()), opt(0u8..4))),
            suppression in opt((prop::collection::vec(0u8..3, 0..4), opt(text()), any::<bool>())),
        ) -> Finding {
            let sev = [Severity::Informational, Severity::Low, Severity::Medium, Severity::High, Severity::Critical][sev as usize];
            let source = [SeveritySource::Qualys, SeveritySource::SecuritySeverity, SeveritySource::Level][source as usize];
            let kind = [FindingKind::Vulnerability, FindingKind::Secret, FindingKind::License, FindingKind::Misconfiguration, FindingKind::Code][kind as usize];
            Finding {
                id,
                rule_id: rule_id.into(),
                title,
                description,
                severity: sev,
                severity_source: source,
                severity_original: original.into(),
                kind,
                class: if class { FindingClass::Quality } else { FindingClass::Security },
                cves: cves.into(),
                cvss_score,
                cvss_vector: cvss_vector.map(Into::into),
                package: package.map(|(name, installed_version, fixed_version, purl)| Box::new(Package { name, installed_version, fixed_version, purl })),
                layer,
                location: location.map(|(uri, start_line)| Location { uri, start_line }),
                help_uri: help_uri.map(Into::into),
                help_text: help_text.map(Into::into),
                tags: tags.into(),
                scanner: Arc::new(Scanner { name: scanner.0, version: scanner.1 }),
                qds,
                fingerprint,
                occurrences,
                exception: exception.map(|(vex, reference, reason, owner, expires, status)| Box::new(Exception {
                    kind: if vex { ExceptionKind::Vex } else { ExceptionKind::Waiver },
                    id: reference.clone(),
                    reference,
                    reason,
                    owner,
                    expires,
                    status: status.map(|s| [VexStatus::NotAffected, VexStatus::Affected, VexStatus::Fixed, VexStatus::UnderInvestigation][s as usize]),
                    document_sha256: "0".repeat(64),
                })),
                suppression: suppression.map(|(kinds, justification, honoured)| Box::new(Suppression {
                    // As written, unsorted and repeated: the spill keeps the list as it is.
                    kinds: kinds.into_iter().map(|k| SUPPRESSION_KINDS[k as usize]).collect(),
                    justification,
                    honoured,
                })),
            }
        }
    }

    proptest! {
        /// Every field comes back exactly (floats bit for bit, ids of any case, lists as
        /// written), by position and in order; values shared by `Arc` come back shared.
        #[test]
        fn findings_round_trip(findings in prop::collection::vec(any_finding(), 0..12), share in any::<bool>()) {
            let mut findings = findings;
            if share && findings.len() > 1 {
                // The second half shares the first finding's rule values and scanner.
                let first = findings[0].clone();
                for f in findings.iter_mut().skip(1).step_by(2) {
                    f.rule_id = first.rule_id.clone();
                    f.help_text = first.help_text.clone();
                    f.tags = first.tags.clone();
                    f.scanner = first.scanner.clone();
                }
            }
            let spill = spill_of(&findings);
            prop_assert_eq!(spill.len(), findings.len());
            let read = all(&spill);
            for (i, (a, b)) in findings.iter().zip(&read).enumerate() {
                prop_assert!(same(a, b), "{i}: {a:?} != {b:?}");
                let got = spill.get(i).expect("in range");
                prop_assert!(same(a, &got));
            }
            if share && read.len() > 2 {
                prop_assert!(Arc::ptr_eq(&read[0].rule_id, &read[1].rule_id));
                prop_assert!(Arc::ptr_eq(&read[0].scanner, &read[1].scanner));
                prop_assert!(Arc::ptr_eq(&read[0].tags, &read[1].tags));
            }
        }

        /// A damaged record is an error naming the spill and the position, never a panic.
        #[test]
        fn a_damaged_record_is_an_error(f in any_finding(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut table = Table::new();
            let mut record = Vec::new();
            encode(&mut record, &f, &mut table);
            let n = cut.index(record.len());
            prop_assert!(decode(&record[..n], &table).is_err(), "a record cut at {n} of {}", record.len());
            let mut flipped = record.clone();
            let i = flip.index(flipped.len());
            flipped[i] = byte;
            let _ = decode(&flipped, &table);
            let mut longer = record;
            longer.push(0);
            prop_assert!(decode(&longer, &table).is_err());
        }
    }

    #[test]
    fn get_past_the_end_is_an_error() {
        let spill = spill_of(&[finding(0), finding(1)]);
        assert_eq!(spill.get(1).expect("in range").title, "t1");
        for i in [2, usize::MAX] {
            let err = spill.get(i).expect_err("past the end");
            assert_eq!((err.index, err.reason.as_str()), (i, "past the end (2 findings)"));
            assert!(err.what.starts_with("findings spilled to "), "{}", err.what);
        }
        let empty = spill_of(&[]);
        assert!(empty.is_empty());
        assert!(empty.get(0).is_err());
        assert_eq!((empty.bytes(), all(&empty).len()), (0, 0));
    }

    /// The file has no name in the directory (nothing to clean up, nothing left by a panic or
    /// a kill) and no link: its space goes with the last handle.
    #[test]
    fn the_file_is_unnamed_and_gone_after_drop() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("scangate-spill-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a dir");
        let entries = || std::fs::read_dir(&dir).expect("listable").count();
        let mut w = SpillWriter::new(&dir).expect("a temp file");
        for i in 0..1000 {
            w.push(&finding(i)).expect("written");
        }
        assert_eq!(entries(), 0, "no name while writing");
        let spill = w.finish().expect("flushed");
        assert_eq!(spill.file.metadata().expect("stat").nlink(), 0, "unlinked");
        assert_eq!(spill.file.metadata().expect("stat").len(), spill.bytes());
        assert!(spill.bytes() > 1000 * 64, "{}", spill.bytes());
        // Threads read at once (positioned reads, no shared cursor).
        std::thread::scope(|s| {
            for t in 0..4 {
                let spill = &spill;
                s.spawn(move || {
                    for i in (t..1000).step_by(4) {
                        assert_eq!(spill.get(i).expect("in range").title, format!("t{i}"));
                    }
                });
            }
        });
        drop(spill);
        assert_eq!(entries(), 0, "nothing left");
        std::fs::remove_dir(&dir).expect("empty, so removable");
    }

    /// A rule's long text shared by many findings is written once (into the table), so the
    /// file grows with the findings' own text; past the table's budget it is written into
    /// each record, and still read back exactly.
    #[test]
    fn shared_values_are_written_once_within_the_budget() {
        let help: Arc<str> = Arc::from("h".repeat(100_000));
        let shared = |i| Finding { help_text: Some(help.clone()), ..finding(i) };
        let spill = spill_of(&(0..100).map(shared).collect::<Vec<_>>());
        assert!(spill.bytes() < 100 * 200, "{}", spill.bytes());
        let read = all(&spill);
        assert!(read
            .iter()
            .all(|f| f.help_text.as_ref().is_some_and(|h| Arc::ptr_eq(h, &read[0].help_text.clone().expect("set")))));
        // An unshared Arc (only this finding holds it) is written in its record.
        let own = spill_of(&[Finding { help_text: Some(Arc::from("x".repeat(1000))), ..finding(0) }]);
        assert!(own.bytes() > 1000, "{}", own.bytes());
        assert_eq!(own.table.bytes(), 0, "nothing shared: nothing in the table");
        // Over the budget: written inline, exactly.
        let big: Arc<str> = Arc::from("b".repeat(MAX_TABLE_BYTES as usize));
        let over = spill_of(&[
            Finding { help_text: Some(big.clone()), ..finding(0) },
            Finding { help_text: Some(big.clone()), ..finding(1) },
        ]);
        assert!(over.bytes() > 2 * MAX_TABLE_BYTES);
        assert_eq!(all(&over)[1].help_text.as_deref(), Some(&*big));
    }
}

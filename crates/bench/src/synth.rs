//! Synthetic QScanner-shaped SARIF of any size, for benchmarks and memory tests.
//!
//! [`write_synthetic`] streams the document (constant memory, whatever the size), is
//! deterministic from [`SynthConfig::seed`], and exercises what makes real reports slow or
//! tricky: many rules, many results, long strings with JSON escapes (`\"`, `\\`, `\n`, `\t`,
//! `\u0001`, `\u00e9`, surrogate pairs; about 1 token in 16) and raw non-ASCII text (about 1
//! word in 8), mostly English like real advisories. Results repeat: result `i`
//! affects "distinct slot" `i` for the first [`SynthConfig::distinct`] results and a
//! pseudo-random slot after that, and a slot is always the same (rule, package, version), so
//! the reader ends with exactly `min(results, distinct)` findings.

use std::io::{self, Write};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Rules in `tool.driver.rules` (at least 1).
    pub rules: usize,
    /// Results in the run.
    pub results: u64,
    /// Distinct (rule, package) pairs the results cycle through (at least 1).
    pub distinct: u64,
    /// Approximate length in characters of each long text (descriptions, messages).
    pub string_len: usize,
    pub seed: u64,
    /// The image reference written to `run.properties.repoTags`.
    pub image: String,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            rules: 500,
            results: 10_000,
            distinct: 2_000,
            string_len: 200,
            seed: 1,
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/synthetic/app:1.0.0".to_string(),
        }
    }
}

impl SynthConfig {
    /// Sets `results` so that the whole document is close to `target_bytes` (within a few
    /// percent for documents much larger than the rules section).
    pub fn target_bytes(mut self, target_bytes: u64) -> io::Result<SynthConfig> {
        let mut probe = self.clone();
        probe.results = 0;
        let fixed = write_synthetic(io::sink(), &probe)?;
        const SAMPLE: u64 = 256;
        probe.results = SAMPLE;
        probe.distinct = self.distinct.max(1);
        let with_sample = write_synthetic(io::sink(), &probe)?;
        let per_result = (with_sample.saturating_sub(fixed) / SAMPLE).max(1);
        self.results = target_bytes.saturating_sub(fixed) / per_result;
        Ok(self)
    }

    /// How many findings a reader should produce from this document.
    pub fn expected_findings(&self) -> u64 {
        self.results.min(self.distinct.max(1))
    }
}

/// SplitMix64: small, fast, deterministic; not for anything but test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// Counts bytes on their way to the inner writer.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Mostly English, like real advisories, with some non-ASCII words (about 1 token in 8).
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "buffer", "overflow", "in", "the", "parser", "allows", "remote", "attackers", "to", "execute", "code", "via",
    "crafted", "input", "a", "heap", "use-after-free", "when", "handling", "certificates", "denial", "of", "service",
    "through", "memory", "exhaustion", "versions", "before", "are", "affected",
    "Sécurité", "脆弱性", "naïve", "🚀",
];

/// Pieces already escaped for JSON, inserted verbatim between words.
const ESCAPED: &[&str] = &[
    r#"\"quoted\""#,
    r"C:\\path\\file",
    r"line\nbreak",
    r"tab\there",
    r"ctl\u0001",
    r"caf\u00e9",
    r"rocket \ud83d\ude80",
    r"\/slash",
];

/// Writes the inside of a JSON string (no quotes) of about `len` characters.
fn text<W: Write>(w: &mut W, rng: &mut Rng, len: usize) -> io::Result<()> {
    let mut written = 0usize;
    while written < len {
        // About 1 token in 16 is an escape sequence.
        if rng.below(16) == 0 {
            let e = ESCAPED[rng.below(ESCAPED.len() as u64) as usize];
            w.write_all(e.as_bytes())?;
            written += e.len();
        } else {
            let word = WORDS[rng.below(WORDS.len() as u64) as usize];
            w.write_all(word.as_bytes())?;
            written += word.chars().count();
        }
        w.write_all(b" ")?;
        written += 1;
    }
    Ok(())
}

/// Severity 1–5, skewed towards the middle like real image scans.
fn severity_of(rule: u64) -> u64 {
    match rule % 10 {
        0 => 5,
        1 | 2 => 4,
        3..=5 => 3,
        6 | 7 => 2,
        _ => 1,
    }
}

/// Writes a QScanner-shaped SARIF document; returns the bytes written.
pub fn write_synthetic<W: Write>(w: W, cfg: &SynthConfig) -> io::Result<u64> {
    let mut out = Counting { inner: io::BufWriter::with_capacity(256 * 1024, w), bytes: 0 };
    let w = &mut out;
    let rules = cfg.rules.max(1) as u64;
    let distinct = cfg.distinct.max(1);
    let mut rng = Rng(cfg.seed);

    w.write_all(
        br#"{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":{"name":"QScanner","version":"4.3.0-synthetic","informationUri":"https://www.qualys.com","rules":["#,
    )?;
    for r in 0..rules {
        if r > 0 {
            w.write_all(b",")?;
        }
        let qid = 100_000 + r;
        let sev = severity_of(r);
        write!(
            w,
            r#"{{"id":"qid-{qid}","name":"Synthetic vulnerability {qid}","shortDescription":{{"text":"Synthetic QID {qid}: "#
        )?;
        text(w, &mut rng, 40)?;
        w.write_all(br#""},"fullDescription":{"text":""#)?;
        text(w, &mut rng, cfg.string_len)?;
        write!(w, r#""}},"help":{{"text":"Upgrade the package. "#)?;
        text(w, &mut rng, cfg.string_len / 2)?;
        write!(
            w,
            r#"","markdown":"**Upgrade**"}},"helpUri":"https://qualysguard.example/qid/{qid}","properties":{{"severity":{sev},"cve-ids":["CVE-{}-{:05}","CVE-{}-{:05}"],"qds":{},"tags":["vulnerability","qid"]}}}}"#,
            2015 + r % 10,
            10_000 + r,
            2015 + (r + 3) % 10,
            50_000 + r,
            20 + (r * 7) % 80,
        )?;
    }
    w.write_all(br#"]}},"results":["#)?;
    for i in 0..cfg.results {
        if i > 0 {
            w.write_all(b",")?;
        }
        let slot = if i < distinct { i } else { rng.below(distinct) };
        let rule = slot % rules;
        let qid = 100_000 + rule;
        let level = match severity_of(rule) {
            5 | 4 => "error",
            3 => "warning",
            _ => "note",
        };
        write!(
            w,
            r#"{{"ruleId":"qid-{qid}","ruleIndex":{rule},"level":"{level}","message":{{"text":"pkg-{slot} is vulnerable: "#
        )?;
        text(w, &mut rng, cfg.string_len)?;
        write!(
            w,
            r#""}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"usr/lib/pkg-{slot}/lib.so"}}}}}}],"properties":{{"QID":{qid},"vulnerableSoftware":[{{"name":"pkg-{slot}","installedVersion":"1.{}.{}","fixedVersion":"1.{}.{}","layerSHA":"sha256:{:064x}"}}]}}}}"#,
            slot % 97,
            slot % 13,
            slot % 97,
            slot % 13 + 1,
            slot % 7,
        )?;
    }
    write!(
        w,
        r#"],"properties":{{"imageID":"sha256:{:064x}","imageName":"synthetic/app","repoTags":["{}"],"repoDigests":[],"layerInfo":[{{"sha":"sha256:{:064x}","createdBy":"synthetic"}}],"policyResult":"DENY"}}}}]}}"#,
        cfg.seed,
        cfg.image.replace(['"', '\\'], ""),
        0,
    )?;
    w.flush()?;
    Ok(out.bytes)
}

/// The shape of a linter's report (ruff-like): a few dozen rules, every result a distinct
/// finding at its own line of its own file, nothing to share between results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintShape {
    /// A real linter's result: rule, level, a short message, file, line and column range
    /// (about 250 bytes).
    Ruff,
    /// About the smallest result a distinct finding can have: rule, a one-letter message and
    /// a fingerprint (about 60 bytes).
    Tiny,
}

/// Writes a linter-shaped SARIF of `results` results, each a distinct finding; returns the
/// bytes written. Streams like [`write_synthetic`]; `seed` changes only the Ruff messages.
pub fn write_lint<W: Write>(w: W, shape: LintShape, results: u64, seed: u64) -> io::Result<u64> {
    const RULES: u64 = 60;
    let mut out = Counting { inner: io::BufWriter::with_capacity(256 * 1024, w), bytes: 0 };
    let w = &mut out;
    // ruff's findings are quality findings (not imported by default); the tiny ones are a
    // security tool's (rules tagged `security`), imported like QScanner's.
    let tool = match shape {
        LintShape::Ruff => "ruff",
        LintShape::Tiny => "synthetic-sast",
    };
    write!(w, r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"{tool}","version":"0.8.0","rules":["#)?;
    for r in 0..RULES {
        if r > 0 {
            w.write_all(b",")?;
        }
        let tags = match shape {
            LintShape::Ruff => "",
            LintShape::Tiny => r#","properties":{"tags":["security"]}"#,
        };
        write!(w, r#"{{"id":"R{r}","shortDescription":{{"text":"Synthetic lint rule {r}"}}{tags}}}"#)?;
    }
    w.write_all(br#"]}},"results":["#)?;
    for i in 0..results {
        if i > 0 {
            w.write_all(b",")?;
        }
        // Every (file, line) once: 2 000 lines per file. The same result `i` for every seed
        // (a rescan finds the same findings; only the Ruff message names the seed).
        let (file, line) = (i / 2_000, i % 2_000 + 1);
        let rule = (i * 7 + file) % RULES;
        match shape {
            LintShape::Ruff => write!(
                w,
                r#"{{"ruleId":"R{rule}","level":"error","message":{{"text":"Line too long ({} > 88) in expression {seed}"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"src/package_{}/module_{file}.py"}},"region":{{"startLine":{line},"startColumn":89,"endLine":{line},"endColumn":{}}}}}}}]}}"#,
                89 + rule,
                file % 50,
                89 + rule,
            )?,
            LintShape::Tiny => {
                write!(w, r#"{{"ruleId":"R{rule}","message":{{"text":"m"}},"fingerprints":{{"k":"{i:x}"}}}}"#)?
            }
        }
    }
    w.write_all(b"]}]}")?;
    w.flush()?;
    Ok(out.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scangate_core::sarif::read_sarif;

    fn generate(cfg: &SynthConfig) -> Vec<u8> {
        let mut buf = Vec::new();
        let n = write_synthetic(&mut buf, cfg).expect("writing to a Vec works");
        assert_eq!(n, buf.len() as u64, "the byte count is exact");
        buf
    }

    #[test]
    fn output_reads_back_with_exactly_distinct_findings() {
        let cfg =
            SynthConfig { rules: 40, results: 3_000, distinct: 250, string_len: 120, seed: 7, ..Default::default() };
        let doc = generate(&cfg);
        serde_json::from_slice::<serde::de::IgnoredAny>(&doc).expect("valid JSON");
        let r = read_sarif(doc.as_slice(), "synthetic").expect("reads");
        assert_eq!(r.findings.len() as u64, cfg.expected_findings());
        assert_eq!(r.findings.len(), 250);
        assert_eq!(r.results_read, 3_000);
        assert_eq!(r.warning_count, 0, "{:?}", r.warnings);
        let occ: u64 = r.findings.iter().map(|f| u64::from(f.occurrences)).sum();
        assert_eq!(occ, 3_000);
        assert_eq!(r.policy_result, scangate_core::policy::PolicyResult::Deny);
        assert!(r.findings.iter().all(|f| f.package.is_some() && f.layer.is_some() && f.cves.len() == 2));
        let text = String::from_utf8(doc).expect("UTF-8");
        assert!(text.contains(r"\ud83d\ude80") && text.contains("脆弱性") && text.contains(r#"\""#));
    }

    #[test]
    fn fewer_results_than_distinct() {
        let cfg = SynthConfig { rules: 3, results: 10, distinct: 1_000, string_len: 10, ..Default::default() };
        let r = read_sarif(generate(&cfg).as_slice(), "s").expect("reads");
        assert_eq!(r.findings.len(), 10);
    }

    #[test]
    fn deterministic_from_the_seed() {
        let cfg = SynthConfig { rules: 5, results: 50, distinct: 20, string_len: 30, ..Default::default() };
        assert_eq!(generate(&cfg), generate(&cfg));
        assert_ne!(generate(&cfg), generate(&SynthConfig { seed: 2, ..cfg.clone() }));
    }

    #[test]
    fn sized_by_target_bytes() {
        let target = 2_000_000;
        let cfg = SynthConfig { rules: 50, distinct: 500, string_len: 150, ..Default::default() }
            .target_bytes(target)
            .expect("sizing works");
        let n = write_synthetic(io::sink(), &cfg).expect("writes");
        let off = (n as f64 - target as f64).abs() / target as f64;
        assert!(off < 0.05, "{n} bytes for a target of {target}");
    }

    #[test]
    fn lint_shapes_read_back_with_every_result_a_finding() {
        for (shape, per_result) in [(LintShape::Ruff, 200..300), (LintShape::Tiny, 50..70)] {
            let mut doc = Vec::new();
            let n = write_lint(&mut doc, shape, 5_000, 3).expect("writing to a Vec works");
            assert_eq!(n, doc.len() as u64);
            let r = read_sarif(doc.as_slice(), "lint").expect("reads");
            assert_eq!((r.findings.len(), r.results_read, r.warning_count), (5_000, 5_000, 0), "{:?}", r.warnings);
            assert!(per_result.contains(&(doc.len() / 5_000)), "{shape:?}: {} bytes a result", doc.len() / 5_000);
        }
    }
}

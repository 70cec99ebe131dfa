//! The pipeline outputs (`exported-variables`): their values, the outputs file every run ends by
//! writing (`finish`), its strict reader and `scan exports`.

use super::args::{ExportsArgs, GateOpts};
use super::private;
use crate::error::CliError;
use crate::exit;
use scangate_core::evaluate::Evaluated;
use scangate_core::Verdict;
use std::path::Path;

/// The pipeline outputs, in docs/design.md's order and names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PipelineOutputs {
    pub vulnerability_count: Option<u64>,
    pub critical_count: Option<u64>,
    pub high_count: Option<u64>,
    pub medium_count: Option<u64>,
    pub low_count: Option<u64>,
    pub policy_result: String,
    pub scan_passed: bool,
    pub sarif_path: String,
    pub json_path: String,
    pub sbom_path: String,
    pub verdict_key: String,
    pub informational_count: Option<u64>,
    pub waived_count: Option<u64>,
    pub not_fixable_count: Option<u64>,
}

/// Every output variable name, as docs/design.md lists them (the last three were added later,
/// at the end, so that the order of the others never changed).
pub(super) const NAMES: [&str; 14] = [
    "vulnerability_count",
    "critical_count",
    "high_count",
    "medium_count",
    "low_count",
    "policy_result",
    "scan_passed",
    "sarif_path",
    "json_path",
    "sbom_path",
    "verdict_key",
    "informational_count",
    "waived_count",
    "not_fixable_count",
];

impl PipelineOutputs {
    pub(super) fn pairs(&self) -> Vec<(&'static str, String)> {
        let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let values = [
            n(self.vulnerability_count),
            n(self.critical_count),
            n(self.high_count),
            n(self.medium_count),
            n(self.low_count),
            self.policy_result.clone(),
            self.scan_passed.to_string(),
            self.sarif_path.clone(),
            self.json_path.clone(),
            self.sbom_path.clone(),
            self.verdict_key.clone(),
            n(self.informational_count),
            n(self.waived_count),
            n(self.not_fixable_count),
        ];
        NAMES.into_iter().zip(values).collect()
    }

    /// `name=value` lines, values shell-quoted when needed (the file can be sourced with `set -a; . FILE`).
    pub(super) fn env_file(&self) -> String {
        self.pairs().into_iter().map(|(k, v)| format!("{k}={}\n", shell_quote(&v))).collect()
    }

    /// `export name=value` lines for `eval "$(scangate scan … --print-exports)"`.
    pub(super) fn exports(&self) -> String {
        self.pairs().into_iter().map(|(k, v)| format!("export {k}={}\n", shell_quote(&v))).collect()
    }
}

/// Quotes a value for POSIX shells: bare when it is only safe characters, else single-quoted.
pub(super) fn shell_quote(v: &str) -> String {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:@+-=,".contains(&b)) {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// Reads an outputs file strictly: each line `name=value` with `name` one of [`NAMES`] (at most
/// once) and `value` bare safe characters or one single-quoted string as [`shell_quote`] writes it.
/// Nothing in it is ever executed: the values come back as plain strings.
pub(super) fn parse_env_file(text: &str) -> Result<Vec<(&'static str, String)>, String> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = n + 1;
        if line.is_empty() {
            continue;
        }
        let (name, raw) = line.split_once('=').ok_or_else(|| format!("line {at}: expected name=value"))?;
        let Some(known) = NAMES.into_iter().find(|k| *k == name) else {
            return Err(format!("line {at}: {name:?} is not a pipeline output ({})", NAMES.join(", ")));
        };
        if out.iter().any(|(k, _)| *k == known) {
            return Err(format!("line {at}: {known} appears twice"));
        }
        let value = unquote(raw).ok_or_else(|| {
            format!("line {at}: the value of {known} is neither bare safe characters nor one single-quoted string")
        })?;
        out.push((known, value));
    }
    Ok(out)
}

/// The inverse of [`shell_quote`], and nothing more.
fn unquote(raw: &str) -> Option<String> {
    if raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:@+-=,".contains(&b)) {
        return Some(raw.to_string());
    }
    let inner = raw.strip_prefix('\'')?.strip_suffix('\'')?;
    // Inside, a quote only ever appears as the sequence '\'' (close, escaped quote, reopen).
    let mut value = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(i) = rest.find('\'') {
        value.push_str(&rest[..i]);
        rest = rest[i..].strip_prefix("'\\''")?;
        value.push('\'');
    }
    value.push_str(rest);
    Some(value)
}

/// `export name=value` lines for every pipeline output, from a strictly read outputs file;
/// names it lacks are exported empty (`scan_passed` as `false`).
pub(super) fn exports_from(values: &[(&'static str, String)]) -> String {
    NAMES
        .into_iter()
        .map(|k| {
            let v = values.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
            let v = v.unwrap_or_else(|| if k == "scan_passed" { "false".into() } else { String::new() });
            format!("export {k}={}\n", shell_quote(&v))
        })
        .collect()
}

pub(super) fn set_counts(outs: &mut PipelineOutputs, ev: &Evaluated) {
    set_verdict_counts(outs, &ev.verdict);
    outs.policy_result = ev.policy_result.as_str().to_string();
}

pub(super) fn set_verdict_counts(outs: &mut PipelineOutputs, v: &Verdict) {
    let c = &v.counts;
    outs.vulnerability_count = Some(c.total);
    outs.critical_count = Some(c.critical);
    outs.high_count = Some(c.high);
    outs.medium_count = Some(c.medium);
    outs.low_count = Some(c.low);
    outs.informational_count = Some(c.informational);
    // Counted apart, as the pipeline-gate's outputs are (docs/waivers.md).
    outs.waived_count = Some(v.waived.total);
    outs.not_fixable_count = Some(v.not_fixable.total);
}

pub(super) fn write_text(path: &Path, text: &str, what: &str) -> Result<(), CliError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    // Never through a symlink planted at `path` (a checkout may hold one): a new file renamed over it.
    private::write_file(path, text.as_bytes())
        .map_err(|e| CliError::usage(format!("{what}: cannot write {}: {e}", path.display())))
}

/// Writes the outputs file (and export lines) and returns the exit code.
pub(super) fn finish(code: i32, outs: &PipelineOutputs, gate: &GateOpts) -> Result<i32, CliError> {
    let mut outs = outs.clone();
    outs.scan_passed = code == exit::PASSED;
    write_text(gate.outputs_file(), &outs.env_file(), "--outputs-file / SCANGATE_OUTPUTS_FILE")?;
    if gate.print_exports {
        print!("{}", outs.exports());
    }
    eprintln!("scangate: pipeline outputs written to {}; exit {code}", gate.outputs_file().display());
    Ok(code)
}

/// `scangate scan exports`: the outputs file, read strictly, as `export` lines on stdout.
pub(super) fn run_exports(a: &ExportsArgs) -> Result<i32, CliError> {
    let path = match (&a.outputs_file, &a.work_dir) {
        (Some(f), _) => f.clone(),
        (None, Some(w)) => {
            private::check_private_dir(w)
                .map_err(|e| CliError::usage(format!("--work-dir / SCANGATE_WORK_DIR: {e}")))?;
            w.join(private::OUTPUTS_FILE)
        }
        (None, None) => {
            return Err(CliError::usage(
                "scan exports needs --work-dir / SCANGATE_WORK_DIR or --outputs-file / SCANGATE_OUTPUTS_FILE",
            ))
        }
    };
    let values = match private::read_regular(&path, 64 * 1024) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|e| {
                CliError::internal(format!("{}: not UTF-8 at byte {}", path.display(), e.utf8_error().valid_up_to()))
            })?;
            parse_env_file(&text).map_err(|e| CliError::internal(format!("{}: {e}", path.display())))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "scangate: {} does not exist (the scan did not get far); exporting scan_passed=false",
                path.display()
            );
            Vec::new()
        }
        Err(e) => return Err(CliError::internal(format!("{}: {e}", path.display()))),
    };
    print!("{}", exports_from(&values));
    Ok(exit::PASSED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc/d.json"), "abc/d.json");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $(x)"), r"'it'\''s $(x)'");
    }

    #[test]
    fn env_file_has_every_name() {
        let o = PipelineOutputs { critical_count: Some(2), scan_passed: false, ..Default::default() };
        let f = o.env_file();
        for n in NAMES {
            assert!(f.lines().any(|l| l.starts_with(&format!("{n}="))), "{n} missing in {f}");
        }
        assert!(f.contains("critical_count=2\n") && f.contains("scan_passed=false\n"));
        assert!(o.exports().starts_with("export vulnerability_count=''\n"));
    }

    #[test]
    fn counts_apart_from_the_thresholds_are_outputs_too() {
        let gate = scangate_core::policy::GatePolicy::default();
        let input = scangate_core::verdict::VerdictInput::default();
        let mut v = Verdict::unprocessable(input, &gate, "x".into());
        v.counts.informational = 4;
        v.waived.total = 3;
        v.not_fixable.total = 2;
        let mut o = PipelineOutputs::default();
        set_verdict_counts(&mut o, &v);
        let f = o.env_file();
        for line in ["informational_count=4\n", "waived_count=3\n", "not_fixable_count=2\n", "critical_count=0\n"] {
            assert!(f.contains(line), "{line:?} missing in {f}");
        }
        // Appended after the first eleven, whose order scripts may rely on.
        assert_eq!(NAMES[10], "verdict_key");
        assert_eq!(&NAMES[11..], ["informational_count", "waived_count", "not_fixable_count"]);
    }

    #[test]
    fn strict_reader_round_trips_and_refuses_code() {
        let o = PipelineOutputs {
            critical_count: Some(2),
            sarif_path: "/tmp/w/it's $(id) `x`.json".into(),
            verdict_key: "results/p/b/verdict.json".into(),
            ..Default::default()
        };
        let parsed = parse_env_file(&o.env_file()).expect("our own file");
        assert_eq!(parsed, o.pairs());
        for (bad, why) in [
            ("scan_passed=true; touch /tmp/pwned\n", "command after a value"),
            ("scan_passed=$(touch /tmp/pwned)\n", "command substitution"),
            ("PATH=/evil\n", "unknown name"),
            ("export scan_passed=true\n", "not name=value"),
            ("scan_passed=true\nscan_passed=false\n", "duplicate"),
            ("sarif_path='a'b'\n", "broken quoting"),
            ("sarif_path='a\n", "unterminated quote"),
            ("junk\n", "no ="),
        ] {
            assert!(parse_env_file(bad).is_err(), "{why}: {bad:?} accepted");
        }
        let exports = exports_from(&parsed);
        assert!(exports.contains("export sarif_path='/tmp/w/it'\\''s $(id) `x`.json'\n"), "{exports}");
        let none = exports_from(&[]);
        assert!(none.contains("export scan_passed=false\n") && none.contains("export verdict_key=''\n"));
        assert_eq!(none.lines().count(), NAMES.len());
    }
}

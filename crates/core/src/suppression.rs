//! SARIF suppressions (SARIF 2.1.0 §3.35) and which of them the gate honours
//! (`HONOR_SUPPRESSIONS`, `--honor-suppressions`, stack parameter `HonorSuppressions`).
//!
//! A suppression of kind `inSource` is written in the scanned repository itself (`// nosemgrep`,
//! `# nosec`, `#[allow(...)]`): whoever can push to the repository can write one, so by default
//! it does not take a finding out of the gate. A suppression of kind `external` is kept outside
//! the source (a scanner's server-side exception, a code-scanning dismissal).
//!
//! The rule (docs/security.md, "Suppressions"): a result counts as suppressed when its
//! `suppressions` array is non-empty, every entry's status is `accepted` or absent (an
//! `underReview` or `rejected` entry leaves it unsuppressed; the reader decides this), and
//! **every** entry is of a kind the setting honours. A result with one `inSource` and one
//! `external` entry is therefore not suppressed under `external`: an entry the setting does
//! not trust never helps. An entry without a `kind`, or with a kind SARIF does not define, is
//! honoured only under `all`. The kinds of all results that collapse into one finding are
//! merged, so the rule holds over every occurrence.
//!
//! A suppressed finding keeps its severity, is counted under the verdict's `suppressed`, not
//! against the thresholds, and is still imported into Security Hub with its justification; a
//! finding whose suppression is not honoured counts like any other and shows the suppression
//! it claimed ([`crate::asff`], ProductFields `scangate/Suppression*`).

use crate::finding::Finding;
use crate::sarif::Report;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many characters of a suppression's `justification` are kept (after sanitising).
pub const MAX_JUSTIFICATION_CHARS: usize = 512;

/// A suppression entry's `kind` (SARIF 2.1.0 §3.35.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SuppressionKind {
    /// In the scanned source itself (a comment or attribute next to the code).
    #[serde(rename = "inSource")]
    InSource,
    /// Outside the source (the scanner's or a platform's own record).
    #[serde(rename = "external")]
    External,
    /// Absent, or not a kind SARIF defines.
    #[serde(rename = "unknown")]
    Unknown,
}

impl SuppressionKind {
    /// Reads a SARIF `kind` value; anything but `inSource` and `external` is [`SuppressionKind::Unknown`].
    pub fn from_sarif(s: Option<&str>) -> SuppressionKind {
        match s {
            Some("inSource") => SuppressionKind::InSource,
            Some("external") => SuppressionKind::External,
            _ => SuppressionKind::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionKind::InSource => "inSource",
            SuppressionKind::External => "external",
            SuppressionKind::Unknown => "unknown",
        }
    }
}

/// Which suppressions the gate honours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HonorSuppressions {
    /// None: every suppressed finding counts.
    None,
    /// Only `external` suppressions (the default): the scanned repository cannot suppress its
    /// own findings.
    #[default]
    External,
    /// Every accepted suppression, `inSource` ones included.
    All,
}

impl HonorSuppressions {
    /// Parses `none`, `external` or `all` (case-insensitive).
    pub fn parse(s: &str) -> Result<HonorSuppressions, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(HonorSuppressions::None),
            "external" => Ok(HonorSuppressions::External),
            "all" => Ok(HonorSuppressions::All),
            _ => Err(format!("expected none, external or all, got {:?}", crate::text::truncate_chars(s, 40))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HonorSuppressions::None => "none",
            HonorSuppressions::External => "external",
            HonorSuppressions::All => "all",
        }
    }

    /// Whether an entry of this kind may suppress.
    pub fn honours(self, kind: SuppressionKind) -> bool {
        match self {
            HonorSuppressions::None => false,
            HonorSuppressions::External => kind == SuppressionKind::External,
            HonorSuppressions::All => true,
        }
    }
}

impl fmt::Display for HonorSuppressions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding's SARIF suppressions said, over every result that collapsed into it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The entries' kinds, sorted, each once.
    pub kinds: Vec<SuppressionKind>,
    /// The first non-blank `justification`, on one line through the one sanitizer, at most
    /// [`MAX_JUSTIFICATION_CHARS`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Whether the evaluation's `HONOR_SUPPRESSIONS` honoured it ([`apply`]); false as read.
    #[serde(default)]
    pub honoured: bool,
}

impl Suppression {
    /// A suppression of these entries (kinds in any order, repeats allowed).
    pub fn new(kinds: impl IntoIterator<Item = SuppressionKind>, justification: Option<&str>) -> Suppression {
        let mut s = Suppression { kinds: Vec::new(), justification: None, honoured: false };
        s.add_kinds(kinds);
        s.justification = justification.and_then(clean_justification);
        s
    }

    fn add_kinds(&mut self, kinds: impl IntoIterator<Item = SuppressionKind>) {
        self.kinds.extend(kinds);
        self.kinds.sort_unstable();
        self.kinds.dedup();
    }

    /// Merges another occurrence's suppression into this one (kinds united; the first
    /// justification stays).
    pub fn merge(&mut self, other: &Suppression) {
        self.add_kinds(other.kinds.iter().copied());
        if self.justification.is_none() {
            self.justification.clone_from(&other.justification);
        }
    }

    /// The rule: every entry is of an honoured kind (and there is one).
    pub fn honoured_by(&self, mode: HonorSuppressions) -> bool {
        !self.kinds.is_empty() && self.kinds.iter().all(|k| mode.honours(*k))
    }

    /// The kinds, comma-separated (`external`, `inSource,external`).
    pub fn kinds_text(&self) -> String {
        let names: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        names.join(",")
    }
}

/// A justification as kept: one line, no control or invisible characters, bounded; None when blank.
pub fn clean_justification(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let cut = crate::text::truncate_chars(s, MAX_JUSTIFICATION_CHARS);
    let line = crate::text::display_line(&cut).trim().to_string();
    (!line.is_empty()).then_some(line)
}

/// Applies `HONOR_SUPPRESSIONS` to a read report: the suppressed findings whose suppression
/// the setting does not honour go back to `report.findings` (they count, and show the
/// suppression they claimed, `honoured` false); the rest stay in `report.suppressed`,
/// `honoured` true. Returns how many went back. Idempotent; finding ids are unchanged.
/// [`crate::evaluate::evaluate`] does the same, finding by finding, with [`honour`].
pub fn apply(report: &mut Report, mode: HonorSuppressions) -> usize {
    let mut back = 0;
    let mut kept = Vec::with_capacity(report.suppressed.len());
    for mut f in std::mem::take(&mut report.suppressed) {
        if honour(&mut f, mode) {
            kept.push(f);
        } else {
            back += 1;
            report.findings.push(f);
        }
    }
    report.suppressed = kept;
    back
}

/// Whether the setting honours the suppression of one finding read as suppressed.
pub fn honoured(finding: &Finding, mode: HonorSuppressions) -> bool {
    finding.suppression.as_ref().is_some_and(|s| s.honoured_by(mode))
}

/// Whether the setting honours the suppression of one finding read as suppressed; records
/// the answer in its `suppression.honoured`. Not honoured, it counts like any other finding.
pub fn honour(finding: &mut Finding, mode: HonorSuppressions) -> bool {
    let honoured = honoured(finding, mode);
    if let Some(s) = finding.suppression.as_mut() {
        s.honoured = honoured;
    }
    honoured
}

#[cfg(test)]
mod tests {
    use super::*;
    use HonorSuppressions::{All, External, None as Nothing};
    use SuppressionKind::{External as Ext, InSource, Unknown};

    /// The rule, as a table: (entries' kinds, setting, suppressed?).
    #[test]
    fn which_suppressions_are_honoured() {
        let cases: &[(&[SuppressionKind], HonorSuppressions, bool)] = &[
            (&[InSource], Nothing, false),
            (&[InSource], External, false),
            (&[InSource], All, true),
            (&[Ext], Nothing, false),
            (&[Ext], External, true),
            (&[Ext], All, true),
            // Mixed entries: every entry must be honoured; an untrusted one never helps.
            (&[InSource, Ext], Nothing, false),
            (&[InSource, Ext], External, false),
            (&[InSource, Ext], All, true),
            (&[Ext, Ext], External, true),
            // No kind, or one SARIF does not define: only `all`.
            (&[Unknown], External, false),
            (&[Unknown], All, true),
            (&[Ext, Unknown], External, false),
            // No entry at all: nothing to honour.
            (&[], All, false),
            (&[], External, false),
        ];
        for (kinds, mode, want) in cases {
            let s = Suppression::new(kinds.iter().copied(), Some("why"));
            assert_eq!(s.honoured_by(*mode), *want, "{kinds:?} under {mode}");
        }
    }

    #[test]
    fn settings_parse_and_print() {
        for (text, want) in [("none", Nothing), ("External", External), (" ALL ", All)] {
            assert_eq!(HonorSuppressions::parse(text), Ok(want));
            assert_eq!(HonorSuppressions::parse(want.as_str()), Ok(want));
        }
        assert_eq!(HonorSuppressions::default(), External, "the repository's own suppressions are ignored by default");
        let err = HonorSuppressions::parse("insource").expect_err("refused");
        assert!(err.contains("none, external or all"), "{err}");
    }

    #[test]
    fn justification_is_one_clean_bounded_line() {
        let s = Suppression::new([InSource], Some("  false positive\n\u{1b}[31mred\u{202e}  "));
        let j = s.justification.expect("kept");
        assert!(!j.contains('\n') && !j.contains('\u{1b}') && !j.contains('\u{202e}'), "{j:?}");
        assert!(j.starts_with("false positive"), "{j:?}");
        let long = "x".repeat(MAX_JUSTIFICATION_CHARS * 3);
        let s = Suppression::new([Ext], Some(&long));
        assert_eq!(s.justification.map(|j| j.chars().count()), Some(MAX_JUSTIFICATION_CHARS));
        assert_eq!(Suppression::new([Ext], Some(" \t ")).justification, None);
    }

    #[test]
    fn merging_unites_kinds_and_keeps_the_first_justification() {
        let mut a = Suppression::new([Ext], None);
        a.merge(&Suppression::new([InSource, Ext], Some("second")));
        assert_eq!(a.kinds, vec![InSource, Ext]);
        assert_eq!(a.justification.as_deref(), Some("second"));
        a.merge(&Suppression::new([Ext], Some("third")));
        assert_eq!(a.justification.as_deref(), Some("second"));
        assert!(!a.honoured_by(External), "one inSource occurrence keeps the finding counted");
    }
}

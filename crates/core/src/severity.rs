//! Severity normalisation, in the order docs/design.md fixes:
//! Qualys `properties.severity` 1–5, then `security-severity` (CVSS), then the SARIF level.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Security Hub severity labels, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

/// Where a finding's severity came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeveritySource {
    /// Qualys `properties.severity` (1–5).
    Qualys,
    /// `properties.security-severity` (a CVSS score, number or string).
    SecuritySeverity,
    /// The SARIF `level` of the result, or the rule's default configuration.
    Level,
}

/// The SARIF `level` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Note,
    Warning,
    Error,
}

impl Level {
    /// Parses a SARIF level; unknown strings give `None` so the caller can warn.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "none" => Some(Level::None),
            "note" => Some(Level::Note),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

impl Severity {
    /// All labels, most severe first (the order of tables and reports).
    pub const ALL_DESC: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Informational];

    /// The Security Hub label.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// The normalized score docs/design.md assigns to each label.
    pub fn normalized(self) -> u8 {
        match self {
            Severity::Informational => 0,
            Severity::Low => 20,
            Severity::Medium => 40,
            Severity::High => 70,
            Severity::Critical => 90,
        }
    }

    /// Qualys severity 1–5; anything else is not a Qualys severity.
    pub fn from_qualys(value: i64) -> Option<Severity> {
        match value {
            1 => Some(Severity::Informational),
            2 => Some(Severity::Low),
            3 => Some(Severity::Medium),
            4 => Some(Severity::High),
            5 => Some(Severity::Critical),
            _ => None,
        }
    }

    /// A CVSS score (0.0–10.0) as Security Hub's label. Scores outside the range,
    /// or not finite, are not a usable score.
    pub fn from_cvss(score: f64) -> Option<Severity> {
        if !score.is_finite() || !(0.0..=10.0).contains(&score) {
            return None;
        }
        Some(if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Informational
        })
    }

    /// The SARIF level as a label.
    pub fn from_level(level: Level) -> Severity {
        match level {
            Level::Error => Severity::High,
            Level::Warning => Severity::Medium,
            Level::Note => Severity::Low,
            Level::None => Severity::Informational,
        }
    }

    /// Parses a label case-insensitively (`critical`, `HIGH`, `informational`, `info`).
    pub fn parse_label(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Some(Severity::Critical),
            "HIGH" => Some(Severity::High),
            "MEDIUM" => Some(Severity::Medium),
            "LOW" => Some(Severity::Low),
            "INFORMATIONAL" | "INFO" => Some(Severity::Informational),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The resolved severity of one finding, with the value it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSeverity {
    pub label: Severity,
    pub source: SeveritySource,
    /// The original value as written in the report (`5`, `9.8`, `error`).
    pub original: String,
}

/// Applies docs/design.md's order: the first input that gives a usable value wins.
/// `level` is the result's level, else the rule's default level, else `warning`
/// (the caller passes `None` when neither is present).
pub fn resolve(qualys: Option<i64>, security_severity: Option<f64>, level: Option<Level>) -> ResolvedSeverity {
    if let Some(label) = qualys.and_then(Severity::from_qualys) {
        return ResolvedSeverity {
            label,
            source: SeveritySource::Qualys,
            original: qualys.map(|q| q.to_string()).unwrap_or_default(),
        };
    }
    if let Some(score) = security_severity {
        if let Some(label) = Severity::from_cvss(score) {
            return ResolvedSeverity { label, source: SeveritySource::SecuritySeverity, original: format_score(score) };
        }
    }
    let level = level.unwrap_or(Level::Warning);
    ResolvedSeverity {
        label: Severity::from_level(level),
        source: SeveritySource::Level,
        original: level.as_str().to_string(),
    }
}

/// Formats a CVSS score the way people write it (`9.8`, `7`, `6.5`).
pub fn format_score(score: f64) -> String {
    if score.fract() == 0.0 {
        format!("{score:.1}")
    } else {
        let s = format!("{score:.2}");
        s.trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_boundaries() {
        let table = [
            (10.0, Some(Severity::Critical)),
            (9.0, Some(Severity::Critical)),
            (8.99, Some(Severity::High)),
            (7.0, Some(Severity::High)),
            (6.9, Some(Severity::Medium)),
            (4.0, Some(Severity::Medium)),
            (3.9, Some(Severity::Low)),
            (0.1, Some(Severity::Low)),
            (0.0, Some(Severity::Informational)),
            (-1.0, None),
            (10.1, None),
            (f64::NAN, None),
        ];
        for (score, want) in table {
            assert_eq!(Severity::from_cvss(score), want, "score {score}");
        }
    }

    #[test]
    fn order_of_sources() {
        let r = resolve(Some(5), Some(1.0), Some(Level::Note));
        assert_eq!((r.label, r.source, r.original.as_str()), (Severity::Critical, SeveritySource::Qualys, "5"));
        let r = resolve(Some(9), Some(7.5), Some(Level::Note));
        assert_eq!((r.label, r.source, r.original.as_str()), (Severity::High, SeveritySource::SecuritySeverity, "7.5"));
        let r = resolve(None, Some(42.0), Some(Level::Note));
        assert_eq!((r.label, r.source), (Severity::Low, SeveritySource::Level));
        let r = resolve(None, None, None);
        assert_eq!((r.label, r.original.as_str()), (Severity::Medium, "warning"));
        let r = resolve(Some(1), None, Some(Level::Error));
        assert_eq!(r.label, Severity::Informational);
    }

    #[test]
    fn normalized_scores() {
        let got: Vec<u8> = Severity::ALL_DESC.iter().map(|s| s.normalized()).collect();
        assert_eq!(got, vec![90, 70, 40, 20, 0]);
    }
}

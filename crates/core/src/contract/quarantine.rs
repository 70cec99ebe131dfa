//! Why a report was quarantined, as a typed kind: the `kind` of
//! `quarantine/<key>.reason.json` (docs/report-processor.md, "Failure handling"). Scripts
//! can tell a limit (`too_large`, `too_many_findings`: a policy, split the scan or raise the
//! limit) from a broken report without parsing the text of the reason. Extend, never rename.

/// The kind of a quarantine reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineKind {
    /// The key or the uploader's claims were refused: no results were written.
    Refused,
    /// A `scangate-*` metadata value is invalid.
    InvalidMetadata,
    /// Larger than `MAX_REPORT_BYTES`: never read.
    TooLarge,
    /// More distinct findings than `MAX_FINDINGS`.
    TooManyFindings,
    /// Not JSON, or not a SARIF 2.1.0 log.
    NotSarif,
}

impl QuarantineKind {
    /// The name `reason.json` carries.
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineKind::Refused => "refused",
            QuarantineKind::InvalidMetadata => "invalid_metadata",
            QuarantineKind::TooLarge => "too_large",
            QuarantineKind::TooManyFindings => "too_many_findings",
            QuarantineKind::NotSarif => "not_sarif",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_contract_names() {
        for kind in [
            QuarantineKind::Refused,
            QuarantineKind::InvalidMetadata,
            QuarantineKind::TooLarge,
            QuarantineKind::TooManyFindings,
            QuarantineKind::NotSarif,
        ] {
            let json = serde_json::to_string(&kind).expect("serializes");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<QuarantineKind>(&json).expect("reads"), kind);
        }
    }
}

//! CloudWatch embedded metric format (EMF): one JSON line per report on stdout, which
//! CloudWatch Logs turns into metrics without any API call.

use serde_json::json;

/// The namespace the metrics are published in.
pub const NAMESPACE: &str = "scangate";

/// Counts for one processed report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportMetrics {
    pub findings: u64,
    pub imported: u64,
    pub archived: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub import_calls: u64,
    pub throttled_retries: u64,
    pub processing_ms: u64,
}

/// The EMF document for one report; `timestamp_ms` is the Unix time in milliseconds.
pub fn emf(m: &ReportMetrics, function: &str, timestamp_ms: u64) -> serde_json::Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [
                    {"Name": "Findings", "Unit": "Count"},
                    {"Name": "FindingsImported", "Unit": "Count"},
                    {"Name": "FindingsArchived", "Unit": "Count"},
                    {"Name": "FindingsUnchanged", "Unit": "Count"},
                    {"Name": "FindingsFailed", "Unit": "Count"},
                    {"Name": "ImportCalls", "Unit": "Count"},
                    {"Name": "ThrottledRetries", "Unit": "Count"},
                    {"Name": "ProcessingTime", "Unit": "Milliseconds"}
                ]
            }]
        },
        "Function": function,
        "Findings": m.findings,
        "FindingsImported": m.imported,
        "FindingsArchived": m.archived,
        "FindingsUnchanged": m.unchanged,
        "FindingsFailed": m.failed,
        "ImportCalls": m.import_calls,
        "ThrottledRetries": m.throttled_retries,
        "ProcessingTime": m.processing_ms,
    })
}

/// Writes the EMF line to stdout (not through `tracing`: EMF must be the whole line).
pub fn emit(m: &ReportMetrics, function: &str) {
    let ts =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    println!("{}", emf(m, function, ts));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_metric_has_a_value() {
        let m = ReportMetrics { imported: 3, throttled_retries: 2, processing_ms: 17, ..Default::default() };
        let doc = emf(&m, "report-processor", 1_700_000_000_000);
        let declared = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().expect("metrics array");
        assert_eq!(declared.len(), 8);
        for d in declared {
            let name = d["Name"].as_str().expect("name");
            assert!(doc[name].is_u64(), "{name} has no value");
        }
        assert_eq!(doc["FindingsImported"], 3);
        assert_eq!(doc["ThrottledRetries"], 2);
        assert_eq!(doc["Function"], "report-processor");
    }
}

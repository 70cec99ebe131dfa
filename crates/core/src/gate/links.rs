//! Where a person reads more: the key of the human summary beside a verdict and an S3
//! console link to it, for the gate's messages and output variables.

use crate::text::url_encode_path;
use crate::verdict::Verdict;

/// The key of the human summary that goes with a verdict: `results/<project>/<build-id>/summary.md`,
/// next to a per-build verdict, or derived from the report key for a by-execution verdict.
pub fn summary_key(verdict_key: &str, verdict: &Verdict) -> Option<String> {
    if let Some(beside) = crate::contract::summary_beside(verdict_key) {
        return Some(beside);
    }
    let parts: Vec<&str> = verdict.report.key.split('/').collect();
    if parts.len() >= 3 {
        let n = parts.len();
        return Some(crate::contract::summary_key(parts[n - 3], parts[n - 2]));
    }
    None
}

/// An S3 console link to an object.
pub fn console_url(bucket: &str, key: &str, region: Option<&str>) -> String {
    match region {
        Some(r) => format!(
            "https://{r}.console.aws.amazon.com/s3/object/{}?region={r}&prefix={}",
            url_encode_path(bucket),
            url_encode_path(key)
        ),
        None => format!(
            "https://console.aws.amazon.com/s3/object/{}?prefix={}",
            url_encode_path(bucket),
            url_encode_path(key)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::testing::verdict;
    use crate::policy::{Counts, GatePolicy, PolicyResult};

    #[test]
    fn by_execution_summary_comes_from_the_report_key() {
        let v = verdict(Counts::default(), PolicyResult::None, &GatePolicy::default());
        assert_eq!(
            summary_key("results/by-execution/app/e-1/verdict.json", &v).as_deref(),
            Some("results/web/b-1/summary.md")
        );
        assert_eq!(summary_key("results/web/b-9/verdict.json", &v).as_deref(), Some("results/web/b-9/summary.md"));
    }
}

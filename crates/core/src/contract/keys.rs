//! Every object key layout the runner, the report-processor and the pipeline-gate build
//! (`scans/`, `results/`, `results/by-execution/`, `state/`, `quarantine/`, publish markers,
//! report-group exports), and the checks a report key passes before anything is derived from it.

/// Where the runner uploads reports (the processor's default `SCAN_PREFIX`).
pub const SCAN_PREFIX: &str = "scans/";
/// Where the processor writes verdicts, JUnit, summaries and publish markers.
pub const RESULTS_PREFIX: &str = "results/";
/// The per-pipeline-execution verdict copies the pipeline-gate reads.
pub const BY_EXECUTION_PREFIX: &str = "results/by-execution/";
/// One lifecycle state object per lifecycle key.
pub const STATE_PREFIX: &str = "state/";
/// Copies of reports that can never be processed, with a reason beside them.
pub const QUARANTINE_PREFIX: &str = "quarantine/";
/// Where the copy of a report whose key cannot be used as it is goes:
/// `quarantine/_invalid-keys/<sha256 of the key>.sarif`.
pub const HASHED_QUARANTINE_PREFIX: &str = "quarantine/_invalid-keys/";
/// Where the report groups the processor creates export their raw reports.
pub const REPORT_GROUP_EXPORT_PREFIX: &str = "report-groups/";
/// The object name of the SARIF report the runner uploads under its scan folder.
pub const REPORT_OBJECT_NAME: &str = "report.sarif";
/// Report object suffixes the processor reads (case-insensitive).
pub const SARIF_SUFFIXES: [&str; 2] = [".sarif.json", ".sarif"];
/// Prefixes the processor writes to: never processed, whatever SCAN_PREFIX is (an empty
/// prefix would otherwise process its own quarantine copies, forever).
pub const OWN_PREFIXES: [&str; 3] = [QUARANTINE_PREFIX, RESULTS_PREFIX, STATE_PREFIX];

/// S3's longest object key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest name the processor writes under a results folder: `publish/<token>.json`
/// (the token is `scangate-` and 32 hex digits).
const LONGEST_RESULT_NAME: usize = "publish/".len() + "scangate-".len() + 32 + ".json".len();

/// Checks a report key before anything is derived from it (docs/security.md, the over-long key): at
/// most [`MAX_KEY_BYTES`], no control characters, no empty, `.` or `..` segment below
/// `prefix`, and every results key derived from it fits S3's limit. The error says why.
pub fn check_report_key(key: &str, prefix: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("the key is {} bytes, more than S3's {MAX_KEY_BYTES}", key.len()));
    }
    if let Some((at, c)) = key.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!("the key holds a control character (U+{:04X}) at byte {at}", c as u32));
    }
    let rest = key.strip_prefix(prefix).unwrap_or(key);
    for (i, segment) in rest.split('/').enumerate() {
        match segment {
            "" => return Err(format!("the key has an empty segment (segment {} below {prefix:?})", i + 1)),
            "." | ".." => {
                return Err(format!("the key has a {segment:?} segment (segment {} below {prefix:?})", i + 1))
            }
            _ => {}
        }
    }
    let (project, build_id) = results_dir(key, prefix);
    let longest = results_dir_key(&project, &build_id).len() + 1 + LONGEST_RESULT_NAME;
    if longest > MAX_KEY_BYTES {
        return Err(format!(
            "the results keys derived from it (results/<project>/<build-id>/…) would be {longest} bytes, \
             more than S3's {MAX_KEY_BYTES}"
        ));
    }
    Ok(())
}

/// True when `quarantine/<key>` and its `.reason.json` fit S3's key limit and the key has
/// no control characters (else the quarantine copy gets a hashed name).
pub fn quarantine_key_fits(report_key: &str) -> bool {
    quarantine_reason_key(report_key).len() <= MAX_KEY_BYTES && !report_key.chars().any(char::is_control)
}

/// The runner's upload folder of one build: `scans/<project>/<build-id>/`.
pub fn scan_dir(project: &str, build_id: &str) -> String {
    format!("{SCAN_PREFIX}{project}/{build_id}/")
}

/// The results folder of one build: `results/<project>/<build-id>`.
pub fn results_dir_key(project: &str, build_id: &str) -> String {
    format!("{RESULTS_PREFIX}{project}/{build_id}")
}

/// `results/<project>/<build-id>/verdict.json`.
pub fn verdict_key(project: &str, build_id: &str) -> String {
    format!("{}/verdict.json", results_dir_key(project, build_id))
}

/// `results/<project>/<build-id>/junit.xml`.
pub fn junit_key(project: &str, build_id: &str) -> String {
    format!("{}/junit.xml", results_dir_key(project, build_id))
}

/// `results/<project>/<build-id>/summary.md`.
pub fn summary_key(project: &str, build_id: &str) -> String {
    format!("{}/summary.md", results_dir_key(project, build_id))
}

/// `results/<project>/<build-id>/hub.json`: the Security Hub outcome of the report, written
/// after `verdict.json` by the report-processor.
pub fn hub_key(project: &str, build_id: &str) -> String {
    format!("{}/hub.json", results_dir_key(project, build_id))
}

/// The marker of a started publisher build: `results/<project>/<build-id>/publish/<token>.json`.
pub fn publish_marker_key(project: &str, build_id: &str, token: &str) -> String {
    format!("{}/publish/{token}.json", results_dir_key(project, build_id))
}

/// The verdict copy of one pipeline execution: `results/by-execution/<pipeline>/<execution-id>/verdict.json`.
pub fn by_execution_verdict_key(pipeline: &str, execution_id: &str) -> String {
    format!("{BY_EXECUTION_PREFIX}{pipeline}/{execution_id}/verdict.json")
}

/// The summary beside a per-build verdict key (`…/verdict.json` → `…/summary.md`); None for
/// a by-execution key or a key that does not end in `verdict.json`.
pub fn summary_beside(verdict_key: &str) -> Option<String> {
    if verdict_key.starts_with(BY_EXECUTION_PREFIX) {
        return None;
    }
    let dir = verdict_key.strip_suffix("verdict.json")?;
    (dir.is_empty() || dir.ends_with('/')).then(|| format!("{dir}summary.md"))
}

/// The lifecycle state object: `state/<lifecycle-hash>.json`.
pub fn state_key(lifecycle_hash: &str) -> String {
    format!("{STATE_PREFIX}{lifecycle_hash}.json")
}

/// The quarantine copy of a report: `quarantine/<report key>`.
pub fn quarantine_key(report_key: &str) -> String {
    format!("{QUARANTINE_PREFIX}{report_key}")
}

/// The reason beside a quarantine copy: `quarantine/<report key>.reason.json`.
pub fn quarantine_reason_key(report_key: &str) -> String {
    quarantine_copy_reason_key(&quarantine_key(report_key))
}

/// The quarantine copy a report gets: `quarantine/<report key>`, or a hashed name under
/// [`HASHED_QUARANTINE_PREFIX`] when that would not fit S3's limit or the key holds control
/// characters (the reason keeps the original key).
pub fn quarantine_copy_key(report_key: &str) -> String {
    use sha2::{Digest, Sha256};
    if quarantine_key_fits(report_key) {
        quarantine_key(report_key)
    } else {
        format!("{HASHED_QUARANTINE_PREFIX}{}.sarif", hex::encode(Sha256::digest(report_key.as_bytes())))
    }
}

/// The reason beside a quarantine copy: `<copy key>.reason.json`.
pub fn quarantine_copy_reason_key(copy_key: &str) -> String {
    format!("{copy_key}.reason.json")
}

/// Where a report group's raw reports are exported: `report-groups/<name>`.
pub fn report_group_export_path(group: &str) -> String {
    format!("{REPORT_GROUP_EXPORT_PREFIX}{group}")
}

/// A report name without its `.sarif` / `.sarif.json` suffix (case-insensitive).
pub fn strip_sarif_suffix(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    for suffix in SARIF_SUFFIXES {
        if lower.ends_with(suffix) {
            return &name[..name.len() - suffix.len()];
        }
    }
    name
}

/// True when the key is under the prefix, ends like a SARIF report and is not one of
/// the processor's own objects.
pub fn is_report_key(key: &str, prefix: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    key.starts_with(prefix)
        && SARIF_SUFFIXES.iter().any(|s| lower.ends_with(s))
        && !OWN_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// `(<project>, <build-id>)` from `<prefix><project>/<build-id>/<name>`: the results folder
/// of a report. Keys of another shape use `_` for the project and the name without its suffix.
pub fn results_dir(key: &str, prefix: &str) -> (String, String) {
    let rest = key.strip_prefix(prefix).unwrap_or(key);
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [project, build, ..] if parts.len() >= 3 => (project.to_string(), build.to_string()),
        [project, name] => (project.to_string(), strip_sarif_suffix(name).to_string()),
        [name] => ("_".to_string(), strip_sarif_suffix(name).to_string()),
        _ => ("_".to_string(), "_".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_keys_fit() {
        assert_eq!(quarantine_copy_key("scans/p/b/r.sarif"), "quarantine/scans/p/b/r.sarif");
        assert_eq!(
            quarantine_copy_reason_key(&quarantine_copy_key("scans/p/b/r.sarif")),
            quarantine_reason_key("scans/p/b/r.sarif")
        );
        let long = format!("scans/p/b/{}.sarif", "x".repeat(1000));
        let q = quarantine_copy_key(&long);
        assert!(
            q.starts_with(HASHED_QUARANTINE_PREFIX) && quarantine_copy_reason_key(&q).len() <= MAX_KEY_BYTES,
            "{q}"
        );
        assert_ne!(q, quarantine_copy_key(&format!("{long}x")));
        assert!(
            quarantine_copy_key("scans/p/b/r\n.sarif").starts_with(HASHED_QUARANTINE_PREFIX),
            "a control character"
        );
    }

    #[test]
    fn key_layouts() {
        assert_eq!(scan_dir("p", "b"), "scans/p/b/");
        assert_eq!(verdict_key("p", "b"), "results/p/b/verdict.json");
        assert_eq!(junit_key("p", "b"), "results/p/b/junit.xml");
        assert_eq!(summary_key("p", "b"), "results/p/b/summary.md");
        assert_eq!(hub_key("p", "b"), "results/p/b/hub.json");
        assert_eq!(publish_marker_key("p", "b", "t"), "results/p/b/publish/t.json");
        assert_eq!(by_execution_verdict_key("pl", "e"), "results/by-execution/pl/e/verdict.json");
        assert_eq!(state_key("ab"), "state/ab.json");
        assert_eq!(quarantine_key("scans/p/b/report.sarif"), "quarantine/scans/p/b/report.sarif");
        assert_eq!(quarantine_reason_key("scans/x.sarif"), "quarantine/scans/x.sarif.reason.json");
        assert_eq!(report_group_export_path("g"), "report-groups/g");
        assert_eq!(summary_beside("results/p/b/verdict.json").as_deref(), Some("results/p/b/summary.md"));
        assert_eq!(summary_beside(&by_execution_verdict_key("pl", "e")), None);
        assert_eq!(summary_beside("results/p/b/other.json"), None);
        // What the runner uploads is what the processor reads, and its results folder is the
        // folder the runner waits on.
        let report = format!("{}{REPORT_OBJECT_NAME}", scan_dir("proj", "b-1"));
        assert!(is_report_key(&report, SCAN_PREFIX));
        let (p, b) = results_dir(&report, SCAN_PREFIX);
        assert_eq!(verdict_key(&p, &b), verdict_key("proj", "b-1"));
        for own in OWN_PREFIXES {
            assert!(!is_report_key(&format!("{own}x/1/r.sarif"), ""), "{own}");
        }
    }

    #[test]
    fn report_keys_are_checked_before_anything_is_derived() {
        for ok in ["scans/app/b-1/report.sarif", "scans/my app/build 7/100% done.sarif", "scans/p/b/a.b..c.sarif"] {
            assert_eq!(check_report_key(ok, SCAN_PREFIX), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("scans/../victim/b/report.sarif", "\"..\" segment"),
            ("scans/app/../../results/x.sarif", "\"..\" segment"),
            ("scans/./app/b/report.sarif", "\".\" segment"),
            ("scans/app//b/report.sarif", "empty segment"),
            ("scans/app/b\u{7}/report.sarif", "control character (U+0007)"),
            ("scans/app/b\n/report.sarif", "control character (U+000A)"),
        ] {
            let err = check_report_key(bad, SCAN_PREFIX).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = format!("scans/{}/b/report.sarif", "p".repeat(1000));
        assert!(check_report_key(&long, SCAN_PREFIX).expect_err("derived keys too long").contains("results keys"));
        let too_long = format!("scans/p/b/{}.sarif", "x".repeat(1100));
        assert!(check_report_key(&too_long, SCAN_PREFIX).expect_err("over S3's limit").contains("more than S3's 1024"));
        // The limit is exact: the longest derived key of a fitting key is at most 1024 bytes.
        let project = "p".repeat(MAX_KEY_BYTES - "results/".len() - "/b/".len() - LONGEST_RESULT_NAME);
        let fits = format!("scans/{project}/b/report.sarif");
        assert_eq!(check_report_key(&fits, SCAN_PREFIX), Ok(()));
        assert_eq!(publish_marker_key(&project, "b", &format!("scangate-{}", "0".repeat(32))).len(), MAX_KEY_BYTES);
        assert!(check_report_key(&format!("scans/{project}p/b/report.sarif"), SCAN_PREFIX).is_err());
        assert!(quarantine_key_fits("scans/p/b/report.sarif"));
        assert!(!quarantine_key_fits(&format!("scans/p/b/{}.sarif", "x".repeat(1000))));
        assert!(!quarantine_key_fits("scans/p/b\u{1}/report.sarif"));
    }
}

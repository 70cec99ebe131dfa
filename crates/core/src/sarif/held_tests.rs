//! The attacks `ReadLimits::max_held_bytes` and the reader's other bounds stop, each performed
//! at scaled-down limits: what the reader would hold besides the kept findings grows with the
//! document (rules, artifacts, runs, one long value, results waiting for their tool, lists,
//! message expansion) and is either refused with what and how much, or kept bounded.

use super::*;

const MIB: u64 = 1024 * 1024;

fn held(doc: &str, cap: u64) -> Result<Report, SarifError> {
    read_sarif_limited(doc.as_bytes(), "test.sarif", ReadLimits { max_held_bytes: Some(cap), ..ReadLimits::default() })
}

fn too_large(r: Result<Report, SarifError>) -> (String, u64) {
    match r {
        Err(SarifError::TooLarge { what, limit, .. }) => (what, limit),
        Err(e) => panic!("expected TooLarge, got {e}"),
        Ok(r) => panic!("expected TooLarge, got a report of {} runs", r.runs.len()),
    }
}

fn log(runs: &str) -> String {
    format!(r#"{{"version":"2.1.0","runs":[{runs}]}}"#)
}

fn rules(n: usize, text: &str) -> String {
    (0..n)
        .map(|i| format!(r#"{{"id":"R{i}","shortDescription":{{"text":"{text}"}},"help":{{"text":"{text}"}}}}"#))
        .collect::<Vec<_>>()
        .join(",")
}

fn result(rule: &str, uri: &str) -> String {
    format!(
        r#"{{"ruleId":"{rule}","message":{{"text":"m"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"{uri}"}}}}}}]}}"#
    )
}

/// 50 000 rules with long texts and no results: about 25 MB of tool. Under a 1 MiB cap the
/// tool is a single value longer than the cap: refused as soon as 1 MiB of it is read (never
/// copied whole), naming where it starts.
#[test]
fn fifty_thousand_rules_with_long_texts_are_refused_without_being_buffered() {
    let text = "t".repeat(240);
    let doc =
        log(&format!(r#"{{"tool":{{"driver":{{"name":"ruff","rules":[{}]}}}},"results":[]}}"#, rules(50_000, &text)));
    assert!(doc.len() > 25_000_000, "{}", doc.len());
    let (what, limit) = too_large(held(&doc, MIB));
    assert_eq!(limit, MIB);
    assert_eq!(what, "the JSON value at byte offset 35", "the tool's value");
    assert_eq!(&doc[35..39], "{\"dr");
    // The message the processor quarantines with names the file, what and the cap.
    let e = held(&doc, MIB).expect_err("over");
    assert_eq!(
        e.to_string(),
        "test.sarif: the JSON value at byte offset 35: more than the reader may hold (1048576 bytes)"
    );
}

/// Many tiny rules (`{}`, three bytes each) in a tool well under the value cap: each costs a
/// rule structure of several hundred bytes, so 300 000 of them would hold over 100 MB from
/// 900 KB. They are charged as they are read: the reader stops at the cap, having kept no more
/// rules than fit it, and names the array and how many.
#[test]
fn tiny_rules_are_charged_at_their_cost_not_their_length() {
    let tiny = vec!["{}"; 300_000].join(",");
    let doc = log(&format!(r#"{{"tool":{{"driver":{{"name":"x","rules":[{tiny}]}}}},"results":[]}}"#));
    assert!((doc.len() as u64) < MIB, "{}", doc.len());
    let (what, limit) = too_large(held(&doc, MIB));
    assert_eq!(limit, MIB);
    let kept: usize = what
        .strip_prefix("runs[0].tool.driver.rules: ")
        .and_then(|w| w.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("names the rules and how many: {what}"));
    let per_rule = std::mem::size_of::<parse::RuleInfo>();
    assert_eq!(kept, MIB as usize / per_rule + 1, "stopped at the first rule over the cap ({what})");
    assert!(kept < 300_000 / 50, "{kept} rules held at most");
}

/// A report with many rules but few results is processed when its rules fit the cap: the
/// read is the uncapped read.
#[test]
fn many_rules_few_results_are_read_when_they_fit() {
    let text = "t".repeat(200);
    let doc = log(&format!(
        r#"{{"tool":{{"driver":{{"name":"ruff","rules":[{}]}}}},"results":[{},{}]}}"#,
        rules(2_000, &text),
        result("R7", "a.py"),
        result("R1999", "b.py")
    ));
    let r = held(&doc, 4 * MIB).expect("2 000 rules of 400 bytes of text fit 4 MiB");
    assert_eq!((r.findings.len(), r.runs[0].rules), (2, 2_000));
    assert_eq!(r, read_sarif(doc.as_bytes(), "test.sarif").expect("reads"));
    // The same rules at a quarter of the cap: refused, the rules named.
    let (what, _) = too_large(held(&doc, MIB));
    assert!(what.starts_with("runs[0].tool.driver.rules: "), "{what}");
}

/// 10 000 runs: each leaves a summary in the report (and its completeness reasons). They are
/// charged for the whole document; a cap they do not fit refuses the report at the run that
/// goes over, a cap they fit reads them all.
#[test]
fn ten_thousand_runs_are_counted() {
    let run = r#"{"tool":{"driver":{"name":"scanner"}},"invocations":[{"executionSuccessful":false}],"results":[]}"#;
    let doc = log(&vec![run; 10_000].join(","));
    let (what, _) = too_large(held(&doc, 256 * 1024));
    let at: usize = what
        .strip_prefix("runs[")
        .and_then(|w| w.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("names the run: {what}"));
    assert!(at < 10_000 / 4, "stopped at run {at}: {what}");
    // The run that went over: at its summary, or at its tool (its tables count with the others).
    let summaries = format!("runs[{at}]: the summaries and completeness reasons of {} runs", at + 1);
    assert!(
        what == summaries || what == format!("runs[{at}].tool.driver: a tool component and its message strings"),
        "{what}"
    );
    let r = held(&doc, 8 * MIB).expect("fits 8 MiB");
    assert_eq!((r.runs.len(), r.incomplete.len()), (10_000, 10_000));
}

/// One result whose message is 10 MB: a single value longer than a 1 MiB cap, refused while
/// it is read (never buffered whole), its byte offset named.
#[test]
fn a_ten_megabyte_message_is_refused_at_its_offset() {
    let long = "x".repeat(10_000_000);
    let head = r#"{"tool":{"driver":{"name":"x"}},"results":["#;
    let doc = log(&format!(r#"{head}{{"ruleId":"R","message":{{"text":"{long}"}}}}]}}"#));
    let offset = doc.find(r#"{"ruleId""#).expect("the result");
    let (what, _) = too_large(held(&doc, MIB));
    assert_eq!(what, format!("the JSON value at byte offset {offset}"));
    let r = held(&doc, 16 * MIB).expect("fits 16 MiB");
    assert_eq!(r.findings.len(), 1);
}

/// 300 000 empty artifacts (`{}`): 900 KB that would hold 7 MB of entries. Charged as read.
#[test]
fn tiny_artifacts_are_charged() {
    let doc = log(&format!(
        r#"{{"tool":{{"driver":{{"name":"x"}}}},"artifacts":[{}],"results":[]}}"#,
        vec!["{}"; 300_000].join(",")
    ));
    let (what, _) = too_large(held(&doc, MIB));
    assert!(what.starts_with("runs[0].artifacts: ") && what.ends_with(" artifacts"), "{what}");
    let r = held(&doc, 16 * MIB).expect("fits 16 MiB");
    assert_eq!(r.runs.len(), 1);
}

/// Results that come before their run's tool wait until the run closes: charged, so 20 000 of
/// them are refused under a cap they do not fit, and read when they fit.
#[test]
fn results_waiting_for_their_tool_are_charged() {
    let results: Vec<String> = (0..20_000).map(|i| result("R", &format!("f{i}.py"))).collect();
    let doc = log(&format!(r#"{{"results":[{}],"tool":{{"driver":{{"name":"x"}}}}}}"#, results.join(",")));
    let (what, _) = too_large(held(&doc, MIB));
    assert!(what.starts_with("runs[0].results: ") && what.contains("waiting for the run's tool"), "{what}");
    let r = held(&doc, 64 * MIB).expect("fits 64 MiB");
    assert_eq!(r.findings.len(), 20_000);
}

/// Lists inside a result keep at most `MAX_LIST_ITEMS` elements: 50 000 tags of `""` would
/// hold 1.2 MB of string headers from 150 KB; the rest are counted in a warning.
#[test]
fn long_lists_in_a_result_are_cut_with_a_warning() {
    let tags = vec![r#""t""#; 50_000].join(",");
    let doc = log(&format!(
        r#"{{"tool":{{"driver":{{"name":"x"}}}},"results":[{{"ruleId":"R","message":{{"text":"m"}},"properties":{{"tags":[{tags}]}}}}]}}"#
    ));
    let r = read_sarif(doc.as_bytes(), "test.sarif").expect("reads");
    assert!(r.findings[0].tags.len() <= lenient::MAX_LIST_ITEMS, "{}", r.findings[0].tags.len());
    assert!(
        r.warnings.iter().any(|w| w.path.ends_with("properties.tags") && w.message.starts_with("49000 element(s)")),
        "{:?}",
        r.warnings
    );
}

/// A message template of 100 000 `{0}` with a 1 000-byte argument would fill to 100 MB from
/// 300 KB; a message of 50 000 links to a related location with a 10 KB path, to 500 MB.
/// Both expansions stop at `MAX_EXPANSION` bytes more than what was written.
#[test]
fn message_expansion_is_bounded() {
    let template = "{0}".repeat(100_000);
    let arg = "a".repeat(1_000);
    let doc = log(&format!(
        r#"{{"tool":{{"driver":{{"name":"x","rules":[{{"id":"R","messageStrings":{{"m":{{"text":"{template}"}}}}}}]}}}},
           "results":[{{"ruleId":"R","message":{{"id":"m","arguments":["{arg}"]}}}}]}}"#
    ));
    let r = read_sarif(doc.as_bytes(), "test.sarif").expect("reads");
    let bound = template.len() + arg.len() + message::MAX_EXPANSION + arg.len() + 3;
    assert!(r.findings[0].description.len() <= bound, "{}", r.findings[0].description.len());
    assert!(r.findings[0].description.len() > message::MAX_EXPANSION, "filled up to the bound");

    let path = "p".repeat(10_000);
    let links = "[](0)".repeat(50_000);
    let doc = log(&format!(
        r#"{{"tool":{{"driver":{{"name":"x"}}}},"results":[{{"ruleId":"R","message":{{"text":"{links}"}},
           "relatedLocations":[{{"id":0,"physicalLocation":{{"artifactLocation":{{"uri":"{path}"}}}}}}]}}]}}"#
    ));
    let r = read_sarif(doc.as_bytes(), "test.sarif").expect("reads");
    let bound = links.len() + message::MAX_EXPANSION + path.len() + 3;
    assert!(r.findings[0].description.len() <= bound, "{}", r.findings[0].description.len());
}

/// A target's tags and digests: at most `MAX_TARGET_NAMES` each (checking each new one against
/// those kept is quadratic), the rest counted in a warning.
#[test]
fn target_tags_are_bounded() {
    let tags: Vec<String> = (0..1_000).map(|i| format!(r#""img:{i}""#)).collect();
    let doc = log(&format!(
        r#"{{"tool":{{"driver":{{"name":"x"}}}},"properties":{{"repoTags":[{}]}},"results":[]}}"#,
        tags.join(",")
    ));
    let r = read_sarif(doc.as_bytes(), "test.sarif").expect("reads");
    assert_eq!(r.target.repo_tags.len(), MAX_TARGET_NAMES);
    assert!(
        r.warnings.iter().any(|w| w.path == "runs[0].properties.repoTags" && w.message.starts_with("744 more")),
        "{:?}",
        r.warnings
    );
}

/// A run's `invocations` are walked one at a time: 100 000 failed invocations (and as many
/// error notifications) give `MAX_REASONS_PER_RUN` reasons and a count, not 200 000 strings.
#[test]
fn many_failed_invocations_keep_a_bounded_number_of_reasons() {
    let inv = r#"{"executionSuccessful":false,"toolExecutionNotifications":[{"level":"error","message":{"text":"boom"}},{"level":"error"}]}"#;
    let doc = log(&format!(
        r#"{{"tool":{{"driver":{{"name":"x"}}}},"invocations":[{}],"results":[]}}"#,
        vec![inv; 100_000].join(",")
    ));
    let r = read_sarif(doc.as_bytes(), "test.sarif").expect("reads");
    assert_eq!(r.incomplete.len(), MAX_REASONS_PER_RUN + 1, "{:?}", &r.incomplete[..3]);
    assert_eq!(r.incomplete[0], "x: runs[0].invocations[0].executionSuccessful is false");
    assert_eq!(r.incomplete[1], "x: runs[0].invocations[0].toolExecutionNotifications has an error: boom (and 1 more)");
    assert_eq!(
        r.incomplete[MAX_REASONS_PER_RUN],
        format!("x: runs[0].invocations: {} more reason(s) the run did not complete", 200_000 - MAX_REASONS_PER_RUN)
    );
}

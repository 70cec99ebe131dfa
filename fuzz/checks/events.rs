//! What the `events` fuzz target checks, shared with crates/core/tests/fuzz_regressions.rs.
//!
//! Any bytes given to the report-processor's event parser give an event or an error, never a
//! panic; errors name a JSON path (or a line and column); and what is parsed matches an
//! independent reading of the same JSON: one object per `ObjectCreated` record, in order, none
//! doubled or dropped, S3 keys URL-form-decoded exactly once (checked against a
//! decoder written apart from the parser's) and EventBridge keys not decoded at all.

use scangate_core::events::{parse_event, parse_event_value, Event, EventError, Parsed};
use serde_json::Value;

/// Runs the parser on `data` and checks it; returns the object keys announced, or the error.
pub(crate) fn check(data: &[u8]) -> Result<String, String> {
    let from_bytes = parse_event(data);
    if let Err(e) = &from_bytes {
        check_error(e);
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        assert!(matches!(from_bytes, Err(EventError::Json { .. })), "not JSON, yet {from_bytes:?}");
        return Err(from_bytes.err().map(|e| e.to_string()).unwrap_or_default());
    };
    // The processor hands the parser the runtime's already-decoded payload.
    let from_value = parse_event_value(&value);
    assert_eq!(from_value, from_bytes, "parse_event and parse_event_value disagree");
    match &from_value {
        Ok(event) => {
            check_event(&value, event);
            Ok(describe(event))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn describe(event: &Event) -> String {
    let parsed = |p: &Parsed| {
        let keys: Vec<&str> = p.objects.iter().map(|o| o.key.as_str()).collect();
        format!("keys {keys:?} ignored {} test {}", p.ignored.len(), p.test_event)
    };
    match event {
        Event::Direct(p) => format!("direct: {}", parsed(p)),
        Event::Sqs(messages) => {
            let each: Vec<String> = messages
                .iter()
                .map(|m| match &m.body {
                    Ok(p) => format!("{}: {}", m.message_id, parsed(p)),
                    Err(e) => format!("{}: error {e}", m.message_id),
                })
                .collect();
            format!("sqs: {}", each.join(" | "))
        }
    }
}

fn check_error(e: &EventError) {
    let text = e.to_string();
    match e {
        EventError::Json { line, .. } => {
            assert!(*line >= 1, "JSON error without a line: {text}");
            assert_eq!(text.matches(" at line ").count(), 1, "position given twice: {text}");
        }
        EventError::Shape { path, .. } | EventError::Key { path, .. } => {
            assert!(path.starts_with('$'), "error path {path:?} is not a JSON path: {text}");
            assert!(text.contains(path.as_str()), "error message does not name its path: {text}");
        }
    }
}

/// What an independent reading of a notification body announces.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    keys: Vec<String>,
    ignored: usize,
    test_event: bool,
}

/// URL-form decoding written independently of the parser's: split at each `%`, the two
/// characters after it are a hex byte. Only called on keys the parser accepted.
fn reference_decode(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    let mut pieces = spaced.split('%');
    let mut bytes: Vec<u8> = pieces.next().unwrap_or_default().as_bytes().to_vec();
    for piece in pieces {
        let hex = piece.get(..2).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => {
                bytes.push(b);
                bytes.extend_from_slice(&piece.as_bytes()[2..]);
            }
            // The parser accepted this key, so the reference must too: make the comparison fail.
            None => return format!("<reference decoder refused {raw:?}>"),
        }
    }
    String::from_utf8(bytes).unwrap_or_else(|_| format!("<reference decoder: {raw:?} is not UTF-8>"))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn expected_records(records: &[Value]) -> Expected {
    let mut out = Expected::default();
    for r in records {
        if str_at(r, "/eventName").starts_with("ObjectCreated:") {
            out.keys.push(reference_decode(str_at(r, "/s3/object/key")));
        } else {
            out.ignored += 1;
        }
    }
    out
}

fn expected_body(v: &Value) -> Expected {
    if str_at(v, "/Event") == "s3:TestEvent" {
        return Expected { test_event: true, ..Expected::default() };
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        return expected_records(records);
    }
    if v.get("detail-type").is_some() && str_at(v, "/source") == "aws.s3" {
        if str_at(v, "/detail-type") == "Object Created" {
            return Expected { keys: vec![str_at(v, "/detail/object/key").to_string()], ..Expected::default() };
        }
        return Expected { ignored: 1, ..Expected::default() };
    }
    // An SNS envelope: the notification is the JSON text of `Message`.
    let inner: Value = serde_json::from_str(str_at(v, "/Message")).unwrap_or(Value::Null);
    expected_body(&inner)
}

fn check_parsed(p: &Parsed, want: &Expected, what: &str) {
    for o in &p.objects {
        assert!(!o.bucket.is_empty(), "{what}: empty bucket in {o:?}");
        assert!(!o.key.is_empty(), "{what}: empty key in {o:?}");
        assert!(!o.event_name.is_empty(), "{what}: empty event name in {o:?}");
    }
    let got = Expected {
        keys: p.objects.iter().map(|o| o.key.clone()).collect(),
        ignored: p.ignored.len(),
        test_event: p.test_event,
    };
    assert_eq!(&got, want, "{what}: objects differ from an independent reading");
}

fn check_event(value: &Value, event: &Event) {
    let records = value.get("Records").and_then(Value::as_array);
    match event {
        Event::Direct(p) => {
            let want = match records {
                Some(records) => expected_records(records),
                None => expected_body(value),
            };
            check_parsed(p, &want, "direct event");
        }
        Event::Sqs(messages) => {
            let records = records.map(Vec::as_slice).unwrap_or_default();
            assert_eq!(messages.len(), records.len(), "one SQS message per record");
            for (i, (m, r)) in messages.iter().zip(records).enumerate() {
                assert_eq!(m.message_id, str_at(r, "/messageId"), "message {i} id");
                match &m.body {
                    Err(e) => {
                        check_error(e);
                        let prefix = format!("$.Records[{i}].body");
                        let text = e.to_string();
                        assert!(text.contains(&prefix), "message {i}'s error does not name {prefix}: {text}");
                    }
                    Ok(p) => {
                        let body: Value = serde_json::from_str(str_at(r, "/body")).unwrap_or(Value::Null);
                        check_parsed(p, &expected_body(&body), &format!("SQS message {i}"));
                    }
                }
            }
        }
    }
}

//! Parsing of the events that announce a new report object: S3 event notifications
//! delivered directly, the same wrapped in SQS messages (optionally inside an SNS
//! envelope), EventBridge "Object Created" events, and the `s3:TestEvent` S3 sends
//! when a notification configuration is created.
//!
//! Pure: bytes in, [`ObjectRef`]s out; no AWS and no I/O, so it can be fuzzed.
//! Errors name the JSON path of what was wrong and what was expected.

use serde_json::Value;

/// One object announced by an event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    /// The key, decoded (S3 notifications URL-form-encode it: `%XX`, and `+` for a space).
    pub key: String,
    pub version_id: Option<String>,
    /// Orders events for one key: see [`compare_sequencers`].
    pub sequencer: Option<String>,
    pub etag: Option<String>,
    pub size: Option<u64>,
    /// When S3 finished the request (RFC 3339), as the event says.
    pub event_time: Option<String>,
    /// `ObjectCreated:Put`, `Object Created`, …
    pub event_name: String,
    /// Who S3 says wrote the object: an S3 record's `userIdentity.principalId`
    /// (`AWS:<unique id>[:<session>]`), or an EventBridge event's `detail.requester` (an
    /// account id or service principal, which names no principal). See
    /// [`crate::contract::provenance`].
    pub requester: Option<String>,
}

impl ObjectRef {
    /// `key` in `bucket` as announced by a plain `ObjectCreated:Put` with nothing else known
    /// (no version, sequencer, ETag, size or time): what a manual invocation, a bench or a
    /// test hands the processor.
    pub fn put(bucket: &str, key: &str) -> ObjectRef {
        ObjectRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: None,
            sequencer: None,
            etag: None,
            size: None,
            event_time: None,
            event_name: "ObjectCreated:Put".to_string(),
            requester: None,
        }
    }
}

/// One SQS message of a batch: its id (for `batchItemFailures`) and what its body held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqsMessage {
    pub message_id: String,
    pub body: Result<Parsed, EventError>,
}

/// What an S3 notification or EventBridge event announced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Objects created.
    pub objects: Vec<ObjectRef>,
    /// Records ignored because they announce something other than a creation (with their event name).
    pub ignored: Vec<String>,
    /// True when this was an `s3:TestEvent` (nothing to do).
    pub test_event: bool,
}

/// An invocation payload, by envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// S3 → Lambda directly, EventBridge → Lambda, or an `s3:TestEvent`.
    Direct(Parsed),
    /// S3 → SQS → Lambda: one entry per SQS message, each parsed on its own.
    Sqs(Vec<SqsMessage>),
}

/// Why an event could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not valid JSON at line {line}, column {column}: {message}")]
    Json { line: usize, column: usize, message: String },
    #[error("event at {path}: expected {expected}")]
    Shape { path: String, expected: String },
    #[error("event at {path}: object key {key:?} is not valid URL-form encoding: {message}")]
    Key { path: String, key: String, message: String },
}

fn shape(path: &str, expected: &str) -> EventError {
    EventError::Shape { path: path.to_string(), expected: expected.to_string() }
}

/// Parses a Lambda invocation payload.
pub fn parse_event(bytes: &[u8]) -> Result<Event, EventError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        // serde_json appends " at line L column C", which the error already says.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        EventError::Json { line: e.line(), column: e.column(), message }
    })?;
    parse_event_value(&value)
}

/// Parses an already-decoded invocation payload.
pub fn parse_event_value(value: &Value) -> Result<Event, EventError> {
    let Some(obj) = value.as_object() else {
        return Err(shape("$", "a JSON object (S3 notification, SQS batch or EventBridge event)"));
    };
    if let Some(records) = obj.get("Records") {
        let Some(records) = records.as_array() else {
            return Err(shape("$.Records", "an array"));
        };
        let is_sqs = records.first().and_then(|r| r.get("eventSource")).and_then(Value::as_str) == Some("aws:sqs");
        if is_sqs {
            return parse_sqs(records).map(Event::Sqs);
        }
        return parse_s3_records(records, "$").map(Event::Direct);
    }
    parse_notification_body(value, "$").map(Event::Direct)
}

/// Parses anything that may be the body of one notification: S3 `Records`, an
/// EventBridge event, a test event, or an SNS envelope around one of these.
fn parse_notification_body(value: &Value, path: &str) -> Result<Parsed, EventError> {
    let Some(obj) = value.as_object() else {
        return Err(shape(path, "a JSON object"));
    };
    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Parsed { test_event: true, ..Parsed::default() });
    }
    if let Some(records) = obj.get("Records") {
        let Some(records) = records.as_array() else {
            return Err(shape(&format!("{path}.Records"), "an array"));
        };
        return parse_s3_records(records, path);
    }
    if obj.contains_key("detail-type") && obj.get("source").and_then(Value::as_str) == Some("aws.s3") {
        return parse_eventbridge(obj, path);
    }
    if obj.get("Type").and_then(Value::as_str) == Some("Notification") {
        let msg_path = format!("{path}.Message");
        let Some(message) = obj.get("Message").and_then(Value::as_str) else {
            return Err(shape(&msg_path, "a string holding the S3 notification (SNS envelope)"));
        };
        let inner: Value =
            serde_json::from_str(message).map_err(|e| shape(&msg_path, &format!("a JSON S3 notification ({e})")))?;
        return parse_notification_body(&inner, &msg_path);
    }
    Err(shape(
        path,
        "`Records` (S3 notification), `detail-type` with source aws.s3 (EventBridge) or `Event: s3:TestEvent`",
    ))
}

fn parse_sqs(records: &[Value]) -> Result<Vec<SqsMessage>, EventError> {
    let mut out = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let path = format!("$.Records[{i}]");
        let Some(message_id) = record.get("messageId").and_then(Value::as_str) else {
            // Without an id the message cannot be reported failed alone: the batch must fail.
            return Err(shape(&format!("{path}.messageId"), "a string (SQS message id)"));
        };
        let body_path = format!("{path}.body");
        let body = match record.get("body").and_then(Value::as_str) {
            None => Err(shape(&body_path, "a string holding the S3 notification")),
            Some(body) => match serde_json::from_str::<Value>(body) {
                Ok(v) => parse_notification_body(&v, &body_path),
                Err(e) => Err(shape(&body_path, &format!("a JSON S3 notification ({e})"))),
            },
        };
        out.push(SqsMessage { message_id: message_id.to_string(), body });
    }
    Ok(out)
}

fn opt_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn opt_size(v: Option<&Value>, path: &str) -> Result<Option<u64>, EventError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| shape(path, "a non-negative integer")),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| shape(path, "a non-negative integer")),
        Some(_) => Err(shape(path, "a non-negative integer")),
    }
}

fn required_str<'a>(v: Option<&'a Value>, path: &str, what: &str) -> Result<&'a str, EventError> {
    match v.and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(shape(path, what)),
    }
}

fn parse_s3_records(records: &[Value], base: &str) -> Result<Parsed, EventError> {
    let mut parsed = Parsed::default();
    for (i, record) in records.iter().enumerate() {
        let path = format!("{base}.Records[{i}]");
        let event_name = required_str(record.get("eventName"), &format!("{path}.eventName"), "a string event name")?;
        if !event_name.starts_with("ObjectCreated:") {
            parsed.ignored.push(event_name.to_string());
            continue;
        }
        let s3 = record.get("s3").ok_or_else(|| shape(&format!("{path}.s3"), "an object"))?;
        let bucket = required_str(
            s3.get("bucket").and_then(|b| b.get("name")),
            &format!("{path}.s3.bucket.name"),
            "a bucket name",
        )?;
        let object = s3.get("object").ok_or_else(|| shape(&format!("{path}.s3.object"), "an object"))?;
        let key_path = format!("{path}.s3.object.key");
        let raw_key = required_str(object.get("key"), &key_path, "an object key")?;
        let key = decode_key(raw_key).map_err(|message| EventError::Key {
            path: key_path.clone(),
            key: raw_key.to_string(),
            message,
        })?;
        parsed.objects.push(ObjectRef {
            bucket: bucket.to_string(),
            key,
            version_id: opt_str(object.get("versionId")),
            sequencer: opt_str(object.get("sequencer")),
            etag: opt_str(object.get("eTag")),
            size: opt_size(object.get("size"), &format!("{path}.s3.object.size"))?,
            event_time: opt_str(record.get("eventTime")),
            event_name: event_name.to_string(),
            requester: opt_str(record.get("userIdentity").and_then(|u| u.get("principalId"))),
        });
    }
    Ok(parsed)
}

fn parse_eventbridge(obj: &serde_json::Map<String, Value>, path: &str) -> Result<Parsed, EventError> {
    let detail_type = required_str(obj.get("detail-type"), &format!("{path}.detail-type"), "a string")?;
    if detail_type != "Object Created" {
        return Ok(Parsed { ignored: vec![detail_type.to_string()], ..Parsed::default() });
    }
    let detail = obj.get("detail").ok_or_else(|| shape(&format!("{path}.detail"), "an object"))?;
    let bucket = required_str(
        detail.get("bucket").and_then(|b| b.get("name")),
        &format!("{path}.detail.bucket.name"),
        "a bucket name",
    )?;
    let object = detail.get("object").ok_or_else(|| shape(&format!("{path}.detail.object"), "an object"))?;
    // EventBridge keys are not encoded.
    let key = required_str(object.get("key"), &format!("{path}.detail.object.key"), "an object key")?;
    Ok(Parsed {
        objects: vec![ObjectRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: opt_str(object.get("version-id")),
            sequencer: opt_str(object.get("sequencer")),
            etag: opt_str(object.get("etag")),
            size: opt_size(object.get("size"), &format!("{path}.detail.object.size"))?,
            event_time: opt_str(obj.get("time")),
            event_name: detail_type.to_string(),
            requester: opt_str(detail.get("requester")),
        }],
        ..Parsed::default()
    })
}

/// Decodes an S3 event key: `+` is a space, `%XX` a byte; the bytes must be UTF-8.
pub fn decode_key(raw: &str) -> Result<String, String> {
    if !raw.contains(['%', '+']) {
        return Ok(raw.to_string());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16));
                let lo = bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 3;
                    }
                    _ => return Err(format!("`%` at byte {i} is not followed by two hex digits")),
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|e| format!("decoded bytes are not UTF-8 (at byte {})", e.utf8_error().valid_up_to()))
}

/// Compares two S3 sequencers of the same key: the shorter is right-padded with
/// zeros, then they compare as strings (hex digits, case-insensitive).
pub fn compare_sequencers(a: &str, b: &str) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    let pad = |s: &str| {
        let mut p = s.to_ascii_uppercase();
        p.extend(std::iter::repeat_n('0', len - s.len()));
        p
    };
    pad(a).cmp(&pad(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_keys() {
        let table = [
            ("scans/p/1/report.sarif", "scans/p/1/report.sarif"),
            ("scans/my+project/1/a+b.sarif", "scans/my project/1/a b.sarif"),
            ("scans/p/1/100%25+done.sarif", "scans/p/1/100% done.sarif"),
            ("scans/p/1/caf%C3%A9.sarif", "scans/p/1/café.sarif"),
            ("a%2Bb", "a+b"),
        ];
        for (raw, want) in table {
            assert_eq!(decode_key(raw).as_deref(), Ok(want), "{raw}");
        }
        assert!(decode_key("bad%2").is_err());
        assert!(decode_key("bad%zz").is_err());
        assert!(decode_key("%FF").is_err(), "not UTF-8");
    }

    #[test]
    fn sequencers_right_pad() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_sequencers("0055AED6DCD90281E5", "0055AED6DCD90281E6"), Less);
        assert_eq!(compare_sequencers("0055AED6DCD90281E5", "0055AED6DCD90281E500"), Equal);
        assert_eq!(compare_sequencers("0055AED6DCD9028200", "0055AED6DCD90281E5FF"), Greater);
        assert_eq!(compare_sequencers("00a1", "00A1"), Equal);
    }

    #[test]
    fn direct_notification() {
        let ev = br#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "eventTime":"2026-11-23T08:00:00.000Z",
            "s3":{"bucket":{"name":"b"},"object":{"key":"scans/p/1/r+1.sarif","size":12,"eTag":"e","sequencer":"00A"}}},
            {"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#;
        let Ok(Event::Direct(p)) = parse_event(ev) else { panic!("direct event expected") };
        assert_eq!(p.objects.len(), 1);
        assert_eq!(p.objects[0].key, "scans/p/1/r 1.sarif");
        assert_eq!(p.objects[0].size, Some(12));
        assert_eq!(p.ignored, vec!["ObjectRemoved:Delete".to_string()]);
    }

    #[test]
    fn errors_name_the_path() {
        let ev = br#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}"#;
        let err = parse_event(ev).expect_err("missing key");
        assert_eq!(err.to_string(), "event at $.Records[0].s3.object.key: expected an object key");
        let err = parse_event(b"[1]").expect_err("array");
        assert!(err.to_string().contains("at $:"), "{err}");
        let err = parse_event(b"{").expect_err("json");
        assert!(matches!(err, EventError::Json { line: 1, .. }), "{err:?}");
        let err = parse_event(br#"{"hello":1}"#).expect_err("unknown");
        assert!(err.to_string().contains("Records"), "{err}");
    }

    #[test]
    fn sqs_messages_fail_alone() {
        let ev = br#"{"Records":[
            {"messageId":"m1","eventSource":"aws:sqs","body":"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k%20x\"}}}]}"},
            {"messageId":"m2","eventSource":"aws:sqs","body":"not json"},
            {"messageId":"m3","eventSource":"aws:sqs","body":"{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}"}]}"#;
        let Ok(Event::Sqs(msgs)) = parse_event(ev) else { panic!("sqs event expected") };
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0].body.as_ref().map(|p| p.objects[0].key.clone()), Ok("k x".to_string()));
        assert!(msgs[1].body.as_ref().is_err_and(|e| e.to_string().contains("$.Records[1].body")));
        assert!(msgs[2].body.as_ref().is_ok_and(|p| p.test_event));
    }

    #[test]
    fn sns_envelope_inside_sqs() {
        let inner =
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a+b"}}}]}"#;
        let sns = serde_json::json!({"Type": "Notification", "Message": inner}).to_string();
        let ev = serde_json::json!({"Records": [{"messageId": "m", "eventSource": "aws:sqs", "body": sns}]});
        let Ok(Event::Sqs(msgs)) = parse_event_value(&ev) else { panic!("sqs") };
        assert_eq!(msgs[0].body.as_ref().map(|p| p.objects[0].key.clone()), Ok("a b".to_string()));
    }

    #[test]
    fn eventbridge_keys_are_not_decoded() {
        let ev = br#"{"version":"0","detail-type":"Object Created","source":"aws.s3","time":"2026-01-01T00:00:00Z",
            "detail":{"bucket":{"name":"b"},"object":{"key":"a+b%20c","size":3,"version-id":"v1","sequencer":"01"}}}"#;
        let Ok(Event::Direct(p)) = parse_event(ev) else { panic!("direct") };
        assert_eq!(p.objects[0].key, "a+b%20c");
        assert_eq!(p.objects[0].version_id.as_deref(), Some("v1"));
        let deleted = br#"{"detail-type":"Object Deleted","source":"aws.s3","detail":{}}"#;
        let Ok(Event::Direct(p)) = parse_event(deleted) else { panic!("direct") };
        assert!(p.objects.is_empty());
        assert_eq!(p.ignored, vec!["Object Deleted".to_string()]);
    }

    proptest::proptest! {
        #[test]
        fn encoded_keys_decode_to_themselves(key in "\\PC{0,64}") {
            proptest::prop_assert_eq!(decode_key(&scangate_testkit::notification::encode_key(&key)), Ok(key));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse_event(&bytes);
            let _ = decode_key(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn arbitrary_records_never_panic(
            name in "(ObjectCreated:Put|ObjectRemoved:Delete|x)",
            key in proptest::option::of("[%+a-z0-9 ]{0,12}"),
            size in proptest::option::of(proptest::num::i64::ANY),
            sqs in proptest::bool::ANY,
        ) {
            let record = serde_json::json!({"eventName": name, "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": size}}});
            let s3 = serde_json::json!({"Records": [record]});
            let ev = if sqs {
                serde_json::json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": s3.to_string()}]})
            } else {
                s3
            };
            let _ = parse_event_value(&ev);
        }
    }

    #[test]
    fn never_panics_on_odd_shapes() {
        for ev in [
            &br#"{"Records":5}"#[..],
            br#"{"Records":[5]}"#,
            br#"{"Records":[{"eventSource":"aws:sqs"}]}"#,
            br#"{"Records":[{"eventSource":"aws:sqs","messageId":"x","body":5}]}"#,
            br#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":-1}}}]}"#,
            br#"{"Type":"Notification","Message":"{"}"#,
            b"null",
            b"",
        ] {
            let _ = parse_event(ev);
        }
    }
}

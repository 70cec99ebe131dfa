//! Event parsing on fixtures shaped like AWS's documented examples.

use scangate_core::events::{parse_event, Event, ObjectRef};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the fixtures announce; `requester`: the S3 records' `userIdentity.principalId`, or
/// EventBridge's `detail.requester` (an account id: no principal).
fn expected(key: &str, event_name: &str, event_time: &str, requester: &str) -> ObjectRef {
    ObjectRef {
        bucket: "scangate-reports-123456789012-us-east-1".into(),
        key: key.into(),
        version_id: Some("096fKKXTRTtl3on89fVO.nfljtsv6qko".into()),
        sequencer: Some("0055AED6DCD90281E5".into()),
        etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
        size: Some(48213),
        event_time: Some(event_time.into()),
        event_name: event_name.into(),
        requester: Some(requester.into()),
    }
}

const ROLE_SESSION: &str = "AWS:AROAEXAMPLEROLEID:codebuild-session";
const KEY: &str = "scans/my app/my-app:a1b2c3d4/qscanner image%.sarif";

#[test]
fn direct_s3_notification() {
    let Ok(Event::Direct(p)) = parse_event(&fixture("s3-put.json")) else { panic!("a direct S3 event") };
    assert_eq!(p.objects, vec![expected(KEY, "ObjectCreated:Put", "2026-11-23T08:15:42.123Z", ROLE_SESSION)]);
    assert!(!p.test_event);
}

#[test]
fn sqs_wrapped_notification_and_test_event() {
    let Ok(Event::Sqs(msgs)) = parse_event(&fixture("sqs-s3.json")) else { panic!("an SQS batch") };
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].message_id, "2e1424d4-f796-459a-8184-9c92662be6da");
    let first = msgs[0].body.as_ref().expect("S3 event in the first body");
    assert_eq!(first.objects, vec![expected(KEY, "ObjectCreated:Put", "2026-11-23T08:15:42.123Z", ROLE_SESSION)]);
    let second = msgs[1].body.as_ref().expect("test event in the second body");
    assert!(second.test_event);
    assert!(second.objects.is_empty());
}

#[test]
fn eventbridge_object_created() {
    let Ok(Event::Direct(p)) = parse_event(&fixture("eventbridge-object-created.json")) else {
        panic!("an EventBridge event")
    };
    assert_eq!(p.objects, vec![expected(KEY, "Object Created", "2026-11-23T08:15:42Z", "123456789012")]);
}

#[test]
fn s3_test_event_is_recognized() {
    let Ok(Event::Direct(p)) = parse_event(&fixture("s3-test-event.json")) else { panic!("a test event") };
    assert!(p.test_event);
    assert!(p.objects.is_empty());
}

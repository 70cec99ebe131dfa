//! The S3 store and the Security Hub importer against moto (started by scangate-testkit).

use scangate_aws::clients::Clients;
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::s3::{Condition, PutOptions, ReportStore, S3Store, StoreError};
use scangate_aws::securityhub::{SecurityHubImporter, Sink, SinkConfig};
use scangate_testkit::{unique_bucket, Moto, ACCOUNT_ID, REGION};
use serde_json::json;
use std::io::Read;
use std::sync::Arc;

async fn clients() -> Clients {
    Clients::new(&Moto::shared().sdk_config().await)
}

async fn bucket(c: &Clients) -> String {
    let name = unique_bucket("sg-store");
    c.s3.create_bucket().bucket(&name).send().await.expect("create bucket in moto");
    name
}

#[tokio::test]
async fn s3_put_with_kms_metadata_and_read_back() {
    let c = clients().await;
    let b = bucket(&c).await;
    let kms = Moto::shared().create_kms_key();
    let store = S3Store::new(c.s3.clone(), Some(ACCOUNT_ID.to_string()));
    let mut opts = PutOptions::with_content_type("application/sarif+json");
    opts.kms_key_id = Some(kms.clone());
    opts.metadata.insert("scangate-target".into(), "app:1".into());
    opts.metadata.insert("scangate-max-critical".into(), "2".into());
    let key = "scans/my project/b 1/100% done.sarif";
    store.put(&b, key, b"{\"runs\":[]}".to_vec(), &opts).await.expect("put");

    let head = store.head(&b, key, None).await.expect("head").expect("object exists");
    assert_eq!(head.size, 11);
    assert_eq!(head.metadata.get("scangate-target").map(String::as_str), Some("app:1"));
    assert_eq!(head.metadata.get("scangate-max-critical").map(String::as_str), Some("2"));
    assert_eq!(head.content_type.as_deref(), Some("application/sarif+json"));
    let raw = c.s3.head_object().bucket(&b).key(key).send().await.expect("raw head");
    assert_eq!(raw.ssekms_key_id(), Some(kms.as_str()), "SSE-KMS with the given key");

    let text = store
        .read_with(&b, key, None, |r: &mut dyn Read| {
            let mut s = String::new();
            r.read_to_string(&mut s).map(|_| s)
        })
        .await
        .expect("stream")
        .expect("read");
    assert_eq!(text, "{\"runs\":[]}");
    assert!(store.head(&b, "scans/missing.sarif", None).await.expect("head missing").is_none());
    assert!(store.get_bytes(&b, "state/none.json", 1024).await.expect("get missing").is_none());
    let err = store.get_bytes(&b, key, 5).await.expect_err("over the limit");
    assert!(matches!(err, StoreError::TooLarge { size: 11, .. }), "{err}");

    // Copy (quarantine) keeps the bytes.
    store.copy(&b, key, &b, &format!("quarantine/{key}"), None).await.expect("copy");
    let copied = store.get_bytes(&b, &format!("quarantine/{key}"), 1024).await.expect("get").expect("copied");
    assert_eq!(copied.body, b"{\"runs\":[]}");
}

#[tokio::test]
async fn s3_conditional_writes_fail_with_precondition_failed() {
    let c = clients().await;
    let b = bucket(&c).await;
    let store = S3Store::new(c.s3.clone(), None);
    let key = "state/abc.json";
    let mut create = PutOptions::json();
    create.condition = Condition::IfNoneMatch;
    let first = store.put(&b, key, b"1".to_vec(), &create).await.expect("create");
    let err = store.put(&b, key, b"2".to_vec(), &create).await.expect_err("exists already");
    assert!(matches!(err, StoreError::PreconditionFailed { .. }), "{err}");
    assert!(err.is_transient());

    let etag = first.etag.clone().expect("etag");
    let mut swap = PutOptions::json();
    swap.condition = Condition::IfMatch(etag.clone());
    let second = store.put(&b, key, b"3".to_vec(), &swap).await.expect("compare and swap");
    assert_ne!(second.etag, first.etag);
    let err = store.put(&b, key, b"4".to_vec(), &swap).await.expect_err("stale etag");
    assert!(matches!(err, StoreError::PreconditionFailed { .. }), "{err}");
    let now = store.get_bytes(&b, key, 1024).await.expect("get").expect("exists");
    assert_eq!(now.body, b"3");
    assert_eq!(now.etag, second.etag);

    // The state reader streams the body and returns the ETag a conditional write needs.
    let read = |r: &mut dyn Read| {
        let mut s = String::new();
        r.read_to_string(&mut s).map(|_| s)
    };
    let (text, etag) = store.read_tagged_with(&b, key, read).await.expect("stream").expect("exists");
    assert_eq!((text.expect("read").as_str(), etag), ("3", second.etag.clone()));
    assert!(store.read_tagged_with(&b, "state/none.json", read).await.expect("missing").is_none());
}

#[tokio::test]
async fn s3_put_file_streams_from_disk_with_the_same_conditions_and_encryption() {
    let c = clients().await;
    let b = bucket(&c).await;
    let kms = Moto::shared().create_kms_key();
    let store = S3Store::new(c.s3.clone(), Some(ACCOUNT_ID.to_string()));
    let key = "state/streamed.json";
    // Larger than the 64 KiB chunks the file is read in, and not a multiple of them.
    let body: Vec<u8> = (0..3_000_001u32).map(|i| b"0123456789abcdef"[(i % 16) as usize]).collect();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, &body).expect("write");
    let mut create = PutOptions::json();
    create.kms_key_id = Some(kms.clone());
    create.condition = Condition::IfNoneMatch;
    let first = store.put_file(&b, key, file.path(), &create).await.expect("create from the file");
    let err = store.put_file(&b, key, file.path(), &create).await.expect_err("exists already");
    assert!(matches!(err, StoreError::PreconditionFailed { .. }), "{err}");
    let read = store.get_bytes(&b, key, u64::MAX).await.expect("get").expect("exists");
    assert!(read.body == body, "the object is the file, byte for byte ({} bytes read)", read.body.len());
    assert_eq!(read.etag, first.etag);
    let raw = c.s3.head_object().bucket(&b).key(key).send().await.expect("raw head");
    assert_eq!(raw.ssekms_key_id(), Some(kms.as_str()), "SSE-KMS with the given key");
    assert_eq!(raw.content_type(), Some("application/json"));

    // If-Match: the ETag read replaces; a stale one fails, and the object stays.
    let mut swap = PutOptions::json();
    swap.condition = Condition::IfMatch(first.etag.clone().expect("etag"));
    std::io::Write::write_all(&mut file, b"\n").expect("append");
    let second = store.put_file(&b, key, file.path(), &swap).await.expect("compare and swap");
    assert_ne!(second.etag, first.etag);
    let err = store.put_file(&b, key, file.path(), &swap).await.expect_err("stale etag");
    assert!(matches!(err, StoreError::PreconditionFailed { .. }), "{err}");
    let now = store.get_bytes(&b, key, u64::MAX).await.expect("get").expect("exists");
    assert_eq!((now.body.len(), now.etag), (body.len() + 1, second.etag));

    // A file that cannot be read is the caller's error, named, and not retried.
    let gone = file.path().with_extension("gone");
    let err = store.put_file(&b, key, &gone, &PutOptions::json()).await.expect_err("no such file");
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains(&gone.display().to_string()), "{err}");
}

#[tokio::test]
async fn security_hub_import_round_trips_through_get_findings() {
    let c = clients().await;
    let sink = Sink::new(
        SecurityHubImporter::new(c.securityhub.clone()),
        Arc::new(TokenBucket::new(10.0, 30)),
        SinkConfig::default(),
    );
    let product = format!("arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default");
    let findings: Vec<_> = (0..130)
        .map(|i| {
            json!({
                "SchemaVersion": "2018-10-08",
                "Id": format!("scangate/roundtrip/{i}"),
                "ProductArn": product,
                "GeneratorId": "scangate/QScanner/qid-1",
                "AwsAccountId": ACCOUNT_ID,
                "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
                "CreatedAt": "2026-11-23T08:00:00.000Z",
                "UpdatedAt": "2026-11-23T08:00:00.000Z",
                "Severity": {"Label": "HIGH", "Normalized": 70, "Original": "4"},
                "Title": format!("CVE-2026-{i:04} in openssl 3.0.2"),
                "Description": "A vulnerability",
                "Resources": [{"Type": "Container", "Id": "app:1", "Partition": "aws", "Region": REGION}],
                "RecordState": "ACTIVE"
            })
        })
        .collect();
    let outcome = sink.import_findings(findings).await;
    assert_eq!(outcome.imported, 130, "{outcome:?}");
    assert!(outcome.failed.is_empty());
    assert_eq!(outcome.calls, 2, "130 findings need two calls of at most 100");

    let mut seen = std::collections::HashMap::new();
    let mut token = None;
    loop {
        let page =
            c.securityhub.get_findings().max_results(100).set_next_token(token).send().await.expect("GetFindings");
        for f in page.findings() {
            seen.insert(f.id().unwrap_or_default().to_string(), f.clone());
        }
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let f = seen.get("scangate/roundtrip/7").expect("finding 7 imported");
    assert_eq!(f.title(), Some("CVE-2026-0007 in openssl 3.0.2"));
    assert_eq!(f.severity().and_then(|s| s.label()).map(|l| l.as_str()), Some("HIGH"));
    assert_eq!(f.resources()[0].id(), Some("app:1"));
    assert_eq!(f.record_state().map(|r| r.as_str()), Some("ACTIVE"));
    assert!((0..130).all(|i| seen.contains_key(&format!("scangate/roundtrip/{i}"))));
}

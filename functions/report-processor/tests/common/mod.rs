//! Helpers shared by the moto-backed test binaries (tests/moto.rs, tests/chaos.rs,
//! tests/publisher.rs). Each binary uses part of them.
#![allow(dead_code, unused_macros)]

pub(crate) mod attack;

use scangate_aws::clients::Clients;
use scangate_aws::identity::AwsIdentity;
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::securityhub::{FindingSink, ImportOutcome, SecurityHubImporter, Sink, SinkConfig};
use scangate_core::verdict::Verdict;
use scangate_testkit::notification::encode_key;
use scangate_testkit::{unique_bucket, Moto, ACCOUNT_ID, REGION};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Runs a test's async body on a thread with a large stack: the SDK's debug-build
/// deserializers for Security Hub findings (GetFindings) need more than the default 2 MB.
pub(crate) fn block_on<T: Send + 'static, F: std::future::Future<Output = T> + Send + 'static>(f: F) -> T {
    std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(16 * 1024 * 1024)
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(f)
        })
        .expect("spawn test thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// [`block_on`] for a test body.
pub(crate) fn run<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    block_on(f)
}

pub(crate) fn identity() -> AwsIdentity {
    AwsIdentity { partition: "aws".into(), region: REGION.into(), account_id: ACCOUNT_ID.into() }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// (qid, cve, package, installed, fixed, Qualys severity 1-5)
pub(crate) type Vuln = (u32, &'static str, &'static str, &'static str, &'static str, u8);

pub(crate) const V1: Vuln = (375474, "CVE-2026-0001", "openssl", "3.0.2", "3.0.13", 5);
pub(crate) const V2: Vuln = (375475, "CVE-2026-0002", "zlib", "1.2.11", "1.2.13", 4);
pub(crate) const V3: Vuln = (375476, "CVE-2026-0003", "curl", "7.81.0", "8.4.0", 3);
pub(crate) const V4: Vuln = (375477, "CVE-2026-0004", "glibc", "2.35", "2.36", 2);

/// A QScanner-shaped SARIF report (rules with Qualys severity and CVEs, results with
/// `vulnerableSoftware`, run properties naming the image).
pub(crate) fn qscanner_sarif(image: &str, vulns: &[Vuln]) -> Vec<u8> {
    let rules: Vec<Value> = vulns
        .iter()
        .map(|(qid, cve, pkg, _, _, sev)| {
            json!({
                "id": format!("qid-{qid}"),
                "name": format!("{pkg} vulnerability"),
                "shortDescription": {"text": format!("{cve} in {pkg}")},
                "fullDescription": {"text": format!("{pkg} is affected by {cve}.")},
                "help": {"text": "Update the package."},
                "helpUri": format!("https://nvd.nist.gov/vuln/detail/{cve}"),
                "properties": {"severity": sev, "cve-ids": [cve], "qds": 70, "tags": ["vulnerability"]}
            })
        })
        .collect();
    let results: Vec<Value> = vulns
        .iter()
        .map(|(qid, cve, pkg, installed, fixed, _)| {
            json!({
                "ruleId": format!("qid-{qid}"),
                "level": "error",
                "message": {"text": format!("{cve}: {pkg} {installed}, fixed in {fixed}")},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("usr/lib/{pkg}")}}}],
                "properties": {"QID": qid, "vulnerableSoftware": [
                    {"name": pkg, "installedVersion": installed, "fixedVersion": fixed, "layerSHA": "sha256:abc"}
                ]}
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "QScanner", "version": "4.6.0", "rules": rules}},
            "results": results,
            "properties": {"imageID": "sha256:0123", "imageName": image, "repoTags": [image]}
        }]
    }))
    .expect("serialize SARIF")
}

/// Counts what reaches Security Hub: sink invocations, BatchImportFindings calls, findings.
pub(crate) struct Counting<K> {
    pub inner: K,
    pub invocations: AtomicU64,
    pub calls: AtomicU64,
    pub findings: AtomicU64,
}

impl<K> Counting<K> {
    pub(crate) fn new(inner: K) -> Counting<K> {
        Counting { inner, invocations: 0.into(), calls: 0.into(), findings: 0.into() }
    }
}

impl<K: FindingSink> FindingSink for Counting<K> {
    async fn import(&self, findings: Vec<Value>) -> ImportOutcome {
        self.invocations.fetch_add(1, Ordering::SeqCst);
        self.findings.fetch_add(findings.len() as u64, Ordering::SeqCst);
        let outcome = self.inner.import(findings).await;
        self.calls.fetch_add(outcome.calls, Ordering::SeqCst);
        outcome
    }
}

/// The Security Hub sink the tests use against moto (10 TPS, burst 30, default settings).
pub(crate) fn hub_sink(clients: &Clients) -> Sink<SecurityHubImporter> {
    Sink::new(
        SecurityHubImporter::new(clients.securityhub.clone()),
        Arc::new(TokenBucket::new(10.0, 30)),
        SinkConfig::default(),
    )
}

/// The unique id of the role that writes the tests' reports (tests/fixtures/s3-put.json).
pub(crate) const WRITER_ROLE_ID: &str = "AROAEXAMPLEROLEID";

/// The tests' writer as a configured uploader (`UPLOADER_PRINCIPAL_IDS`): its reports are
/// verified, in a lifecycle namespace of its own.
pub(crate) fn uploaders() -> Vec<String> {
    vec![WRITER_ROLE_ID.to_string()]
}

/// `key` in the uploader's namespace (what [`uploaders`] verifies).
pub(crate) fn owned(key: scangate_core::lifecycle::LifecycleKey) -> scangate_core::lifecycle::LifecycleKey {
    key.owned_by(Some(&format!("uploader:{WRITER_ROLE_ID}")))
}

/// The requester S3 records for a report of build `<project>:<segment>` written by the
/// writer role in that build's CodeBuild session.
pub(crate) fn build_session(key: &str) -> String {
    let (_, segment) = scangate_core::contract::results_dir(key, "scans/");
    format!("AWS:{WRITER_ROLE_ID}:AWSCodeBuild-{segment}")
}

/// `obj` as written by the writer role in the CodeBuild session of its key's build.
pub(crate) fn by_writer(mut obj: scangate_core::events::ObjectRef) -> scangate_core::events::ObjectRef {
    obj.requester = Some(build_session(&obj.key));
    obj
}

/// The S3 notification (tests/fixtures/s3-put.json) of `key` in `bucket`, written by the
/// writer role in the CodeBuild session of the key's build ([`build_session`]).
pub(crate) fn s3_event(bucket: &str, key: &str) -> Value {
    let mut ev: Value =
        serde_json::from_str(include_str!("../fixtures/s3-put.json")).expect("fixture s3-put.json parses");
    ev["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    ev["Records"][0]["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    ev["Records"][0]["s3"]["object"]["key"] = json!(encode_key(key));
    ev["Records"][0]["userIdentity"]["principalId"] = json!(build_session(key));
    // Let HEAD decide version, size and ETag (moto's bucket is not versioned).
    ev["Records"][0]["s3"]["object"].as_object_mut().expect("object").remove("versionId");
    ev
}

/// A bucket and a KMS key of their own on moto, and a processor over them.
pub(crate) struct Env<P> {
    pub clients: Clients,
    pub bucket: String,
    pub kms: String,
    pub processor: P,
}

impl<P> Env<P> {
    /// Creates a bucket named after `prefix` and a KMS key; `make` builds the processor
    /// from the clients and the key id.
    pub(crate) async fn new(moto: &Moto, prefix: &str, make: impl FnOnce(&Clients, &str) -> P) -> Env<P> {
        let clients = Clients::new(&moto.sdk_config().await);
        let bucket = unique_bucket(prefix);
        clients.s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        let kms = moto.create_kms_key();
        let processor = make(&clients, &kms);
        Env { clients, bucket, kms, processor }
    }

    /// Uploads a report with SSE-KMS and the given user metadata.
    pub(crate) async fn upload(&self, key: &str, body: Vec<u8>, meta: &[(&str, &str)]) {
        let mut req = self
            .clients
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms);
        for (k, v) in meta {
            req = req.metadata(*k, *v);
        }
        req.send().await.expect("upload report");
    }

    pub(crate) async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.clients.s3.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Some(out.body.collect().await.expect("read body").into_bytes().to_vec()),
            Err(_) => None,
        }
    }

    pub(crate) async fn verdict(&self, key: &str) -> Verdict {
        let bytes = self.get(key).await.unwrap_or_else(|| panic!("{key} was written"));
        Verdict::from_json(&bytes).expect("verdict parses")
    }
}

/// Inside `impl ReportStore for W`: forwards the named methods to `self.inner` (the test
/// wrappers change only some of them).
macro_rules! forward_report_store {
    ($($method:ident),* $(,)?) => {
        $( forward_report_store!(@ $method); )*
    };
    (@ head) => {
        async fn head(
            &self,
            bucket: &str,
            key: &str,
            version_id: Option<&str>,
        ) -> Result<Option<::scangate_aws::s3::ObjectHead>, ::scangate_aws::s3::StoreError> {
            self.inner.head(bucket, key, version_id).await
        }
    };
    (@ get_bytes) => {
        async fn get_bytes(
            &self,
            bucket: &str,
            key: &str,
            limit: u64,
        ) -> Result<Option<::scangate_aws::s3::Fetched>, ::scangate_aws::s3::StoreError> {
            self.inner.get_bytes(bucket, key, limit).await
        }
    };
    (@ read_with) => {
        async fn read_with<T, F>(
            &self,
            bucket: &str,
            key: &str,
            version_id: Option<&str>,
            f: F,
        ) -> Result<T, ::scangate_aws::s3::StoreError>
        where
            T: Send + 'static,
            F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
        {
            self.inner.read_with(bucket, key, version_id, f).await
        }
    };
    (@ copy) => {
        async fn copy(
            &self,
            source_bucket: &str,
            source_key: &str,
            dest_bucket: &str,
            dest_key: &str,
            kms_key_id: Option<&str>,
        ) -> Result<(), ::scangate_aws::s3::StoreError> {
            self.inner.copy(source_bucket, source_key, dest_bucket, dest_key, kms_key_id).await
        }
    };
}

/// Security Hub findings of one lifecycle (`scan_type` + target identity): the id after the
/// lifecycle's prefix → RecordState.
pub(crate) async fn hub_findings(
    clients: &Clients,
    scan_type: scangate_core::lifecycle::ScanType,
    identity: &str,
) -> std::collections::BTreeMap<String, String> {
    let key = owned(scangate_core::lifecycle::LifecycleKey::new(ACCOUNT_ID, REGION, scan_type, identity));
    let prefix = format!("scangate/{}/", key.hash());
    all_hub_findings(clients)
        .await
        .iter()
        .filter_map(|f| {
            let rest = f.id().unwrap_or_default().strip_prefix(&prefix)?;
            Some((rest.to_string(), f.record_state().map(|r| r.as_str().to_string()).unwrap_or_default()))
        })
        .collect()
}

/// Every finding in moto's Security Hub, all pages of GetFindings.
pub(crate) async fn all_hub_findings(clients: &Clients) -> Vec<aws_sdk_securityhub::types::AwsSecurityFinding> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = clients
            .securityhub
            .get_findings()
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("GetFindings");
        out.extend_from_slice(page.findings());
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            return out;
        }
    }
}

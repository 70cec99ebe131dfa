//! The report store on S3: HEAD, streaming GET for the synchronous SARIF reader and the
//! lifecycle state reader (bounded memory), small GETs, PUT with metadata, SSE-KMS and conditional writes
//! (from memory, or streamed from a file for bodies that grow with the data),
//! and COPY (quarantine).

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::HashMap;
use std::future::Future;

/// What HEAD says about an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// RFC 3339.
    pub last_modified: Option<String>,
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`), keys lower-case without the prefix.
    pub metadata: HashMap<String, String>,
}

/// A write condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Condition {
    #[default]
    None,
    /// `If-None-Match: *`: create only.
    IfNoneMatch,
    /// `If-Match: <etag>`: replace only this version.
    IfMatch(String),
}

/// How to write an object.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    pub content_type: Option<String>,
    pub metadata: HashMap<String, String>,
    /// SSE-KMS with this key (id, ARN or alias); None = the bucket's default encryption.
    pub kms_key_id: Option<String>,
    pub condition: Condition,
}

impl PutOptions {
    pub fn json() -> PutOptions {
        PutOptions { content_type: Some("application/json".into()), ..PutOptions::default() }
    }

    pub fn with_content_type(content_type: &str) -> PutOptions {
        PutOptions { content_type: Some(content_type.into()), ..PutOptions::default() }
    }
}

/// What a PUT returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutResult {
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// A small object and its ETag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost (HTTP 412, or 409 for a concurrent conditional write).
    #[error("s3://{bucket}/{key}: {operation}: precondition failed (the object exists or changed)")]
    PreconditionFailed { bucket: String, key: String, operation: &'static str },
    #[error("s3://{bucket}/{key}: {operation}: no such object")]
    NotFound { bucket: String, key: String, operation: &'static str },
    #[error("s3://{bucket}/{key}: {operation}: object is {size} bytes, more than the {limit} this read allows")]
    TooLarge { bucket: String, key: String, operation: &'static str, size: u64, limit: u64 },
    #[error("s3://{bucket}/{key}: {operation} failed ({code}): {message}")]
    Service { bucket: String, key: String, operation: &'static str, code: String, message: String, transient: bool },
}

impl StoreError {
    /// True when retrying later may succeed (throttling, 5xx, network, a lost condition).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::PreconditionFailed { .. } => true,
            StoreError::Service { transient, .. } => *transient,
            StoreError::NotFound { .. } | StoreError::TooLarge { .. } => false,
        }
    }
}

/// The object store the processor reads reports from and writes results to.
pub trait ReportStore: Send + Sync {
    /// HEAD; `Ok(None)` when there is no such object.
    fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<Option<ObjectHead>, StoreError>> + Send;

    /// Reads a small object whole; `Ok(None)` when there is none; refuses objects above `limit` bytes.
    fn get_bytes(
        &self,
        bucket: &str,
        key: &str,
        limit: u64,
    ) -> impl Future<Output = Result<Option<Fetched>, StoreError>> + Send;

    /// Streams an object into a synchronous reader `f` running on a blocking thread:
    /// memory stays bounded by the SDK's chunks whatever the object's size.
    fn read_with<T, F>(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        f: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static;

    /// Streams exactly the object version that was checked into `f`: GET by `version_id`
    /// with `If-Match: etag` (a changed object fails the precondition, transient), refusing
    /// more than `max_bytes` ([`StoreError::TooLarge`]; the reader `f` gets never sees more).
    /// This default (test stores) applies the cap only; [`S3Store`] sends both conditions.
    fn read_exact_with<T, F>(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        etag: Option<&str>,
        max_bytes: u64,
        f: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        let _ = etag;
        self.read_with(bucket, key, version_id, move |r| f(&mut std::io::Read::take(r, max_bytes)))
    }

    /// Streams an object into `f` like [`ReportStore::read_with`] and returns what `f`
    /// returned with the object's ETag (for a conditional write of the object afterwards);
    /// `Ok(None)` when there is no such object. For objects that grow with the data (the
    /// lifecycle state): memory stays bounded by what `f` keeps. This default reads the
    /// object whole with [`ReportStore::get_bytes`] (test stores); [`S3Store`] streams.
    fn read_tagged_with<T, F>(
        &self,
        bucket: &str,
        key: &str,
        f: F,
    ) -> impl Future<Output = Result<Option<(T, Option<String>)>, StoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        async move {
            let Some(fetched) = self.get_bytes(bucket, key, u64::MAX).await? else {
                return Ok(None);
            };
            let mut body: &[u8] = &fetched.body;
            Ok(Some((f(&mut body), fetched.etag)))
        }
    }

    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        options: &PutOptions,
    ) -> impl Future<Output = Result<PutResult, StoreError>> + Send;

    /// PUT of the file at `path`, streamed from disk, with the same options and conditions as
    /// [`ReportStore::put`]: for bodies that grow with the data (the lifecycle state), never
    /// held in memory. This default reads the file whole and calls [`ReportStore::put`] (test
    /// stores, which then see every write in one method); [`S3Store`] streams it.
    fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &std::path::Path,
        options: &PutOptions,
    ) -> impl Future<Output = Result<PutResult, StoreError>> + Send {
        async move {
            let body = std::fs::read(path).map_err(|e| local_file_error(path, &e, bucket, key))?;
            self.put(bucket, key, body, options).await
        }
    }

    /// Server-side copy (the copy keeps the source's metadata).
    fn copy(
        &self,
        source_bucket: &str,
        source_key: &str,
        dest_bucket: &str,
        dest_key: &str,
        kms_key_id: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// [`ReportStore`] on S3.
#[derive(Clone, Debug)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    expected_bucket_owner: Option<String>,
}

impl S3Store {
    /// `expected_bucket_owner` (an account id) is sent with every request when set.
    pub fn new(client: aws_sdk_s3::Client, expected_bucket_owner: Option<String>) -> S3Store {
        S3Store { client, expected_bucket_owner }
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// PutObject of `body` with `options` (metadata, SSE-KMS, condition).
    async fn put_stream(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        options: &PutOptions,
    ) -> Result<PutResult, StoreError> {
        let mut req = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body)
            .set_content_type(options.content_type.clone())
            .set_expected_bucket_owner(self.expected_bucket_owner.clone());
        if !options.metadata.is_empty() {
            req = req.set_metadata(Some(options.metadata.clone()));
        }
        if let Some(kms) = &options.kms_key_id {
            req = req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms);
        }
        req = match &options.condition {
            Condition::None => req,
            Condition::IfNoneMatch => req.if_none_match("*"),
            Condition::IfMatch(etag) => req.if_match(etag),
        };
        let out = req.send().await.map_err(|err| service_error(&err, bucket, key, "PutObject"))?;
        Ok(PutResult { etag: out.e_tag().map(str::to_string), version_id: out.version_id().map(str::to_string) })
    }

    /// GetObject of the current version; `Ok(None)` when there is no such object.
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<GetObjectOutput>, StoreError> {
        match self.get_object_version(bucket, key, None, None).await {
            Ok(out) => Ok(Some(out)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// GetObject of `version_id` (the current version without one), only if its ETag is `etag`
    /// when one is given; a missing object is [`StoreError::NotFound`].
    async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        etag: Option<&str>,
    ) -> Result<GetObjectOutput, StoreError> {
        self.client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .set_if_match(etag.map(str::to_string))
            .set_expected_bucket_owner(self.expected_bucket_owner.clone())
            .send()
            .await
            .map_err(|err| service_error(&err, bucket, key, "GetObject"))
    }
}

/// [`StoreError::TooLarge`] when the object's Content-Length is over `limit`.
fn within_limit(out: &GetObjectOutput, bucket: &str, key: &str, limit: u64) -> Result<(), StoreError> {
    let size = out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    if size > limit {
        return Err(StoreError::TooLarge {
            bucket: bucket.into(),
            key: key.into(),
            operation: "GetObject",
            size,
            limit,
        });
    }
    Ok(())
}

fn service_error<E>(err: &SdkError<E, HttpResponse>, bucket: &str, key: &str, operation: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = DisplayErrorContext(err).to_string();
    let (code, status) = match err {
        SdkError::ServiceError(s) => (s.err().code().unwrap_or("Unknown").to_string(), Some(s.raw().status().as_u16())),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ("NetworkError".to_string(), None)
        }
        _ => ("ClientError".to_string(), Some(0)),
    };
    match status {
        Some(412) | Some(409) if code != "BucketAlreadyExists" => {
            return StoreError::PreconditionFailed { bucket: bucket.into(), key: key.into(), operation }
        }
        Some(404) => return StoreError::NotFound { bucket: bucket.into(), key: key.into(), operation },
        _ => {}
    }
    if code == "NoSuchKey" || code == "NotFound" {
        return StoreError::NotFound { bucket: bucket.into(), key: key.into(), operation };
    }
    let transient = match status {
        None => true,
        Some(s) => s == 429 || s >= 500 || matches!(code.as_str(), "SlowDown" | "RequestTimeout" | "Throttling"),
    };
    StoreError::Service { bucket: bucket.into(), key: key.into(), operation, code, message, transient }
}

/// A local file a PUT streams from could not be read (not transient: the file is the
/// caller's, a retry reads the same).
fn local_file_error(path: &std::path::Path, err: &dyn std::fmt::Display, bucket: &str, key: &str) -> StoreError {
    StoreError::Service {
        bucket: bucket.into(),
        key: key.into(),
        operation: "PutObject",
        code: "LocalFile".into(),
        message: format!("reading {}: {err}", path.display()),
        transient: false,
    }
}

/// Runs the synchronous reader `f` over a GetObject body on a blocking thread.
async fn stream_into<T, F>(body: ByteStream, f: F, bucket: &str, key: &str) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
{
    let reader = body.into_async_read();
    let handle = tokio::task::spawn_blocking(move || {
        let mut bridge = tokio_util::io::SyncIoBridge::new(reader);
        f(&mut bridge)
    });
    handle.await.map_err(|e| StoreError::Service {
        bucket: bucket.into(),
        key: key.into(),
        operation: "GetObject",
        code: "ReaderPanicked".into(),
        message: e.to_string(),
        transient: false,
    })
}

fn rfc3339(t: &aws_smithy_types::DateTime) -> Option<String> {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

impl ReportStore for S3Store {
    async fn head(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Option<ObjectHead>, StoreError> {
        let result = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .set_expected_bucket_owner(self.expected_bucket_owner.clone())
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(ObjectHead {
                size: out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                etag: out.e_tag().map(str::to_string),
                version_id: out.version_id().map(str::to_string),
                last_modified: out.last_modified().and_then(rfc3339),
                content_type: out.content_type().map(str::to_string),
                metadata: out
                    .metadata()
                    .map(|m| m.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect())
                    .unwrap_or_default(),
            })),
            Err(err) => match service_error(&err, bucket, key, "HeadObject") {
                StoreError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn get_bytes(&self, bucket: &str, key: &str, limit: u64) -> Result<Option<Fetched>, StoreError> {
        let Some(out) = self.get_object(bucket, key).await? else {
            return Ok(None);
        };
        within_limit(&out, bucket, key, limit)?;
        let etag = out.e_tag().map(str::to_string);
        let body = out.body.collect().await.map_err(|e| StoreError::Service {
            bucket: bucket.into(),
            key: key.into(),
            operation: "GetObject",
            code: "NetworkError".into(),
            message: e.to_string(),
            transient: true,
        })?;
        Ok(Some(Fetched { body: body.into_bytes().to_vec(), etag }))
    }

    async fn read_with<T, F>(&self, bucket: &str, key: &str, version_id: Option<&str>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        let out = self.get_object_version(bucket, key, version_id, None).await?;
        stream_into(out.body, f, bucket, key).await
    }

    async fn read_exact_with<T, F>(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        etag: Option<&str>,
        max_bytes: u64,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        let out = self.get_object_version(bucket, key, version_id, etag).await?;
        within_limit(&out, bucket, key, max_bytes)?;
        stream_into(out.body, move |r| f(&mut std::io::Read::take(r, max_bytes)), bucket, key).await
    }

    async fn read_tagged_with<T, F>(
        &self,
        bucket: &str,
        key: &str,
        f: F,
    ) -> Result<Option<(T, Option<String>)>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn std::io::Read) -> T + Send + 'static,
    {
        let Some(out) = self.get_object(bucket, key).await? else {
            return Ok(None);
        };
        let etag = out.e_tag().map(str::to_string);
        Ok(Some((stream_into(out.body, f, bucket, key).await?, etag)))
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, options: &PutOptions) -> Result<PutResult, StoreError> {
        self.put_stream(bucket, key, ByteStream::from(body), options).await
    }

    async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &std::path::Path,
        options: &PutOptions,
    ) -> Result<PutResult, StoreError> {
        // Retryable: the SDK opens the file again for a retry. Read in 64 KiB chunks.
        let body = ByteStream::read_from()
            .path(path)
            .buffer_size(64 * 1024)
            .build()
            .await
            .map_err(|e| local_file_error(path, &e, bucket, key))?;
        self.put_stream(bucket, key, body, options).await
    }

    async fn copy(
        &self,
        source_bucket: &str,
        source_key: &str,
        dest_bucket: &str,
        dest_key: &str,
        kms_key_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut req = self
            .client
            .copy_object()
            .copy_source(copy_source(source_bucket, source_key))
            .bucket(dest_bucket)
            .key(dest_key)
            .set_expected_bucket_owner(self.expected_bucket_owner.clone())
            .set_expected_source_bucket_owner(self.expected_bucket_owner.clone());
        if let Some(kms) = kms_key_id {
            req = req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms);
        }
        req.send().await.map_err(|err| service_error(&err, dest_bucket, dest_key, "CopyObject"))?;
        Ok(())
    }
}

/// `x-amz-copy-source`: `bucket/key` with the key URL-encoded (slashes kept).
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", scangate_core::text::url_encode_path(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_keys() {
        assert_eq!(copy_source("b", "scans/my project/1/100%.sarif"), "b/scans/my%20project/1/100%25.sarif");
        assert_eq!(copy_source("b", "a+b/é"), "b/a%2Bb/%C3%A9");
    }
}

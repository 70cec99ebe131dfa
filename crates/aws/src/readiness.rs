//! Read-only probes of a deployment, for `scangate doctor`: is the report bucket there and
//! owned by the expected account, which KMS key does it encrypt with, does it notify a
//! queue of new reports, is Security Hub enabled. Each answer is a small value; errors say
//! what was called and what AWS answered.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::future::Future;

/// Why a probe got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The thing does not exist (or, for Security Hub, is not enabled).
    #[error("{operation}: not found ({code})")]
    NotFound { operation: &'static str, code: String },
    /// The caller may not ask (or, for S3 with an expected owner, the bucket is another account's).
    #[error("{operation}: access denied ({code})")]
    AccessDenied { operation: &'static str, code: String },
    /// Anything else: throttling, network, a service error.
    #[error("{operation} failed ({code}): {message}")]
    Other { operation: &'static str, code: String, message: String },
}

/// A queue the bucket sends its new-object events to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTarget {
    pub queue_arn: String,
    /// The notification's key prefix filter (`None` = every key).
    pub prefix: Option<String>,
    /// The notification's key suffix filter.
    pub suffix: Option<String>,
}

/// The read-only calls `scangate doctor` makes.
pub trait Readiness: Send + Sync {
    /// HeadBucket, with `ExpectedBucketOwner` when `owner` is set.
    fn bucket_exists(&self, bucket: &str, owner: Option<&str>) -> impl Future<Output = Result<(), ProbeError>> + Send;
    /// The bucket's default SSE-KMS key (GetBucketEncryption); `None` when it encrypts with
    /// something other than KMS.
    fn bucket_kms_key(
        &self,
        bucket: &str,
        owner: Option<&str>,
    ) -> impl Future<Output = Result<Option<String>, ProbeError>> + Send;
    /// The queues the bucket notifies of created objects (GetBucketNotificationConfiguration).
    fn bucket_queues(
        &self,
        bucket: &str,
        owner: Option<&str>,
    ) -> impl Future<Output = Result<Vec<QueueTarget>, ProbeError>> + Send;
    /// The ARN of this account-region's Security Hub (DescribeHub); `NotFound` when it is
    /// not enabled.
    fn security_hub(&self) -> impl Future<Output = Result<String, ProbeError>> + Send;
    /// The caller's account (STS GetCallerIdentity, which needs no permission).
    fn caller_account(&self) -> impl Future<Output = Result<String, ProbeError>> + Send;
}

/// [`Readiness`] on S3 and Security Hub.
#[derive(Clone, Debug)]
pub struct AwsReadiness {
    // Named `*_client` so that the template's IAM contract test (cfn/tests/test_templates.py) sees
    // every `<x>_client.<operation>()` call and charges it to the role of the code that uses this.
    s3_client: aws_sdk_s3::Client,
    hub_client: aws_sdk_securityhub::Client,
    sts_client: aws_sdk_sts::Client,
}

impl AwsReadiness {
    pub fn new(
        s3: aws_sdk_s3::Client,
        securityhub: aws_sdk_securityhub::Client,
        sts: aws_sdk_sts::Client,
    ) -> AwsReadiness {
        AwsReadiness { s3_client: s3, hub_client: securityhub, sts_client: sts }
    }

    /// From the shared configuration (S3 path-style with an endpoint URL, like [`crate::clients::Clients`]).
    pub fn from_config(config: &aws_config::SdkConfig) -> AwsReadiness {
        let clients = crate::clients::Clients::new(config);
        AwsReadiness::new(clients.s3, clients.securityhub, aws_sdk_sts::Client::new(config))
    }
}

fn probe_error<E>(err: &SdkError<E, HttpResponse>, operation: &'static str) -> ProbeError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = match err {
        SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
        _ => None,
    };
    let code = match err {
        SdkError::ServiceError(s) => s.err().code().unwrap_or("").to_string(),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            "NetworkError".to_string()
        }
        _ => "ClientError".to_string(),
    };
    let code = if code.is_empty() { format!("HTTP {}", status.unwrap_or(0)) } else { code };
    let not_found = status == Some(404)
        || matches!(
            code.as_str(),
            "NoSuchBucket" | "NotFound" | "ServerSideEncryptionConfigurationNotFoundError" | "ResourceNotFoundException"
        )
        // Security Hub answers DescribeHub in an account that is not subscribed with this.
        || (code == "InvalidAccessException" && DisplayErrorContext(err).to_string().contains("not subscribed"));
    if not_found {
        return ProbeError::NotFound { operation, code };
    }
    if status == Some(403) || code.contains("AccessDenied") {
        return ProbeError::AccessDenied { operation, code };
    }
    let message = match err {
        SdkError::ServiceError(s) => s.err().message().unwrap_or("").to_string(),
        _ => {
            // The causes, outer to inner, without the Debug dump DisplayErrorContext appends.
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    };
    ProbeError::Other { operation, code, message }
}

impl Readiness for AwsReadiness {
    async fn bucket_exists(&self, bucket: &str, owner: Option<&str>) -> Result<(), ProbeError> {
        self.s3_client
            .head_bucket()
            .bucket(bucket)
            .set_expected_bucket_owner(owner.map(str::to_string))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| probe_error(&e, "HeadBucket"))
    }

    async fn bucket_kms_key(&self, bucket: &str, owner: Option<&str>) -> Result<Option<String>, ProbeError> {
        let out = self
            .s3_client
            .get_bucket_encryption()
            .bucket(bucket)
            .set_expected_bucket_owner(owner.map(str::to_string))
            .send()
            .await
            .map_err(|e| probe_error(&e, "GetBucketEncryption"))?;
        let rules = out.server_side_encryption_configuration().map(|c| c.rules()).unwrap_or_default();
        Ok(rules.iter().find_map(|r| {
            let d = r.apply_server_side_encryption_by_default()?;
            d.sse_algorithm().as_str().starts_with("aws:kms").then(|| d.kms_master_key_id().map(str::to_string))?
        }))
    }

    async fn bucket_queues(&self, bucket: &str, owner: Option<&str>) -> Result<Vec<QueueTarget>, ProbeError> {
        let out = self
            .s3_client
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .set_expected_bucket_owner(owner.map(str::to_string))
            .send()
            .await
            .map_err(|e| probe_error(&e, "GetBucketNotificationConfiguration"))?;
        Ok(out
            .queue_configurations()
            .iter()
            .map(|q| {
                let rules = q.filter().and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap_or_default();
                let rule = |name: &str| {
                    rules
                        .iter()
                        .find(|r| r.name().is_some_and(|n| n.as_str().eq_ignore_ascii_case(name)))
                        .and_then(|r| r.value().map(str::to_string))
                };
                QueueTarget { queue_arn: q.queue_arn().to_string(), prefix: rule("prefix"), suffix: rule("suffix") }
            })
            .collect())
    }

    async fn security_hub(&self) -> Result<String, ProbeError> {
        let out = self.hub_client.describe_hub().send().await.map_err(|e| probe_error(&e, "DescribeHub"))?;
        Ok(out.hub_arn().unwrap_or_default().to_string())
    }

    async fn caller_account(&self) -> Result<String, ProbeError> {
        let out =
            self.sts_client.get_caller_identity().send().await.map_err(|e| probe_error(&e, "GetCallerIdentity"))?;
        out.account().map(str::to_string).ok_or(ProbeError::Other {
            operation: "GetCallerIdentity",
            code: "NoAccount".into(),
            message: "STS answered without an account".into(),
        })
    }
}

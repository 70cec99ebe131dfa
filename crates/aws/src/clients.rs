//! SDK clients, built once per process from one shared configuration.

use aws_config::BehaviorVersion;

/// The HTTPS client every SDK client uses: rustls with the ring provider (cross-compiles
/// to aarch64 without cmake or clang).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Loads the shared SDK configuration from the environment (region, credentials,
/// `AWS_ENDPOINT_URL`, `AWS_MAX_ATTEMPTS`, …).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client()).load().await
}

/// All clients scangate uses.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    /// Retries disabled: [`crate::securityhub::Sink`] paces and retries itself.
    pub securityhub: aws_sdk_securityhub::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    /// The pipeline gate's job results.
    pub codepipeline: aws_sdk_codepipeline::Client,
}

impl Clients {
    /// Builds the clients. With an endpoint URL (moto, LocalStack) S3 uses path-style addressing.
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        let s3_conf =
            aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
        let sh_conf = aws_sdk_securityhub::config::Builder::from(config)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
            securityhub: aws_sdk_securityhub::Client::from_conf(sh_conf),
            codebuild: aws_sdk_codebuild::Client::new(config),
            codepipeline: aws_sdk_codepipeline::Client::new(config),
        }
    }
}

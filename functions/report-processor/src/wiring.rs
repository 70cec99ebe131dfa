//! The production wiring of the processor, shared by the Lambda (`main.rs`) and its local
//! stand-in (`examples/local_lambda.rs`), so both run the same thing: the processor over
//! the real adapters.

use crate::config::Config;
use crate::process::Processor;
use scangate_aws::clients::Clients;
use scangate_aws::codebuild::CodeBuild;
use scangate_aws::ratelimit::TokenBucket;
use scangate_aws::s3::S3Store;
use scangate_aws::securityhub::{SecurityHubImporter, Sink, SinkConfig};
use std::sync::Arc;

/// The processor as the Lambda runs it.
pub type LambdaProcessor = Processor<S3Store, Sink<SecurityHubImporter>, CodeBuild>;

/// Builds the processor from the configuration and the clients: S3 store (with the
/// expected bucket owner), the Security Hub sink paced by `SECURITY_HUB_MAX_TPS` and its
/// burst, and the CodeBuild publisher (it acts only while `PUBLISHER_PROJECT` is set).
pub fn processor(config: Config, clients: &Clients) -> LambdaProcessor {
    let store = S3Store::new(clients.s3.clone(), config.expected_bucket_owner.clone());
    let bucket = Arc::new(TokenBucket::new(config.security_hub_max_tps, config.security_hub_burst()));
    let sink = Sink::new(SecurityHubImporter::new(clients.securityhub.clone()), bucket, SinkConfig::default());
    Processor::new(config, store, Some(sink)).with_codebuild(CodeBuild::new(clients.codebuild.clone()))
}

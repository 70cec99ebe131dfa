//! pipeline-gate Lambda entry point: clients once per cold start, then the runtime loop.
//! The logic is in the library (`pipeline_gate`) and in `scangate_core::gate`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use pipeline_gate::config::Config;
use pipeline_gate::{handle, Response};
use scangate_aws::clients::{load_sdk_config, Clients};
use scangate_aws::codepipeline::CodePipeline;
use scangate_aws::s3::S3Store;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The runtime's subscriber: AWS_LAMBDA_LOG_LEVEL (else RUST_LOG, else info) and
    // AWS_LAMBDA_LOG_FORMAT (JSON, as the stack's LoggingConfig sets it); each invocation's
    // logs are in the runtime's span, which carries the request id.
    lambda_runtime::tracing::init_default_subscriber();
    let env = Config::from_env();
    let sdk = load_sdk_config().await;
    let clients = Clients::new(&sdk);
    // The verdict is read only from a bucket of this account (ExpectedBucketOwner on every S3 call).
    let owner = pipeline_gate::config::expected_bucket_owner(std::env::var("EXPECTED_BUCKET_OWNER").ok().as_deref())
        .map_err(|e| {
            tracing::error!(error = %e, "invalid configuration");
            Error::from(e)
        })?;
    let store = S3Store::new(clients.s3.clone(), owner);
    let jobs = CodePipeline::new(clients.codepipeline.clone());
    let (env, store, jobs) = (&env, &store, &jobs);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let request_id = event.context.request_id;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let result = handle(&event.payload, env, store, jobs, now, Some(&request_id)).await?;
        Ok::<Response, Error>(Response::from(&result))
    }))
    .await
}

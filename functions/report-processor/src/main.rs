//! report-processor Lambda entry point: configuration and clients once per cold start,
//! then the runtime loop. The logic is in the library (`report_processor`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use report_processor::config::Config;
use report_processor::process::deadline::Deadline;
use report_processor::process::state_object;
use scangate_aws::clients::{load_sdk_config, Clients};
use scangate_aws::identity::AwsIdentity;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The runtime's subscriber: AWS_LAMBDA_LOG_LEVEL (else RUST_LOG, else info) and
    // AWS_LAMBDA_LOG_FORMAT (JSON, as the stack's LoggingConfig sets it); each invocation's
    // logs are in the runtime's span, which carries the request id.
    lambda_runtime::tracing::init_default_subscriber();
    // Invalid configuration fails the cold start with the variable's name.
    let config = Config::from_env().map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        Error::from(e.to_string())
    })?;
    match &config.publisher_project {
        Some(p) => tracing::info!(publisher_project = %p, "JUnit of reports no build waits for is published"),
        None => tracing::info!("PUBLISHER_PROJECT is empty: no JUnit publishing"),
    }
    // State bodies an invocation killed before it removed them (Lambda keeps /tmp across the
    // invocations of one environment); older than the 15 minutes an invocation may last.
    let dir = state_object::spill_dir();
    let swept = state_object::sweep_spilled(&dir, std::time::Duration::from_secs(15 * 60));
    if swept > 0 {
        tracing::info!(swept, dir = %dir.display(), "removed state bodies a killed invocation left");
    }
    let sdk = load_sdk_config().await;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let clients = Clients::new(&sdk);
    let processor = report_processor::wiring::processor(config, &clients);
    let processor = &processor;
    let region = region.as_str();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let ctx = event.context;
        let identity = AwsIdentity::for_invocation(&ctx.invoked_function_arn, region);
        let deadline = Deadline::from_context_millis(ctx.deadline);
        processor.respond(&event.payload, &identity, deadline).await.map_err(Error::from)
    }))
    .await
}

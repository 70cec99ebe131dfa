//! A local stand-in for the Lambda runtime, used by `make demo`: the report-processor's
//! own handler ([`Processor::handle`]), wired exactly as `src/main.rs` wires it (same
//! configuration from the environment, same clients, same Security Hub sink), built once
//! and then fed invocation payloads.
//!
//! Protocol: one JSON invocation payload per line on stdin (an SQS batch, an S3
//! notification or an EventBridge event, as Lambda would pass it); for each, one line on
//! stdout `{"invocation": N, "response": …}` or `{"invocation": N, "error": "…"}`. The
//! handler's EMF metric lines (`{"_aws": …}`) are printed on stdout too, as in Lambda;
//! logs go to stderr, configured as in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON;
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`), each invocation's in a span like
//! the runtime's (`requestId` `local-N`). Ends at the end of stdin.
//!
//! The account id comes from `LOCAL_ACCOUNT_ID` (default moto's `123456789012`), since
//! there is no function ARN to read it from.
//!
//! ```text
//! AWS_ENDPOINT_URL=http://127.0.0.1:5077 … cargo run -p report-processor --example local_lambda < events.jsonl
//! ```

use report_processor::config::Config;
use scangate_aws::clients::{load_sdk_config, Clients};
use scangate_aws::identity::AwsIdentity;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::process::ExitCode;
use tracing::Instrument;

fn main() -> ExitCode {
    // The Lambda's subscriber, on stderr: stdout carries the responses.
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    // Debug builds of the SDK's deserializers need more than the default 2 MB of stack.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 * 1024 * 1024)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("local_lambda: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local_lambda: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    // An invalid configuration fails the "cold start", as in Lambda.
    let config = Config::from_env().map_err(|e| format!("invalid configuration: {e}"))?;
    let sdk = runtime.block_on(load_sdk_config());
    let identity = AwsIdentity {
        partition: "aws".into(),
        region: sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
        account_id: std::env::var("LOCAL_ACCOUNT_ID").unwrap_or_else(|_| "123456789012".into()),
    };
    let clients = Clients::new(&sdk);
    let processor = report_processor::wiring::processor(config, &clients);

    let mut n: u64 = 0;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        n += 1;
        let answer = match serde_json::from_str::<Value>(&line) {
            Err(e) => json!({ "invocation": n, "error": format!("invocation {n}: payload is not JSON: {e}") }),
            Ok(payload) => {
                let span = tracing::info_span!("Lambda runtime invoke", requestId = %format!("local-{n}"));
                match runtime.block_on(processor.handle(&payload, &identity).instrument(span)) {
                    Ok(response) => json!({ "invocation": n, "response": response }),
                    Err(e) => json!({ "invocation": n, "error": e.to_string() }),
                }
            }
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{answer}").and_then(|()| out.flush()).map_err(|e| format!("writing stdout: {e}"))?;
    }
    Ok(())
}

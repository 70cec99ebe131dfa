//! The report-processor Lambda's logic: event → reports → verdict, JUnit, summary and
//! Security Hub findings. `main.rs` only wires the AWS clients and the runtime.
//!
//! Events accepted: S3 notifications (direct), S3 → SQS (answers `batchItemFailures`
//! with the messages that failed, never failing the batch for one), EventBridge
//! "Object Created", and `s3:TestEvent` (ignored). See docs/report-processor.md.
//!
//! [`handler`] takes an invocation's payload and answers Lambda; [`process`] processes
//! one report; [`wiring`] builds the processor over the real adapters.

pub mod config;
pub mod handler;
pub mod metrics;
pub mod process;
pub mod wiring;

pub use handler::HandlerError;

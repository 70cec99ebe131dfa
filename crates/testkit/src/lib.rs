//! Test harness shared by the workspace's tests (a dev-dependency only).
//!
//! - [`fixtures`]: paths to the repository's shared test inputs. No dependencies: scangate-core's
//!   tests use it with `default-features = false`, without the AWS SDK.
//! - [`notification`]: keys encoded as S3 writes them into event notifications (no dependencies).
//! - With the `findings` feature: [`findings::finding`], the plain finding tests build theirs from.
//! - With the default `aws` feature: [`Moto`], a moto server for the AWS tests, and
//!   [`codepipeline::RecordingJobs`], a CodePipeline that records the job results it is sent.

#[cfg(feature = "aws")]
pub mod codepipeline;
#[cfg(feature = "findings")]
pub mod findings;
pub mod fixtures;
pub mod notification;

#[cfg(feature = "aws")]
mod moto;
#[cfg(feature = "aws")]
pub use moto::*;

//! scangate's AWS adapters, each behind a small trait so the logic using them can be
//! tested without AWS: [`s3::ReportStore`] (S3), [`securityhub::FindingSink`]
//! (Security Hub BatchImportFindings with batching, a token bucket and retries),
//! [`codebuild::CodeBuildOps`] (CodeBuild). Clients are built once per process
//! ([`clients::Clients`]).

pub mod clients;
pub mod codebuild;
pub mod codepipeline;
pub mod identity;
pub mod ratelimit;
pub mod readiness;
pub mod retry;
pub mod s3;
pub mod secrets;
pub mod securityhub;

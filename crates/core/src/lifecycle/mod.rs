//! The Security Hub lifecycle: which findings replace which, and what a new report changes.
//!
//! - [`key`]: the lifecycle key of a report (account, region, scan type, target identity)
//!   and the target names it is built from; its items are re-exported here.
//! - [`compact`]: the in-memory forms of a state's ids, hashes and times (written as read).
//! - [`state`]: the state object kept per lifecycle key and the plan that compares a new
//!   report with it (import, refresh, skip, archive, ignore as out of order).

pub mod compact;
pub mod key;
pub mod state;

pub use key::{
    branch_name, ecr_parts, identity, image_repository, normalize_repo_url, strip_url_credentials, target_identity,
    LifecycleKey, ScanType, TargetInputs,
};

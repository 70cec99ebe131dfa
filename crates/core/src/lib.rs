//! scangate-core: everything scangate decides, with no AWS and no async.
//!
//! Data flow: [`sarif::read_sarif`] streams a SARIF document into a [`sarif::Report`]
//! of deduplicated [`finding::Finding`]s; [`policy::evaluate`] turns their
//! [`policy::Counts`] and the scanner's [`policy::PolicyResult`] into a pass/fail
//! [`policy::Evaluation`]; [`verdict::Verdict`] is the `verdict.json` contract;
//! [`asff`] renders Security Hub findings, [`junit`] CodeBuild test reports and
//! [`summary`] the human summary ([`results`]: both from one read of the findings).

pub mod asff;
pub mod ci;
pub mod contract;
pub mod evaluate;
pub mod events;
pub mod finding;
pub mod gate;
pub mod host;
pub mod junit;
pub mod lifecycle;
pub mod policy;
pub mod results;
pub mod sarif;
pub mod severity;
pub mod source;
pub mod spill;
pub mod summary;
pub mod suppression;
pub mod text;
pub mod verdict;
pub mod waivers;
pub mod worst;

pub use finding::{Finding, FindingKind, Location, Package, Scanner};
pub use policy::{evaluate, Counts, Evaluation, GatePolicy, GateSettings, PolicyResult, ThresholdRequest, Thresholds};
pub use sarif::{read_sarif, read_sarif_capped, read_sarif_file, Report, SarifError};
pub use severity::{Severity, SeveritySource};
pub use source::FindingSource;
pub use verdict::Verdict;

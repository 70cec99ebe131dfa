//! What the reader holds besides the kept findings, counted against
//! [`super::ReadLimits::max_held_bytes`]: a run's tables (rules, tool components, artifacts,
//! results waiting for the tool) while the run is read, and for the whole document the runs'
//! summaries, completeness reasons and target tags. Counts are estimates of heap bytes: each
//! structure's own size plus the bytes of its strings, so that a document of many tiny
//! elements (`{},` three bytes, a rule of several hundred) is counted at what it costs, not at
//! its length.

use super::parse::{RawResult, RuleInfo, VulnSoftware};
use std::mem::size_of;

/// The budget. `over` is set, with what went over, the first time a charge does not fit;
/// the driver then stops reading with [`super::SarifError::TooLarge`].
#[derive(Debug, Default)]
pub(crate) struct Held {
    pub cap: Option<u64>,
    pub used: u64,
    pub over: Option<String>,
}

impl Held {
    /// Charges `n` bytes for `what`; `false` (and `over` set) when it does not fit the cap.
    pub(crate) fn charge(&mut self, n: u64, what: impl FnOnce() -> String) -> bool {
        if self.over.is_some() {
            return false;
        }
        let used = self.used.saturating_add(n);
        if self.cap.is_some_and(|cap| used > cap) {
            self.over = Some(what());
            return false;
        }
        self.used = used;
        true
    }

    /// Gives back what a finished run's tables were charged.
    pub(crate) fn release(&mut self, n: u64) {
        self.used = self.used.saturating_sub(n);
    }
}

const STRING: u64 = size_of::<String>() as u64;

pub(crate) fn opt(s: &Option<String>) -> u64 {
    s.as_ref().map_or(0, |s| s.len() as u64)
}

pub(crate) fn strings(v: &[String]) -> u64 {
    v.iter().map(|s| STRING + s.len() as u64).sum()
}

fn pairs(v: &[(String, String)]) -> u64 {
    v.iter().map(|(a, b)| 2 * STRING + (a.len() + b.len()) as u64).sum()
}

/// A parsed rule as the run holds it (derived facts are bounded by its texts).
pub(crate) fn rule(r: &RuleInfo) -> u64 {
    let arc = |s: &Option<std::sync::Arc<str>>| s.as_ref().map_or(0, |s| s.len() as u64);
    size_of::<RuleInfo>() as u64
        + [&r.name, &r.short, &r.full].into_iter().map(opt).sum::<u64>()
        + [&r.id, &r.help_text, &r.help_uri, &r.cvss_vector].into_iter().map(arc).sum::<u64>()
        + strings(&r.cve_ids)
        + strings(&r.tags)
        + strings(&r.purls)
        + pairs(&r.message_strings)
}

/// A tool component without its rules.
pub(crate) fn component(name: &Option<String>, version: &Option<String>, global: &[(String, String)]) -> u64 {
    size_of::<super::parse::Component>() as u64 + opt(name) + opt(version) + pairs(global)
}

/// One entry of `run.artifacts`.
pub(crate) fn artifact(uri: &Option<String>) -> u64 {
    size_of::<Option<String>>() as u64 + opt(uri)
}

/// A result waiting in the run for its tool or artifacts.
pub(crate) fn raw_result(r: &RawResult) -> u64 {
    let packages: u64 = r
        .packages
        .iter()
        .map(|p: &VulnSoftware| {
            size_of::<VulnSoftware>() as u64
                + [&p.name, &p.installed, &p.fixed, &p.purl, &p.layer].into_iter().map(opt).sum::<u64>()
        })
        .sum();
    let related: u64 = r.related.iter().map(|x| size_of::<super::message::Related>() as u64 + opt(&x.uri)).sum();
    let warnings: u64 = r.warnings.iter().map(|(a, b)| 2 * STRING + (a.len() + b.len()) as u64).sum();
    let suppression = r.suppression.as_ref().map_or(0, |s| opt(&s.justification) + s.kinds.len() as u64);
    size_of::<RawResult>() as u64
        + [&r.rule_id, &r.ref_id, &r.tc_name, &r.message, &r.message_id, &r.uri, &r.fingerprint]
            .into_iter()
            .map(opt)
            .sum::<u64>()
        + strings(&r.arguments)
        + strings(&r.cve_ids)
        + strings(&r.tags)
        + packages
        + related
        + warnings
        + suppression
}

/// A run's summary in the report.
pub(crate) fn run_summary(s: &super::RunSummary) -> u64 {
    size_of::<super::RunSummary>() as u64 + s.scanner.name.len() as u64 + opt(&s.scanner.version)
}

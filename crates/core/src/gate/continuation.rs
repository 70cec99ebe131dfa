//! The continuation token: what the gate carries from one invocation of a job to the next
//! while it waits for the verdict (when it started, its deadline, where the verdict is).

use super::GateParams;
use serde::{Deserialize, Serialize};

/// PutJobSuccessResult's `continuationToken` limit.
pub const MAX_CONTINUATION_TOKEN_CHARS: usize = 2048;

/// What the gate carries from one invocation to the next in the continuation token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Continuation {
    /// Token format version.
    pub v: u32,
    /// Unix seconds of the first invocation.
    pub first_seen: i64,
    /// Unix seconds after which a missing verdict fails the gate.
    pub deadline: i64,
    /// How many times the verdict was looked for.
    pub attempts: u32,
    pub bucket: String,
    /// The key resolved at the first invocation.
    pub key: String,
}

/// Why a continuation token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("continuation token is not a scangate gate token ({0}); was the action's function changed mid-execution?")]
    Invalid(String),
    #[error("continuation token has version {0}, this gate understands version 1")]
    Version(u32),
}

impl Continuation {
    /// The state at the first invocation.
    pub fn start(params: &GateParams, now: i64) -> Continuation {
        Continuation {
            v: 1,
            first_seen: now,
            deadline: now.saturating_add(params.wait_seconds as i64),
            attempts: 0,
            bucket: params.bucket.clone(),
            key: params.key(),
        }
    }

    /// The token text, or `None` when it would exceed CodePipeline's 2048 characters.
    pub fn encode(&self) -> Option<String> {
        let s = serde_json::to_string(self).ok()?;
        (s.chars().count() <= MAX_CONTINUATION_TOKEN_CHARS).then_some(s)
    }

    pub fn decode(token: &str) -> Result<Continuation, TokenError> {
        #[derive(Deserialize)]
        struct Probe {
            v: Option<u32>,
        }
        let probe: Probe = serde_json::from_str(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        match probe.v {
            Some(1) => serde_json::from_str(token).map_err(|e| TokenError::Invalid(e.to_string())),
            Some(v) => Err(TokenError::Version(v)),
            None => Err(TokenError::Invalid("no version field".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::testing::{params, NOW};

    #[test]
    fn token_round_trip_and_refusals() {
        let p = params(r#"{"verdict_key": "results/web/b-1/verdict.json", "wait_seconds": 300}"#);
        let c = Continuation::start(&p, NOW);
        assert_eq!(c.deadline, NOW + 300);
        assert_eq!(c.key, "results/web/b-1/verdict.json");
        let token = c.encode().expect("short token");
        assert_eq!(Continuation::decode(&token), Ok(c));
        assert!(matches!(Continuation::decode("A continuation token if continuing job"), Err(TokenError::Invalid(_))));
        assert_eq!(
            Continuation::decode(r#"{"v":2,"first_seen":0,"deadline":0,"attempts":0,"bucket":"b","key":"k"}"#),
            Err(TokenError::Version(2))
        );
        assert!(matches!(
            Continuation::decode(r#"{"v":1,"first_seen":0,"deadline":0,"attempts":0,"bucket":"b","key":"k","x":1}"#),
            Err(TokenError::Invalid(_))
        ));
        let long = Continuation { key: "\u{1}".repeat(1000), ..Continuation::start(&p, NOW) };
        assert_eq!(long.encode(), None, "6000 escaped characters exceed 2048");
    }
}

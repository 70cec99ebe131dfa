//! The invocation's deadline: when the work of a delivery must stop so that a checkpoint and
//! the answer still fit before the Lambda's own deadline.

use std::time::{Duration, Instant, SystemTime};

/// When the work of an invocation must stop: `at` (the Lambda's deadline, or an earlier
/// share of it) less `reserve`, the time kept for the checkpoint and the answer.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    pub at: Instant,
    pub reserve: Duration,
}

impl Deadline {
    /// Kept before the Lambda's deadline for the checkpoint (a state PUT) and the answer.
    pub const DEFAULT_RESERVE: Duration = Duration::from_secs(10);

    pub fn new(at: Instant, reserve: Duration) -> Deadline {
        Deadline { at, reserve }
    }

    /// From the Lambda context's deadline (milliseconds since the epoch).
    pub fn from_epoch_millis(deadline_ms: u64) -> Deadline {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        Deadline { at: Instant::now() + left, reserve: Self::DEFAULT_RESERVE }
    }

    /// True when less than the reserve is left: start nothing new.
    pub fn near(&self) -> bool {
        Instant::now() + self.reserve >= self.at
    }

    /// The same deadline, `by` earlier (time kept for the messages after this one).
    pub fn earlier_by(&self, by: Duration) -> Deadline {
        Deadline { at: self.at.checked_sub(by).unwrap_or_else(Instant::now), reserve: self.reserve }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        let far = Deadline::new(Instant::now() + Duration::from_secs(60), Duration::from_secs(10));
        assert!(!far.near());
        assert!(far.earlier_by(Duration::from_secs(55)).near(), "5 s left, 10 s reserve");
        let past = Deadline::from_epoch_millis(1);
        assert!(past.near());
    }
}

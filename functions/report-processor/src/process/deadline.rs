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

    /// From the Lambda context's deadline, or `None` when it cannot be a real one: earlier than
    /// [`Deadline::PLAUSIBLE_EPOCH_MS`]. cargo-lambda's local emulator (`make watch`) sends the
    /// fixed `Lambda-Runtime-Deadline-Ms: 600000` (ten minutes after 1970), which would make every
    /// local invocation stop at once; without a deadline the work runs to its end, as in the tests.
    pub fn from_context_millis(deadline_ms: u64) -> Option<Deadline> {
        (deadline_ms >= Self::PLAUSIBLE_EPOCH_MS).then(|| Self::from_epoch_millis(deadline_ms))
    }

    /// 2001-09-09 in milliseconds since the epoch: no Lambda sends an earlier deadline.
    pub const PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;

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

    #[test]
    fn an_emulator_s_fixed_deadline_is_no_deadline() {
        // cargo lambda watch sends `Lambda-Runtime-Deadline-Ms: 600000`.
        assert!(Deadline::from_context_millis(600_000).is_none());
        assert!(Deadline::from_context_millis(0).is_none());
        let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let in_a_minute = u64::try_from(now_ms).unwrap_or(u64::MAX) + 60_000;
        let real = Deadline::from_context_millis(in_a_minute).expect("a real deadline");
        assert!(!real.near());
        let passed = Deadline::from_context_millis(Deadline::PLAUSIBLE_EPOCH_MS).expect("real, but past");
        assert!(passed.near(), "a real deadline that has passed still stops the work");
    }
}

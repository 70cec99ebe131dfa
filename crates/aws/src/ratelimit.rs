//! A token bucket shared by every caller in the process, and jittered backoff.

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refills `rate` tokens per second up to `burst`; each call takes one token.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket that starts full. `rate` must be > 0 and `burst` ≥ 1 (smaller values are raised).
    pub fn new(rate: f64, burst: u32) -> TokenBucket {
        let rate = if rate.is_finite() && rate > 0.0 { rate } else { 1.0 };
        let burst = f64::from(burst.max(1));
        TokenBucket { rate, burst, state: Mutex::new(BucketState { tokens: burst, last: Instant::now() }) }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Waits until a token is available and takes it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
                s.tokens = (s.tokens + elapsed * self.rate).min(self.burst);
                s.last = now;
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.tokens) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Exponential backoff with full jitter: a uniform delay in `[0, min(cap, base·2^attempt)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(5) }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(2u32.saturating_pow(attempt.min(20))).min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_rate() {
        let bucket = TokenBucket::new(10.0, 30);
        let start = Instant::now();
        for _ in 0..30 {
            bucket.acquire().await;
        }
        assert_eq!(Instant::now(), start, "the burst needs no waiting");
        for _ in 0..20 {
            bucket.acquire().await;
        }
        // 20 more tokens at 10/s take 2 s of (virtual) time.
        let waited = Instant::now() - start;
        assert!(waited >= Duration::from_millis(1990) && waited <= Duration::from_millis(2100), "{waited:?}");
    }

    #[test]
    fn backoff_is_bounded() {
        let b = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(2) };
        for attempt in 0..40 {
            let d = b.delay(attempt);
            assert!(d <= Duration::from_secs(2), "{attempt}: {d:?}");
            assert!(d <= Duration::from_millis(100) * 2u32.pow(attempt.min(10)), "{attempt}: {d:?}");
        }
    }
}

//! A token bucket in front of DescribeTasks. Its rate limit (about 20 calls/s refill, 100 burst) is
//! shared by every ECS reader in the account; a burst of events must not starve deploy tooling.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// Token-bucket arithmetic, kept apart from the clock so it can be tested exactly.
#[derive(Debug)]
pub struct Bucket {
    rate_per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket. A non-positive rate means "no limit".
    pub fn new(rate_per_second: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate_per_second,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token at `now`; returns how long the caller must wait before using it.
    pub fn take(&mut self, now: Instant) -> Duration {
        if self.rate_per_second <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate_per_second).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate_per_second)
        }
    }
}

/// The bucket shared by all calls of one function instance.
#[derive(Debug)]
pub struct RateLimiter(Mutex<Bucket>);

impl RateLimiter {
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        Self(Mutex::new(Bucket::new(
            rate_per_second,
            burst,
            Instant::now(),
        )))
    }

    /// Waits until a call is allowed; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let wait = self.0.lock().await.take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_allows_its_burst_at_once_then_spaces_calls_by_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(10.0, 3, start);
        for _ in 0..3 {
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
        assert_eq!(bucket.take(start), Duration::from_millis(100));
        assert_eq!(bucket.take(start), Duration::from_millis(200));
    }

    #[test]
    fn tokens_refill_with_time_up_to_the_burst() {
        let start = Instant::now();
        let mut bucket = Bucket::new(2.0, 2, start);
        bucket.take(start);
        bucket.take(start);
        assert_eq!(
            bucket.take(start + Duration::from_millis(500)),
            Duration::ZERO
        );
        let later = start + Duration::from_secs(60);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert_eq!(bucket.take(later), Duration::from_millis(500));
    }

    #[test]
    fn a_zero_rate_means_unlimited() {
        let start = Instant::now();
        let mut bucket = Bucket::new(0.0, 1, start);
        for _ in 0..1000 {
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
    }

    /// Time is paused: only the limiter's own sleep can move tokio's clock, so the clock shows
    /// whether it really slept, and for as long as it said.
    #[tokio::test(start_paused = true)]
    async fn the_limiter_sleeps_for_the_computed_wait() {
        let limiter = RateLimiter::new(4.0, 1);
        let start = tokio::time::Instant::now();
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "a full bucket does not sleep"
        );
        let waited = limiter.acquire().await;
        assert!(
            waited > Duration::from_millis(200) && waited <= Duration::from_millis(250),
            "{waited:?}"
        );
        // tokio's timer has millisecond resolution and rounds up.
        let slept = start.elapsed();
        assert!(
            slept >= waited && slept <= waited + Duration::from_millis(2),
            "slept {slept:?} for a wait of {waited:?}"
        );
    }
}

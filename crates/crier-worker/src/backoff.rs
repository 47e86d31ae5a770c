use std::time::Duration;

use rand::Rng;

/// Exponential backoff with "equal jitter": attempt n waits between half and all of
/// `base * 2^(n-1)`, capped, so retries of many targets do not arrive in lockstep.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_secs(2), cap: Duration::from_secs(3600) }
    }
}

impl Backoff {
    /// The wait after `attempts` failed attempts (1 for the first).
    pub fn delay(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
        let full = self.base.saturating_mul(1 << exponent).min(self.cap);
        let half = full / 2;
        half + Duration::from_millis(
            rand::rng().random_range(0..=u64::try_from(half.as_millis()).unwrap_or(0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jittered_bounds_and_caps() {
        let backoff = Backoff { base: Duration::from_secs(2), cap: Duration::from_secs(60) };
        for (attempt, full) in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 60), (1000, 60)] {
            for _ in 0..20 {
                let delay = backoff.delay(attempt);
                let full = Duration::from_secs(full);
                assert!(delay >= full / 2 && delay <= full, "attempt {attempt}: {delay:?}");
            }
        }
    }
}

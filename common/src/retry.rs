//! Retrying: the capped, jittered backoff of the daemons' loops, and the bounded patience of
//! the one-shot commands (docs/design.md, One-shot commands end).

use std::time::{Duration, Instant};

use crate::failure::{Error, Kind};

/// How long a command keeps retrying transient failures on top of the SDK's own attempts
/// (docs/design.md, One-shot commands end).
///
/// A one-shot command gets `endpoints.give_up_after` in all, counted from its start; after
/// that a transient failure is final (exit 69, naming operation and endpoint). The daemons
/// use [`Patience::none`]: their own loops back off and retry for as long as it takes.
#[derive(Debug, Clone)]
pub struct Patience {
    give_up_at: Option<Instant>,
    window: Duration,
    backoff: Backoff,
}

impl Patience {
    /// No retries beyond the SDK's.
    pub fn none() -> Patience {
        Patience {
            give_up_at: None,
            window: Duration::ZERO,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
        }
    }

    /// Retries transient failures until `window` from now has passed.
    pub fn for_window(window: Duration) -> Patience {
        Patience { give_up_at: Some(Instant::now() + window), window, ..Patience::none() }
    }

    /// Runs `call` until it succeeds, fails for good, or the window is over.
    pub async fn retry<T, F, Fut>(&mut self, mut call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        loop {
            let err = match call().await {
                Ok(value) => return Ok(value),
                Err(err) if err.kind() != Kind::Transient => return Err(err),
                Err(err) => err,
            };
            let Some(give_up_at) = self.give_up_at else { return Err(err) };
            let left = give_up_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(err.gave_up_after(self.window));
            }
            let delay = self.backoff.next_delay().min(left);
            err.log(&format!("transient failure; retrying in {delay:.1?}"));
            tokio::time::sleep(delay).await;
        }
    }
}

/// Capped exponential backoff with full jitter, for the daemons' own retry loops on top of
/// the SDK's: a dead endpoint is probed at most every `cap`, not hammered.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap, attempt: 0 }
    }
    /// The next delay: uniform in [d/2, d] with d = min(cap, base × 2^attempt).
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(16));
        let ceiling = exp.min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + ceiling.saturating_sub(half).mul_f64(fastrand::f64())
    }
    /// After a success: start again from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(2));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_secs(1), "{late:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}

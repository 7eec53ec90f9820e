//! A byte-rate limit shared by all the snapshot data a node sends during replica transfers,
//! so moving shards cannot starve client traffic of bandwidth or disk.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub struct RateLimit {
    bytes_per_second: u64,
    /// When the budget already handed out is used up.
    next_free: Mutex<Instant>,
}

impl RateLimit {
    pub fn new(bytes_per_second: u64) -> Self {
        RateLimit {
            bytes_per_second: bytes_per_second.max(1),
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// Waits until `bytes` more may be sent.
    pub async fn acquire(&self, bytes: u64) {
        let wait = self.reserve(bytes, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Reserves `bytes` of the budget at `now`; answers how long to wait before sending
    /// them: until what was reserved before is used up.
    fn reserve(&self, bytes: u64, now: Instant) -> Duration {
        let mut next_free = self.next_free.lock();
        let start = (*next_free).max(now);
        *next_free = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_second as f64);
        start - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_to_the_rate() {
        let limit = RateLimit::new(1_000_000);
        let start = Instant::now();
        assert_eq!(limit.reserve(500_000, start), Duration::ZERO);
        assert_eq!(limit.reserve(500_000, start), Duration::from_millis(500));
        assert_eq!(limit.reserve(1, start), Duration::from_secs(1));
        // After an idle while, the budget does not accumulate: the next send waits nothing
        // but the one after it waits for its own share.
        let later = start + Duration::from_secs(10);
        assert_eq!(limit.reserve(2_000_000, later), Duration::ZERO);
        assert_eq!(limit.reserve(1, later), Duration::from_secs(2));
    }
}

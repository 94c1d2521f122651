//! Token-bucket rate limits, per key (a session, a client address). In memory,
//! per instance: with N instances the effective limit is N times this, which
//! is what a per-instance guard against bursts and scripts needs; Front Door's
//! WAF rate limit is the global one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_store::Clock;
use time::OffsetDateTime;

#[derive(Debug)]
pub struct RateLimiter {
    /// Requests allowed in a burst.
    capacity: f64,
    /// Tokens added per second.
    refill_per_second: f64,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<String, (f64, OffsetDateTime)>>,
}

/// Forget idle buckets past this many keys.
const MAX_KEYS: usize = 100_000;

impl RateLimiter {
    /// `capacity` requests at once, refilled at `per_minute` a minute.
    pub fn new(capacity: u32, per_minute: u32, clock: Arc<dyn Clock>) -> Self {
        Self {
            capacity: f64::from(capacity),
            refill_per_second: f64::from(per_minute) / 60.0,
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let capacity = self.capacity;
            let refill = self.refill_per_second;
            buckets.retain(|_, (tokens, at)| *tokens + (now - *at).as_seconds_f64() * refill < capacity);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.capacity, now));
        *tokens = (*tokens + (now - *at).as_seconds_f64().max(0.0) * self.refill_per_second).min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.refill_per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.ceil().max(1.0)))
        }
    }

    /// 429 with `Retry-After` in whole seconds.
    pub fn too_many(retry_after: Duration) -> Response {
        let mut response = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
            .with_detail(format!("try again in {} s", retry_after.as_secs()))
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use portal_store::ManualClock;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_refilled() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let limiter = RateLimiter::new(3, 6, clock.clone());
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        assert_eq!(limiter.check("a"), Err(Duration::from_secs(10)), "one token every 10 s");
        assert!(limiter.check("b").is_ok(), "keys are independent");
        clock.advance(Duration::from_secs(10));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_err());
    }
}

//! Rate limits, as Synapse's `rc_*` settings do them
//! (<https://element-hq.github.io/synapse/latest/usage/configuration/config_documentation.html#ratelimiting>):
//! a token bucket per key (a client address, a user, an account), refilled at
//! `per_second` up to `burst`. An empty bucket answers 429 `M_LIMIT_EXCEEDED` with
//! `retry_after_ms`. Also the HTTP limits (timeouts, connections) the listener applies.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::ApiError;

/// How many keys a limiter remembers before it forgets those whose bucket is full again
/// (a full bucket is the same as no entry, so forgetting it changes nothing).
const SWEEP_AT: usize = 10_000;

/// One limit: `per_second` actions on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    /// Actions per second, on average.
    pub(crate) per_second: f64,
    /// Actions allowed at once, from a full bucket.
    pub(crate) burst: f64,
}

impl Rate {
    /// Parses `PER_SECOND/BURST` (`0.2/10`); `off` for no limit.
    ///
    /// # Errors
    ///
    /// A message when the text is neither.
    pub(crate) fn parse(text: &str) -> Result<Option<Self>, String> {
        if text == "off" {
            return Ok(None);
        }
        let parsed = text.split_once('/').and_then(|(rate, burst)| {
            let per_second: f64 = rate.parse().ok()?;
            let burst: f64 = burst.parse().ok()?;
            (per_second.is_finite() && per_second > 0.0 && burst.is_finite() && burst >= 1.0)
                .then_some(Self { per_second, burst })
        });
        parsed
            .map(Some)
            .ok_or_else(|| format!("{text:?}: expected PER_SECOND/BURST (0.2/10) or off"))
    }

    const fn new(per_second: f64, burst: f64) -> Option<Self> {
        Some(Self { per_second, burst })
    }
}

/// Every rate limit; `None` is off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateLimits {
    /// Events sent by one user (Synapse's `rc_message`).
    pub(crate) message: Option<Rate>,
    /// Registrations from one client address (`rc_registration`).
    pub(crate) registration: Option<Rate>,
    /// Login attempts from one client address (`rc_login.address`).
    pub(crate) login_address: Option<Rate>,
    /// Login attempts for one account (`rc_login.account`).
    pub(crate) login_account: Option<Rate>,
    /// Failed login attempts for one account (`rc_login.failed_attempts`).
    pub(crate) login_failed: Option<Rate>,
    /// Rooms created by one user (`rc_room_creation`).
    pub(crate) room_creation: Option<Rate>,
}

impl Default for RateLimits {
    /// Synapse's defaults.
    fn default() -> Self {
        Self {
            message: Rate::new(0.2, 10.0),
            registration: Rate::new(0.17, 3.0),
            login_address: Rate::new(0.003, 5.0),
            login_account: Rate::new(0.003, 5.0),
            login_failed: Rate::new(0.17, 3.0),
            room_creation: Rate::new(0.016, 10.0),
        }
    }
}

impl RateLimits {
    /// No limit at all (`--no-rate-limits`, for load tests).
    pub(crate) const OFF: Self = Self {
        message: None,
        registration: None,
        login_address: None,
        login_account: None,
        login_failed: None,
        room_creation: None,
    };
}

/// The HTTP listener's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HttpLimits {
    /// Time for a request's headers to arrive, and for the next request's headers on
    /// an idle keep-alive connection.
    pub(crate) header_timeout: Duration,
    /// Time for a request's whole body to arrive once its headers have.
    pub(crate) body_timeout: Duration,
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub(crate) max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// The server's rate limiters, one per limit.
#[derive(Debug, Default)]
pub(crate) struct Limiters {
    /// Events sent, by user.
    pub(crate) message: Limiter,
    /// Registrations, by client address.
    pub(crate) registration: Limiter,
    /// Login attempts, by client address.
    pub(crate) login_address: Limiter,
    /// Login attempts, by account.
    pub(crate) login_account: Limiter,
    /// Failed login attempts, by account.
    pub(crate) login_failed: Limiter,
    /// Rooms created, by user.
    pub(crate) room_creation: Limiter,
}

impl Limiters {
    /// Limiters for `limits`.
    pub(crate) fn new(limits: &RateLimits) -> Self {
        Self {
            message: Limiter::new(limits.message),
            registration: Limiter::new(limits.registration),
            login_address: Limiter::new(limits.login_address),
            login_account: Limiter::new(limits.login_account),
            login_failed: Limiter::new(limits.login_failed),
            room_creation: Limiter::new(limits.room_creation),
        }
    }
}

/// Token buckets by key for one [`Rate`].
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    rate: Option<Rate>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Tokens left, as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    /// A limiter for `rate`; `None` lets everything through.
    pub(crate) fn new(rate: Option<Rate>) -> Self {
        Self {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token from `key`'s bucket.
    ///
    /// # Errors
    ///
    /// 429 `M_LIMIT_EXCEEDED` with the wait when the bucket is empty (nothing taken).
    pub(crate) fn take(&self, key: &str) -> Result<(), ApiError> {
        self.apply(key, true)
    }

    /// Whether `key` could take a token now, without taking it.
    ///
    /// # Errors
    ///
    /// As [`Limiter::take`].
    pub(crate) fn check(&self, key: &str) -> Result<(), ApiError> {
        self.apply(key, false)
    }

    fn apply(&self, key: &str, take: bool) -> Result<(), ApiError> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = self.buckets();
        if buckets.len() >= SWEEP_AT && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| refilled(*bucket, rate, now) < rate.burst);
        }
        let bucket = buckets
            .get(key)
            .copied()
            .map_or(rate.burst, |bucket| refilled(bucket, rate, now));
        if bucket < 1.0 {
            let wait = (1.0 - bucket) / rate.per_second;
            return Err(ApiError::limit_exceeded(Duration::from_secs_f64(wait)));
        }
        if take {
            buckets.insert(
                key.to_owned(),
                Bucket {
                    tokens: bucket - 1.0,
                    at: now,
                },
            );
        }
        Ok(())
    }

    fn buckets(&self) -> MutexGuard<'_, HashMap<String, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The tokens in `bucket` at `now`, refilled since it was last used.
fn refilled(bucket: Bucket, rate: Rate, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    (bucket.tokens + elapsed * rate.per_second).min(rate.burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_the_wait() {
        let limiter = Limiter::new(Some(Rate {
            per_second: 0.5,
            burst: 3.0,
        }));
        for _ in 0..3 {
            limiter.take("a").unwrap();
        }
        let refused = limiter.take("a").unwrap_err();
        assert!(
            refused.to_string().contains("M_LIMIT_EXCEEDED"),
            "{refused}"
        );
        let wait = refused.retry_after().unwrap();
        assert!(wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2));
        limiter.take("b").unwrap();
        assert!(limiter.check("a").is_err());
    }

    #[test]
    fn rates_parse_from_flags() {
        assert_eq!(
            Rate::parse("0.2/10"),
            Ok(Some(Rate {
                per_second: 0.2,
                burst: 10.0
            }))
        );
        assert_eq!(Rate::parse("off"), Ok(None));
        for bad in ["", "1", "0/1", "1/0", "x/2", "inf/3", "-1/4"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}

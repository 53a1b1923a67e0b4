//! Password hashing with Argon2id (default parameters), stored as
//! `argon2id$<salt>$<hash>` in unpadded base64. Slow by design, and 19 MiB of memory
//! per hash: [`Hasher`] runs at most one hash per core at once, on the blocking
//! threads, so that a flood of login attempts queues instead of taking memory.
//!
//! The parameters stay the crate's defaults (m = 19 MiB, t = 2, p = 1), the first of
//! OWASP's recommended Argon2id settings. OWASP lists lighter memory settings of equal
//! strength (down to m = 7 MiB with t = 5), but they cost the same CPU time and the
//! concurrency bound already caps memory at cores × 19 MiB, so they would buy nothing
//! here; they would also need the parameters in the stored hash, which this format does
//! not carry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::Argon2;
use tokio::sync::Semaphore;

use matrix_serverlib::base64;

use crate::error::{ApiError, ApiResult};

/// How many hashes may wait for a core, per core, before more are refused with 429.
const WAITING_PER_CORE: usize = 64;

/// Runs password hashes, at most one per core at once.
#[derive(Debug)]
pub(crate) struct Hasher {
    permits: Arc<Semaphore>,
    /// Hashes running or waiting.
    queued: AtomicUsize,
    max_queued: usize,
    /// The most hashes that ever ran at once (for tests and the curious).
    peak: AtomicUsize,
    running: Arc<AtomicUsize>,
}

impl Default for Hasher {
    /// One hash per available core.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores)
    }
}

impl Hasher {
    /// A hasher running `concurrent` hashes at once.
    pub(crate) fn new(concurrent: usize) -> Self {
        let concurrent = concurrent.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrent)),
            queued: AtomicUsize::new(0),
            max_queued: concurrent.saturating_mul(WAITING_PER_CORE),
            peak: AtomicUsize::new(0),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Hashes `password` with a fresh salt.
    ///
    /// # Errors
    ///
    /// 429 when too many hashes wait; internal when Argon2 or the task fails.
    pub(crate) async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move || hash(&password))
            .await?
            .map_err(|e| ApiError::internal("hash", e))
    }

    /// True when `password` matches `stored`.
    ///
    /// # Errors
    ///
    /// As [`Hasher::hash`].
    pub(crate) async fn verify(&self, password: String, stored: String) -> ApiResult<bool> {
        self.run(move || verify(&password, &stored)).await
    }

    /// The most hashes that ran at once so far.
    #[cfg(test)]
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let _queued = Queued::enter(&self.queued, self.max_queued)?;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal("hasher", e))?;
        let running = Arc::clone(&self.running);
        let now = running.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let result = tokio::task::spawn_blocking(move || {
            let result = work();
            running.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            result
        })
        .await;
        result.map_err(|e| ApiError::internal("hash task", e))
    }
}

/// A place in the hasher's queue, given back on drop.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(queued: &'a AtomicUsize, max: usize) -> ApiResult<Self> {
        if queued.fetch_add(1, Ordering::AcqRel) >= max {
            queued.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::limit_exceeded(std::time::Duration::from_secs(1)));
        }
        Ok(Self(queued))
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Hashes `password` with a fresh random salt.
///
/// # Errors
///
/// When Argon2 refuses the input (a password over 4 GiB).
pub(crate) fn hash(password: &str) -> Result<String, argon2::Error> {
    let salt: [u8; 16] = rand::random();
    let digest = digest(password, &salt)?;
    Ok(format!(
        "argon2id${}${}",
        base64::encode(salt),
        base64::encode(digest)
    ))
}

/// True when `password` matches the stored hash.
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("argon2id"), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (base64::decode(salt), base64::decode(expected)) else {
        return false;
    };
    let Ok(actual) = digest(password, &salt) else {
        return false;
    };
    // Compare in constant time: fold every byte difference together.
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(&expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn digest(password: &str, salt: &[u8]) -> Result<[u8; 32], argon2::Error> {
    let mut out = [0u8; 32];
    Argon2::default().hash_password_into(password.as_bytes(), salt, &mut out)?;
    Ok(out)
}

//! Password hashing with Argon2id (default parameters), stored as
//! `argon2id$<salt>$<hash>` in unpadded base64. Slow by design, and 19 MiB of memory
//! per hash: [`Hasher`] runs at most one hash per core at once, on the blocking
//! threads, so that a flood of login attempts queues instead of taking memory. Each
//! running hash has its own working memory, allocated once and reused (wiped after each
//! use): left to the allocator, the 64-byte-aligned 19 MiB blocks Argon2 asks for were
//! never given back (glibc kept about 19 MiB per hash ever run: 2.4 GB after 128).
//!
//! The parameters stay the crate's defaults (m = 19 MiB, t = 2, p = 1), the first of
//! OWASP's recommended Argon2id settings. OWASP lists lighter memory settings of equal
//! strength (down to m = 7 MiB with t = 5), but they cost the same CPU time and the
//! concurrency bound already caps memory at cores × 19 MiB, so they would buy nothing
//! here; they would also need the parameters in the stored hash, which this format does
//! not carry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::{Argon2, Block};
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
    /// Working memory not in use, one per hash that ran at once (at most `concurrent`).
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
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
            memory: Arc::default(),
        }
    }

    /// Hashes `password` with a fresh salt.
    ///
    /// # Errors
    ///
    /// 429 when too many hashes wait; internal when Argon2 or the task fails.
    pub(crate) async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move |memory| hash(&password, memory))
            .await?
            .map_err(|e| ApiError::internal("hash", e))
    }

    /// True when `password` matches `stored`.
    ///
    /// # Errors
    ///
    /// As [`Hasher::hash`].
    pub(crate) async fn verify(&self, password: String, stored: String) -> ApiResult<bool> {
        self.run(move |memory| verify(&password, &stored, memory))
            .await
    }

    /// The most hashes that ran at once so far.
    #[cfg(test)]
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// How many working memories the hasher keeps (at most one per concurrent hash).
    #[cfg(test)]
    pub(crate) fn pooled(&self) -> usize {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> ApiResult<T> {
        let _queued = Queued::enter(&self.queued, self.max_queued)?;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal("hasher", e))?;
        let running = Arc::clone(&self.running);
        let now = running.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let pool = Arc::clone(&self.memory);
        let result = tokio::task::spawn_blocking(move || {
            // The permit bounds the memory in use; the pool keeps what is not.
            let spare = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut memory = spare.unwrap_or_else(|| vec![Block::new(); memory_blocks()]);
            let result = work(&mut memory);
            memory.fill(Block::new());
            pool.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(memory);
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

/// Hashes `password` with a fresh random salt, in `memory`.
///
/// # Errors
///
/// When Argon2 refuses the input (a password over 4 GiB).
fn hash(password: &str, memory: &mut [Block]) -> Result<String, argon2::Error> {
    let salt: [u8; 16] = rand::random();
    let digest = digest(password, &salt, memory)?;
    Ok(format!(
        "argon2id${}${}",
        base64::encode(salt),
        base64::encode(digest)
    ))
}

/// True when `password` matches the stored hash (computed in `memory`).
fn verify(password: &str, stored: &str, memory: &mut [Block]) -> bool {
    let mut parts = stored.split('$');
    let (Some("argon2id"), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (base64::decode(salt), base64::decode(expected)) else {
        return false;
    };
    let Ok(actual) = digest(password, &salt, memory) else {
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

/// The working memory of one hash: the default parameters' block count.
fn memory_blocks() -> usize {
    argon2::Params::DEFAULT.block_count()
}

fn digest(password: &str, salt: &[u8], memory: &mut [Block]) -> Result<[u8; 32], argon2::Error> {
    let mut out = [0u8; 32];
    Argon2::default().hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        memory,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reused working memory gives the same hashes as fresh memory: a hash verifies
    /// after others ran in the same memory, and a wrong password does not.
    #[test]
    fn hashes_in_reused_memory_verify() {
        let mut memory = vec![Block::new(); memory_blocks()];
        let stored = hash("correct horse", &mut memory).unwrap();
        let other = hash("battery staple", &mut memory).unwrap();
        assert_ne!(stored, other);
        assert!(verify("correct horse", &stored, &mut memory));
        assert!(!verify("correct horsE", &stored, &mut memory));
        let mut fresh = vec![Block::new(); memory_blocks()];
        assert!(verify("battery staple", &other, &mut fresh));
    }
}

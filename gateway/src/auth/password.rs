//! Password hashing with argon2id, off the async runtime and behind a bound.
//!
//! Each hash takes ~19 MiB and tens of milliseconds of one core, so hashes run off the
//! async runtime on a [`HashPool`] of lower-priority threads, at most
//! `hash_concurrency` at a time. A request queues for a slot, first come first served
//! (tokio's semaphore is fair), for a bounded time (`M2M_HASH_WAIT_MS`, seconds by
//! default), and is then told to retry (`503` + `Retry-After`) instead of queueing
//! without limit. A burst of logins (phones reconnecting after an outage) is thus served
//! at the argon2 rate, while a sustained flood still cannot exhaust memory or starve
//! `/game`: a queued login holds neither a thread nor the hash's memory.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::hash_pool::HashPool;

/// OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
pub const OWASP_ITERATIONS: u32 = 2;
pub const OWASP_PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed busy for the whole wait.
    #[error("all password hashing slots are busy")]
    Busy { retry_after: Duration },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug)]
pub enum Verified {
    Invalid,
    /// `rehashed` holds a new PHC string when the stored one used weaker parameters
    /// than today's, so the caller can store it (upgrade on login).
    Valid {
        rehashed: Option<String>,
    },
}

/// Hashes and verifies passwords. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct PasswordHasher {
    params: Params,
    slots: Arc<Semaphore>,
    pool: HashPool,
    wait: Duration,
    /// Verified against when the user does not exist, so an unknown username costs the
    /// same time as a wrong password and cannot be told apart by timing.
    dummy_hash: String,
}

impl PasswordHasher {
    /// Builds a hasher with the OWASP parameters and `concurrency` hashing threads
    /// (at lowered priority when `low_priority`); computes the dummy hash once.
    pub async fn new(
        concurrency: usize,
        wait: Duration,
        low_priority: bool,
    ) -> anyhow::Result<Self> {
        let params = Params::new(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_PARALLELISM, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let pool = HashPool::start(concurrency, low_priority)?;
        let for_dummy = params.clone();
        let dummy_hash = pool
            .run(move || {
                let mut random = [0u8; 32];
                rand::rng().fill_bytes(&mut random);
                hash_with(&for_dummy, &random)
            })
            .await
            .context("Failed to compute the dummy hash")??;
        Ok(Self {
            params,
            slots: Arc::new(Semaphore::new(concurrency)),
            pool,
            wait,
            dummy_hash,
        })
    }

    /// Hashes `password` into a PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let params = self.params.clone();
        self.run(move || hash_with(&params, password.expose_secret().as_bytes()))
            .await
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// user (`stored` is `None`), which always ends in [`Verified::Invalid`].
    pub async fn verify(
        &self,
        stored: Option<String>,
        password: SecretString,
    ) -> Result<Verified, HashError> {
        let user_exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let params = self.params.clone();
        self.run(move || {
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| anyhow::anyhow!("stored password hash is not a PHC string: {e}"))?;
            let secret = password.expose_secret().as_bytes();
            // `Argon2::default()` verifies with the algorithm and parameters the hash names.
            let matches = Argon2::default().verify_password(secret, &parsed).is_ok();
            if !(matches && user_exists) {
                return Ok(Verified::Invalid);
            }
            let rehashed = if is_weaker_than(&parsed, &params) {
                Some(hash_with(&params, secret)?)
            } else {
                None
            };
            Ok(Verified::Valid { rehashed })
        })
        .await
    }

    /// Runs `work` on the hashing threads once a slot is free. The permit moves into the
    /// job, so a client that disconnects mid-hash does not free the slot before the CPU
    /// and memory are really released.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = self.acquire().await?;
        let span = tracing::Span::current();
        self.pool
            .run(move || {
                let _permit: OwnedSemaphorePermit = permit;
                span.in_scope(work)
            })
            .await?
            .map_err(HashError::Internal)
    }

    async fn acquire(&self) -> Result<OwnedSemaphorePermit, HashError> {
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(HashError::Internal(closed.into())),
            Err(_elapsed) => Err(HashError::Busy {
                retry_after: Duration::from_secs(1),
            }),
        }
    }
}

impl From<HashError> for crate::error::ApiError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy { retry_after } => Self::Overloaded { retry_after },
            HashError::Internal(error) => Self::Unexpected(error),
        }
    }
}

fn hash_with(params: &Params, password: &[u8]) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let hash = argon2
        .hash_password(password, &salt)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// True when `hash` is not argon2id v1.3 or any of its costs is below `target`.
fn is_weaker_than(hash: &PasswordHash<'_>, target: &Params) -> bool {
    if hash.algorithm != Algorithm::Argon2id.ident() || hash.version != Some(Version::V0x13.into())
    {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => {
            p.m_cost() < target.m_cost()
                || p.t_cost() < target.t_cost()
                || p.p_cost() < target.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owasp() -> Params {
        Params::new(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_PARALLELISM, None).expect("valid")
    }

    #[test]
    fn a_hash_with_owasp_parameters_is_not_weaker() {
        let phc = hash_with(&owasp(), b"password").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let parsed = PasswordHash::new(&phc).expect("phc");
        assert!(!is_weaker_than(&parsed, &owasp()));
    }

    #[test]
    fn a_cheaper_hash_is_weaker() {
        let cheap = Params::new(1024, 1, 1, None).expect("valid");
        let phc = hash_with(&cheap, b"password").expect("hash");
        let parsed = PasswordHash::new(&phc).expect("phc");
        assert!(is_weaker_than(&parsed, &owasp()));
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(5), true)
            .await
            .expect("hasher");
        let outcome = hasher
            .verify(None, "anything".into())
            .await
            .expect("verify");
        assert!(matches!(outcome, Verified::Invalid));
    }

    #[tokio::test]
    async fn three_times_more_hashes_than_slots_queue_and_all_finish_within_the_wait() {
        let slots = 2;
        let wait = Duration::from_secs(5);
        let hasher = Arc::new(
            PasswordHasher::new(slots, wait, true)
                .await
                .expect("hasher"),
        );
        // Each job holds its slot as long as a hash would on a slow core; 6 jobs on 2
        // slots take three rounds, well over a short wait and well under this one.
        let job_time = Duration::from_millis(150);
        let started = std::time::Instant::now();
        let jobs: Vec<_> = (0..3 * slots)
            .map(|_| {
                let hasher = Arc::clone(&hasher);
                tokio::spawn(async move {
                    hasher
                        .run(move || {
                            std::thread::sleep(job_time);
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        for job in jobs {
            assert!(
                matches!(job.await.expect("joined"), Ok(())),
                "a queued hash was refused"
            );
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= job_time * 3,
            "the slots bound concurrency: {elapsed:?}"
        );
        assert!(elapsed < wait, "served within the wait: {elapsed:?}");
    }

    #[tokio::test]
    async fn a_full_pool_answers_busy_instead_of_queueing() {
        let hasher = PasswordHasher::new(1, Duration::from_millis(1), true)
            .await
            .expect("hasher");
        let _held = hasher.slots.clone().acquire_owned().await.expect("permit");
        let outcome = hasher.hash("password".into()).await;
        assert!(matches!(outcome, Err(HashError::Busy { .. })));
    }
}

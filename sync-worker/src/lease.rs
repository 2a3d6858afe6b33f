//! A job's lease in Redis: who is running the job right now.
//!
//! `SET key token NX PX ttl` takes it; a heartbeat renews it every third of the TTL
//! while the run lives; compare-and-delete releases it. A run that dies stops renewing,
//! so the lease expires and the redelivered (or retried) timer message runs the job
//! again. The token also fences the backup job's destructive steps: they are Lua
//! scripts that act only while the token is still the lease's value, so a run that
//! lost its lease (frozen past the TTL) cannot free entries another run is archiving.
//!
//! The token starts with a label saying what the holder runs (the window), so a
//! second copy of the same window's timer can see that the window is already in hand.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Renews the lease if it is still ours: `1` renewed, `0` lost.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('PEXPIRE', KEYS[1], ARGV[2])
          end
          return 0",
    )
});

/// Deletes the lease if it is still ours.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
          end
          return 0",
    )
});

/// A held lease. Dropping it stops the heartbeat without releasing (what a crash
/// does); [`Lease::release`] gives it back at once.
#[derive(Debug)]
pub struct Lease {
    redis: ConnectionManager,
    key: String,
    token: String,
    lost: CancellationToken,
    heartbeat: JoinHandle<()>,
}

impl Lease {
    /// Takes the lease named `key` (full Redis key) for `ttl`, or `None` if another
    /// run holds it. `label` says what this run is doing (see [`Lease::holder`]).
    pub async fn acquire(
        redis: &ConnectionManager,
        key: String,
        label: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, redis::RedisError> {
        let mut con = redis.clone();
        let token = format!("{label}/{}", Uuid::new_v4());
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl))
            .query_async(&mut con)
            .await?;
        if taken.is_none() {
            return Ok(None);
        }
        let lost = CancellationToken::new();
        let heartbeat = tokio::spawn(renew_until_lost(
            con.clone(),
            key.clone(),
            token.clone(),
            ttl,
            lost.clone(),
        ));
        Ok(Some(Lease {
            redis: con,
            key,
            token,
            lost,
            heartbeat,
        }))
    }

    /// The label of whoever holds the lease `key` now, if anyone.
    pub async fn holder(
        redis: &ConnectionManager,
        key: &str,
    ) -> Result<Option<String>, redis::RedisError> {
        let mut con = redis.clone();
        let token: Option<String> = redis::cmd("GET").arg(key).query_async(&mut con).await?;
        Ok(token.and_then(|token| token.rsplit_once('/').map(|(label, _)| label.to_owned())))
    }

    /// The full Redis key of the lease.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value that proves this run holds the lease (for fenced scripts).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// True once a renewal found the lease gone or someone else's.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Gives the lease back so the next run need not wait for it to expire.
    pub async fn release(self) -> Result<(), redis::RedisError> {
        self.heartbeat.abort();
        let mut con = self.redis.clone();
        RELEASE
            .key(&self.key)
            .arg(&self.token)
            .invoke_async::<i64>(&mut con)
            .await?;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

async fn renew_until_lost(
    mut con: ConnectionManager,
    key: String,
    token: String,
    ttl: Duration,
    lost: CancellationToken,
) {
    let every = ttl / 3;
    loop {
        tokio::time::sleep(every).await;
        let renewed = RENEW
            .key(&key)
            .arg(&token)
            .arg(ttl_millis(ttl))
            .invoke_async::<i64>(&mut con)
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(lease = %key, "The job's lease expired or was taken over; the run stops at its next step.");
                lost.cancel();
                return;
            }
            // The lease may well still be ours; try again at the next beat, and let
            // the fenced steps decide if it really was lost.
            Err(error) => tracing::warn!(lease = %key, %error, "Could not renew the job's lease."),
        }
    }
}

fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

//! Telling a Redis that lost its data from one that is simply newer.
//!
//! Seed 000's rule compares `updated_time`: Redis is kept when it is newer than the
//! snapshot. After a Redis restart without persistence that rule fails as soon as the
//! gateway writes again: one `INCR` makes the nearly empty Redis "newer", the restore
//! leaves it alone, and the next snapshot would store the loss. So Redis carries a
//! marker, `sync:epoch` (a random id the restore sets), that vanishes with the data,
//! and every snapshot records the marker it was read under:
//! - marker present: Redis has not lost its data since a worker last looked; seed
//!   000's rule applies;
//! - marker absent, snapshot taken under one: Redis lost its data, and every key it
//!   holds was written since. The snapshot is *merged* into them (see
//!   [`super::redis_side::merge_family`]), which is exact because the gateway's writes
//!   (`SADD`, `INCR`, `HINCRBY`, `ZADD GT`) combine the same way. What changed between
//!   the last snapshot and the loss is lost: at most one sync window;
//! - marker absent, snapshot without one (written before the marker existed): seed
//!   000's rule, as before.
//!
//! The merge and the new marker are one `MULTI`/`EXEC` under `WATCH` of the marker, so
//! of several workers noticing the same loss exactly one merges. [`watch`] polls the
//! marker while the worker runs, so a loss is repaired without restarting anything.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use shared_store::RedisKeys;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::SyncJob;
use crate::contract::EPOCH;

/// The marker, if Redis has one.
pub async fn read(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
) -> redis::RedisResult<Option<String>> {
    con.get(keys.key(EPOCH)).await
}

/// A fresh marker value.
pub fn new_epoch() -> String {
    Uuid::now_v7().to_string()
}

/// Checks the marker every `interval` and restores Redis when it is gone, until
/// `shutdown`. `exclusive` must be a connection nothing else uses (the restore
/// `WATCH`es keys on it).
pub async fn watch(
    sync: SyncJob,
    mut exclusive: ConnectionManager,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        match read(&mut exclusive, sync.keys()).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(
                    "Redis has lost its sync marker, so its data; restoring from the store."
                );
                if let Err(error) = sync.restore(&mut exclusive).await {
                    tracing::warn!(
                        error = format!("{:#}", anyhow::Error::from(error)),
                        "The restore failed; trying again on the next check."
                    );
                }
            }
            // Redis is down: nothing to restore into yet.
            Err(error) => tracing::debug!(%error, "Could not read the sync marker."),
        }
    }
}

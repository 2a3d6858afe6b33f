//! Seed 000's start-up rule: restore Redis from the store unless Redis is newer.
//!
//! Decided per family on `updated_time`:
//! - the store has no snapshot: nothing to restore;
//! - Redis has none of the family's keys (a Redis restart, a flush): write the snapshot;
//! - the snapshot is newer than Redis's `updated_time` (Redis came back from an old
//!   dump): replace the family with the snapshot;
//! - Redis is as new or newer (the worker was down while the gateway kept writing):
//!   leave Redis alone;
//! - Redis has keys but no `updated_time`: their age is unknown, so they are left alone
//!   rather than destroyed.
//!
//! The decision and the write are one optimistic transaction: the family's
//! `updated_time` is `WATCH`ed before it is read, and every gateway write sets it, so a
//! write landing between the decision and `EXEC` aborts the restore, which then decides
//! again (and finds Redis newer). That needs a connection of its own, which nothing
//! else uses meanwhile.

use redis::aio::ConnectionManager;
use shared_store::RedisKeys;

use super::redis_side;
use super::snapshot::{Snapshot, Snapshots};
use crate::contract::Family;
use crate::error::JobError;

/// Which way a family went, for the log and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    NoSnapshot,
    /// Redis had none of the family's keys; the snapshot was written back.
    RestoredIntoEmptyRedis {
        store_time: i64,
    },
    /// The snapshot was newer than Redis; Redis was replaced by it.
    RestoredStoreNewer {
        store_time: i64,
        redis_time: i64,
    },
    /// Redis was as new or newer; it was left alone.
    KeptRedisNewer {
        store_time: i64,
        redis_time: i64,
    },
    /// Redis had keys without an `updated_time`; they were left alone.
    KeptUnknownAge {
        store_time: i64,
    },
}

impl RestoreOutcome {
    pub fn wrote_redis(self) -> bool {
        matches!(
            self,
            Self::RestoredIntoEmptyRedis { .. } | Self::RestoredStoreNewer { .. }
        )
    }
}

/// The rule in the module doc, as a pure function.
pub fn decide(
    store_time: Option<i64>,
    redis_time: Option<i64>,
    redis_has_data: bool,
) -> RestoreOutcome {
    let Some(store_time) = store_time else {
        return RestoreOutcome::NoSnapshot;
    };
    match redis_time {
        _ if !redis_has_data => RestoreOutcome::RestoredIntoEmptyRedis { store_time },
        None => RestoreOutcome::KeptUnknownAge { store_time },
        Some(redis_time) if store_time > redis_time => RestoreOutcome::RestoredStoreNewer {
            store_time,
            redis_time,
        },
        Some(redis_time) => RestoreOutcome::KeptRedisNewer {
            store_time,
            redis_time,
        },
    }
}

/// Applies the rule to every family. `con` must be a connection of its own.
pub async fn restore_all(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
    snapshots: &Snapshots,
) -> Result<Vec<(Family, RestoreOutcome)>, JobError> {
    let mut outcomes = Vec::new();
    for family in Family::ALL {
        let snapshot = snapshots.load(family).await?;
        let outcome = restore_family(con, keys, family, snapshot.as_ref()).await?;
        log(family, outcome);
        outcomes.push((family, outcome));
    }
    Ok(outcomes)
}

async fn restore_family(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
    family: Family,
    snapshot: Option<&Snapshot>,
) -> Result<RestoreOutcome, JobError> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        redis::cmd("WATCH")
            .arg(keys.key(&family.updated_time_key()))
            .exec_async(con)
            .await?;
        let redis_time = redis_side::updated_time(con, keys, family).await?;
        let existing = redis_side::data_keys(con, keys, family).await?;
        let outcome = decide(
            snapshot.map(|s| s.updated_time),
            redis_time,
            !existing.is_empty(),
        );
        let Some(snapshot) = snapshot.filter(|_| outcome.wrote_redis()) else {
            redis::cmd("UNWATCH").exec_async(con).await?;
            return Ok(outcome);
        };
        let written = redis_side::replace_family(
            con,
            keys,
            family,
            &existing,
            &snapshot.records,
            snapshot.updated_time,
        )
        .await?;
        if written {
            return Ok(outcome);
        }
        tracing::info!(
            family = family.name(),
            "Redis changed while restoring the family; deciding again."
        );
    }
    // The gateway writes this family continuously: Redis is, by definition, newer.
    let redis_time = redis_side::updated_time(con, keys, family).await?;
    Ok(decide(snapshot.map(|s| s.updated_time), redis_time, true))
}

fn log(family: Family, outcome: RestoreOutcome) {
    let family = family.name();
    match outcome {
        RestoreOutcome::NoSnapshot => {
            tracing::info!(family, "No snapshot in the store; Redis left as it is.");
        }
        RestoreOutcome::RestoredIntoEmptyRedis { store_time } => {
            tracing::info!(
                family,
                store_time,
                "Redis had nothing; restored the store's snapshot."
            );
        }
        RestoreOutcome::RestoredStoreNewer {
            store_time,
            redis_time,
        } => tracing::info!(
            family,
            store_time,
            redis_time,
            "The store's snapshot is newer; restored it into Redis."
        ),
        RestoreOutcome::KeptRedisNewer {
            store_time,
            redis_time,
        } => tracing::info!(
            family,
            store_time,
            redis_time,
            "Redis is as new as the store or newer; left it alone."
        ),
        RestoreOutcome::KeptUnknownAge { store_time } => tracing::warn!(
            family,
            store_time,
            "Redis has keys without an updated_time; left them alone."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_snapshot_nothing_is_restored() {
        assert_eq!(decide(None, None, false), RestoreOutcome::NoSnapshot);
        assert_eq!(decide(None, Some(5), true), RestoreOutcome::NoSnapshot);
    }

    #[test]
    fn an_empty_redis_gets_the_snapshot_whatever_its_time() {
        assert!(decide(Some(5), None, false).wrote_redis());
        assert!(decide(Some(5), Some(9), false).wrote_redis());
    }

    #[test]
    fn a_newer_snapshot_replaces_redis() {
        let outcome = decide(Some(9), Some(5), true);
        assert_eq!(
            outcome,
            RestoreOutcome::RestoredStoreNewer {
                store_time: 9,
                redis_time: 5
            }
        );
    }

    #[test]
    fn a_newer_or_equal_redis_is_left_alone() {
        assert!(!decide(Some(5), Some(9), true).wrote_redis());
        assert!(!decide(Some(5), Some(5), true).wrote_redis());
    }

    #[test]
    fn keys_of_unknown_age_are_not_destroyed() {
        assert_eq!(
            decide(Some(5), None, true),
            RestoreOutcome::KeptUnknownAge { store_time: 5 }
        );
    }
}

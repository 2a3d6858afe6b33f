//! The restore: bring Redis back from the store, at start and after a loss.
//!
//! First the marker ([`super::epoch`]): if Redis has none, families whose snapshot was
//! taken under one are merged into Redis and a new marker is set, in one transaction
//! (see the epoch module for why). Every other family follows seed 000's rule, decided
//! on `updated_time`:
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

use super::snapshot::{Snapshot, Snapshots};
use super::{epoch, redis_side};
use crate::contract::EPOCH;
use crate::error::JobError;
use shared_store::keys::Family;

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
    /// Redis had lost its data and held only what was written since; the snapshot
    /// was merged into it.
    MergedIntoLostRedis {
        store_time: i64,
    },
}

impl RestoreOutcome {
    pub fn wrote_redis(self) -> bool {
        matches!(
            self,
            Self::RestoredIntoEmptyRedis { .. }
                | Self::RestoredStoreNewer { .. }
                | Self::MergedIntoLostRedis { .. }
        )
    }
}

/// The rule in the module doc, as a pure function. `lost`: Redis has no marker and
/// the snapshot was taken under one.
pub fn decide(
    store_time: Option<i64>,
    redis_time: Option<i64>,
    redis_has_data: bool,
    lost: bool,
) -> RestoreOutcome {
    let Some(store_time) = store_time else {
        return RestoreOutcome::NoSnapshot;
    };
    match redis_time {
        _ if !redis_has_data => RestoreOutcome::RestoredIntoEmptyRedis { store_time },
        _ if lost => RestoreOutcome::MergedIntoLostRedis { store_time },
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
    let mut loaded = Vec::new();
    for family in Family::ALL {
        loaded.push((family, snapshots.load(family).await?));
    }
    let merged = merge_if_lost(con, keys, &loaded).await?;
    let mut outcomes = Vec::new();
    for (family, snapshot) in &loaded {
        let outcome = match merged.iter().find(|(done, _)| done == family) {
            Some((_, outcome)) => *outcome,
            None => restore_family(con, keys, *family, snapshot.as_ref()).await?,
        };
        log(*family, outcome);
        outcomes.push((*family, outcome));
    }
    Ok(outcomes)
}

/// If Redis has no marker: merges every snapshot taken under one and sets a new
/// marker, atomically; returns the families it merged. Another worker setting the
/// marker first aborts the transaction, and then there is nothing left to merge.
async fn merge_if_lost(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
    loaded: &[(Family, Option<Snapshot>)],
) -> Result<Vec<(Family, RestoreOutcome)>, JobError> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        redis::cmd("WATCH")
            .arg(keys.key(EPOCH))
            .exec_async(con)
            .await?;
        if epoch::read(con, keys).await?.is_some() {
            redis::cmd("UNWATCH").exec_async(con).await?;
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut merged = Vec::new();
        for (family, snapshot) in loaded {
            let Some(snapshot) = snapshot.as_ref().filter(|s| s.epoch.is_some()) else {
                continue;
            };
            let has_data = !redis_side::data_keys(con, keys, *family).await?.is_empty();
            let time = redis_side::updated_time(con, keys, *family).await?;
            let outcome = decide(Some(snapshot.updated_time), time, has_data, true);
            redis_side::merge_family(
                &mut pipe,
                keys,
                *family,
                &snapshot.records,
                snapshot.updated_time,
            );
            merged.push((*family, outcome));
        }
        pipe.set(keys.key(EPOCH), epoch::new_epoch()).ignore();
        // EXEC answers nil when the watched marker changed.
        let done: Option<redis::Value> = pipe.query_async(con).await?;
        if done.is_some() {
            return Ok(merged);
        }
    }
    Err(JobError::MarkerContended)
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
            .arg(keys.key(family.updated_time_key()))
            .exec_async(con)
            .await?;
        let redis_time = redis_side::updated_time(con, keys, family).await?;
        let existing = redis_side::data_keys(con, keys, family).await?;
        let outcome = decide(
            snapshot.map(|s| s.updated_time),
            redis_time,
            !existing.is_empty(),
            false,
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
    Ok(decide(
        snapshot.map(|s| s.updated_time),
        redis_time,
        true,
        false,
    ))
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
        RestoreOutcome::MergedIntoLostRedis { store_time } => tracing::warn!(
            family,
            store_time,
            "Redis had lost its data; merged the store's snapshot into what was written since."
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
        assert_eq!(decide(None, None, false, false), RestoreOutcome::NoSnapshot);
        assert_eq!(
            decide(None, Some(5), true, false),
            RestoreOutcome::NoSnapshot
        );
    }

    #[test]
    fn an_empty_redis_gets_the_snapshot_whatever_its_time() {
        assert!(decide(Some(5), None, false, false).wrote_redis());
        assert!(decide(Some(5), Some(9), false, false).wrote_redis());
    }

    #[test]
    fn a_newer_snapshot_replaces_redis() {
        let outcome = decide(Some(9), Some(5), true, false);
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
        assert!(!decide(Some(5), Some(9), true, false).wrote_redis());
        assert!(!decide(Some(5), Some(5), true, false).wrote_redis());
    }

    #[test]
    fn keys_of_unknown_age_are_not_destroyed() {
        assert_eq!(
            decide(Some(5), None, true, false),
            RestoreOutcome::KeptUnknownAge { store_time: 5 }
        );
    }

    #[test]
    fn a_lost_redis_gets_the_snapshot_merged_in_however_new_its_writes() {
        assert_eq!(
            decide(Some(5), Some(9), true, true),
            RestoreOutcome::MergedIntoLostRedis { store_time: 5 }
        );
        assert_eq!(
            decide(Some(5), None, true, true),
            RestoreOutcome::MergedIntoLostRedis { store_time: 5 }
        );
        assert!(decide(Some(5), Some(9), true, true).wrote_redis());
    }

    #[test]
    fn a_lost_and_still_empty_redis_is_a_plain_restore() {
        assert_eq!(
            decide(Some(5), None, false, true),
            RestoreOutcome::RestoredIntoEmptyRedis { store_time: 5 }
        );
        assert_eq!(
            decide(None, Some(9), true, true),
            RestoreOutcome::NoSnapshot
        );
    }
}

//! The `sync` job (seed 000's Sync Service): snapshot the synced Redis families into
//! the store on each window, and restore them at start (see [`restore`]).
//!
//! A family is snapshotted with the `updated_time` Redis had when the run began
//! reading it (read first, so the snapshot is at least that new and a later restore
//! errs towards keeping Redis). A family that Redis has never written (no
//! `updated_time`), or that has not changed since the stored snapshot, is skipped: an
//! empty Redis after a restart must not overwrite a good snapshot. Nor is anything
//! snapshotted from a Redis without its marker ([`epoch`]): that Redis lost its data
//! and holds only what was written since, until the restore merges the snapshot back.

pub mod epoch;
pub mod redis_side;
pub mod restore;
pub mod snapshot;

use mongodb::Database;
use mongodb::bson::{Document, doc};
use redis::aio::ConnectionManager;
use shared_store::RedisKeys;

use self::restore::RestoreOutcome;
use self::snapshot::{Saved, Snapshot, Snapshots};
use crate::error::JobError;
use shared_store::keys::Family;

/// What one run did with one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyOutcome {
    Saved {
        records: usize,
        updated_time: i64,
    },
    /// Redis has no `updated_time` for it: nothing was ever written.
    NeverWritten,
    Unchanged,
    /// The store's snapshot is newer than Redis (Redis went back in time, or another
    /// run got there first); it is kept.
    StoreNewer,
    /// Redis has no marker, or it changed while the family was read: Redis lost its
    /// data, and the store's snapshot is what the restore needs; it is kept.
    RedisLost,
}

#[derive(Debug, Clone)]
pub struct SyncJob {
    redis: ConnectionManager,
    keys: RedisKeys,
    snapshots: Snapshots,
}

impl SyncJob {
    pub fn new(redis: ConnectionManager, keys: RedisKeys, db: &Database) -> Self {
        Self {
            redis,
            keys,
            snapshots: Snapshots::new(db),
        }
    }

    /// The deployment's key names.
    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    /// Snapshots every family.
    pub async fn run(&self) -> Result<Vec<(Family, FamilyOutcome)>, JobError> {
        let mut outcomes = Vec::new();
        for family in Family::ALL {
            let outcome = self.snapshot_family(family).await?;
            tracing::info!(family = family.name(), ?outcome, "Synced a key family.");
            outcomes.push((family, outcome));
        }
        Ok(outcomes)
    }

    async fn snapshot_family(&self, family: Family) -> Result<FamilyOutcome, JobError> {
        let mut con = self.redis.clone();
        // Read before the data and checked again after it: the data was read under this
        // marker, so none of it was written after a loss.
        let Some(epoch) = epoch::read(&mut con, &self.keys).await? else {
            return Ok(FamilyOutcome::RedisLost);
        };
        let Some(updated_time) = redis_side::updated_time(&mut con, &self.keys, family).await?
        else {
            return Ok(FamilyOutcome::NeverWritten);
        };
        match self.snapshots.updated_time(family).await? {
            Some(stored) if stored == updated_time => return Ok(FamilyOutcome::Unchanged),
            Some(stored) if stored > updated_time => return Ok(FamilyOutcome::StoreNewer),
            _ => {}
        }
        let records = redis_side::read_family(&mut con, &self.keys, family).await?;
        if epoch::read(&mut con, &self.keys).await?.as_deref() != Some(epoch.as_str()) {
            return Ok(FamilyOutcome::RedisLost);
        }
        let count = records.len();
        let snapshot = Snapshot {
            updated_time,
            records,
            epoch: Some(epoch),
        };
        Ok(match self.snapshots.save(family, &snapshot).await? {
            Saved::Replaced => FamilyOutcome::Saved {
                records: count,
                updated_time,
            },
            Saved::Superseded => FamilyOutcome::StoreNewer,
        })
    }

    /// Seed 000's start-up restore. `exclusive` must be a Redis connection nothing
    /// else uses meanwhile (the restore `WATCH`es keys on it).
    pub async fn restore(
        &self,
        exclusive: &mut ConnectionManager,
    ) -> Result<Vec<(Family, RestoreOutcome)>, JobError> {
        restore::restore_all(exclusive, &self.keys, &self.snapshots).await
    }
}

/// A run's outcomes as the `summary` of its `job_runs` document.
pub fn summary(outcomes: &[(Family, FamilyOutcome)]) -> Document {
    let mut summary = Document::new();
    for (family, outcome) in outcomes {
        let value = match outcome {
            FamilyOutcome::Saved {
                records,
                updated_time,
            } => doc! { "saved": *records as i64, "updated_time": *updated_time },
            FamilyOutcome::NeverWritten => doc! { "skipped": "never written" },
            FamilyOutcome::Unchanged => doc! { "skipped": "unchanged" },
            FamilyOutcome::StoreNewer => doc! { "skipped": "store newer" },
            FamilyOutcome::RedisLost => doc! { "skipped": "redis lost its data" },
        };
        summary.insert(family.name(), value);
    }
    summary
}

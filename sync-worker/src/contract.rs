//! The Redis keys only the sync-worker touches.
//!
//! The keys the gateway writes and the jobs move (`users`, `c:<command>`,
//! `leaderboard:<exercise>`, `agg:<exercise>`, their `updated_time`s and `journal`)
//! are named once, for both sides, in [`shared_store::keys`]; this module adds the
//! worker's own. Every name is prefixed with `M2M_REDIS_PREFIX` through
//! [`shared_store::RedisKeys`].
//!
//! | key | type | written by | read by |
//! |---|---|---|---|
//! | `journal:staging` | LIST | backup only: the batch being archived | backup |
//! | `journal:staging:batch` | STRING | backup only: the id of the staged batch | backup |
//! | `lease:<job>` | STRING token, with expiry | sync-worker: the run holding the job | sync-worker |
//! | `sync:epoch` | STRING, a random id | sync-worker, when it restores (at start, or when the marker vanished) | sync-worker |

/// The marker that Redis still holds the data the snapshots were read from: it
/// vanishes with the data (a restart without persistence, a flush), which is how a
/// loss is told from a Redis that is simply newer (see `jobs::sync::epoch`). Nothing
/// but the sync job may write or delete it.
pub const EPOCH: &str = "sync:epoch";

/// Unprefixed names of the backup job's staging keys (the journal itself is
/// [`shared_store::keys::JOURNAL`]).
pub const JOURNAL_STAGING: &str = "journal:staging";
pub const JOURNAL_STAGING_BATCH: &str = "journal:staging:batch";

/// The unprefixed name of a job's lease.
pub fn lease_key(job: shared_events::events::Job) -> String {
    format!("lease:{}", job.as_str())
}

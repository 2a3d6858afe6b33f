//! `job.completed`: a sync-worker finished a job's window.
//!
//! The sync-worker publishes it after recording the run in its own store, so
//! whoever shows runs to operators (the gateway's dashboard) learns of them on the
//! bus instead of reading the sync-worker's collection.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::Job;

/// `job` finished `window` at `finished_at`; `summary` is what the run did, as the
/// job reports it (counts of keys and entries moved, and the like).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCompletedV1 {
    pub job: Job,
    /// The window that ran (`timer.fired`'s): scheduled windows count up from zero,
    /// a manual trigger's is negative.
    pub window: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub summary: Value,
}

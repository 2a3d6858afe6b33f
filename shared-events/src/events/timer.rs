//! `timer.fired`: a scheduled job's window has come.

use serde::{Deserialize, Serialize};

/// A job's window has come. `window` identifies it (e.g. the window's start as
/// Unix seconds divided by the interval), so that several replicas receiving
/// timers for one window can run the job once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerFiredV1 {
    pub job: Job,
    pub window: i64,
}

/// The jobs the sync-worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Snapshot the synced Redis keys into the store (seed 000's Sync Service).
    Sync,
    /// Move the Redis journal into the store (seed 001's BackupDataManager).
    Backup,
}

impl Job {
    pub const ALL: [Job; 2] = [Job::Sync, Job::Backup];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Sync => "sync",
            Job::Backup => "backup",
        }
    }

    pub fn parse(name: &str) -> Option<Job> {
        Self::ALL.into_iter().find(|job| job.as_str() == name)
    }
}

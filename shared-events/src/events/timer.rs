//! `timer.fired`: a scheduled job's window has come.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A job's window has come. `window` identifies it (e.g. the window's start as
/// Unix seconds divided by the interval), so that several replicas receiving
/// timers for one window can run the job once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerFiredV1 {
    pub job: Job,
    pub window: i64,
}

impl TimerFiredV1 {
    /// The window of a scheduled run: `unix_secs / interval_secs`, never negative.
    pub fn scheduled_window(now: OffsetDateTime, interval_secs: u64) -> i64 {
        now.unix_timestamp() / i64::try_from(interval_secs.max(1)).unwrap_or(i64::MAX)
    }

    /// The window of a manual trigger made at `now`.
    ///
    /// Workers run a job once per `(job, window)` and skip a window that already
    /// ran, so a manual trigger must not reuse the scheduled window of now (it has
    /// usually run). It uses the *negative* of the current Unix time in
    /// milliseconds: unique per trigger, never equal to a scheduled window, and
    /// below every scheduled one, so catch-up (which looks at the highest
    /// completed window) is not fooled into thinking the current window ran.
    pub fn manual_window(now: OffsetDateTime) -> i64 {
        let millis = now.unix_timestamp_nanos() / 1_000_000;
        -i64::try_from(millis).unwrap_or(i64::MAX)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_manual_window_never_meets_a_scheduled_one() {
        let now = datetime!(2026-11-22 10:00:00.123 UTC);
        let window = TimerFiredV1::manual_window(now);
        assert_eq!(window, -1_795_341_600_123);
        assert!(TimerFiredV1::scheduled_window(now, 10) > 0);
        assert!(window < 0);
        let later = now + time::Duration::milliseconds(1);
        assert_ne!(TimerFiredV1::manual_window(later), window);
    }

    #[test]
    fn a_scheduled_window_numbers_the_interval() {
        let now = datetime!(2026-11-22 10:00:05 UTC);
        assert_eq!(TimerFiredV1::scheduled_window(now, 10), 179_534_160);
        assert_eq!(TimerFiredV1::scheduled_window(now, 3600), 498_706);
    }
}

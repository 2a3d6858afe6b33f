//! `job_runs`: which windows of which job have completed, and whether the rest of
//! the system has been told.
//!
//! The unique `(job, window)` index makes "this window ran" a fact the store
//! enforces, whichever replica records it; the scheduler's catch-up reads the latest
//! recorded window to find a window missed while every replica was down.
//!
//! A run is recorded with `announced: false` and marked `true` once its
//! `job.completed` event is confirmed by the broker ([`crate::announce`]): the
//! record is the outbox of that event, so a publish that fails after the run is
//! recorded is made again by the next copy of the window's timer. Runs recorded
//! before announcements existed have no `announced` field and count as announced.
//!
//! Only the sync-worker reads or writes this collection; the gateway's dashboard
//! learns of runs from `job.completed` (`docs/ARCHITECTURE.md`, "Who owns what").

use mongodb::bson::{self, Bson, Document, doc};
use mongodb::{Collection, Database};
use shared_events::events::{Job, JobCompletedV1};
use shared_store::is_duplicate_key;
use time::OffsetDateTime;

use crate::store;

#[derive(Debug, Clone)]
pub struct JobRuns {
    collection: Collection<Document>,
}

/// A completed run, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedRun {
    pub job: Job,
    pub window: i64,
    pub finished_at: bson::DateTime,
    /// What the run did, as the job reports it.
    pub summary: Document,
    /// Its `job.completed` event was confirmed by the broker.
    pub announced: bool,
}

impl CompletedRun {
    /// The run as the `job.completed` event carries it.
    pub fn to_event(&self) -> JobCompletedV1 {
        let millis = i128::from(self.finished_at.timestamp_millis());
        JobCompletedV1 {
            job: self.job,
            window: self.window,
            finished_at: OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            summary: Bson::Document(self.summary.clone()).into_relaxed_extjson(),
        }
    }

    fn from_document(job: Job, window: i64, run: &Document) -> Self {
        Self {
            job,
            window,
            finished_at: run
                .get_datetime("finished_at")
                .copied()
                .unwrap_or_else(|_| bson::DateTime::now()),
            summary: run.get_document("summary").cloned().unwrap_or_default(),
            announced: run.get_bool("announced").unwrap_or(true),
        }
    }
}

impl JobRuns {
    pub fn new(db: &Database) -> Self {
        Self {
            collection: store::collection(db, store::JOB_RUNS),
        }
    }

    /// The recorded run of `job`'s `window`, if that window has completed.
    pub async fn find(
        &self,
        job: Job,
        window: i64,
    ) -> mongodb::error::Result<Option<CompletedRun>> {
        let found = self
            .collection
            .find_one(doc! { "job": job.as_str(), "window": window })
            .await?;
        Ok(found.map(|run| CompletedRun::from_document(job, window, &run)))
    }

    /// Records a completed run, not yet announced; `None` if the window was already
    /// recorded (a run that lost its lease and finished anyway).
    pub async fn record(
        &self,
        job: Job,
        window: i64,
        summary: Document,
    ) -> mongodb::error::Result<Option<CompletedRun>> {
        let run = CompletedRun {
            job,
            window,
            finished_at: bson::DateTime::now(),
            summary,
            announced: false,
        };
        let document = doc! {
            "job": job.as_str(),
            "window": window,
            "finished_at": run.finished_at,
            "summary": run.summary.clone(),
            "announced": false,
        };
        match self.collection.insert_one(document).await {
            Ok(_) => Ok(Some(run)),
            Err(error) if is_duplicate_key(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Notes that the run's `job.completed` was confirmed.
    pub async fn mark_announced(&self, run: &CompletedRun) -> mongodb::error::Result<()> {
        self.collection
            .update_one(
                doc! { "job": run.job.as_str(), "window": run.window },
                doc! { "$set": { "announced": true } },
            )
            .await?;
        Ok(())
    }

    /// The highest window of `job` that completed, if any.
    pub async fn latest_window(&self, job: Job) -> mongodb::error::Result<Option<i64>> {
        let latest = self
            .collection
            .find_one(doc! { "job": job.as_str() })
            .sort(doc! { "window": -1 })
            .await?;
        Ok(latest.and_then(|run| run.get_i64("window").ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_announced_with_its_summary_as_plain_json_and_its_time() {
        let run = CompletedRun {
            job: Job::Backup,
            window: -1_795_341_600_123,
            finished_at: bson::DateTime::from_millis(1_795_341_600_456),
            summary: doc! { "entries": 3_i64, "batches": 1_i64 },
            announced: false,
        };
        let event = run.to_event();
        assert_eq!(event.job, Job::Backup);
        assert_eq!(event.window, -1_795_341_600_123);
        assert_eq!(
            event.finished_at.unix_timestamp_nanos(),
            1_795_341_600_456_000_000
        );
        assert_eq!(
            event.summary,
            serde_json::json!({ "entries": 3, "batches": 1 })
        );
    }

    #[test]
    fn a_run_recorded_before_announcements_counts_as_announced() {
        let legacy = doc! { "job": "sync", "window": 7_i64, "summary": {} };
        assert!(CompletedRun::from_document(Job::Sync, 7, &legacy).announced);
        let pending = doc! { "announced": false };
        assert!(!CompletedRun::from_document(Job::Sync, 7, &pending).announced);
    }
}

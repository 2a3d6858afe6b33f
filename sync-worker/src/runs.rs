//! `job_runs`: which windows of which job have completed.
//!
//! The unique `(job, window)` index makes "this window ran" a fact the store
//! enforces, whichever replica records it; the scheduler's catch-up reads the latest
//! recorded window to find a window missed while every replica was down.

use mongodb::bson::{self, Document, doc};
use mongodb::{Collection, Database};
use shared_events::events::Job;
use shared_store::is_duplicate_key;

use crate::store;

#[derive(Debug, Clone)]
pub struct JobRuns {
    collection: Collection<Document>,
}

impl JobRuns {
    pub fn new(db: &Database) -> Self {
        Self {
            collection: store::collection(db, store::JOB_RUNS),
        }
    }

    pub async fn is_done(&self, job: Job, window: i64) -> mongodb::error::Result<bool> {
        let found = self
            .collection
            .find_one(doc! { "job": job.as_str(), "window": window })
            .await?;
        Ok(found.is_some())
    }

    /// Records a completed run; `false` if the window was already recorded (a run
    /// that lost its lease and finished anyway).
    pub async fn record(
        &self,
        job: Job,
        window: i64,
        summary: Document,
    ) -> mongodb::error::Result<bool> {
        let run = doc! {
            "job": job.as_str(),
            "window": window,
            "finished_at": bson::DateTime::now(),
            "summary": summary,
        };
        match self.collection.insert_one(run).await {
            Ok(_) => Ok(true),
            Err(error) if is_duplicate_key(&error) => Ok(false),
            Err(error) => Err(error),
        }
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

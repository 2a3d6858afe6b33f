//! `dashboard_job_runs`: the gateway's own record of the sync-worker's runs, for
//! the jobs panel.
//!
//! Filled from `job.completed` ([`super::job_completed`]), never from the
//! sync-worker's `job_runs`: services meet on the bus. One document per run,
//! `_id` = `<job>:<window>`, replaced whole on every delivery, so a redelivered or
//! replayed event leaves exactly one document, and the sync-worker, which records a
//! window once, always sends the same content for it.
//!
//! `{_id, job, window, finished_at, summary, recorded_at}`. Scheduled windows count
//! up from zero; a manual trigger (`events trigger`) uses the negative of its time
//! in milliseconds, so the latest manual run is the lowest window. The panel's two
//! queries follow the `(job, window)` index; runs expire after [`RETENTION`].

use std::time::Duration;

use futures_util::TryStreamExt as _;
use mongodb::bson::{self, Bson, DateTime, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use shared_events::events::{Job, JobCompletedV1};
use shared_store::is_duplicate_key;

/// The collection; only this module names it.
pub const COLLECTION: &str = "dashboard_job_runs";

/// How long a run is kept. The panel shows the last few per job; a month keeps a
/// job that stopped visibly stopped (its last run growing old) for as long as
/// anyone looks.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The gateway's job-run log. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JobRunLog {
    collection: Collection<Document>,
}

impl JobRunLog {
    pub fn new(db: &Database) -> Self {
        Self {
            collection: db.collection(COLLECTION),
        }
    }

    /// The panel's index and the expiry; idempotent, run at every start.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        self.collection
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "job": 1, "window": 1 })
                    .build(),
            )
            .await?;
        self.collection
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "finished_at": 1 })
                    .options(IndexOptions::builder().expire_after(RETENTION).build())
                    .build(),
            )
            .await?;
        Ok(())
    }

    /// Records `run`, replacing any earlier copy of it.
    pub async fn record(&self, run: &JobCompletedV1) -> mongodb::error::Result<()> {
        let id = format!("{}:{}", run.job.as_str(), run.window);
        let finished_ms = run.finished_at.unix_timestamp_nanos() / 1_000_000;
        let document = doc! {
            "_id": &id,
            "job": run.job.as_str(),
            "window": run.window,
            "finished_at": DateTime::from_millis(i64::try_from(finished_ms).unwrap_or(i64::MAX)),
            "summary": bson::to_bson(&run.summary).unwrap_or(Bson::Null),
            "recorded_at": DateTime::now(),
        };
        let replaced = self
            .collection
            .replace_one(doc! { "_id": &id }, document)
            .upsert(true)
            .await;
        match replaced {
            Ok(_) => Ok(()),
            // Two deliveries of one run raced to insert it: the other one did.
            Err(error) if is_duplicate_key(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Up to `limit` of `job`'s newest scheduled runs (highest windows) and up to
    /// `limit` of its newest manual ones (lowest windows), in no particular order.
    pub async fn latest(&self, job: Job, limit: i64) -> mongodb::error::Result<Vec<Document>> {
        let query = |filter: Document, order: i32| async move {
            self.collection
                .find(filter)
                .sort(doc! { "window": order })
                .limit(limit)
                .await?
                .try_collect::<Vec<Document>>()
                .await
        };
        let scheduled = query(doc! { "job": job.as_str(), "window": { "$gte": 0 } }, -1);
        let manual = query(doc! { "job": job.as_str(), "window": { "$lt": 0 } }, 1);
        let (mut runs, manual) = tokio::try_join!(scheduled, manual)?;
        runs.extend(manual);
        Ok(runs)
    }
}

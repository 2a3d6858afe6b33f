//! `GET /admin/api/jobs`: the last runs of the sync and backup jobs.
//!
//! sync-worker records each completed window in `job_runs` (its `runs.rs`):
//! `{job, window, finished_at, summary}`, unique on `(job, window)`. Scheduled
//! windows count up from zero; a manual trigger (`events trigger`) uses the
//! negative of its time in milliseconds, so the latest manual run is the lowest
//! window. Both queries follow the `(job, window)` index. Failed runs are not
//! recorded: a job that keeps failing shows as a last run growing old.

use anyhow::Context as _;
use axum::Json;
use futures_util::TryStreamExt as _;
use mongodb::bson::{Bson, Document, doc};
use serde::Serialize;
use shared_events::events::Job;

use super::Dashboard;
use super::access::{AdminError, Operator};
use super::processing::rfc3339;

/// Runs listed per job.
pub const RUNS_SHOWN: usize = 5;

#[derive(Debug, Serialize)]
pub struct Jobs {
    jobs: Vec<JobRuns>,
}

#[derive(Debug, Serialize)]
struct JobRuns {
    job: &'static str,
    /// Newest first.
    runs: Vec<Run>,
}

#[derive(Debug, Serialize)]
struct Run {
    window: i64,
    /// Started by `events trigger`, not the schedule.
    manual: bool,
    finished_at: Option<String>,
    /// Seconds between `finished_at` and now.
    age_secs: Option<i64>,
    /// What the run did, as the job recorded it (relaxed extended JSON).
    summary: serde_json::Value,
}

pub async fn jobs(Operator(dashboard): Operator) -> Result<Json<Jobs>, AdminError> {
    let mut jobs = Vec::new();
    for job in Job::ALL {
        let runs = last_runs(&dashboard, job)
            .await
            .map_err(AdminError::unavailable)?;
        jobs.push(JobRuns {
            job: job.as_str(),
            runs,
        });
    }
    Ok(Json(Jobs { jobs }))
}

async fn last_runs(dashboard: &Dashboard, job: Job) -> anyhow::Result<Vec<Run>> {
    let limit = RUNS_SHOWN as i64;
    let query = |filter: Document, order: i32| async move {
        dashboard
            .job_runs
            .find(filter)
            .sort(doc! { "window": order })
            .limit(limit)
            .await?
            .try_collect::<Vec<Document>>()
            .await
    };
    let scheduled = query(doc! { "job": job.as_str(), "window": { "$gte": 0 } }, -1);
    let manual = query(doc! { "job": job.as_str(), "window": { "$lt": 0 } }, 1);
    let (scheduled, manual) =
        tokio::try_join!(scheduled, manual).context("Failed to read job runs")?;
    let now = mongodb::bson::DateTime::now();
    let mut runs: Vec<(i64, Run)> = scheduled
        .into_iter()
        .chain(manual)
        .map(|run| {
            let finished = run.get_datetime("finished_at").ok().copied();
            let window = run.get_i64("window").unwrap_or_default();
            let summary = run
                .get_document("summary")
                .map(|s| Bson::Document(s.clone()).into_relaxed_extjson())
                .unwrap_or(serde_json::Value::Null);
            let order = finished.map_or(i64::MIN, |f| f.timestamp_millis());
            let run = Run {
                window,
                manual: window < 0,
                finished_at: finished.and_then(rfc3339),
                age_secs: finished.map(|f| (now.timestamp_millis() - f.timestamp_millis()) / 1_000),
                summary,
            };
            (order, run)
        })
        .collect();
    runs.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
    Ok(runs
        .into_iter()
        .take(RUNS_SHOWN)
        .map(|(_, run)| run)
        .collect())
}

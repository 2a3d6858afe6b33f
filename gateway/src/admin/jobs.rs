//! `GET /admin/api/jobs`: the last runs of the sync and backup jobs.
//!
//! Read from the gateway's own [`super::job_runs`], which the `job.completed`
//! events of the sync-worker fill; never from the sync-worker's `job_runs`. A
//! manual run (`events trigger`) has a negative window. Failed runs are not
//! announced: a job that keeps failing shows as a last run growing old.

use anyhow::Context as _;
use axum::Json;
use mongodb::bson::Bson;
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
    let recorded = dashboard
        .job_runs
        .latest(job, RUNS_SHOWN as i64)
        .await
        .context("Failed to read job runs")?;
    let now = mongodb::bson::DateTime::now();
    let mut runs: Vec<(i64, Run)> = recorded
        .into_iter()
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

//! The operators' dashboard: `/admin`, a server-rendered page whose script polls
//! JSON endpoints under `/admin/api/`.
//!
//! It is on only when `M2M_ADMIN_TOKEN` is set (otherwise every `/admin` path is
//! a 404, as if it did not exist). The page asks for the token once, keeps it in
//! the tab's `sessionStorage` and sends it as `Authorization: Bearer` with every
//! call, so no cookie carries it and no other site can make a browser use it
//! (nothing to forge across sites). A patient's access token is refused with 403.
//! The dashboard sits outside the request bookkeeping: its polling is not patient
//! traffic.
//!
//! It reads only the gateway's own data, the broker and nothing of another
//! service's store (`docs/ARCHITECTURE.md`, "Who owns what"): queue depths and
//! consumers from passive declares on the bus, processing latency and failures
//! from `games` (which the reconciliation handler completes from
//! `reconciliation.ready`), job runs from `dashboard_job_runs` (which
//! [`job_completed`] fills from the sync-worker's `job.completed`), and dead
//! letters through [`shared_events::dead_letters`], the same code as `events dlq`.
//! The redrive is its only write to the bus.
//!
//! Job runs are recorded whether or not the dashboard is on (see
//! [`job_completed`] for why); the `games` index of the processing panel is
//! created only when it is on.
//!
//! # Layout
//! - [`access`]: the [`access::Operator`] extractor (the token check) and the errors.
//! - [`page`]: the HTML page, its script and its style.
//! - [`queues`]: depths, consumers and rates of change of every queue.
//! - [`processing`]: latency, throughput and recent failures of the analysis.
//! - [`jobs`]: the last runs of the sync and backup jobs.
//! - [`job_runs`]: `dashboard_job_runs`, the gateway's record of those runs.
//! - [`job_completed`]: the consumer that fills it from `job.completed`.
//! - [`dead_letters`]: the dead-letter queue, and redriving one message.
//! - [`figures`]: the arithmetic (rates, percentiles), unit-tested.

pub mod access;
pub mod dead_letters;
pub mod figures;
pub mod job_completed;
pub mod job_runs;
pub mod jobs;
pub mod page;
pub mod processing;
pub mod queues;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};
use mongodb::Database;
use mongodb::bson::Document;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use shared_events::lapin::Connection;
use shared_events::{Bus, Publisher};
use tokio_util::sync::CancellationToken;

use crate::config::AdminSettings;
use crate::state::AppState;
use figures::RateTracker;
use job_completed::JobRunsConsumer;
use job_runs::JobRunLog;

/// The dashboard's state: off, or on with what it reads; and the record of job
/// runs, kept either way. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    enabled: Option<Arc<Dashboard>>,
    job_runs: JobRunLog,
}

/// What an enabled dashboard holds.
pub struct Dashboard {
    /// SHA-256 of the token: compared in constant time, and digests of equal
    /// length leak nothing about the token's length.
    token_digest: [u8; 32],
    bus: Bus,
    /// The gateway's own games (the upload path and the reconciliation write them).
    games: mongodb::Collection<Document>,
    job_runs: JobRunLog,
    /// One broker connection for passive declares, kept between polls.
    inspector: tokio::sync::Mutex<Option<Connection>>,
    /// Depths seen at earlier polls, for rates of change.
    rates: Mutex<RateTracker>,
    /// One dead-letter browse at a time from this gateway: a browse hides the
    /// messages it holds, so a listing poll would hide the very message a redrive
    /// looks for.
    dead_letters: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("enabled", &self.enabled.is_some())
            .finish()
    }
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("prefix", &self.bus.settings().prefix)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// Prepares the dashboard (on if `M2M_ADMIN_TOKEN` is set) and the job-run
    /// record, creating their indexes (idempotent).
    pub async fn build(settings: &AdminSettings, db: &Database, bus: &Bus) -> anyhow::Result<Self> {
        let job_runs = JobRunLog::new(db);
        job_runs
            .ensure_indexes()
            .await
            .context("Failed to create the dashboard's job-run indexes")?;
        let enabled = match &settings.token {
            None => None,
            Some(token) => {
                // The collection the gateway's store names `games` (store/games.rs).
                let games = db.collection::<Document>("games");
                processing::ensure_index(&games)
                    .await
                    .context("Failed to create the dashboard's index on games")?;
                Some(Arc::new(Dashboard {
                    token_digest: digest(token.expose_secret()),
                    bus: bus.clone(),
                    games,
                    job_runs: job_runs.clone(),
                    inspector: tokio::sync::Mutex::new(None),
                    rates: Mutex::new(RateTracker::default()),
                    dead_letters: tokio::sync::Mutex::new(()),
                }))
            }
        };
        Ok(Self { enabled, job_runs })
    }

    /// Starts recording the sync-worker's `job.completed` events, whether or not
    /// the dashboard is on ([`job_completed`] says why), until `stop`.
    pub fn record_job_runs(
        &self,
        publisher: Publisher,
        stop: CancellationToken,
        drain: Duration,
    ) -> JobRunsConsumer {
        JobRunsConsumer::spawn(self.job_runs.clone(), publisher, stop, drain)
    }

    /// The dashboard, if it is on.
    pub fn dashboard(&self) -> Option<&Arc<Dashboard>> {
        self.enabled.as_ref()
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Every `/admin` route. Served whether or not the dashboard is on; each answers
/// 404 when it is off.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(page::page))
        .route("/admin/app.js", get(page::script))
        .route("/admin/app.css", get(page::style))
        .route("/admin/api/queues", get(queues::queues))
        .route("/admin/api/processing", get(processing::processing))
        .route("/admin/api/jobs", get(jobs::jobs))
        .route("/admin/api/dead-letters", get(dead_letters::list))
        .route(
            "/admin/api/dead-letters/{id}/redrive",
            post(dead_letters::redrive),
        )
}

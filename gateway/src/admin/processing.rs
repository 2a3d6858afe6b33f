//! `GET /admin/api/processing`: how long games wait for their analysis, how many
//! were analysed in the last minute, and the latest failures.
//!
//! Everything comes from the gateway's own `games`, whose documents the
//! reconciliation handler completes from `reconciliation.ready`: `status`
//! (`processed` or `failed`), `analysed_at`, `failure_reason` (failed games) and
//! `analytics_version`, beside `created_at` from the upload. Never from
//! processing-service's `results`: services meet on the bus.
//!
//! Latency is a game's `analysed_at` minus its `created_at` (when the upload was
//! accepted), over the most recently analysed games: queueing, retries and the
//! analysis itself. A replayed or redriven game is analysed again and shows its
//! whole age. Served by [`STATUS_RECENT`], which [`ensure_index`] creates.

use std::time::Duration;

use anyhow::Context as _;
use axum::Json;
use futures_util::TryStreamExt as _;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::Serialize;

use super::Dashboard;
use super::access::{AdminError, Operator};
use super::figures::percentile;

/// Games in the latency sample: the most recently analysed.
pub const LATENCY_SAMPLE: i64 = 200;
/// Failed analyses listed.
pub const FAILURES_SHOWN: i64 = 20;
/// The span the throughput counts cover.
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(60);
/// The name of the dashboard's index on `games`, `{status: 1, analysed_at: -1}`:
/// every query of this panel picks a status (or two) and wants the newest
/// analyses first.
pub const STATUS_RECENT: &str = "dashboard_by_status_recent";

/// Creates the panel's index on `games`; idempotent, run at start when the
/// dashboard is on. Only the dashboard needs it, so a gateway without the
/// dashboard does not pay for it on every game's write (once created it stays,
/// harmless, until someone drops it).
pub async fn ensure_index(games: &Collection<Document>) -> mongodb::error::Result<()> {
    let index = IndexModel::builder()
        .keys(doc! { "status": 1, "analysed_at": -1 })
        .options(
            IndexOptions::builder()
                .name(STATUS_RECENT.to_owned())
                .build(),
        )
        .build();
    games.create_index(index).await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Processing {
    latency: Latency,
    last_minute: Throughput,
    failures: Vec<Failure>,
}

#[derive(Debug, Serialize)]
struct Latency {
    /// Games measured (analysed ones whose game document was found).
    games: usize,
    p50_ms: Option<i64>,
    p99_ms: Option<i64>,
    max_ms: Option<i64>,
    /// When the oldest game of the sample was analysed.
    since: Option<String>,
}

#[derive(Debug, Serialize)]
struct Throughput {
    processed: u64,
    failed: u64,
}

#[derive(Debug, Serialize)]
struct Failure {
    game_id: String,
    user_id: Option<String>,
    exercise: Option<String>,
    reason: Option<String>,
    analysed_at: Option<String>,
}

pub async fn processing(Operator(dashboard): Operator) -> Result<Json<Processing>, AdminError> {
    let (latency, last_minute, failures) = tokio::try_join!(
        latency(&dashboard),
        throughput(&dashboard),
        failures(&dashboard)
    )
    .map_err(AdminError::unavailable)?;
    Ok(Json(Processing {
        latency,
        last_minute,
        failures,
    }))
}

async fn latency(dashboard: &Dashboard) -> anyhow::Result<Latency> {
    let recent: Vec<Document> = dashboard
        .games
        .find(doc! { "status": { "$in": ["processed", "failed"] } })
        .sort(doc! { "analysed_at": -1 })
        .limit(LATENCY_SAMPLE)
        .projection(doc! { "created_at": 1, "analysed_at": 1 })
        .await
        .context("Failed to query recently analysed games")?
        .try_collect()
        .await
        .context("Failed to read recently analysed games")?;
    let mut waits = waits(&recent);
    waits.sort_unstable();
    let since = recent
        .iter()
        .filter_map(|g| g.get_datetime("analysed_at").ok())
        .min()
        .and_then(|t| rfc3339(*t));
    Ok(Latency {
        games: waits.len(),
        p50_ms: percentile(&waits, 50.0),
        p99_ms: percentile(&waits, 99.0),
        max_ms: waits.last().copied(),
        since,
    })
}

/// Each game's wait in milliseconds, from its acceptance to its analysis; games
/// without both times are left out, and clock skew between hosts never makes a
/// wait negative.
fn waits(games: &[Document]) -> Vec<i64> {
    games
        .iter()
        .filter_map(|g| {
            let accepted = g.get_datetime("created_at").ok()?;
            let analysed = g.get_datetime("analysed_at").ok()?;
            Some((analysed.timestamp_millis() - accepted.timestamp_millis()).max(0))
        })
        .collect()
}

async fn throughput(dashboard: &Dashboard) -> anyhow::Result<Throughput> {
    let since = DateTime::from_millis(
        DateTime::now().timestamp_millis() - THROUGHPUT_WINDOW.as_millis() as i64,
    );
    let count = |status: &'static str| {
        dashboard
            .games
            .count_documents(doc! { "status": status, "analysed_at": { "$gte": since } })
    };
    let (processed, failed) = tokio::try_join!(count("processed"), count("failed"))
        .context("Failed to count recently analysed games")?;
    Ok(Throughput { processed, failed })
}

async fn failures(dashboard: &Dashboard) -> anyhow::Result<Vec<Failure>> {
    let failed: Vec<Document> = dashboard
        .games
        .find(doc! { "status": "failed" })
        .sort(doc! { "analysed_at": -1 })
        .limit(FAILURES_SHOWN)
        .projection(doc! { "user_id": 1, "exercise": 1, "failure_reason": 1, "analysed_at": 1 })
        .await
        .context("Failed to query failed games")?
        .try_collect()
        .await
        .context("Failed to read failed games")?;
    let text = |d: &Document, field: &str| d.get_str(field).ok().map(str::to_owned);
    Ok(failed
        .iter()
        .map(|d| Failure {
            game_id: text(d, "_id").unwrap_or_default(),
            user_id: text(d, "user_id"),
            exercise: text(d, "exercise"),
            reason: text(d, "failure_reason"),
            analysed_at: d.get_datetime("analysed_at").ok().and_then(|t| rfc3339(*t)),
        })
        .collect())
}

pub fn rfc3339(time: DateTime) -> Option<String> {
    time.try_to_rfc3339_string().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> DateTime {
        DateTime::from_millis(millis)
    }

    #[test]
    fn a_wait_runs_from_acceptance_to_analysis_for_games_with_both_times() {
        let games = vec![
            doc! { "_id": "a", "created_at": at(1_000), "analysed_at": at(5_000) },
            doc! { "_id": "b", "created_at": at(8_750), "analysed_at": at(9_000) },
            doc! { "_id": "queued", "created_at": at(1_000) },
            doc! { "_id": "no-creation-time", "analysed_at": at(9_000) },
        ];
        let mut waits = waits(&games);
        waits.sort_unstable();
        assert_eq!(waits, [250, 4_000]);
    }

    #[test]
    fn clock_skew_never_makes_a_wait_negative() {
        let games = vec![doc! { "_id": "a", "created_at": at(1_200), "analysed_at": at(1_000) }];
        assert_eq!(waits(&games), [0]);
    }
}

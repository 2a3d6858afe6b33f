//! `GET /admin/api/processing`: how long games wait for their analysis, how many
//! were analysed in the last minute, and the latest failures.
//!
//! Latency is a game's `analysed_at` (its document in `results`) minus its
//! `created_at` (in `games`: when the upload was accepted), over the most
//! recently analysed games: queueing, retries and the analysis itself. A replayed
//! or redriven game is analysed again and shows its whole age. Served by the
//! `results` index on `(status, analysed_at)` that processing-service creates.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use axum::Json;
use futures_util::TryStreamExt as _;
use mongodb::bson::{DateTime, Document, doc};
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
        .results
        .find(doc! { "status": { "$in": ["processed", "failed"] } })
        .sort(doc! { "analysed_at": -1 })
        .limit(LATENCY_SAMPLE)
        .projection(doc! { "analysed_at": 1 })
        .await
        .context("Failed to query recent results")?
        .try_collect()
        .await
        .context("Failed to read recent results")?;
    let ids: Vec<&str> = recent
        .iter()
        .filter_map(|r| r.get_str("_id").ok())
        .collect();
    let games: Vec<Document> = dashboard
        .games
        .find(doc! { "_id": { "$in": &ids } })
        .projection(doc! { "created_at": 1 })
        .await
        .context("Failed to query games")?
        .try_collect()
        .await
        .context("Failed to read games")?;
    let mut waits = waits(&recent, &games);
    waits.sort_unstable();
    let since = recent
        .iter()
        .filter_map(|r| r.get_datetime("analysed_at").ok())
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
fn waits(results: &[Document], games: &[Document]) -> Vec<i64> {
    let created: HashMap<&str, &DateTime> = games
        .iter()
        .filter_map(|g| Some((g.get_str("_id").ok()?, g.get_datetime("created_at").ok()?)))
        .collect();
    results
        .iter()
        .filter_map(|r| {
            let accepted = created.get(r.get_str("_id").ok()?)?;
            let analysed = r.get_datetime("analysed_at").ok()?;
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
            .results
            .count_documents(doc! { "status": status, "analysed_at": { "$gte": since } })
    };
    let (processed, failed) = tokio::try_join!(count("processed"), count("failed"))
        .context("Failed to count recent results")?;
    Ok(Throughput { processed, failed })
}

async fn failures(dashboard: &Dashboard) -> anyhow::Result<Vec<Failure>> {
    let failed: Vec<Document> = dashboard
        .results
        .find(doc! { "status": "failed" })
        .sort(doc! { "analysed_at": -1 })
        .limit(FAILURES_SHOWN)
        .projection(doc! { "user_id": 1, "exercise": 1, "failure_reason": 1, "analysed_at": 1 })
        .await
        .context("Failed to query failed results")?
        .try_collect()
        .await
        .context("Failed to read failed results")?;
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
    fn a_wait_runs_from_acceptance_to_analysis_for_games_known_to_both() {
        let results = vec![
            doc! { "_id": "a", "analysed_at": at(5_000) },
            doc! { "_id": "b", "analysed_at": at(9_000) },
            doc! { "_id": "orphan", "analysed_at": at(9_000) },
            doc! { "_id": "c" },
        ];
        let games = vec![
            doc! { "_id": "a", "created_at": at(1_000) },
            doc! { "_id": "b", "created_at": at(8_750) },
            doc! { "_id": "c", "created_at": at(1_000) },
        ];
        let mut waits = waits(&results, &games);
        waits.sort_unstable();
        assert_eq!(waits, [250, 4_000]);
    }

    #[test]
    fn clock_skew_never_makes_a_wait_negative() {
        let results = vec![doc! { "_id": "a", "analysed_at": at(1_000) }];
        let games = vec![doc! { "_id": "a", "created_at": at(1_200) }];
        assert_eq!(waits(&results, &games), [0]);
    }
}

//! The processing worker's side of the contract, without a worker: the
//! `reconciliation.ready` v2 events a worker publishes once it has analysed a game.
//! The gateway sees nothing else of the worker, so these are what its tests need.
//!
//! The metrics are a real report: `data/grasp_10s_100hz.report.json` is the output
//! of `processing-service analyze processing-service/testdata/grasp_10s_100hz.json`,
//! the recording the upload tests send. The provenance is the game's own (its
//! stored recording's hash and its `processing.requested` envelope id), and progress
//! snapshots are computed from the sessions a test says the patient played.

use mongodb::bson::{Document, doc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shared_events::events::{
    GameOutcome, GameResult, MetricProgress, ProgressSnapshot, Provenance, ReconciliationEventV1,
    ReconciliationEventV2,
};
use shared_events::{Envelope, Event, Publisher};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::TestApp;

/// The analytics version the events say produced their results.
pub const ANALYTICS_VERSION: &str = "2";

/// The metrics report of the upload tests' recording.
pub fn report() -> Value {
    serde_json::from_str(include_str!("data/grasp_10s_100hz.report.json")).expect("the report")
}

/// The event a worker publishes after its `revision`-th analysis of `game_id`
/// came to `outcome` (the report when processed), with the patient's `progress`.
pub async fn analysed(
    app: &TestApp,
    game_id: &str,
    outcome: GameOutcome,
    revision: u64,
    progress: Option<ProgressSnapshot>,
) -> ReconciliationEventV2 {
    let games = app.db.collection::<Document>("games");
    let game = games
        .find_one(doc! { "_id": game_id })
        .await
        .expect("read the game")
        .expect("the game is stored");
    let recording = app
        .db
        .collection::<Document>("game_recordings")
        .find_one(doc! { "_id": game_id })
        .await
        .expect("read the recording")
        .expect("the recording is stored");
    let bytes = recording
        .get_binary_generic("data")
        .expect("recording bytes");
    let uuid = |field: &str| Uuid::parse_str(game.get_str(field).expect(field)).expect("a uuid");
    let metrics = matches!(outcome, GameOutcome::Processed).then(report);
    ReconciliationEventV2 {
        user_id: uuid("user_id"),
        game_id: Uuid::parse_str(game_id).expect("a uuid"),
        exercise: game.get_str("exercise").expect("exercise").to_owned(),
        result: GameResult {
            outcome,
            metrics,
            analytics_version: ANALYTICS_VERSION.into(),
            revision,
            analysed_at: OffsetDateTime::now_utc(),
            provenance: Provenance {
                recording_sha256: hex(&Sha256::digest(bytes)),
                source_event_id: uuid("event_id"),
            },
        },
        progress,
    }
}

/// [`analysed`] with the report and the progress over `scores`, one per processed
/// session of the patient, oldest first (at progress revision `scores.len()`).
pub async fn processed(
    app: &TestApp,
    game_id: &str,
    revision: u64,
    scores: &[i64],
) -> ReconciliationEventV2 {
    let progress = progress_over(scores.len() as u64, scores);
    analysed(
        app,
        game_id,
        GameOutcome::Processed,
        revision,
        Some(progress),
    )
    .await
}

/// A v1 event, as a worker not yet upgraded publishes it.
pub fn v1(user_id: &str, game_id: &str, outcome: GameOutcome) -> Envelope {
    Envelope::new(Event::ReconciliationV1(ReconciliationEventV1 {
        user_id: Uuid::parse_str(user_id).expect("uuid"),
        game_id: Uuid::parse_str(game_id).expect("uuid"),
        exercise: "grasp_and_release".into(),
        outcome,
        analytics_version: "1".into(),
    }))
}

/// Publishes `envelopes` in order, confirmed.
pub async fn publish(app: &TestApp, envelopes: &[&Envelope]) {
    let publisher = Publisher::new(app.bus.clone(), "test worker");
    for envelope in envelopes {
        publisher.publish(envelope).await.expect("published");
    }
    publisher.close().await;
}

/// The patient's progress after the sessions `scores` (oldest first), at `revision`:
/// the score and one metric of the report (the same every session).
pub fn progress_over(revision: u64, scores: &[i64]) -> ProgressSnapshot {
    let sparc = report()["fingers"]["index"]["sparc_mean"]
        .as_f64()
        .expect("a sparc");
    let scores: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
    ProgressSnapshot {
        revision,
        session_count: scores.len() as u64,
        analytics_version: ANALYTICS_VERSION.into(),
        updated_at: OffsetDateTime::now_utc(),
        metrics: vec![
            metric_progress("fingers.index.sparc_mean", &vec![sparc; scores.len()]),
            metric_progress("score", &scores),
        ],
    }
}

/// B11's figures over `values` (both metrics here are higher-is-better), simply:
/// baseline of the first three sessions, least-squares trend, no MDC.
fn metric_progress(metric: &str, values: &[f64]) -> MetricProgress {
    let n = values.len() as f64;
    let first = &values[..values.len().min(3)];
    let baseline = first.iter().sum::<f64>() / first.len() as f64;
    let latest = values.last().copied().unwrap_or(baseline);
    let change = latest - baseline;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = values.iter().sum::<f64>() / n;
    let sxx: f64 = (0..values.len()).map(|x| (x as f64 - mean_x).powi(2)).sum();
    let sxy: f64 = values
        .iter()
        .enumerate()
        .map(|(x, y)| (x as f64 - mean_x) * (y - mean_y))
        .sum();
    let slope = (sxx > 0.0).then(|| sxy / sxx);
    MetricProgress {
        metric: metric.into(),
        n_sessions: values.len() as u64,
        baseline: Some(baseline),
        latest: Some(latest),
        change: Some(change),
        pct_change: (baseline != 0.0).then(|| 100.0 * change / baseline.abs()),
        slope,
        intercept: slope.map(|slope| mean_y - slope * mean_x),
        r_squared: None,
        direction: Some("higher_is_better".into()),
        improved: Some(change > 0.0),
        sem: None,
        mdc95: None,
        real_change: false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

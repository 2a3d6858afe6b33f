//! One `processing.requested` event, from recording to reconciliation.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use sha2::{Digest as _, Sha256};
use shared_events::events::{
    EncodedRecording, GameOutcome, GameResult, Provenance, ReconciliationEventV2,
};
use shared_events::{DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher};
use shared_ops::Metrics;
use shared_ops::metrics::{HistogramFn, latency_histogram};

use super::WorkerSettings;
use time::OffsetDateTime;

use super::progress::{Game, ProgressCounter, Rebuilds};
use super::results::{Analysis, ResultsStore, hex, session_values, to_datetime};
use crate::analytics::running::SessionKey;
use crate::analytics::{self, ANALYTICS_VERSION, AnalysisConfig, Recording};

/// Analyses a game and tells the gateway.
///
/// Idempotent: the result is keyed by game, so a redelivery recomputes and
/// replaces it, and the gateway ignores a reconciliation it already applied.
#[derive(Debug)]
pub struct AnalyseGame {
    results: ResultsStore,
    progress: ProgressCounter,
    publisher: Publisher,
    analysis: AnalysisConfig,
    max_recording_bytes: usize,
    analysis_seconds: AnalysisSeconds,
}

/// `m2m_analysis_seconds{outcome}`: decompressing, parsing and analysing one
/// recording (the CPU part of handling, without the database and the broker),
/// `outcome` = `processed` or `failed`.
pub type AnalysisSeconds = Family<OutcomeLabels, Histogram, HistogramFn>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    outcome: &'static str,
}

/// The worker's own series, registered beside the bus series.
#[derive(Debug, Clone)]
pub struct WorkerSeries {
    pub analysis_seconds: AnalysisSeconds,
    pub rebuilds: Rebuilds,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// Registers the worker's series; `m2m_analytics_info{version}` is always 1, so an
/// operator sees which analytics versions a fleet runs during a rollout.
pub fn register_metrics(metrics: &mut Metrics) -> WorkerSeries {
    let analysis_seconds = AnalysisSeconds::new_with_constructor(latency_histogram as HistogramFn);
    let registry = metrics.registry_mut();
    registry.register(
        "analysis_seconds",
        "Time to decompress, parse and analyse one recording, by outcome",
        analysis_seconds.clone(),
    );
    let rebuilds = Rebuilds::default();
    registry.register(
        "progress_rebuilds",
        "Rebuilds of a patient's running progress from the whole history, by reason",
        rebuilds.clone(),
    );
    let info = Family::<VersionLabels, Gauge>::default();
    info.get_or_create(&VersionLabels {
        version: ANALYTICS_VERSION.to_string(),
    })
    .set(1);
    registry.register(
        "analytics_info",
        "The analytics version this worker runs (value always 1)",
        info,
    );
    WorkerSeries {
        analysis_seconds,
        rebuilds,
    }
}

impl AnalyseGame {
    pub fn new(
        results: ResultsStore,
        progress: ProgressCounter,
        publisher: Publisher,
        settings: &WorkerSettings,
        analysis_seconds: AnalysisSeconds,
    ) -> Self {
        Self {
            results,
            progress,
            publisher,
            analysis: settings.analysis,
            max_recording_bytes: settings.max_recording_bytes,
            analysis_seconds,
        }
    }
}

impl Handler for AnalyseGame {
    async fn handle(
        &self,
        envelope: Envelope,
        context: DeliveryContext,
    ) -> Result<(), HandlerError> {
        let Event::ProcessingV1(event) = &envelope.event else {
            return Err(HandlerError::permanent(anyhow::anyhow!(
                "`{}` does not belong on the processing queue",
                envelope.event.event_type()
            )));
        };
        let recording = event.recording.clone();
        let (config, limit) = (self.analysis, self.max_recording_bytes);
        let started = Instant::now();
        // Decompressing, parsing and analysing a recording take milliseconds of
        // CPU: never on the async threads (docs/broker-notes.md item 7).
        let analysis = tokio::task::spawn_blocking(move || analyse(&recording, &config, limit))
            .await
            .unwrap_or_else(|panic| Analysis::Failed(format!("the analysis crashed: {panic}")));
        let outcome = match analysis {
            Analysis::Processed(_) => "processed",
            Analysis::Failed(_) => "failed",
        };
        self.analysis_seconds
            .get_or_create(&OutcomeLabels { outcome })
            .observe(started.elapsed().as_secs_f64());
        if let Analysis::Failed(reason) = &analysis {
            tracing::warn!(game_id = %event.game_id, %reason, "The recording cannot be analysed; the game fails.");
        }

        let recording_sha256 = event
            .recording
            .compressed_bytes()
            .map(|bytes| hex(&Sha256::digest(&bytes)))
            .unwrap_or_default();
        // Progress first, then the result: a stored result means its game was
        // counted, and a crash in between is repaired by the redelivery (the running
        // state recognises a game it already counted).
        let values = match &analysis {
            Analysis::Processed(report) => Some(session_values(report, Some(event.score))),
            Analysis::Failed(_) => None,
        };
        let game = Game {
            user_id: event.user_id,
            exercise: &event.exercise,
            key: SessionKey {
                started_at_ms: to_datetime(event.started_at).timestamp_millis(),
                game_id: event.game_id.to_string(),
            },
            values,
        };
        let progress = self
            .progress
            .count(&game)
            .await
            .map_err(HandlerError::transient)?;
        let analysed_at = OffsetDateTime::now_utc();
        let saved = self
            .results
            .save(
                event,
                envelope.id,
                &recording_sha256,
                &analysis,
                analysed_at,
            )
            .await
            .map_err(HandlerError::transient)?;
        if context.replay && !saved.changed {
            tracing::info!(game_id = %event.game_id, "The replay changed nothing; the phone is not told.");
            return Ok(());
        }

        let (outcome, metrics) = match analysis {
            Analysis::Processed(report) => (GameOutcome::Processed, Some(report)),
            Analysis::Failed(reason) => (GameOutcome::Failed { reason }, None),
        };
        let reconciliation = Envelope::caused_by(
            &envelope,
            Event::ReconciliationV2(ReconciliationEventV2 {
                user_id: event.user_id,
                game_id: event.game_id,
                exercise: event.exercise.clone(),
                result: GameResult {
                    outcome,
                    metrics,
                    analytics_version: ANALYTICS_VERSION.to_string(),
                    revision: saved.revision,
                    analysed_at,
                    provenance: Provenance {
                        recording_sha256,
                        source_event_id: envelope.id,
                    },
                },
                progress,
            }),
        );
        self.publisher
            .publish(&reconciliation)
            .await
            .map_err(HandlerError::transient)?;
        tracing::info!(game_id = %event.game_id, revision = saved.revision, "Game analysed and reconciliation published.");
        Ok(())
    }
}

/// Decodes and analyses a recording. Every way a recording can be bad ends in
/// `Failed` with a reason a person can act on; none is retried.
fn analyse(recording: &EncodedRecording, config: &AnalysisConfig, limit: usize) -> Analysis {
    let report = recording
        .to_json(limit)
        .map_err(|e| e.to_string())
        .and_then(|json| Recording::parse_sensors_json(&json).map_err(|e| e.to_string()))
        .and_then(|recording| analytics::analyze(&recording, config).map_err(|e| e.to_string()))
        .and_then(|report| serde_json::to_value(&report).map_err(|e| e.to_string()));
    match report {
        Ok(report) => Analysis::Processed(report),
        Err(reason) => Analysis::Failed(reason),
    }
}

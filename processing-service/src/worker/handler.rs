//! One `processing.requested` event, from recording to reconciliation.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use shared_events::events::{EncodedRecording, GameOutcome, ReconciliationEventV1};
use shared_events::{DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher};
use shared_ops::Metrics;
use shared_ops::metrics::{HistogramFn, latency_histogram};

use super::WorkerSettings;
use super::results::{Analysis, ResultsStore};
use crate::analytics::progress::ProgressConfig;
use crate::analytics::{self, ANALYTICS_VERSION, AnalysisConfig, Recording};

/// Analyses a game and tells the gateway.
///
/// Idempotent: the result is keyed by game, so a redelivery recomputes and
/// replaces it, and the gateway ignores a reconciliation it already applied.
#[derive(Debug)]
pub struct AnalyseGame {
    results: ResultsStore,
    publisher: Publisher,
    analysis: AnalysisConfig,
    progress: ProgressConfig,
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

/// Registers the worker's own series beside the bus series.
pub fn register_metrics(metrics: &mut Metrics) -> AnalysisSeconds {
    let family = AnalysisSeconds::new_with_constructor(latency_histogram as HistogramFn);
    metrics.registry_mut().register(
        "analysis_seconds",
        "Time to decompress, parse and analyse one recording, by outcome",
        family.clone(),
    );
    family
}

impl AnalyseGame {
    pub fn new(
        results: ResultsStore,
        publisher: Publisher,
        settings: &WorkerSettings,
        analysis_seconds: AnalysisSeconds,
    ) -> Self {
        Self {
            results,
            publisher,
            analysis: settings.analysis,
            progress: ProgressConfig::default(),
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
        // CPU: never on the async threads (PITFALLS.md item 7).
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

        let changed = self
            .results
            .save(event, envelope.id, &analysis)
            .await
            .map_err(HandlerError::transient)?;
        if matches!(analysis, Analysis::Processed(_)) {
            self.results
                .update_progress(event.user_id, &event.exercise, &self.progress)
                .await
                .map_err(HandlerError::transient)?;
        }
        if context.replay && !changed {
            tracing::info!(game_id = %event.game_id, "The replay changed nothing; the phone is not told.");
            return Ok(());
        }

        let outcome = match analysis {
            Analysis::Processed(_) => GameOutcome::Processed,
            Analysis::Failed(reason) => GameOutcome::Failed { reason },
        };
        let reconciliation = Envelope::caused_by(
            &envelope,
            Event::ReconciliationV1(ReconciliationEventV1 {
                user_id: event.user_id,
                game_id: event.game_id,
                exercise: event.exercise.clone(),
                outcome,
                analytics_version: ANALYTICS_VERSION.to_string(),
            }),
        );
        self.publisher
            .publish(&reconciliation)
            .await
            .map_err(HandlerError::transient)?;
        tracing::info!(game_id = %event.game_id, "Game analysed and reconciliation published.");
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

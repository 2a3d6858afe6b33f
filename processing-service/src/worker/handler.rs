//! One `processing.requested` event, from recording to reconciliation.

use shared_events::events::{EncodedRecording, GameOutcome, ReconciliationEventV1};
use shared_events::{DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher};

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
}

impl AnalyseGame {
    pub fn new(results: ResultsStore, publisher: Publisher, settings: &WorkerSettings) -> Self {
        Self {
            results,
            publisher,
            analysis: settings.analysis,
            progress: ProgressConfig::default(),
            max_recording_bytes: settings.max_recording_bytes,
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
        // Decompressing, parsing and analysing a recording take milliseconds of
        // CPU: never on the async threads (PITFALLS.md item 7).
        let analysis = tokio::task::spawn_blocking(move || analyse(&recording, &config, limit))
            .await
            .unwrap_or_else(|panic| Analysis::Failed(format!("the analysis crashed: {panic}")));
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

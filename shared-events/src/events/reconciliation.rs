//! `reconciliation.ready`: a worker has analysed a game (or given up on it).
//!
//! Version 2 carries everything the worker produced, so the gateway serves the
//! game, its metrics, the change feed, the progress cache and the notification
//! from the event alone and never reads the worker's collections. Version 1 only
//! said "look in the store"; gateways still apply it (status and failure reason,
//! nothing more) while a rollout mixes old and new workers.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// v1: the analysis of a game is saved in the worker's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconciliationEventV1 {
    pub user_id: Uuid,
    pub game_id: Uuid,
    pub exercise: String,
    pub outcome: GameOutcome,
    /// The analytics version that produced the result, so a replay with a newer
    /// algorithm can be told apart from a redelivery.
    pub analytics_version: String,
}

/// How the analysis ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GameOutcome {
    /// The recording was analysed; the metrics are in the event (v2) or the store (v1).
    Processed,
    /// The recording cannot be analysed; retrying will not help.
    Failed { reason: String },
}

impl GameOutcome {
    /// `processed` or `failed`, as the phone sees a game's status.
    pub fn status(&self) -> &'static str {
        match self {
            GameOutcome::Processed => "processed",
            GameOutcome::Failed { .. } => "failed",
        }
    }

    /// The reason of a failed analysis.
    pub fn failure_reason(&self) -> Option<&str> {
        match self {
            GameOutcome::Processed => None,
            GameOutcome::Failed { reason } => Some(reason),
        }
    }
}

/// v2: a game's analysis and the patient's progress after it.
///
/// Two versions order what the gateway keeps, so a redelivered or late event
/// never overwrites newer data (each compared with a conditional write):
/// - `result.revision` orders analyses of one game (a re-analysis has a higher one);
/// - `progress.revision` orders the patient's progress on one exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconciliationEventV2 {
    pub user_id: Uuid,
    pub game_id: Uuid,
    pub exercise: String,
    pub result: GameResult,
    /// The patient's progress on `exercise` once this game is counted; `None` when
    /// the patient has no processed game of the exercise (every one failed).
    pub progress: Option<ProgressSnapshot>,
}

/// One analysis of one game.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GameResult {
    pub outcome: GameOutcome,
    /// The report (the glove metrics contract's JSON; non-finite numbers are
    /// `null`); `None` when the analysis failed.
    pub metrics: Option<Value>,
    pub analytics_version: String,
    /// Increases with every analysis of this game (1 for the first).
    pub revision: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub analysed_at: OffsetDateTime,
    /// Where the result came from (which input and which event).
    pub provenance: Provenance,
}

/// What produced a result: the input and the event that carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// SHA-256 of the recording as it travelled (the compressed bytes), 64 hex characters.
    pub recording_sha256: String,
    /// The id of the `processing.requested` envelope that was analysed.
    pub source_event_id: Uuid,
}

/// A patient's progress on one exercise (the metrics contract's B11), as of one
/// revision of the worker's running state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressSnapshot {
    /// Increases by one with every change of this patient's progress on this
    /// exercise; a higher revision is newer.
    pub revision: u64,
    /// Processed games counted.
    pub session_count: u64,
    pub analytics_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// One entry per metric with at least one usable session, by metric name.
    pub metrics: Vec<MetricProgress>,
}

/// B11 for one metric. Undefined figures (no trend from one session, no MDC
/// without two baseline sessions, a percentage of a zero baseline) are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricProgress {
    /// The dotted path of the metric in the report (`fingers.index.sparc_mean`), or `score`.
    pub metric: String,
    pub n_sessions: u64,
    pub baseline: Option<f64>,
    pub latest: Option<f64>,
    pub change: Option<f64>,
    pub pct_change: Option<f64>,
    pub slope: Option<f64>,
    pub intercept: Option<f64>,
    pub r_squared: Option<f64>,
    /// `higher_is_better`, `lower_is_better`, or `None` for descriptive metrics.
    pub direction: Option<String>,
    pub improved: Option<bool>,
    pub sem: Option<f64>,
    pub mdc95: Option<f64>,
    pub real_change: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_names_its_status_and_reason() {
        assert_eq!(GameOutcome::Processed.status(), "processed");
        let failed = GameOutcome::Failed {
            reason: "flat".into(),
        };
        assert_eq!(failed.status(), "failed");
        assert_eq!(failed.failure_reason(), Some("flat"));
        assert_eq!(GameOutcome::Processed.failure_reason(), None);
    }
}

//! What the phone sees of a game and of its progress, built from the stored documents.
//! `GET /games/{id}`, the change feed (`GET /sync`) and the reconciliation handler's
//! snapshots all show a game this one way.

use mongodb::bson::{Bson, DateTime, Document};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::games::GameDetail;

/// One game: status, metadata and, once analysed, its metrics and the patient's
/// progress on the exercise.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GameView {
    pub game_id: String,
    /// `queued`, `processed` or `failed`.
    pub status: String,
    pub exercise: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub score: Option<Value>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Present once the game is analysed (`processed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    /// Present when the analysis failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub analytics_version: Option<Value>,
    /// The caller's progress on the exercise, once the game is processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Value>,
}

impl GameView {
    /// The game as stored, with its analysis `result` (the `results` document, if
    /// any) and the patient's `progress` document on the exercise.
    pub fn new(game: GameDetail, result: Option<&Document>, progress: Option<Document>) -> Self {
        let field = |name: &str| result.and_then(|r| r.get(name)).and_then(json);
        let status = result
            .and_then(|r| r.get_str("status").ok())
            .map(str::to_owned)
            .or(game.status)
            .unwrap_or_else(|| "queued".to_owned());
        let progress = progress
            .filter(|_| status == "processed")
            .map(progress_view);
        Self {
            created_at: rfc3339(game.created_at),
            started_at: game.started_at.map(rfc3339),
            ended_at: game.ended_at.map(rfc3339),
            metrics: field("metrics"),
            failure_reason: result
                .and_then(|r| r.get_str("failure_reason").ok())
                .map(str::to_owned),
            analytics_version: field("analytics_version"),
            progress,
            status,
            game_id: game.id,
            exercise: game.exercise,
            score: game.score.map(Bson::into_relaxed_extjson),
        }
    }
}

/// A `progress` document as the phone sees it: per metric, baseline, latest,
/// change, trend and whether the change is real.
pub fn progress_view(mut document: Document) -> Value {
    document.remove("_id");
    document.remove("user_id");
    Bson::Document(document).into_relaxed_extjson()
}

fn json(value: &Bson) -> Option<Value> {
    (!matches!(value, Bson::Null)).then(|| value.clone().into_relaxed_extjson())
}

pub fn rfc3339(time: DateTime) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(time.timestamp_millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

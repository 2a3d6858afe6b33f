//! What the phone sees of a game and of its progress, built from the gateway's own
//! documents. `GET /games/{id}`, the change feed (`GET /sync`), `GET /progress` and
//! the reconciliation handler's snapshots all show a game and a progress this one way.

use mongodb::bson::{Bson, DateTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared_events::events::{MetricProgress, ProgressSnapshot};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::games::GameDetail;

/// One game: status, metadata and, once analysed, its metrics, where they came from
/// and the patient's progress on the exercise.
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
    /// The glove metrics report, once the game is `processed` by a worker that sends
    /// its results with the event (games analysed by an older worker show their
    /// metrics once re-analysed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    /// Present when the analysis failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The version of the analytics that produced the outcome, once analysed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analytics_version: Option<String>,
    /// What produced the result; present once analysed by a worker that says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenanceView>,
    /// The caller's current progress on the exercise, once the game is processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressView>,
}

/// Where a game's result came from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProvenanceView {
    pub analytics_version: String,
    /// SHA-256 (hex) of the recording as it travelled to the worker (compressed).
    pub recording_sha256: String,
    /// The id of the `processing.requested` event that was analysed.
    pub source_event_id: String,
    /// When the worker finished the analysis (RFC 3339).
    pub analysed_at: String,
}

/// A patient's progress on one exercise: per metric, baseline, latest, change,
/// trend and whether the change is real (beyond the measurement's noise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProgressView {
    pub exercise: String,
    /// Processed games counted.
    pub session_count: u64,
    pub analytics_version: String,
    /// Per metric: `metric`, `n_sessions`, `baseline`, `latest`, `change`,
    /// `pct_change`, `slope`, `intercept`, `r_squared`, `direction`, `improved`,
    /// `sem`, `mdc95`, `real_change`; undefined figures are `null`.
    #[schema(value_type = Vec<Object>)]
    pub metrics: Vec<MetricProgress>,
    /// When the progress was computed, as `{"$date": "<RFC 3339>"}` (the shape
    /// phones have always received here).
    #[schema(value_type = Object)]
    pub updated_at: Value,
}

impl ProgressView {
    /// The phone's view of `snapshot`, the patient's progress on `exercise`.
    pub fn new(exercise: &str, snapshot: &ProgressSnapshot) -> Self {
        Self {
            exercise: exercise.to_owned(),
            session_count: snapshot.session_count,
            analytics_version: snapshot.analytics_version.clone(),
            metrics: snapshot.metrics.clone(),
            // Extended JSON: phones have read this field so since the gateway
            // showed the worker's stored document; they keep reading it so.
            updated_at: Bson::DateTime(bson_time(snapshot.updated_at)).into_relaxed_extjson(),
        }
    }
}

impl GameView {
    /// The game as stored in `games`, with the patient's `progress` on its exercise
    /// (shown only once the game is processed).
    pub fn new(game: GameDetail, progress: Option<ProgressView>) -> Self {
        let status = game.status.unwrap_or_else(|| "queued".to_owned());
        let progress = progress.filter(|_| status == "processed");
        let provenance = match (game.provenance, &game.analytics_version, game.analysed_at) {
            (Some(provenance), Some(version), Some(analysed_at)) => Some(ProvenanceView {
                analytics_version: version.clone(),
                recording_sha256: provenance.recording_sha256,
                source_event_id: provenance.source_event_id,
                analysed_at: rfc3339(analysed_at),
            }),
            _ => None,
        };
        Self {
            created_at: rfc3339(game.created_at),
            started_at: game.started_at.map(rfc3339),
            ended_at: game.ended_at.map(rfc3339),
            metrics: game.metrics.and_then(|metrics| json(&metrics)),
            failure_reason: game.failure_reason,
            analytics_version: game.analytics_version,
            provenance,
            progress,
            status,
            game_id: game.id,
            exercise: game.exercise,
            score: game.score.map(Bson::into_relaxed_extjson),
        }
    }
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

/// `time` as a BSON date (millisecond precision; saturates far outside any real date).
pub fn bson_time(time: OffsetDateTime) -> DateTime {
    let millis = time.unix_timestamp_nanos() / 1_000_000;
    DateTime::from_millis(i64::try_from(millis).unwrap_or(if millis < 0 {
        i64::MIN
    } else {
        i64::MAX
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn snapshot() -> ProgressSnapshot {
        ProgressSnapshot {
            revision: 4,
            session_count: 2,
            analytics_version: "2".into(),
            updated_at: datetime!(2026-12-01 10:00:00.250 UTC),
            metrics: vec![MetricProgress {
                metric: "score".into(),
                n_sessions: 2,
                baseline: Some(30.0),
                latest: Some(40.0),
                change: Some(10.0),
                pct_change: Some(33.3),
                slope: Some(10.0),
                intercept: Some(30.0),
                r_squared: None,
                direction: Some("higher_is_better".into()),
                improved: Some(true),
                sem: None,
                mdc95: None,
                real_change: false,
            }],
        }
    }

    #[test]
    fn a_progress_view_keeps_the_shape_phones_read() {
        let view = serde_json::to_value(ProgressView::new("piano", &snapshot())).expect("json");
        assert_eq!(view["exercise"], "piano");
        assert_eq!(view["session_count"], 2);
        assert_eq!(view["analytics_version"], "2");
        // Extended JSON's date: an object with one RFC 3339 string.
        let updated_at = view["updated_at"]["$date"].as_str().expect("a $date");
        assert_eq!(
            OffsetDateTime::parse(updated_at, &Rfc3339).expect("RFC 3339"),
            snapshot().updated_at
        );
        let metric = &view["metrics"][0];
        assert_eq!(metric["metric"], "score");
        assert_eq!(metric["baseline"], 30.0);
        assert!(metric["r_squared"].is_null(), "{metric}");
        assert_eq!(metric["real_change"], false);
        assert!(view.get("revision").is_none(), "{view}");
    }

    #[test]
    fn a_bson_time_keeps_milliseconds() {
        let time = datetime!(2026-12-01 10:00:00.250 UTC);
        assert_eq!(rfc3339(bson_time(time)), "2026-12-01T10:00:00.25Z");
    }
}

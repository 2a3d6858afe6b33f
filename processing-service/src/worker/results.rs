//! The `results` and `progress` collections.
//!
//! `results` has one document per game (`_id` = game id): a redelivered or
//! replayed event replaces it, so a game never has two results. The document
//! records the analytics version that produced it; re-analysis with a newer
//! version replaces the older result (the event stream keeps the recording, and
//! the gateway keeps it durably, so history can always be recomputed).
//!
//! `progress` has one document per patient and exercise, recomputed from all the
//! patient's processed results after each save. Two workers finishing games of
//! one patient at once may compute it from different views; the write only
//! lands if it counts at least as many sessions as the stored one, so the last
//! word is always the most complete view, without a transaction.

use futures_util::TryStreamExt as _;
use mongodb::bson::{self, Bson, DateTime, Document, doc};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Database, IndexModel};
use serde_json::Value;
use shared_events::events::ProcessingEventV1;
use time::OffsetDateTime;
use uuid::Uuid;

use super::metrics::{flatten, leaf};
use crate::analytics::ANALYTICS_VERSION;
use crate::analytics::progress::{ProgressConfig, SessionValue, progress};

/// The worker's view of MongoDB.
#[derive(Debug, Clone)]
pub struct ResultsStore {
    results: Collection<Document>,
    progress: Collection<Document>,
}

/// What the analysis of one game came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Analysis {
    /// The report as JSON (non-finite numbers are `null`).
    Processed(Value),
    /// Why the recording cannot be analysed.
    Failed(String),
}

fn to_datetime(time: OffsetDateTime) -> DateTime {
    DateTime::from_millis((time.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl ResultsStore {
    pub const RESULTS: &'static str = "results";
    pub const PROGRESS: &'static str = "progress";

    pub fn new(database: &Database) -> Self {
        Self {
            results: database.collection(Self::RESULTS),
            progress: database.collection(Self::PROGRESS),
        }
    }

    /// The indexes progress is computed through and the dashboard reads by; idempotent.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        let by_patient = IndexModel::builder()
            .keys(doc! { "user_id": 1, "exercise": 1, "started_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("by_patient_exercise".to_owned())
                    .build(),
            )
            .build();
        self.results.create_index(by_patient).await?;
        // The gateway's dashboard reads the latest results, and the latest
        // failures, by analysis time.
        let by_status_recent = IndexModel::builder()
            .keys(doc! { "status": 1, "analysed_at": -1 })
            .options(
                IndexOptions::builder()
                    .name("by_status_recent".to_owned())
                    .build(),
            )
            .build();
        self.results.create_index(by_status_recent).await?;
        Ok(())
    }

    /// Saves the game's result, replacing any earlier one. Returns whether the
    /// outcome differs from what was stored (a replay that changes nothing does
    /// not need to tell the phone).
    pub async fn save(
        &self,
        event: &ProcessingEventV1,
        event_id: Uuid,
        analysis: &Analysis,
    ) -> mongodb::error::Result<bool> {
        let (status, metrics, reason) = match analysis {
            Analysis::Processed(report) => ("processed", bson::to_bson(report)?, Bson::Null),
            Analysis::Failed(reason) => ("failed", Bson::Null, Bson::String(reason.clone())),
        };
        let document = doc! {
            "_id": event.game_id.to_string(),
            "user_id": event.user_id.to_string(),
            "exercise": &event.exercise,
            "score": event.score,
            "started_at": to_datetime(event.started_at),
            "status": status,
            "failure_reason": reason,
            "analytics_version": ANALYTICS_VERSION,
            "metrics": metrics,
            "analysed_at": DateTime::now(),
            "event_id": event_id.to_string(),
        };
        let before = self
            .results
            .find_one_and_replace(doc! { "_id": event.game_id.to_string() }, document.clone())
            .upsert(true)
            .return_document(ReturnDocument::Before)
            .await?;
        let same = |old: &Document, field: &str| old.get(field) == document.get(field);
        Ok(!before.is_some_and(|old| {
            ["status", "failure_reason", "analytics_version", "metrics"]
                .iter()
                .all(|field| same(&old, field))
        }))
    }

    /// The stored result of a game, if any.
    pub async fn result(&self, game_id: Uuid) -> mongodb::error::Result<Option<Document>> {
        self.results
            .find_one(doc! { "_id": game_id.to_string() })
            .await
    }

    /// The stored progress of a patient on an exercise, if any.
    pub async fn progress(
        &self,
        user_id: Uuid,
        exercise: &str,
    ) -> mongodb::error::Result<Option<Document>> {
        self.progress
            .find_one(doc! { "_id": progress_id(user_id, exercise) })
            .await
    }

    /// Recomputes B11 progress over every processed session of the patient's
    /// exercise, oldest first, for every metric (and the score).
    pub async fn update_progress(
        &self,
        user_id: Uuid,
        exercise: &str,
        config: &ProgressConfig,
    ) -> mongodb::error::Result<()> {
        let sessions: Vec<Document> = self
            .results
            .find(doc! { "user_id": user_id.to_string(), "exercise": exercise, "status": "processed" })
            .sort(doc! { "started_at": 1, "_id": 1 })
            .projection(doc! { "metrics": 1, "score": 1 })
            .await?
            .try_collect()
            .await?;
        let mut series: std::collections::BTreeMap<String, Vec<SessionValue>> = Default::default();
        for (index, session) in sessions.iter().enumerate() {
            let x = index as f64;
            if let Some(score) = session.get("score").and_then(Bson::as_i64) {
                series
                    .entry("score".into())
                    .or_default()
                    .push(SessionValue {
                        x,
                        value: score as f64,
                    });
            }
            let metrics: Value = session
                .get("metrics")
                .map(|m| m.clone().into_relaxed_extjson())
                .unwrap_or(Value::Null);
            for (name, value) in flatten(&metrics) {
                series
                    .entry(name)
                    .or_default()
                    .push(SessionValue { x, value });
            }
        }
        let mut metrics = Vec::with_capacity(series.len());
        for (name, values) in &series {
            // A metric with no usable session has no progress; skip it.
            let Ok(p) = progress(leaf(name), values, config) else {
                continue;
            };
            // Through JSON so NaN (undefined trend, no MDC yet) is stored as null.
            let Ok(mut json) = serde_json::to_value(p) else {
                continue;
            };
            json["metric"] = Value::String(name.clone());
            metrics.push(bson::to_bson(&json)?);
        }
        let count = sessions.len() as i64;
        let id = progress_id(user_id, exercise);
        let update = doc! { "$set": {
            "user_id": user_id.to_string(),
            "exercise": exercise,
            "session_count": count,
            "analytics_version": ANALYTICS_VERSION,
            "metrics": metrics,
            "updated_at": DateTime::now(),
        }};
        let written = self
            .progress
            .update_one(
                doc! { "_id": &id, "session_count": { "$lte": count } },
                update,
            )
            .upsert(true)
            .await;
        match written {
            Ok(_) => Ok(()),
            // The filter missed an existing document: a peer already stored progress
            // over more sessions than we saw. Theirs is the better answer.
            Err(error) if shared_store::is_duplicate_key(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

fn progress_id(user_id: Uuid, exercise: &str) -> String {
    format!("{user_id}:{exercise}")
}

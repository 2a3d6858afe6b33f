//! `results`: one document per game (`_id` = game id), written only by the worker.
//!
//! A result records what produced it (analytics version, the recording's SHA-256,
//! the event that carried it) and a `revision` that grows each time the game's
//! analysis comes out differently. The gateway never reads this collection: the
//! result travels in `reconciliation.ready` v2, and the revision there lets it keep
//! the newest. The worker reads it back only to rebuild a patient's running
//! progress (a rare path, `progress_state.rs`).
//!
//! Saving is one command in the usual case: an upsert that matches only when the
//! stored result differs (its `content` hash), so a redelivery that comes to the
//! same result leaves the revision alone (the unique `_id` refuses the insert the
//! upsert then tries, and one read finds the revision).

use futures_util::TryStreamExt as _;
use mongodb::bson::{self, Bson, DateTime, Document, doc};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Database, IndexModel};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use shared_events::events::ProcessingEventV1;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::analytics::ANALYTICS_VERSION;
use crate::analytics::running::{Session, SessionKey};

/// What the analysis of one game came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Analysis {
    /// The report as JSON (non-finite numbers are `null`).
    Processed(Value),
    /// Why the recording cannot be analysed.
    Failed(String),
}

/// A saved result: its revision and whether it differs from what was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub revision: u64,
    pub changed: bool,
}

#[derive(Debug, Clone)]
pub struct ResultsStore {
    results: Collection<Document>,
}

pub(crate) fn to_datetime(time: OffsetDateTime) -> DateTime {
    DateTime::from_millis((time.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl ResultsStore {
    pub const RESULTS: &'static str = "results";

    pub fn new(database: &Database) -> Self {
        Self {
            results: database.collection(Self::RESULTS),
        }
    }

    /// The index a rebuild of progress reads a patient's sessions by; idempotent.
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
        Ok(())
    }

    /// Saves the game's result unless the same one is stored (see the module doc).
    pub async fn save(
        &self,
        event: &ProcessingEventV1,
        event_id: Uuid,
        recording_sha256: &str,
        analysis: &Analysis,
        analysed_at: OffsetDateTime,
    ) -> mongodb::error::Result<Saved> {
        let (status, metrics, reason) = match analysis {
            Analysis::Processed(report) => ("processed", bson::to_bson(report)?, Bson::Null),
            Analysis::Failed(reason) => ("failed", Bson::Null, Bson::String(reason.clone())),
        };
        let content = content_hash(status, &reason, &metrics);
        let id = event.game_id.to_string();
        let update = doc! {
            "$set": {
                "user_id": event.user_id.to_string(),
                "exercise": &event.exercise,
                "score": event.score,
                "started_at": to_datetime(event.started_at),
                "status": status,
                "failure_reason": reason,
                "analytics_version": ANALYTICS_VERSION.to_string(),
                "metrics": metrics,
                "content": &content,
                "analysed_at": to_datetime(analysed_at),
                "event_id": event_id.to_string(),
                "recording_sha256": recording_sha256,
            },
            "$inc": { "revision": 1_i64 },
        };
        let written = self
            .results
            .find_one_and_update(doc! { "_id": &id, "content": { "$ne": &content } }, update)
            .upsert(true)
            .return_document(ReturnDocument::After)
            .projection(doc! { "revision": 1 })
            .await;
        match written {
            Ok(after) => Ok(Saved {
                revision: after.as_ref().map_or(1, revision_of),
                changed: true,
            }),
            // The stored result is this one: keep its revision.
            Err(error) if shared_store::is_duplicate_key(&error) => {
                let stored = self
                    .results
                    .find_one(doc! { "_id": &id })
                    .projection(doc! { "revision": 1 })
                    .await?;
                Ok(Saved {
                    revision: stored.as_ref().map_or(1, revision_of),
                    changed: false,
                })
            }
            Err(error) => Err(error),
        }
    }

    /// The stored result of a game, if any.
    pub async fn result(&self, game_id: Uuid) -> mongodb::error::Result<Option<Document>> {
        self.results
            .find_one(doc! { "_id": game_id.to_string() })
            .await
    }

    /// Every processed session of a patient's exercise, as progress counts them:
    /// the rare rebuild of the running state reads the whole history here.
    pub async fn sessions(
        &self,
        user_id: Uuid,
        exercise: &str,
    ) -> mongodb::error::Result<Vec<Session>> {
        let documents: Vec<Document> = self
            .results
            .find(doc! { "user_id": user_id.to_string(), "exercise": exercise, "status": "processed" })
            .projection(doc! { "metrics": 1, "score": 1, "started_at": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(documents
            .into_iter()
            .filter_map(|document| {
                let game_id = document.get_str("_id").ok()?.to_owned();
                let started_at_ms = document.get_datetime("started_at").ok()?.timestamp_millis();
                let metrics = document
                    .get("metrics")
                    .map(|m| m.clone().into_relaxed_extjson())
                    .unwrap_or(Value::Null);
                let score = document.get("score").and_then(Bson::as_i64);
                Some(Session {
                    key: SessionKey {
                        started_at_ms,
                        game_id,
                    },
                    values: session_values(&metrics, score),
                })
            })
            .collect())
    }
}

/// The values progress counts for one game: every finite number of the report by
/// dotted path, and the uploaded score.
pub fn session_values(
    report: &Value,
    score: Option<i64>,
) -> std::collections::BTreeMap<String, f64> {
    let mut values: std::collections::BTreeMap<String, f64> =
        crate::analytics::named::flatten(report)
            .into_iter()
            .collect();
    if let Some(score) = score {
        values.insert("score".to_owned(), score as f64);
    }
    values
}

fn revision_of(document: &Document) -> u64 {
    let revision = match document.get("revision") {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        _ => 1,
    };
    u64::try_from(revision).unwrap_or(1)
}

/// What makes two analyses of a game the same result: status, reason, metrics and
/// the version that computed them.
fn content_hash(status: &str, reason: &Bson, metrics: &Bson) -> String {
    let mut hasher = Sha256::new();
    for part in [
        status.to_owned(),
        reason.to_string(),
        metrics.to_string(),
        ANALYTICS_VERSION.to_string(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! The reconciliation handler's writes to `games`: a game's analysis, recorded on
//! the game document itself from the `reconciliation.ready` event, so reading a game
//! never touches processing-service's collections.
//!
//! Fields added to the document (see [`super::games::GameDetail`]): `status`
//! (`processed` or `failed`), `metrics`, `failure_reason`, `analytics_version`,
//! `analysed_at`, `result_revision` and `provenance` (`recording_sha256`,
//! `source_event_id`).
//!
//! Analyses of one game are ordered by their revision (the worker's count of its
//! analyses of the game). The write is one conditional update of one document:
//! it lands only if the game holds no revision or one no newer than the event's, so
//! a redelivered or late event can never bring an older result back, and the same
//! revision again rewrites the same values. A v1 event carries no revision and
//! counts as revision 0: it never overrides an analysis from a v2 event.

use anyhow::Context;
use mongodb::bson::{Bson, DateTime, doc};
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

use super::Games;
use super::games::{GameDetail, detail_projection};

/// What produced a stored result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredProvenance {
    /// SHA-256 (hex) of the recording as it travelled (the compressed bytes).
    pub recording_sha256: String,
    /// The id of the `processing.requested` envelope that was analysed.
    pub source_event_id: String,
}

/// One analysis of a game, as recorded.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// `processed` or `failed`.
    pub status: &'static str,
    /// The report, or `Bson::Null` (failed, or a v1 event that does not carry it).
    pub metrics: Bson,
    pub failure_reason: Option<String>,
    pub analytics_version: String,
    pub analysed_at: DateTime,
    /// 0 for a v1 event.
    pub revision: i64,
    pub provenance: Option<StoredProvenance>,
}

/// What recording an analysis came to.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// The game now holds this analysis; the document after the write.
    Applied(Box<GameDetail>),
    /// The game holds a newer analysis (of revision `held`); nothing changed.
    Stale { held: Option<i64> },
    /// The user has no such game.
    Missing,
}

impl Games {
    /// Records `analysis` on the game `game_id` of `user_id` unless the game holds a
    /// newer one.
    pub async fn record_analysis(
        &self,
        game_id: &str,
        user_id: &str,
        analysis: &Analysis,
    ) -> anyhow::Result<Recorded> {
        let provenance = match &analysis.provenance {
            Some(p) => Bson::Document(doc! {
                "recording_sha256": &p.recording_sha256,
                "source_event_id": &p.source_event_id,
            }),
            None => Bson::Null,
        };
        let written = self
            .records
            .clone_with_type::<GameDetail>()
            .find_one_and_update(
                doc! {
                    "_id": game_id,
                    "user_id": user_id,
                    "$or": [
                        { "result_revision": { "$exists": false } },
                        { "result_revision": { "$lte": analysis.revision } },
                    ],
                },
                doc! { "$set": {
                    "status": analysis.status,
                    "metrics": analysis.metrics.clone(),
                    "failure_reason": analysis.failure_reason.as_deref(),
                    "analytics_version": &analysis.analytics_version,
                    "analysed_at": analysis.analysed_at,
                    "result_revision": analysis.revision,
                    "provenance": provenance,
                } },
            )
            .return_document(ReturnDocument::After)
            .projection(detail_projection())
            .await
            .context("Failed to record a game's analysis")?;
        if let Some(game) = written {
            return Ok(Recorded::Applied(Box::new(game)));
        }
        // The filter missed: a newer analysis, or no such game. Only this rare path
        // pays for a second read.
        Ok(match self.find_for_user(game_id, user_id).await? {
            Some(game) => Recorded::Stale {
                held: game.result_revision,
            },
            None => Recorded::Missing,
        })
    }
}

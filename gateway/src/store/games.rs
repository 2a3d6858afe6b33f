//! Reading the `games` collection, newest first, with an opaque cursor.
//!
//! Document contract (written by the upload path): `{_id: game id (string), user_id,
//! created_at: DateTime, exercise, score, status, ...}`. Pages are ordered by
//! `(created_at, _id)` descending; the cursor is the last row's pair, base64url-encoded,
//! so paging stays stable while new games arrive. Served by the index
//! `{user_id: 1, created_at: -1, _id: -1}`. The upload path's writes and the full
//! document are in [`super::uploads`]; the analysis the reconciliation handler
//! records on a game is in [`super::analyses`].

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, DateTime, Document, doc};
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

/// The fields of a game that the listing shows; absent ones are `None`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GameSummary {
    #[serde(rename = "_id")]
    pub id: String,
    pub created_at: DateTime,
    pub exercise: Option<String>,
    pub score: Option<Bson>,
    pub status: Option<String>,
}

/// One game as `GET /games/{id}` shows it (everything but the recording and the
/// upload's bookkeeping). The analysis fields are absent until a reconciliation
/// recorded them ([`super::analyses`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GameDetail {
    #[serde(rename = "_id")]
    pub id: String,
    pub created_at: DateTime,
    pub exercise: Option<String>,
    pub score: Option<Bson>,
    pub status: Option<String>,
    pub started_at: Option<DateTime>,
    pub ended_at: Option<DateTime>,
    /// The report; `None` (or null) unless processed by a worker that sends it.
    pub metrics: Option<Bson>,
    pub failure_reason: Option<String>,
    pub analytics_version: Option<String>,
    pub analysed_at: Option<DateTime>,
    /// Orders the analyses of this game: 0 for an outcome from a v1 event.
    pub result_revision: Option<i64>,
    pub provenance: Option<super::analyses::StoredProvenance>,
}

/// Where the next page starts: just after the game `(created_at, id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "t")]
    created_at_ms: i64,
    id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        // Serialising two plain fields cannot fail.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// `None` for anything that is not a cursor we issued.
    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[derive(Debug, Clone)]
pub struct Games {
    collection: Collection<GameSummary>,
    /// The same collection, read and written as whole documents by the upload path.
    pub(super) records: Collection<super::uploads::GameRecord>,
    /// The compressed recordings, one per game (see [`super::uploads`]).
    pub(super) recordings: Collection<super::uploads::RecordingRecord>,
}

impl Games {
    pub fn new(db: &Database) -> Self {
        Self {
            collection: db.collection("games"),
            records: db.collection("games"),
            recordings: db.collection(super::uploads::RECORDINGS),
        }
    }

    pub async fn ensure_indexes(&self) -> anyhow::Result<()> {
        let by_user_newest_first = IndexModel::builder()
            .keys(doc! { "user_id": 1, "created_at": -1, "_id": -1 })
            .build();
        self.collection
            .create_index(by_user_newest_first)
            .await
            .context("Failed to create the games listing index")?;
        self.ensure_upload_indexes().await
    }

    /// The game `game_id` if it is `user_id`'s; another user's game is `None` too.
    pub async fn find_for_user(
        &self,
        game_id: &str,
        user_id: &str,
    ) -> anyhow::Result<Option<GameDetail>> {
        self.collection
            .clone_with_type::<GameDetail>()
            .find_one(doc! { "_id": game_id, "user_id": user_id })
            .projection(detail_projection())
            .await
            .context("Failed to read a game")
    }

    /// Up to `limit` of the user's games after `after`, and the cursor of the next page
    /// when there may be one.
    pub async fn list(
        &self,
        user_id: &str,
        limit: u32,
        after: Option<&Cursor>,
    ) -> anyhow::Result<(Vec<GameSummary>, Option<Cursor>)> {
        let mut filter: Document = doc! { "user_id": user_id };
        if let Some(cursor) = after {
            let at = DateTime::from_millis(cursor.created_at_ms);
            filter.insert(
                "$or",
                vec![
                    doc! { "created_at": { "$lt": at } },
                    doc! { "created_at": at, "_id": { "$lt": &cursor.id } },
                ],
            );
        }
        // One extra row tells whether another page exists without a count query.
        let games: Vec<GameSummary> = self
            .collection
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(i64::from(limit) + 1)
            .projection(doc! { "created_at": 1, "exercise": 1, "score": 1, "status": 1 })
            .await
            .context("Failed to query games")?
            .try_collect()
            .await
            .context("Failed to read games")?;
        let mut games = games;
        let next = if games.len() > limit as usize {
            games.truncate(limit as usize);
            games.last().map(|last| Cursor {
                created_at_ms: last.created_at.timestamp_millis(),
                id: last.id.clone(),
            })
        } else {
            None
        };
        Ok((games, next))
    }
}

/// The fields of a [`GameDetail`]: never the recording.
pub(super) fn detail_projection() -> Document {
    doc! {
        "created_at": 1, "exercise": 1, "score": 1, "status": 1,
        "started_at": 1, "ended_at": 1, "metrics": 1, "failure_reason": 1,
        "analytics_version": 1, "analysed_at": 1, "result_revision": 1, "provenance": 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_encoding() {
        let cursor = Cursor {
            created_at_ms: 1_700_000_000_000,
            id: "g-1".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        assert_eq!(Cursor::decode("not a cursor!"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"{}")), None);
    }
}

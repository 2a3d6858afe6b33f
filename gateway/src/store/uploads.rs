//! The upload path's view of the `games` collection: the whole game document, its
//! recording, the idempotency guarantee and the publish claim.
//!
//! Two documents per game, both with `_id` = game id (a UUID v7 string):
//! - `games`: `{user_id, created_at, exercise, score, started_at, ended_at, status:
//!   "queued", idempotency_key, request_hash, published, publish_lease_until, event_id,
//!   correlation_id}`, a few hundred bytes;
//! - `game_recordings`: `{user_id, content_type, content_encoding, data: Binary}`, the
//!   zstd-compressed `sensors` JSON as BSON binary: a 60 s, 100 Hz recording is ~0.7 MB
//!   of JSON but ~0.2-0.3 MB here, far from the 16 MiB limit, and it is what lets a game
//!   be re-analysed after the stream's retention has passed.
//!
//! Why two: the game document is updated after the insert (the publish claim, then
//! `published`), and the store rewrites a whole document on every update; with the
//! recording inside, each upload wrote its ~0.3 MB twice (profiled under
//! `benches/upload_load.rs`). The recording is written once and never changed.
//!
//! - The recording is inserted first, then the game: a game never exists without its
//!   recording, so the outbox can always publish it. A recording without a game is
//!   possible (the process died between the two inserts, or a same-key retry lost the
//!   race and could not delete its copy); it is never read and costs only its space.
//! - The unique index `(user_id, idempotency_key)` makes two uploads with one key one
//!   game, without a transaction: the second insert fails with 11000 and reads the first.
//! - `published` turns true once the broker confirmed the game's ProcessingEvent.
//!   `publish_lease_until` is the claim of whoever is publishing it (the request that
//!   inserted it, a retry, or the outbox): only one publishes at a time, so a
//!   concurrent same-key retry does not put a second message on the queue.

use std::time::Duration;

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::IndexModel;
use mongodb::bson::{Binary, DateTime, doc};
use mongodb::options::{IndexOptions, ReturnDocument};
use serde::{Deserialize, Serialize};
use shared_store::is_duplicate_key;

use super::Games;

/// The collection of the compressed recordings.
pub const RECORDINGS: &str = "game_recordings";

/// A stored game as the upload path writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GameRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub created_at: DateTime,
    pub exercise: String,
    pub score: i64,
    pub started_at: DateTime,
    pub ended_at: DateTime,
    pub status: String,
    pub idempotency_key: String,
    /// Hex SHA-256 of the decompressed request body: a retry with the same key must
    /// carry the same body.
    pub request_hash: String,
    pub published: bool,
    /// Until when the current publisher's claim holds; `None` once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_lease_until: Option<DateTime>,
    /// The envelope id every (re)publication of this game uses, so consumers and
    /// tools can tell a republication from a new event.
    pub event_id: String,
    /// The id of the request that created the game, carried by the event.
    pub correlation_id: String,
}

/// A game's recording as stored: `EncodedRecording` with its bytes as BSON binary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordingRecord {
    /// The game's id.
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub content_type: String,
    pub content_encoding: String,
    pub data: Binary,
}

/// What inserting a new game came to.
#[derive(Debug)]
pub enum Inserted {
    /// The game is new; the caller holds its publish claim.
    New,
    /// The user already has a game with this idempotency key.
    Existing(Box<GameRecord>),
}

impl Games {
    pub(super) async fn ensure_upload_indexes(&self) -> anyhow::Result<()> {
        let one_game_per_key = IndexModel::builder()
            .keys(doc! { "user_id": 1, "idempotency_key": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("one_game_per_idempotency_key".to_owned())
                    // Only uploads carry a key; games written otherwise (imports,
                    // fixtures) must not collide on a missing one.
                    .partial_filter_expression(doc! { "idempotency_key": { "$exists": true } })
                    .build(),
            )
            .build();
        let outbox = IndexModel::builder()
            .keys(doc! { "published": 1, "publish_lease_until": 1 })
            .options(IndexOptions::builder().name("outbox".to_owned()).build())
            .build();
        self.records
            .create_indexes([one_game_per_key, outbox])
            .await
            .context("Failed to create the games upload indexes")?;
        Ok(())
    }

    /// Inserts `game` and its `recording` unless the user already has a game with its
    /// idempotency key, in which case that game is returned (and `recording` is not
    /// kept).
    pub async fn insert_new(
        &self,
        game: &GameRecord,
        recording: &RecordingRecord,
    ) -> anyhow::Result<Inserted> {
        self.recordings
            .insert_one(recording)
            .await
            .context("Failed to insert the game's recording")?;
        match self.records.insert_one(game).await {
            Ok(_) => Ok(Inserted::New),
            Err(error) if is_duplicate_key(&error) => {
                if let Err(error) = self
                    .recordings
                    .delete_one(doc! { "_id": &recording.id })
                    .await
                {
                    tracing::warn!(%error, game_id = %recording.id,
                        "Failed to delete the recording of a duplicate upload; it stays unused");
                }
                let existing = self
                    .find_by_idempotency_key(&game.user_id, &game.idempotency_key)
                    .await?
                    .context("A game with this idempotency key exists but cannot be read")?;
                Ok(Inserted::Existing(Box::new(existing)))
            }
            Err(error) => Err(error).context("Failed to insert the game"),
        }
    }

    pub async fn find_by_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> anyhow::Result<Option<GameRecord>> {
        self.records
            .find_one(doc! { "user_id": user_id, "idempotency_key": key })
            .await
            .context("Failed to read a game by idempotency key")
    }

    /// Claims the right to publish an unpublished game whose previous claim has
    /// lapsed, for `lease`. `None` when it is published or someone else holds it.
    pub async fn claim_publish(
        &self,
        game_id: &str,
        lease: Duration,
    ) -> anyhow::Result<Option<GameRecord>> {
        let now = DateTime::now();
        let until = lease_end(now, lease);
        self.records
            .find_one_and_update(
                doc! {
                    "_id": game_id,
                    "published": false,
                    "$or": [
                        { "publish_lease_until": null },
                        { "publish_lease_until": { "$lt": now } },
                    ],
                },
                doc! { "$set": { "publish_lease_until": until } },
            )
            .return_document(ReturnDocument::After)
            .await
            .context("Failed to claim a game for publishing")
    }

    /// Records that the broker confirmed the game's event.
    pub async fn mark_published(&self, game_id: &str) -> anyhow::Result<()> {
        self.records
            .update_one(
                doc! { "_id": game_id },
                doc! { "$set": { "published": true }, "$unset": { "publish_lease_until": "" } },
            )
            .await
            .context("Failed to mark a game published")?;
        Ok(())
    }

    /// Records that the broker confirmed the events of `game_ids`: one command for
    /// a batch (the relay marks what it published in batches, since only the outbox,
    /// after a claim lapses, ever reads the mark).
    pub async fn mark_published_many(&self, game_ids: &[String]) -> anyhow::Result<()> {
        if game_ids.is_empty() {
            return Ok(());
        }
        self.records
            .update_many(
                doc! { "_id": { "$in": game_ids }, "published": false },
                doc! { "$set": { "published": true }, "$unset": { "publish_lease_until": "" } },
            )
            .await
            .context("Failed to mark games published")?;
        Ok(())
    }

    /// How many stored games wait for their event to be published (the outbox's
    /// backlog; served by the `outbox` index).
    pub async fn count_unpublished(&self) -> anyhow::Result<u64> {
        self.records
            .count_documents(doc! { "published": false })
            .await
            .context("Failed to count unpublished games")
    }

    /// Gives up a claim after a failed publish, so the phone's retry (or the outbox)
    /// can claim the game at once instead of waiting for the lease to lapse.
    pub async fn release_claim(&self, game_id: &str) -> anyhow::Result<()> {
        self.records
            .update_one(
                doc! { "_id": game_id, "published": false },
                doc! { "$unset": { "publish_lease_until": "" } },
            )
            .await
            .context("Failed to release a publish claim")?;
        Ok(())
    }

    /// The recording of a game, if it exists.
    pub async fn find_recording(&self, game_id: &str) -> anyhow::Result<Option<RecordingRecord>> {
        self.recordings
            .find_one(doc! { "_id": game_id })
            .await
            .context("Failed to read a game's recording")
    }

    /// The whole stored game, if it exists.
    pub async fn find_record(&self, game_id: &str) -> anyhow::Result<Option<GameRecord>> {
        self.records
            .find_one(doc! { "_id": game_id })
            .await
            .context("Failed to read a game")
    }

    /// Ids of up to `limit` unpublished games nobody holds a claim on: what the outbox
    /// must publish.
    pub async fn unclaimed_unpublished(&self, limit: i64) -> anyhow::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Id {
            #[serde(rename = "_id")]
            id: String,
        }
        let now = DateTime::now();
        let ids: Vec<Id> = self
            .records
            .clone_with_type::<Id>()
            .find(doc! {
                "published": false,
                "$or": [
                    { "publish_lease_until": null },
                    { "publish_lease_until": { "$lt": now } },
                ],
            })
            .projection(doc! { "_id": 1 })
            .limit(limit)
            .await
            .context("Failed to look for unpublished games")?
            .try_collect()
            .await
            .context("Failed to read unpublished games")?;
        Ok(ids.into_iter().map(|id| id.id).collect())
    }
}

/// `now + lease`, saturating.
pub fn lease_end(now: DateTime, lease: Duration) -> DateTime {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    DateTime::from_millis(now.timestamp_millis().saturating_add(lease_ms))
}

//! The change feed: per patient, an append-only list of what changed, numbered by a
//! strictly increasing `seq` (1, 2, 3, ...). `GET /sync` and the WebSocket catch-up
//! read it; the reconciliation handler appends to it.
//!
//! Document: `{_id: "<user_id>:<seq>", user_id, seq, dedupe, change, game_id,
//! exercise, created_at, entry, progress_revision?, progress?}` where `entry` is the
//! change as the phone receives it (a snapshot taken when the change happened, so
//! reading the same range twice gives the same answer), and `progress` the patient's
//! progress snapshot on `exercise` that came with the change, ordered by
//! `progress_revision`: the progress cache is filled from it when cold
//! ([`super::progress`]), so keeping progress costs no write beyond the entry.
//!
//! Why the sequence is taken as "the last entry + 1" and not from a counter: an entry
//! at `seq` is inserted only after the entry at `seq - 1` exists (its `_id` is the
//! unique claim on the position). With a counter, two appenders could take 5 and 6
//! and write 6 first; a phone syncing in between would move its cursor past 5 and
//! never see it. Here the feed never has a hole that fills in later. Appenders racing
//! for one patient's position retry; that contention is per patient and rare.
//!
//! An append is one insert in the usual case. The process remembers the last
//! position it wrote for each patient (a hint, bounded in size): the entry goes to
//! hint + 1, which keeps the rule above since the hint's entry exists. The unique
//! indexes judge the attempt: a duplicate key means another instance took the
//! position or the change is already there, and only then does the append read the
//! feed. A hint that is missing or stale costs one read, never a wrong position.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{self, DateTime, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde_json::Value;

use super::progress::EntryProgress;

/// How often an append retries after losing a race for the next position.
const APPEND_ATTEMPTS: usize = 32;

/// Patients whose last position the process remembers; past this the hints are
/// dropped and rebuilt by reads (one per patient), which bounds the memory.
const MAX_HINTS: usize = 100_000;

/// One change to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub user_id: String,
    pub game_id: String,
    /// `game.processed` or `game.failed`.
    pub change: String,
    /// What makes two appends the same change (a redelivered event must not add a
    /// second entry): `<game>:r<revision>` for an analysis from a v2 event,
    /// `<game>:<status>:<analytics version>` from a v1 event.
    pub dedupe: String,
    pub exercise: String,
    /// The change as the phone receives it.
    pub entry: Value,
    /// The patient's progress on `exercise` after the change, if the event had it.
    pub progress: Option<EntryProgress>,
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// A new entry at this position.
    New(u64),
    /// The same change was already in the feed, at this position.
    Existing(u64),
}

impl Appended {
    pub fn seq(self) -> u64 {
        match self {
            Appended::New(seq) | Appended::Existing(seq) => seq,
        }
    }
}

/// One stored entry, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub seq: u64,
    pub entry: Value,
}

#[derive(Debug, Clone)]
pub struct ChangeFeed {
    pub(super) collection: Collection<Document>,
    /// The last position this process wrote or read per patient.
    last_seen: Arc<Mutex<HashMap<String, u64>>>,
}

impl ChangeFeed {
    pub const COLLECTION: &'static str = "change_feed";

    pub fn new(db: &Database) -> Self {
        Self {
            collection: db.collection(Self::COLLECTION),
            last_seen: Arc::default(),
        }
    }

    pub async fn ensure_indexes(&self) -> anyhow::Result<()> {
        let by_position = IndexModel::builder()
            .keys(doc! { "user_id": 1, "seq": 1 })
            .options(IndexOptions::builder().unique(true).build())
            .build();
        let by_change = IndexModel::builder()
            .keys(doc! { "user_id": 1, "dedupe": 1 })
            .options(IndexOptions::builder().unique(true).build())
            .build();
        self.collection
            .create_indexes([by_position, by_change, super::progress::index()])
            .await
            .context("Failed to create the change feed's indexes")?;
        Ok(())
    }

    /// Appends `new` unless the same change is already there; either way returns its
    /// position.
    pub async fn append(&self, new: &NewEntry) -> anyhow::Result<Appended> {
        let entry = bson::to_bson(&new.entry).context("The feed entry is not storable")?;
        let mut last = match self.hint(&new.user_id) {
            Some(last) => last,
            None => self.last_seq(&new.user_id).await?,
        };
        for _ in 0..APPEND_ATTEMPTS {
            let seq = last + 1;
            let mut document = doc! {
                "_id": format!("{}:{seq}", new.user_id),
                "user_id": &new.user_id,
                "seq": to_i64(seq),
                "dedupe": &new.dedupe,
                "change": &new.change,
                "game_id": &new.game_id,
                "exercise": &new.exercise,
                "created_at": DateTime::now(),
                "entry": entry.clone(),
            };
            if let Some(progress) = &new.progress {
                document.insert("progress_revision", progress.revision);
                document.insert("progress", progress.snapshot.clone());
            }
            match self.collection.insert_one(document).await {
                Ok(_) => {
                    self.remember(&new.user_id, seq);
                    return Ok(Appended::New(seq));
                }
                // The change is already in the feed, or another append took the
                // position: look before trying the next one.
                Err(error) if shared_store::is_duplicate_key(&error) => {
                    if let Some(seq) = self.position_of(&new.user_id, &new.dedupe).await? {
                        return Ok(Appended::Existing(seq));
                    }
                    last = self.last_seq(&new.user_id).await?;
                }
                Err(error) => return Err(error).context("Failed to append to the change feed"),
            }
        }
        anyhow::bail!("gave up appending to a busy change feed after {APPEND_ATTEMPTS} attempts")
    }

    fn hint(&self, user_id: &str) -> Option<u64> {
        let hints = self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hints.get(user_id).copied()
    }

    fn remember(&self, user_id: &str, seq: u64) {
        let mut hints = self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if hints.len() >= MAX_HINTS && !hints.contains_key(user_id) {
            hints.clear();
        }
        let last = hints.entry(user_id.to_owned()).or_default();
        *last = (*last).max(seq);
    }

    /// Up to `limit` entries after position `after`, oldest first.
    pub async fn after(
        &self,
        user_id: &str,
        after: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<FeedEntry>> {
        let documents: Vec<Document> = self
            .collection
            .find(doc! { "user_id": user_id, "seq": { "$gt": to_i64(after) } })
            .sort(doc! { "seq": 1 })
            .limit(i64::from(limit))
            .projection(doc! { "seq": 1, "entry": 1 })
            .await
            .context("Failed to query the change feed")?
            .try_collect()
            .await
            .context("Failed to read the change feed")?;
        Ok(documents
            .into_iter()
            .map(|document| FeedEntry {
                seq: seq_of(&document),
                entry: document
                    .get("entry")
                    .cloned()
                    .map(bson::Bson::into_relaxed_extjson)
                    .unwrap_or(Value::Null),
            })
            .collect())
    }

    /// The position of the patient's newest entry; 0 for an empty feed.
    pub async fn last_seq(&self, user_id: &str) -> anyhow::Result<u64> {
        let last = self
            .collection
            .find_one(doc! { "user_id": user_id })
            .sort(doc! { "seq": -1 })
            .projection(doc! { "seq": 1 })
            .await
            .context("Failed to read the change feed's end")?;
        Ok(last.as_ref().map_or(0, seq_of))
    }

    async fn position_of(&self, user_id: &str, dedupe: &str) -> anyhow::Result<Option<u64>> {
        let found = self
            .collection
            .find_one(doc! { "user_id": user_id, "dedupe": dedupe })
            .projection(doc! { "seq": 1 })
            .await
            .context("Failed to look up a change")?;
        Ok(found.as_ref().map(seq_of))
    }
}

fn seq_of(document: &Document) -> u64 {
    document
        .get_i64("seq")
        .ok()
        .and_then(|seq| u64::try_from(seq).ok())
        .unwrap_or(0)
}

/// Positions are far below `i64::MAX`; saturate rather than wrap if one ever is not.
fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

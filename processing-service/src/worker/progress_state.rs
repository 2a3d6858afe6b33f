//! `progress_state`: per patient and exercise, the running B11 state
//! (`analytics::running`), written only by the worker.
//!
//! Document: `{_id: "<user_id>:<exercise>", user_id, exercise, revision,
//! session_count, k, analytics_version, updated_at, state: Binary}` where `state` is
//! the running state as zstd-compressed JSON. It is opaque on purpose: only the
//! worker reads it, and one binary field costs the store far less to read and
//! rewrite than a few thousand nested numbers would.
//!
//! Counting a game is one read and at most one write, whatever the patient's
//! history: the write is conditional on the revision read (optimistic
//! concurrency), so two workers finishing games of one patient at once cannot lose
//! either; the loser reads again and re-applies. The revision grows by one with
//! every change and travels in the event, so the gateway keeps the newest progress.

use mongodb::bson::{Binary, Bson, Document, doc, spec::BinarySubtype};
use mongodb::{Collection, Database};
use time::OffsetDateTime;

use crate::analytics::ANALYTICS_VERSION;
use crate::analytics::progress::ProgressConfig;
use crate::analytics::running::RunningProgress;

/// The bound on a stored state once decompressed (a window of sessions is a few
/// tens of kilobytes).
const MAX_STATE_BYTES: usize = 8 << 20;

/// A state as read, with the revision a write must match.
#[derive(Debug, Clone)]
pub struct Stored {
    pub revision: u64,
    pub updated_at: OffsetDateTime,
    pub state: RunningProgress,
}

/// Why a stored state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] mongodb::error::Error),
    #[error("the stored progress state cannot be encoded or decoded: {0}")]
    Codec(String),
}

#[derive(Debug, Clone)]
pub struct ProgressStates {
    states: Collection<Document>,
}

impl ProgressStates {
    pub const COLLECTION: &'static str = "progress_state";

    pub fn new(database: &Database) -> Self {
        Self {
            states: database.collection(Self::COLLECTION),
        }
    }

    /// The state of `user_id`'s `exercise`; `None` if none is stored or it cannot be
    /// decoded (then the caller rebuilds it from the results).
    pub async fn load(&self, id: &str) -> Result<Option<Stored>, StateError> {
        let Some(document) = self.states.find_one(doc! { "_id": id }).await? else {
            return Ok(None);
        };
        let decoded = decode(&document);
        if let Err(error) = &decoded {
            tracing::warn!(%id, %error, "A stored progress state is unreadable; it will be rebuilt.");
        }
        Ok(decoded.ok())
    }

    /// Writes `state` as revision `revision`, if the stored one is still
    /// `revision - 1` (or absent, for revision 1). `false`: another worker wrote
    /// first; read again.
    pub async fn save(
        &self,
        key: &StateKey,
        revision: u64,
        state: &RunningProgress,
        config: &ProgressConfig,
        now: OffsetDateTime,
    ) -> Result<bool, StateError> {
        let id = key.id();
        let document = doc! {
            "_id": &id,
            "user_id": &key.user_id,
            "exercise": &key.exercise,
            "revision": to_i64(revision),
            "session_count": to_i64(state.session_count()),
            "k": to_i64(config.baseline_sessions as u64),
            "analytics_version": ANALYTICS_VERSION.to_string(),
            "updated_at": super::results::to_datetime(now),
            "state": encode(state)?,
        };
        let written = if revision <= 1 {
            self.states.insert_one(document).await.map(|_| true)
        } else {
            self.states
                .replace_one(
                    doc! { "_id": &id, "revision": to_i64(revision - 1) },
                    document,
                )
                .await
                .map(|result| result.matched_count == 1)
        };
        match written {
            Ok(won) => Ok(won),
            Err(error) if shared_store::is_duplicate_key(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

/// Whose state: a patient's exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateKey {
    pub user_id: String,
    pub exercise: String,
}

impl StateKey {
    /// The document's `_id`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.user_id, self.exercise)
    }
}

fn encode(state: &RunningProgress) -> Result<Binary, StateError> {
    let json = serde_json::to_vec(state).map_err(|e| StateError::Codec(e.to_string()))?;
    let bytes = zstd::bulk::compress(&json, 3).map_err(|e| StateError::Codec(e.to_string()))?;
    Ok(Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    })
}

fn decode(document: &Document) -> Result<Stored, StateError> {
    let codec = |what: &str| StateError::Codec(what.to_owned());
    let revision = match document.get("revision") {
        Some(Bson::Int64(n)) => u64::try_from(*n).map_err(|_| codec("negative revision"))?,
        Some(Bson::Int32(n)) => u64::try_from(*n).map_err(|_| codec("negative revision"))?,
        _ => return Err(codec("no revision")),
    };
    let updated_at = document
        .get_datetime("updated_at")
        .map(|t| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.timestamp_millis()) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        })
        .map_err(|_| codec("no updated_at"))?;
    let bytes = document
        .get_binary_generic("state")
        .map_err(|_| codec("no state"))?;
    let json = zstd::bulk::decompress(bytes, MAX_STATE_BYTES)
        .map_err(|e| StateError::Codec(e.to_string()))?;
    let state = serde_json::from_slice(&json).map_err(|e| StateError::Codec(e.to_string()))?;
    Ok(Stored {
        revision,
        updated_at,
        state,
    })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

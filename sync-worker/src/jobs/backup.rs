//! The `backup` job (seed 001's BackupDataManager), made crash-safe.
//!
//! Each step of a run handles one batch in three moves, each safe to repeat:
//! 1. [`BackupJob::stage`]: if `journal:staging` holds a batch (a run died after
//!    staging it), take that one again; otherwise move up to a batch of entries from the
//!    head of `journal` to `journal:staging` and name the batch (a UUID v7), all in one
//!    Lua script, so an entry is always in exactly one of the two lists. The gateway
//!    appends at the tail meanwhile; nothing it appends is touched.
//! 2. [`BackupJob::archive`]: insert the batch with `_id` = `<batch>:<position>`
//!    (`insert_many`, unordered; duplicate-key errors mean "already archived by the run
//!    that died"). The id is the entry's place in its batch, not its content, so two
//!    identical entries are two documents, and a re-run of the same batch maps every
//!    entry to the same id again.
//! 3. [`BackupJob::release`]: delete the staging list and its name, in one script.
//!
//! Steps 1 and 3 run only while the run's lease token is still the lease's value, so
//! a run that lost its lease cannot stage or free a batch another run now owns.

use std::sync::LazyLock;

use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::{Collection, Database};
use redis::Script;
use redis::aio::ConnectionManager;
use serde_json::Value as Json;
use shared_store::{RedisKeys, is_duplicate_key};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::contract::{JOURNAL_STAGING, JOURNAL_STAGING_BATCH};
use crate::error::JobError;
use crate::lease::Lease;
use crate::store;
use shared_store::keys::JOURNAL;

/// KEYS: lease, journal, staging, staging batch id. ARGV: token, batch size, new id.
/// Returns `{"lost"}`, `{"empty"}` or `{batch id, entry...}`.
static STAGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lost'} end
          local entries = redis.call('LRANGE', KEYS[3], 0, -1)
          if #entries > 0 then
            local id = redis.call('GET', KEYS[4])
            if not id then id = ARGV[3]; redis.call('SET', KEYS[4], id) end
            table.insert(entries, 1, id)
            return entries
          end
          entries = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)
          if #entries == 0 then return {'empty'} end
          redis.call('RPUSH', KEYS[3], unpack(entries))
          redis.call('LTRIM', KEYS[2], #entries, -1)
          redis.call('SET', KEYS[4], ARGV[3])
          table.insert(entries, 1, ARGV[3])
          return entries",
    )
});

/// KEYS: lease, staging, staging batch id. ARGV: token, batch id.
/// Returns 1 freed, 0 not this batch any more, -1 lease lost.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
          if redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
          redis.call('DEL', KEYS[2], KEYS[3])
          return 1",
    )
});

/// Lua's `unpack` is limited by the C stack (about 8,000 values); stay well below.
const MAX_BATCH: usize = 5_000;

/// A batch in `journal:staging`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedBatch {
    pub id: String,
    pub entries: Vec<String>,
}

/// What one run moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupSummary {
    pub batches: u64,
    pub entries: u64,
    /// Entries a previous, interrupted run had already archived.
    pub already_archived: u64,
}

impl BackupSummary {
    pub fn to_document(self) -> Document {
        doc! {
            "batches": self.batches as i64,
            "entries": self.entries as i64,
            "already_archived": self.already_archived as i64,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BackupJob {
    redis: ConnectionManager,
    keys: RedisKeys,
    archive: Collection<Document>,
    batch_size: usize,
    max_batches: usize,
}

impl BackupJob {
    pub fn new(
        redis: ConnectionManager,
        keys: RedisKeys,
        db: &Database,
        batch_size: usize,
        max_batches: usize,
    ) -> Self {
        Self {
            redis,
            keys,
            archive: store::collection(db, store::JOURNAL),
            batch_size: batch_size.clamp(1, MAX_BATCH),
            max_batches: max_batches.max(1),
        }
    }

    /// Moves the journal into the store, a batch at a time, until it is empty or the
    /// run's batch budget is spent (the next window carries on).
    pub async fn run(&self, lease: &Lease) -> Result<BackupSummary, JobError> {
        let mut summary = BackupSummary::default();
        for _ in 0..self.max_batches {
            if lease.is_lost() {
                return Err(JobError::LeaseLost);
            }
            let Some(batch) = self.stage(lease).await? else {
                break;
            };
            let inserted = self.archive(&batch).await?;
            self.release(lease, &batch).await?;
            let entries = batch.entries.len() as u64;
            summary.batches += 1;
            summary.entries += entries;
            summary.already_archived += entries - inserted;
        }
        Ok(summary)
    }

    /// Step 1: the batch to archive, a leftover one first; `None` if the journal is empty.
    pub async fn stage(&self, lease: &Lease) -> Result<Option<StagedBatch>, JobError> {
        let mut con = self.redis.clone();
        let mut reply: Vec<String> = STAGE
            .key(lease.key())
            .key(self.keys.key(JOURNAL))
            .key(self.keys.key(JOURNAL_STAGING))
            .key(self.keys.key(JOURNAL_STAGING_BATCH))
            .arg(lease.token())
            .arg(self.batch_size)
            .arg(Uuid::now_v7().to_string())
            .invoke_async(&mut con)
            .await?;
        match reply.first().map(String::as_str) {
            Some("lost") => Err(JobError::LeaseLost),
            Some("empty") | None => Ok(None),
            Some(_) => {
                let id = reply.remove(0);
                Ok(Some(StagedBatch { id, entries: reply }))
            }
        }
    }

    /// Step 2: inserts the batch; returns how many entries were new.
    pub async fn archive(&self, batch: &StagedBatch) -> Result<u64, JobError> {
        let archived_at = bson::DateTime::now();
        let documents: Vec<Document> = batch
            .entries
            .iter()
            .enumerate()
            .map(|(seq, entry)| archived_entry(&batch.id, seq, entry, archived_at))
            .collect();
        let total = documents.len() as u64;
        match self.archive.insert_many(documents).ordered(false).await {
            Ok(_) => Ok(total),
            Err(error) if is_duplicate_key(&error) => {
                let duplicates = match error.kind.as_ref() {
                    ErrorKind::InsertMany(failure) => {
                        failure.write_errors.as_ref().map_or(0, Vec::len) as u64
                    }
                    _ => total,
                };
                Ok(total.saturating_sub(duplicates))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Step 3: frees the staged batch in Redis.
    pub async fn release(&self, lease: &Lease, batch: &StagedBatch) -> Result<(), JobError> {
        let mut con = self.redis.clone();
        let freed: i64 = RELEASE
            .key(lease.key())
            .key(self.keys.key(JOURNAL_STAGING))
            .key(self.keys.key(JOURNAL_STAGING_BATCH))
            .arg(lease.token())
            .arg(&batch.id)
            .invoke_async(&mut con)
            .await?;
        match freed {
            -1 => Err(JobError::LeaseLost),
            0 => {
                tracing::warn!(batch = %batch.id, "The staged batch was already freed by another run.");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The archive document of the entry at `seq` in batch `batch`.
///
/// A JSON object is kept as a document (queryable); anything else is kept verbatim
/// under `raw`, never dropped: a malformed entry must not block the journal. `at` is
/// the entry's own time when it has one, else the archive time, so every entry is
/// reachable by `--since`.
fn archived_entry(batch: &str, seq: usize, entry: &str, archived_at: bson::DateTime) -> Document {
    let mut document = doc! {
        "_id": format!("{batch}:{seq:06}"),
        "batch": batch,
        "seq": seq as i64,
        "archived_at": archived_at,
    };
    let parsed = serde_json::from_str::<Json>(entry)
        .ok()
        .filter(Json::is_object)
        .and_then(|json| bson::to_bson(&json).ok().map(|bson| (json, bson)));
    let Some((json, bson)) = parsed else {
        document.insert("raw", entry);
        document.insert("at", archived_at);
        return document;
    };
    let at = json["at"]
        .as_str()
        .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok())
        .map(|at| bson::DateTime::from_millis((at.unix_timestamp_nanos() / 1_000_000) as i64))
        .unwrap_or(archived_at);
    document.insert("at", at);
    if let Some(user) = json["user_id"].as_str() {
        document.insert("user_id", user);
    }
    document.insert("entry", bson);
    document
}

/// The entry as the gateway wrote it (for the archive's readers).
pub fn entry_of(document: &Document) -> Json {
    match document.get("entry") {
        Some(entry) => entry.clone().into_relaxed_extjson(),
        None => match document.get("raw") {
            Some(Bson::String(raw)) => Json::String(raw.clone()),
            _ => Json::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_identical_entries_get_two_ids() {
        let now = bson::DateTime::now();
        let entry = r#"{"id":"x","at":"2026-11-22T10:00:00Z","user_id":"u1"}"#;
        let a = archived_entry("b", 0, entry, now);
        let b = archived_entry("b", 1, entry, now);
        assert_ne!(a.get("_id"), b.get("_id"));
        assert_eq!(a.get_str("user_id").ok(), Some("u1"));
        assert_eq!(
            a.get_datetime("at").ok().map(|at| at.timestamp_millis()),
            Some(1_795_341_600_000)
        );
    }

    #[test]
    fn an_entry_that_is_not_json_is_kept_verbatim() {
        let now = bson::DateTime::now();
        let document = archived_entry("b", 3, "not json", now);
        assert_eq!(entry_of(&document), Json::String("not json".into()));
        assert_eq!(document.get_datetime("at").ok(), Some(&now));
    }

    #[test]
    fn a_json_entry_reads_back_as_written() {
        let entry = r#"{"id":"x","status":202,"user_id":null}"#;
        let document = archived_entry("b", 0, entry, bson::DateTime::now());
        let back = entry_of(&document);
        assert_eq!(back, serde_json::from_str::<Json>(entry).expect("json"));
    }
}

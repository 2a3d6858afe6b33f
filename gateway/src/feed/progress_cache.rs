//! The patient's latest progress per exercise, cached in Redis for `GET /progress`
//! and `GET /games/{id}`. The gateway is the only writer of this key family.
//!
//! `progress:<user_id>` is a HASH: `<exercise>` -> the progress as the phone sees it
//! (JSON), `<exercise>#rev` -> the revision of the snapshot it shows, and `#filled`
//! once every exercise in the patient's change feed has been loaded. A write only
//! lands if its revision is at least the cached one, so a reader filling the cache
//! from an older read, or a late event, can never overwrite a newer snapshot. The
//! change feed (the snapshot each event brought, [`crate::store::progress`]) is the
//! truth; the key expires after a day idle and is rebuilt from it (also after Redis
//! loses its data).
//!
//! Hashes written before revisions ordered the cache hold `<exercise>#n` (a session
//! count) and `#complete`: such a hash reads as cold (no `#filled`), the fill from
//! the feed replaces what the feed knows, and exercises without a revision are
//! never shown (they expire with the key).

use std::collections::HashMap;

use anyhow::Context;
use redis::Script;
use redis::aio::ConnectionManager;
use shared_store::RedisKeys;

use crate::views::ProgressView;

/// Idle lifetime of a patient's cache entry.
const TTL_SECS: u64 = 24 * 60 * 60;
const FILLED: &str = "#filled";
const REVISION: &str = "#rev";

/// Sets one exercise's progress unless the cache holds a newer revision already.
const SET_IF_NEWER: &str = r"
local revision_field = ARGV[1] .. '#rev'
local cached = tonumber(redis.call('HGET', KEYS[1], revision_field) or '-1')
if cached <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], revision_field, ARGV[2])
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], '#filled', '1')
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 0
";

/// One exercise's progress and the revision of the snapshot it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ExerciseProgress {
    pub revision: u64,
    pub progress: ProgressView,
}

#[derive(Clone)]
pub struct ProgressCache {
    redis: ConnectionManager,
    keys: RedisKeys,
    script: Script,
}

impl std::fmt::Debug for ProgressCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressCache")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl ProgressCache {
    pub fn new(redis: ConnectionManager, keys: RedisKeys) -> Self {
        Self {
            redis,
            keys,
            script: Script::new(SET_IF_NEWER),
        }
    }

    fn key(&self, user_id: &str) -> String {
        self.keys.key(&format!("progress:{user_id}"))
    }

    /// Stores one exercise's progress (after an analysis, or a read of one exercise
    /// from the feed).
    pub async fn store(&self, user_id: &str, progress: &ExerciseProgress) -> anyhow::Result<()> {
        self.set(user_id, progress, false).await
    }

    /// Fills the cache with every exercise of the patient, read from the feed.
    pub async fn fill(&self, user_id: &str, all: &[ExerciseProgress]) -> anyhow::Result<()> {
        for (index, progress) in all.iter().enumerate() {
            self.set(user_id, progress, index + 1 == all.len()).await?;
        }
        Ok(())
    }

    async fn set(
        &self,
        user_id: &str,
        progress: &ExerciseProgress,
        filled: bool,
    ) -> anyhow::Result<()> {
        let json = serde_json::to_string(&progress.progress)?;
        let mut redis = self.redis.clone();
        self.script
            .key(self.key(user_id))
            .arg(&progress.progress.exercise)
            .arg(progress.revision)
            .arg(json)
            .arg(if filled { "1" } else { "0" })
            .arg(TTL_SECS)
            .invoke_async::<i64>(&mut redis)
            .await
            .context("Failed to cache progress")?;
        Ok(())
    }

    /// Every exercise's progress by exercise name, if the cache holds the patient's
    /// complete set.
    pub async fn load(&self, user_id: &str) -> anyhow::Result<Option<Vec<ProgressView>>> {
        let mut redis = self.redis.clone();
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key(user_id))
            .query_async(&mut redis)
            .await
            .context("Failed to read cached progress")?;
        if !fields.contains_key(FILLED) {
            return Ok(None);
        }
        let mut all = Vec::new();
        for (exercise, json) in fields.iter().filter(|(name, _)| !name.contains('#')) {
            // Without its revision, an entry is an older gateway's, left beside a
            // fill from the feed that did not know the exercise: not progress the
            // feed holds, so not shown.
            if !fields.contains_key(&format!("{exercise}{REVISION}")) {
                continue;
            }
            // One that does not parse makes the set incomplete: read the feed.
            match serde_json::from_str::<ProgressView>(json) {
                Ok(progress) => all.push(progress),
                Err(_) => return Ok(None),
            }
        }
        all.sort_by(|a, b| a.exercise.cmp(&b.exercise));
        Ok(Some(all))
    }

    /// One exercise's progress, if the cache holds it.
    pub async fn load_exercise(
        &self,
        user_id: &str,
        exercise: &str,
    ) -> anyhow::Result<Option<ProgressView>> {
        let mut redis = self.redis.clone();
        let (json, revision): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.key(user_id))
            .arg(exercise)
            .arg(format!("{exercise}{REVISION}"))
            .query_async(&mut redis)
            .await
            .context("Failed to read cached progress")?;
        Ok(json
            .filter(|_| revision.is_some())
            .and_then(|json| serde_json::from_str(&json).ok()))
    }
}

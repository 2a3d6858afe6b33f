//! The patient's latest progress per exercise, cached in Redis for `GET /progress`.
//!
//! `progress:<user_id>` is a HASH: `<exercise>` -> the progress JSON, `<exercise>#n`
//! -> the number of sessions it covers, and `#complete` once every exercise of the
//! patient has been loaded from MongoDB. A write only lands if it covers at least as
//! many sessions as the cached one, so a reader filling the cache from an older read
//! can never overwrite what the reconciliation handler just stored. MongoDB's
//! `progress` collection stays the truth; the key expires after a day idle and is
//! rebuilt from it (also after Redis loses its data).

use anyhow::Context;
use redis::Script;
use redis::aio::ConnectionManager;
use serde_json::Value;
use shared_store::RedisKeys;

/// Idle lifetime of a patient's cache entry.
const TTL_SECS: u64 = 24 * 60 * 60;
const COMPLETE: &str = "#complete";

/// Sets one exercise's progress unless the cache covers more sessions already.
const SET_IF_NEWER: &str = r"
local count_field = ARGV[1] .. '#n'
local cached = tonumber(redis.call('HGET', KEYS[1], count_field) or '-1')
if cached <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], count_field, ARGV[2])
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], '#complete', '1')
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 0
";

/// One exercise's progress, as cached.
#[derive(Debug, Clone, PartialEq)]
pub struct ExerciseProgress {
    pub exercise: String,
    pub session_count: i64,
    pub progress: Value,
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

    /// Stores one exercise's progress (the reconciliation handler, after an analysis).
    pub async fn store(&self, user_id: &str, progress: &ExerciseProgress) -> anyhow::Result<()> {
        self.set(user_id, progress, false).await
    }

    /// Fills the cache with every exercise of the patient, read from MongoDB.
    pub async fn fill(&self, user_id: &str, all: &[ExerciseProgress]) -> anyhow::Result<()> {
        if all.is_empty() {
            return Ok(());
        }
        for (index, progress) in all.iter().enumerate() {
            self.set(user_id, progress, index + 1 == all.len()).await?;
        }
        Ok(())
    }

    async fn set(
        &self,
        user_id: &str,
        progress: &ExerciseProgress,
        complete: bool,
    ) -> anyhow::Result<()> {
        let json = serde_json::to_string(&progress.progress)?;
        let mut redis = self.redis.clone();
        self.script
            .key(self.key(user_id))
            .arg(&progress.exercise)
            .arg(progress.session_count)
            .arg(json)
            .arg(if complete { "1" } else { "0" })
            .arg(TTL_SECS)
            .invoke_async::<i64>(&mut redis)
            .await
            .context("Failed to cache progress")?;
        Ok(())
    }

    /// Every exercise's progress, if the cache holds the patient's complete set.
    pub async fn load(&self, user_id: &str) -> anyhow::Result<Option<Vec<ExerciseProgress>>> {
        let mut redis = self.redis.clone();
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.key(user_id))
            .query_async(&mut redis)
            .await
            .context("Failed to read cached progress")?;
        if !fields.iter().any(|(name, _)| name == COMPLETE) {
            return Ok(None);
        }
        let counts: std::collections::HashMap<&str, i64> = fields
            .iter()
            .filter_map(|(name, value)| Some((name.strip_suffix("#n")?, value.parse().ok()?)))
            .collect();
        let mut all: Vec<ExerciseProgress> = fields
            .iter()
            .filter(|(name, _)| !name.contains('#'))
            .filter_map(|(exercise, json)| {
                Some(ExerciseProgress {
                    exercise: exercise.clone(),
                    session_count: *counts.get(exercise.as_str())?,
                    progress: serde_json::from_str(json).ok()?,
                })
            })
            .collect();
        all.sort_by(|a, b| a.exercise.cmp(&b.exercise));
        Ok(Some(all))
    }
}

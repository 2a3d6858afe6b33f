//! Per-exercise score keys in Redis (seeds 001 and 003): written once per new game,
//! read by `GET /leaderboard` and `GET /stats` without a database call.
//!
//! A contract with `sync-worker`, which snapshots and restores them; the names are
//! defined for both sides in [`shared_store::keys`] and prefixed through
//! [`shared_store::RedisKeys`].
//!
//! | key | type | written |
//! |---|---|---|
//! | `agg:<exercise>` | HASH `count`, `score_sum` | `HINCRBY` of 1 and of the score |
//! | `agg:updated_time` | STRING, Unix ms | with every aggregate write |
//! | `leaderboard:<exercise>` | ZSET user id -> best score | `ZADD GT`: a user's best score only rises |
//! | `leaderboard:updated_time` | STRING, Unix ms | with every leaderboard write |
//!
//! The writes happen when a game is first stored (not on idempotent retries), in one
//! `MULTI` so a reader never sees the count without the sum. `c:game` and the journal
//! entry of the upload are the bookkeeping middleware's (`crate::bookkeeping`).

use std::collections::BTreeMap;

use anyhow::Context;
use shared_store::RedisKeys;
use shared_store::keys::{self as shared_keys, Family, UPDATED_TIME};
use time::OffsetDateTime;

use crate::state::AppState;

/// The rules of an exercise name: 1-64 of `a-z 0-9 _ -`, starting with a letter, and
/// not `updated_time` (the sync job would take `agg:updated_time` for a family's
/// timestamp).
pub fn is_valid_exercise(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && name != UPDATED_TIME
}

pub fn leaderboard_key(keys: &RedisKeys, exercise: &str) -> String {
    keys.key(&shared_keys::leaderboard(exercise))
}

pub fn aggregate_key(keys: &RedisKeys, exercise: &str) -> String {
    keys.key(&shared_keys::aggregate(exercise))
}

/// Counts a new game in its exercise's aggregate and leaderboard.
pub async fn record_new_game(
    state: &AppState,
    user_id: &str,
    exercise: &str,
    score: i64,
) -> anyhow::Result<()> {
    let keys = &state.keys;
    let now_ms = i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)?;
    let aggregate = aggregate_key(keys, exercise);
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.hincr(&aggregate, "count", 1).ignore();
    pipe.hincr(&aggregate, "score_sum", score).ignore();
    pipe.set(keys.key(Family::Aggregates.updated_time_key()), now_ms)
        .ignore();
    pipe.cmd("ZADD")
        .arg(leaderboard_key(keys, exercise))
        .arg("GT")
        .arg(score)
        .arg(user_id)
        .ignore();
    pipe.set(keys.key(Family::Leaderboards.updated_time_key()), now_ms)
        .ignore();
    let mut redis = state.redis.clone();
    pipe.query_async::<()>(&mut redis)
        .await
        .context("Failed to update the exercise's aggregate and leaderboard")
}

/// The best `limit` scores of `exercise`, highest first.
pub async fn top(
    state: &AppState,
    exercise: &str,
    limit: u32,
) -> anyhow::Result<Vec<(String, f64)>> {
    let mut redis = state.redis.clone();
    let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
    redis::cmd("ZRANGE")
        .arg(leaderboard_key(&state.keys, exercise))
        .arg(0)
        .arg(stop)
        .arg("REV")
        .arg("WITHSCORES")
        .query_async(&mut redis)
        .await
        .context("Failed to read the leaderboard")
}

/// One exercise's aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Aggregate {
    pub count: i64,
    pub score_sum: i64,
}

/// The names (after `<family>:`) of a family's keys, `updated_time` excepted. A
/// `SCAN` of the namespace: one key per exercise or command, a few dozen.
async fn family_members(state: &AppState, family: Family) -> anyhow::Result<Vec<String>> {
    let mut redis = state.redis.clone();
    let Some(pattern) = family.scan_pattern(&state.keys) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut redis)
            .await
            .with_context(|| format!("Failed to scan the {} keys", family.name()))?;
        names.extend(
            batch
                .iter()
                .filter_map(|key| key.strip_prefix(state.keys.prefix()))
                .filter_map(|key| family.member_of(key))
                .map(str::to_owned),
        );
        if next == 0 {
            break;
        }
        cursor = next;
    }
    names.sort();
    names.dedup(); // SCAN may return a key twice
    Ok(names)
}

/// Every request counter (`c:<command>`), by command.
pub async fn counters(state: &AppState) -> anyhow::Result<BTreeMap<String, i64>> {
    let commands = family_members(state, Family::Counters).await?;
    if commands.is_empty() {
        return Ok(BTreeMap::new());
    }
    let keys: Vec<String> = commands
        .iter()
        .map(|c| state.keys.key(&shared_keys::counter(c)))
        .collect();
    let mut redis = state.redis.clone();
    let values: Vec<Option<i64>> = redis::cmd("MGET")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .context("Failed to read the counters")?;
    Ok(commands
        .into_iter()
        .zip(values)
        .map(|(command, value)| (command, value.unwrap_or(0)))
        .collect())
}

/// Every exercise's aggregate, by exercise name: one `SCAN` and one pipelined round
/// trip of `HMGET`s.
pub async fn aggregates(state: &AppState) -> anyhow::Result<BTreeMap<String, Aggregate>> {
    let exercises = family_members(state, Family::Aggregates).await?;
    if exercises.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut pipe = redis::pipe();
    for exercise in &exercises {
        pipe.cmd("HMGET")
            .arg(aggregate_key(&state.keys, exercise))
            .arg("count")
            .arg("score_sum");
    }
    let mut redis = state.redis.clone();
    let values: Vec<(Option<i64>, Option<i64>)> = pipe
        .query_async(&mut redis)
        .await
        .context("Failed to read the aggregates")?;
    Ok(exercises
        .into_iter()
        .zip(values)
        .map(|(exercise, (count, score_sum))| {
            let aggregate = Aggregate {
                count: count.unwrap_or(0),
                score_sum: score_sum.unwrap_or(0),
            };
            (exercise, aggregate)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exercise_names_are_short_lowercase_slugs() {
        for good in ["piano", "grasp_and_release", "pinch-2"] {
            assert!(is_valid_exercise(good), "{good}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "Piano",
            "2piano",
            "pi ano",
            "piano:x",
            "updated_time",
            &long,
        ] {
            assert!(!is_valid_exercise(bad), "{bad}");
        }
    }
}

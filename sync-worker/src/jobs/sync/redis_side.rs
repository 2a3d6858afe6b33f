//! Reading a key family out of Redis, and writing a snapshot back into it.
//!
//! Reads iterate (`SCAN`, `SSCAN`, `ZSCAN`) rather than `KEYS` or `SMEMBERS`, so a
//! large family never blocks Redis for the gateway.

use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, ScanOptions};
use shared_store::RedisKeys;

use super::snapshot::{Record, Value};
use shared_store::keys::{Family, KeyKind};

/// Members per record: keeps a snapshot document far below MongoDB's 16 MiB.
const CHUNK: usize = 10_000;

/// The family's `updated_time` (Unix ms), if Redis has one.
pub async fn updated_time(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
    family: Family,
) -> redis::RedisResult<Option<i64>> {
    con.get(keys.key(family.updated_time_key())).await
}

/// The family's data keys that exist, unprefixed.
pub async fn data_keys(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
    family: Family,
) -> redis::RedisResult<Vec<String>> {
    let Some(pattern) = family.scan_pattern(keys) else {
        let name = family.name();
        let exists: bool = con.exists(keys.key(name)).await?;
        return Ok(if exists {
            vec![name.to_owned()]
        } else {
            Vec::new()
        });
    };
    let options = ScanOptions::default()
        .with_pattern(pattern)
        .with_count(1_000);
    let mut found = Vec::new();
    let mut iter = con.scan_options::<String>(options).await?;
    while let Some(key) = iter.next_item().await {
        let key = key?;
        // SCAN may return a key twice; the pattern cannot exclude `updated_time`.
        if let Some(name) = key.strip_prefix(keys.prefix())
            && family.owns(name)
            && !found.iter().any(|k| k == name)
        {
            found.push(name.to_owned());
        }
    }
    Ok(found)
}

/// Every record of the family as Redis holds it now.
pub async fn read_family(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
    family: Family,
) -> redis::RedisResult<Vec<Record>> {
    let mut records = Vec::new();
    for name in data_keys(con, keys, family).await? {
        let key = keys.key(&name);
        match family.kind() {
            KeyKind::Set => {
                let mut members = Vec::new();
                let mut iter = con.sscan::<_, String>(&key).await?;
                while let Some(member) = iter.next_item().await {
                    members.push(member?);
                }
                members.sort_unstable();
                members.dedup(); // SSCAN may repeat an element
                for chunk in members.chunks(CHUNK) {
                    let value = Value::Set {
                        members: chunk.to_vec(),
                    };
                    records.push(Record {
                        key: name.clone(),
                        value,
                    });
                }
            }
            KeyKind::Counter => {
                // Gone since the scan (a concurrent delete): nothing to keep.
                if let Some(value) = con.get::<_, Option<i64>>(&key).await? {
                    let value = Value::Counter { value };
                    records.push(Record {
                        key: name.clone(),
                        value,
                    });
                }
            }
            KeyKind::SortedSet => {
                let mut members = Vec::new();
                let mut iter = con.zscan::<_, (String, f64)>(&key).await?;
                while let Some(member) = iter.next_item().await {
                    members.push(member?);
                }
                members.sort_by(|a, b| a.0.cmp(&b.0));
                members.dedup_by(|a, b| a.0 == b.0);
                for chunk in members.chunks(CHUNK) {
                    let value = Value::SortedSet {
                        members: chunk.to_vec(),
                    };
                    records.push(Record {
                        key: name.clone(),
                        value,
                    });
                }
            }
            KeyKind::Hash => {
                let mut fields: Vec<(String, String)> = con.hgetall(&key).await?;
                fields.sort();
                if !fields.is_empty() {
                    records.push(Record {
                        key: name.clone(),
                        value: Value::Hash { fields },
                    });
                }
            }
        }
    }
    Ok(records)
}

/// Replaces the family in Redis with `records` and sets its `updated_time`, in one
/// `MULTI`/`EXEC`. Returns `false` if the transaction was aborted because a key
/// `WATCH`ed on this connection changed (the gateway wrote meanwhile).
pub async fn replace_family(
    con: &mut ConnectionManager,
    keys: &RedisKeys,
    family: Family,
    existing: &[String],
    records: &[Record],
    updated_time: i64,
) -> redis::RedisResult<bool> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for name in existing {
        pipe.del(keys.key(name)).ignore();
    }
    for record in records {
        let key = keys.key(&record.key);
        match &record.value {
            Value::Set { members } if !members.is_empty() => {
                pipe.sadd(key, members).ignore();
            }
            Value::Counter { value } => {
                pipe.set(key, value).ignore();
            }
            Value::SortedSet { members } if !members.is_empty() => {
                let scored: Vec<(f64, &str)> =
                    members.iter().map(|(m, s)| (*s, m.as_str())).collect();
                pipe.zadd_multiple(key, &scored).ignore();
            }
            Value::Hash { fields } if !fields.is_empty() => {
                pipe.hset_multiple(key, fields).ignore();
            }
            // Empty values are never stored (Redis has no empty collections).
            Value::Set { .. } | Value::SortedSet { .. } | Value::Hash { .. } => {}
        }
    }
    pipe.set(keys.key(family.updated_time_key()), updated_time);
    // EXEC answers nil when a watched key changed.
    let done: Option<redis::Value> = pipe.query_async(con).await?;
    Ok(done.is_some())
}

/// Adds to `pipe` the commands that merge `records` into the family: the snapshot combined
/// with what the family holds now the way the gateway's own writes combine, so the
/// result is as if the writes since a loss had landed on the snapshot. Sets are united
/// (`SADD`), counters and integer hash fields added (`INCRBY`, `HINCRBY`), sorted sets
/// keep each member's higher score (`ZADD GT`: a leaderboard holds best scores). A
/// hash field that is not an integer is set only where Redis has none (`HSETNX`). The
/// family's `updated_time` is set only if Redis has none: one Redis has was written
/// after the loss, so it is the newer.
pub fn merge_family(
    pipe: &mut redis::Pipeline,
    keys: &RedisKeys,
    family: Family,
    records: &[Record],
    updated_time: i64,
) {
    for record in records {
        let key = keys.key(&record.key);
        match &record.value {
            Value::Set { members } if !members.is_empty() => {
                pipe.sadd(key, members).ignore();
            }
            Value::Counter { value } => {
                pipe.incr(key, *value).ignore();
            }
            Value::SortedSet { members } if !members.is_empty() => {
                let command = pipe.cmd("ZADD").arg(key).arg("GT");
                for (member, score) in members {
                    command.arg(*score).arg(member);
                }
                command.ignore();
            }
            Value::Hash { fields } => {
                for (field, value) in fields {
                    match value.parse::<i64>() {
                        Ok(number) => pipe.hincr(&key, field, number).ignore(),
                        Err(_) => pipe.hset_nx(&key, field, value).ignore(),
                    };
                }
            }
            Value::Set { .. } | Value::SortedSet { .. } => {}
        }
    }
    pipe.set_options(
        keys.key(family.updated_time_key()),
        updated_time,
        redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX),
    )
    .ignore();
}

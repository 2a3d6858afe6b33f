//! The Redis keys the `sync` job snapshots into the store (users, request counters,
//! leaderboards, aggregates): read the stored snapshot before Redis is wiped, and
//! check afterwards that Redis holds at least all of it again.
//!
//! "At least": the gateway keeps writing, so sets may have grown, counters and
//! aggregates risen and best scores improved; none may be below the snapshot.

use futures_util::TryStreamExt as _;
use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};
use redis::AsyncCommands as _;

/// One snapshotted key and its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kept {
    Set(Vec<String>),
    Counter(i64),
    SortedSet(Vec<(String, f64)>),
    Hash(Vec<(String, String)>),
}

/// The store's current snapshot of every family.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub keys: Vec<(String, Kept)>,
    /// Families with a snapshot.
    pub families: usize,
}

/// Reads the head of every family and its records (see the sync-worker's
/// `jobs/sync/snapshot.rs` for the layout).
pub async fn load(db: &Database) -> anyhow::Result<Snapshot> {
    let heads: Vec<Document> = db
        .collection::<Document>("sync_snapshots")
        .find(doc! {})
        .await?
        .try_collect()
        .await?;
    let mut snapshot = Snapshot {
        families: heads.len(),
        ..Snapshot::default()
    };
    for head in heads {
        let generation = head.get_str("generation")?.to_owned();
        let records: Vec<Document> = db
            .collection::<Document>("sync_snapshot_records")
            .find(doc! { "generation": generation })
            .await?
            .try_collect()
            .await?;
        for record in records {
            let record = record.get_document("record")?;
            let key = record.get_str("key")?.to_owned();
            if let Some(kept) = parse(record.get_document("value")?) {
                snapshot.keys.push((key, kept));
            }
        }
    }
    Ok(snapshot)
}

fn parse(value: &Document) -> Option<Kept> {
    let strings = |pair: &Bson| -> Option<(String, Bson)> {
        let pair = pair.as_array()?;
        Some((pair.first()?.as_str()?.to_owned(), pair.get(1)?.clone()))
    };
    let array = |field: &str| value.get_array(field).ok().cloned().unwrap_or_default();
    Some(match value.get_str("kind").ok()? {
        "set" => Kept::Set(
            array("members")
                .iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect(),
        ),
        "counter" => Kept::Counter(match value.get("value")? {
            Bson::Int64(n) => *n,
            Bson::Int32(n) => i64::from(*n),
            _ => return None,
        }),
        "sorted_set" => Kept::SortedSet(
            array("members")
                .iter()
                .filter_map(strings)
                .filter_map(|(m, s)| Some((m, s.as_f64()?)))
                .collect(),
        ),
        "hash" => Kept::Hash(
            array("fields")
                .iter()
                .filter_map(strings)
                .filter_map(|(f, v)| Some((f, v.as_str()?.to_owned())))
                .collect(),
        ),
        _ => return None,
    })
}

/// What Redis is missing of `snapshot`, in words (empty: all of it is back).
pub async fn missing(redis_url: &str, snapshot: &Snapshot) -> anyhow::Result<Vec<String>> {
    let mut con = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let mut missing = Vec::new();
    for (key, kept) in &snapshot.keys {
        match kept {
            Kept::Set(members) => {
                for member in members {
                    if !con.sismember::<_, _, bool>(key, member).await? {
                        missing.push(format!("{key} lacks {member}"));
                    }
                }
            }
            Kept::Counter(value) => {
                let now: Option<i64> = con.get(key).await?;
                if now.unwrap_or(0) < *value {
                    missing.push(format!("{key} is {now:?}, was {value}"));
                }
            }
            Kept::SortedSet(members) => {
                for (member, score) in members {
                    let now: Option<f64> = con.zscore(key, member).await?;
                    if now.unwrap_or(f64::MIN) < *score {
                        missing.push(format!("{key} scores {member} {now:?}, was {score}"));
                    }
                }
            }
            Kept::Hash(fields) => {
                for (field, value) in fields {
                    let now: Option<String> = con.hget(key, field).await?;
                    let (Ok(was), Some(Ok(now))) =
                        (value.parse::<i64>(), now.as_deref().map(str::parse::<i64>))
                    else {
                        if now.is_none() {
                            missing.push(format!("{key} lacks field {field}"));
                        }
                        continue;
                    };
                    if now < was {
                        missing.push(format!("{key}.{field} is {now}, was {was}"));
                    }
                }
            }
        }
    }
    Ok(missing)
}

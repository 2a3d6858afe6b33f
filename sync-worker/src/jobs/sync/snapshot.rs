//! A family's snapshot in the store: a head document and its records.
//!
//! Without multi-document transactions, a snapshot is replaced safely by generations:
//! the new generation's records are inserted first, then the head (one document, so
//! atomic) is switched to them, then the old generation's records are deleted. A crash
//! at any point leaves the head on a complete generation; at worst some orphaned
//! records of an unfinished generation stay behind, never read.
//!
//! The head's switch is conditional on its `updated_time` not moving backwards, so a
//! slow run cannot replace a newer snapshot with older data.

use mongodb::bson::{self, Document, doc};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};
use shared_store::is_duplicate_key;
use uuid::Uuid;

use crate::error::JobError;
use crate::store;
use shared_store::keys::Family;

/// One Redis key's data, or a chunk of it (big sets are split so that no document
/// nears MongoDB's 16 MiB limit; chunks of one key merge again on restore).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The key without the deployment's prefix, so a snapshot restores under any prefix.
    pub key: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Value {
    Set {
        members: Vec<String>,
    },
    Counter {
        value: i64,
    },
    SortedSet {
        members: Vec<(String, f64)>,
    },
    /// Field-value pairs rather than a subdocument: field names may hold `.` or `$`.
    Hash {
        fields: Vec<(String, String)>,
    },
}

/// A stored snapshot: when Redis last changed before it was taken, and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub updated_time: i64,
    pub records: Vec<Record>,
    /// The Redis marker (`sync:epoch`) the data was read under; `None` for snapshots
    /// written before the marker existed.
    pub epoch: Option<String>,
}

/// What saving a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Replaced,
    /// The store already holds a newer snapshot (another run); ours was dropped.
    Superseded,
}

#[derive(Debug, Clone)]
pub struct Snapshots {
    heads: Collection<Document>,
    records: Collection<Document>,
}

impl Snapshots {
    pub fn new(db: &Database) -> Self {
        Self {
            heads: store::collection(db, store::SNAPSHOTS),
            records: store::collection(db, store::SNAPSHOT_RECORDS),
        }
    }

    /// The `updated_time` of the family's stored snapshot, without its data.
    pub async fn updated_time(&self, family: Family) -> Result<Option<i64>, JobError> {
        let head = self.heads.find_one(doc! { "_id": family.name() }).await?;
        head.map(|head| read_i64(&head, "updated_time")).transpose()
    }

    pub async fn load(&self, family: Family) -> Result<Option<Snapshot>, JobError> {
        // A concurrent save may switch the head and delete the generation we are
        // reading; a short read is detected by the count and retried.
        for _ in 0..3 {
            let Some(head) = self.heads.find_one(doc! { "_id": family.name() }).await? else {
                return Ok(None);
            };
            let generation = head
                .get_str("generation")
                .map_err(|e| malformed(family, e))?;
            let expected = read_i64(&head, "records")?;
            let mut cursor = self
                .records
                .find(doc! { "generation": generation })
                .sort(doc! { "seq": 1 })
                .await?;
            let mut records = Vec::new();
            while cursor.advance().await? {
                let stored = cursor.deserialize_current()?;
                let record: Record =
                    bson::from_bson(stored.get("record").cloned().unwrap_or_default())
                        .map_err(|e| malformed(family, e))?;
                records.push(record);
            }
            if records.len() as i64 == expected {
                let updated_time = read_i64(&head, "updated_time")?;
                let epoch = head.get_str("epoch").ok().map(str::to_owned);
                return Ok(Some(Snapshot {
                    updated_time,
                    records,
                    epoch,
                }));
            }
        }
        Err(JobError::Malformed(format!(
            "the snapshot of `{}` kept changing or misses records",
            family.name()
        )))
    }

    /// Stores `snapshot` as the family's current one, unless a newer one is there.
    pub async fn save(&self, family: Family, snapshot: &Snapshot) -> Result<Saved, JobError> {
        let generation = Uuid::now_v7().to_string();
        let documents = snapshot
            .records
            .iter()
            .enumerate()
            .map(|(seq, record)| {
                Ok(doc! {
                    "_id": format!("{generation}:{seq:08}"),
                    "generation": &generation,
                    "family": family.name(),
                    "seq": seq as i64,
                    "record": bson::to_bson(record).map_err(|e| malformed(family, e))?,
                })
            })
            .collect::<Result<Vec<_>, JobError>>()?;
        if !documents.is_empty() {
            self.records.insert_many(documents).await?;
        }
        let switched = self
            .heads
            .find_one_and_update(
                doc! { "_id": family.name(), "updated_time": { "$lte": snapshot.updated_time } },
                doc! { "$set": {
                    "generation": &generation,
                    "updated_time": snapshot.updated_time,
                    "records": snapshot.records.len() as i64,
                    "epoch": snapshot.epoch.as_deref(),
                    "taken_at": bson::DateTime::now(),
                } },
            )
            .upsert(true)
            .return_document(ReturnDocument::Before)
            .await;
        let replaced = match switched {
            Ok(previous) => previous,
            // The filter missed an existing head, so the upsert collided with it on
            // `_id`: that head is newer than our data.
            Err(error) if is_duplicate_key(&error) => {
                self.records
                    .delete_many(doc! { "generation": &generation })
                    .await?;
                return Ok(Saved::Superseded);
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(old) = replaced
            .as_ref()
            .and_then(|head| head.get_str("generation").ok())
            && old != generation
        {
            self.records.delete_many(doc! { "generation": old }).await?;
        }
        Ok(Saved::Replaced)
    }
}

fn read_i64(document: &Document, field: &str) -> Result<i64, JobError> {
    match document.get(field) {
        Some(bson::Bson::Int64(n)) => Ok(*n),
        Some(bson::Bson::Int32(n)) => Ok(i64::from(*n)),
        other => Err(JobError::Malformed(format!(
            "`{field}` is not an integer: {other:?}"
        ))),
    }
}

fn malformed(family: Family, error: impl std::fmt::Display) -> JobError {
    JobError::Malformed(format!("snapshot of `{}`: {error}", family.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_bson() {
        let records = [
            Record {
                key: "leaderboard:piano".into(),
                value: Value::SortedSet {
                    members: vec![("u1".into(), 12.5), ("u2".into(), 3.0)],
                },
            },
            Record {
                key: "agg:piano".into(),
                value: Value::Hash {
                    fields: vec![("count".into(), "2".into()), ("a.$b".into(), "x".into())],
                },
            },
            Record {
                key: "c:login".into(),
                value: Value::Counter { value: 7 },
            },
        ];
        for record in records {
            let stored = bson::to_bson(&record).expect("encode");
            let back: Record = bson::from_bson(stored).expect("decode");
            assert_eq!(back, record);
        }
    }
}

//! The worker's MongoDB collections and their indexes, named in one place.
//!
//! | collection | one document per | key |
//! |---|---|---|
//! | `job_runs` | completed run of a job's window | unique `(job, window)`: a window is recorded once; expires after [`JOB_RUN_RETENTION`] |
//! | `sync_snapshots` | synced key family: its current snapshot's head | `_id` = family name |
//! | `sync_snapshot_records` | chunk of a snapshot (one Redis key, big sets split) | `_id` = `<generation>:<seq>` |
//! | `journal` | archived journal entry | `_id` = `<batch>:<seq>`, deterministic, so a re-run inserts nothing twice |
//!
//! Only what real MongoDB guarantees is relied on: single-document atomicity, unique
//! indexes, upserts; no multi-document transactions.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};

pub const JOB_RUNS: &str = "job_runs";
pub const SNAPSHOTS: &str = "sync_snapshots";
pub const SNAPSHOT_RECORDS: &str = "sync_snapshot_records";
pub const JOURNAL: &str = "journal";

/// How long a completed run is remembered. A backup every 10 s records 8,640 runs a
/// day; a window only needs remembering while copies of its timer can still arrive
/// (the bus's retry budget, minutes) and for the catch-up's "latest window".
pub const JOB_RUN_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Creates every index the worker relies on; idempotent, run at every start.
pub async fn ensure_indexes(db: &Database) -> mongodb::error::Result<()> {
    let unique = IndexOptions::builder().unique(true).build();
    collection(db, JOB_RUNS)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "job": 1, "window": 1 })
                .options(unique)
                .build(),
        )
        .await?;
    collection(db, JOB_RUNS)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "finished_at": 1 })
                .options(
                    IndexOptions::builder()
                        .expire_after(JOB_RUN_RETENTION)
                        .build(),
                )
                .build(),
        )
        .await?;
    collection(db, SNAPSHOT_RECORDS)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "generation": 1, "seq": 1 })
                .build(),
        )
        .await?;
    // The archive's query (`journal --user --since`) and its time-only variant.
    collection(db, JOURNAL)
        .create_index(
            IndexModel::builder()
                .keys(doc! { "user_id": 1, "at": 1 })
                .build(),
        )
        .await?;
    collection(db, JOURNAL)
        .create_index(IndexModel::builder().keys(doc! { "at": 1 }).build())
        .await?;
    Ok(())
}

pub fn collection(db: &Database, name: &str) -> Collection<Document> {
    db.collection(name)
}

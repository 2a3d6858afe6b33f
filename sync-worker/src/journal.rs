//! Reading the archived journal (what the backup job moved out of Redis).
//!
//! `sync-worker journal --user <id> --since <RFC 3339>` prints it as JSON lines; the
//! gateway's admin route will call [`query`] too.

use mongodb::Database;
use mongodb::bson::{self, doc};
use serde_json::{Value as Json, json};
use time::OffsetDateTime;

use crate::jobs::backup::entry_of;
use crate::store;

/// Which archived entries to read.
#[derive(Debug, Clone, Default)]
pub struct JournalQuery {
    pub user_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub limit: Option<i64>,
}

/// Archived entries matching `query`, oldest first (journal order within a batch),
/// each as `{"archive_id", "at", "entry"}` with `entry` as the gateway wrote it.
pub async fn query(db: &Database, query: &JournalQuery) -> mongodb::error::Result<Vec<Json>> {
    let mut filter = doc! {};
    if let Some(user) = &query.user_id {
        filter.insert("user_id", user);
    }
    if let Some(since) = query.since {
        let millis = (since.unix_timestamp_nanos() / 1_000_000) as i64;
        filter.insert("at", doc! { "$gte": bson::DateTime::from_millis(millis) });
    }
    // A limit of 0 is no limit to MongoDB.
    let mut cursor = store::collection(db, store::JOURNAL)
        .find(filter)
        .sort(doc! { "at": 1, "_id": 1 })
        .limit(query.limit.unwrap_or(0))
        .await?;
    let mut entries = Vec::new();
    while cursor.advance().await? {
        let document = cursor.deserialize_current()?;
        let at = document
            .get_datetime("at")
            .ok()
            .and_then(|at| at.try_to_rfc3339_string().ok());
        entries.push(json!({
            "archive_id": document.get_str("_id").unwrap_or_default(),
            "at": at,
            "entry": entry_of(&document),
        }));
    }
    Ok(entries)
}

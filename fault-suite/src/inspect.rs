//! Reading what the system stored, straight from the private MongoDB-compatible
//! server: the facts [`crate::tally`] holds the ledger against.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt as _;
use mongodb::Database;
use mongodb::bson::{Document, doc};

use crate::ledger::Upload;
use crate::tally::StoreFacts;

/// `$in` lists are sent in chunks of this many ids.
const CHUNK: usize = 500;

/// Everything [`crate::tally::tally`] needs about `uploads`.
pub async fn facts(db: &Database, uploads: &[Upload]) -> anyhow::Result<StoreFacts> {
    let games: Vec<String> = uploads
        .iter()
        .filter_map(|u| u.game_id().map(str::to_owned))
        .collect();
    let mut facts = StoreFacts::default();
    for chunk in games.chunks(CHUNK) {
        for game in find(db, "games", doc! { "_id": { "$in": chunk } }).await? {
            if let (Ok(id), Ok(status)) = (game.get_str("_id"), game.get_str("status")) {
                facts.status.insert(id.to_owned(), status.to_owned());
            }
        }
        for result in find(db, "results", doc! { "_id": { "$in": chunk } }).await? {
            if let (Ok(id), Ok(status)) = (result.get_str("_id"), result.get_str("status")) {
                facts.results.insert(id.to_owned(), status.to_owned());
            }
        }
        for entry in find(db, "change_feed", doc! { "game_id": { "$in": chunk } }).await? {
            if let Ok(game) = entry.get_str("game_id") {
                *facts.feed.entry(game.to_owned()).or_insert(0) += 1;
            }
        }
    }
    let keys: Vec<String> = uploads.iter().map(|u| u.key.clone()).collect();
    for chunk in keys.chunks(CHUNK) {
        for game in find(db, "games", doc! { "idempotency_key": { "$in": chunk } }).await? {
            if let (Ok(user), Ok(key)) = (game.get_str("user_id"), game.get_str("idempotency_key"))
            {
                *facts
                    .per_key
                    .entry((user.to_owned(), key.to_owned()))
                    .or_insert(0) += 1;
            }
        }
    }
    Ok(facts)
}

/// Of `games`, those whose status is `processed` now.
pub async fn processed(db: &Database, games: &[String]) -> anyhow::Result<HashSet<String>> {
    let mut done = HashSet::new();
    for chunk in games.chunks(CHUNK) {
        let filter = doc! { "_id": { "$in": chunk }, "status": "processed" };
        for game in find(db, "games", filter).await? {
            if let Ok(id) = game.get_str("_id") {
                done.insert(id.to_owned());
            }
        }
    }
    Ok(done)
}

/// Games in any status but `processed`, by status: after recovery there must be none.
pub async fn unfinished(db: &Database) -> anyhow::Result<HashMap<String, u64>> {
    let mut by_status = HashMap::new();
    for game in find(db, "games", doc! { "status": { "$ne": "processed" } }).await? {
        let status = game.get_str("status").unwrap_or("(none)").to_owned();
        *by_status.entry(status).or_insert(0) += 1;
    }
    Ok(by_status)
}

/// Stored games whose key no phone was ever answered for: a game the system created
/// that no phone knows about (every phone retries its upload until answered).
pub async fn unacknowledged(db: &Database, uploads: &[Upload]) -> anyhow::Result<Vec<String>> {
    let answered: HashSet<(&str, &str)> = uploads
        .iter()
        .filter(|u| u.game_id().is_some())
        .map(|u| (u.user_id.as_str(), u.key.as_str()))
        .collect();
    let stored = find(db, "games", doc! {}).await?;
    Ok(stored
        .iter()
        .filter_map(|game| {
            let key = (
                game.get_str("user_id").ok()?,
                game.get_str("idempotency_key").ok()?,
            );
            (!answered.contains(&key)).then(|| game.get_str("_id").unwrap_or("?").to_owned())
        })
        .collect())
}

/// The documents of `collection` matching `filter`, with the fields the suite reads.
async fn find(db: &Database, collection: &str, filter: Document) -> anyhow::Result<Vec<Document>> {
    let projection =
        doc! { "_id": 1, "status": 1, "user_id": 1, "idempotency_key": 1, "game_id": 1 };
    Ok(db
        .collection::<Document>(collection)
        .find(filter)
        .projection(projection)
        .await?
        .try_collect()
        .await?)
}

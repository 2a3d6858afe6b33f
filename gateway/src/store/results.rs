//! Reading what `processing-service` writes (`worker/results.rs` there is the writer
//! and the contract): `results`, one document per game (`_id` = game id, `status`,
//! `metrics`, `failure_reason`, `analytics_version`), and `progress`, one per patient
//! and exercise (`_id` = `<user_id>:<exercise>`). The gateway only reads them.

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::{Collection, Database};

#[derive(Debug, Clone)]
pub struct Results {
    results: Collection<Document>,
    progress: Collection<Document>,
}

impl Results {
    pub fn new(db: &Database) -> Self {
        Self {
            results: db.collection("results"),
            progress: db.collection("progress"),
        }
    }

    /// The analysis of a game, if it has been analysed.
    pub async fn result(&self, game_id: &str) -> anyhow::Result<Option<Document>> {
        self.results
            .find_one(doc! { "_id": game_id })
            .projection(doc! {
                "status": 1, "metrics": 1, "failure_reason": 1, "analytics_version": 1,
            })
            .await
            .context("Failed to read a game's result")
    }

    /// A patient's progress on an exercise, if any game of it was analysed.
    pub async fn progress(
        &self,
        user_id: &str,
        exercise: &str,
    ) -> anyhow::Result<Option<Document>> {
        self.progress
            .find_one(doc! { "_id": format!("{user_id}:{exercise}") })
            .await
            .context("Failed to read progress")
    }

    /// Every exercise's progress of a patient, by exercise name.
    pub async fn progress_of_user(&self, user_id: &str) -> anyhow::Result<Vec<Document>> {
        // `_id` is `<user_id>:<exercise>`: a range over the `_id` index (`;` is the
        // character after `:`) finds them without an index of its own.
        self.progress
            .find(doc! { "_id": { "$gt": format!("{user_id}:"), "$lt": format!("{user_id};") } })
            .sort(doc! { "_id": 1 })
            .await
            .context("Failed to query progress")?
            .try_collect()
            .await
            .context("Failed to read progress")
    }
}

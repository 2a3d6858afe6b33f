//! Patients' progress as the change feed holds it: every feed entry whose event
//! carried a progress snapshot stores it with its exercise and revision, top-level
//! in the entry's document, so the newest snapshot per exercise is one indexed read
//! and the gateway never reads processing-service's `progress` collection.
//!
//! Served by the index `{user_id: 1, exercise: 1, progress_revision: -1}`: the
//! patient's exercises (`distinct`) and, per exercise, the entry of the highest
//! revision. Only a cold progress cache reads here ([`crate::feed::progress`]).

use anyhow::Context;
use futures_util::future::try_join_all;
use mongodb::IndexModel;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::options::IndexOptions;
use shared_events::events::ProgressSnapshot;

use super::ChangeFeed;

/// A progress snapshot as a feed entry stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryProgress {
    /// The snapshot's revision (orders the snapshots of one exercise).
    pub revision: i64,
    /// The [`ProgressSnapshot`] as BSON.
    pub snapshot: Document,
}

impl EntryProgress {
    /// Fails on a snapshot MongoDB cannot hold (a revision or count past `i64`).
    pub fn new(snapshot: &ProgressSnapshot) -> anyhow::Result<Self> {
        Ok(Self {
            revision: i64::try_from(snapshot.revision)
                .context("The progress revision does not fit a 64-bit signed integer")?,
            snapshot: bson::to_document(snapshot).context("The progress is not storable")?,
        })
    }
}

/// The index of the progress reads.
pub(super) fn index() -> IndexModel {
    IndexModel::builder()
        .keys(doc! { "user_id": 1, "exercise": 1, "progress_revision": -1 })
        .options(
            IndexOptions::builder()
                .name("progress_by_exercise".to_owned())
                .build(),
        )
        .build()
}

impl ChangeFeed {
    /// The newest progress snapshot of every exercise of the patient in the feed,
    /// with its exercise, by exercise name.
    pub async fn latest_progress_of_user(
        &self,
        user_id: &str,
    ) -> anyhow::Result<Vec<(String, ProgressSnapshot)>> {
        let exercises = self
            .collection
            .distinct(
                "exercise",
                doc! { "user_id": user_id, "progress_revision": { "$exists": true } },
            )
            .await
            .context("Failed to list a patient's exercises in the change feed")?;
        let mut exercises: Vec<String> = exercises
            .into_iter()
            .filter_map(|exercise| match exercise {
                Bson::String(exercise) => Some(exercise),
                _ => None,
            })
            .collect();
        exercises.sort();
        let latest =
            try_join_all(exercises.iter().map(|e| self.latest_progress(user_id, e))).await?;
        Ok(exercises
            .into_iter()
            .zip(latest)
            .filter_map(|(exercise, snapshot)| Some((exercise, snapshot?)))
            .collect())
    }

    /// The newest progress snapshot of the patient on `exercise` in the feed.
    pub async fn latest_progress(
        &self,
        user_id: &str,
        exercise: &str,
    ) -> anyhow::Result<Option<ProgressSnapshot>> {
        let found = self
            .collection
            .find_one(doc! {
                "user_id": user_id,
                "exercise": exercise,
                "progress_revision": { "$exists": true },
            })
            .sort(doc! { "progress_revision": -1 })
            .projection(doc! { "progress": 1 })
            .await
            .context("Failed to read a patient's progress from the change feed")?;
        let Some(snapshot) = found.and_then(|entry| entry.get_document("progress").ok().cloned())
        else {
            return Ok(None);
        };
        bson::from_document(snapshot)
            .map(Some)
            .context("A progress snapshot in the change feed is unreadable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_events::events::MetricProgress;
    use time::macros::datetime;

    #[test]
    fn a_stored_snapshot_reads_back_the_same() {
        let snapshot = ProgressSnapshot {
            revision: 7,
            session_count: 3,
            analytics_version: "2".into(),
            updated_at: datetime!(2026-12-01 10:00:00.123456 UTC),
            metrics: vec![MetricProgress {
                metric: "fingers.index.sparc_mean".into(),
                n_sessions: 3,
                baseline: Some(-1.75),
                latest: Some(-1.5),
                change: Some(0.25),
                pct_change: Some(14.285714285714286),
                slope: Some(0.125),
                intercept: Some(-1.75),
                r_squared: Some(1.0),
                direction: Some("higher_is_better".into()),
                improved: Some(true),
                sem: None,
                mdc95: None,
                real_change: false,
            }],
        };
        let stored = EntryProgress::new(&snapshot).expect("storable");
        assert_eq!(stored.revision, 7);
        let back: ProgressSnapshot = bson::from_document(stored.snapshot).expect("readable");
        assert_eq!(back, snapshot);
    }

    #[test]
    fn a_revision_past_i64_is_refused() {
        let snapshot = ProgressSnapshot {
            revision: u64::MAX,
            session_count: 1,
            analytics_version: "2".into(),
            updated_at: datetime!(2026-12-01 10:00 UTC),
            metrics: Vec::new(),
        };
        assert!(EntryProgress::new(&snapshot).is_err());
    }
}

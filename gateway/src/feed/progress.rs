//! Reading a patient's progress: the Redis cache first, the change feed when the
//! cache is cold or unreadable (a Redis outage slows reads, it does not fail them).
//! What is read from the feed is put back in the cache, best effort.

use crate::feed::progress_cache::{ExerciseProgress, ProgressCache};
use crate::store::ChangeFeed;
use crate::views::ProgressView;

/// The cache and the feed behind it.
#[derive(Debug, Clone)]
pub struct PatientProgress {
    cache: ProgressCache,
    feed: ChangeFeed,
}

impl PatientProgress {
    pub fn new(cache: ProgressCache, feed: ChangeFeed) -> Self {
        Self { cache, feed }
    }

    /// The cache alone, for the writer of new snapshots.
    pub fn cache(&self) -> &ProgressCache {
        &self.cache
    }

    /// The patient's progress on every exercise, by exercise name.
    pub async fn all(&self, user_id: &str) -> anyhow::Result<Vec<ProgressView>> {
        match self.cache.load(user_id).await {
            Ok(Some(all)) => return Ok(all),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "Progress cache unreadable.");
            }
        }
        let all: Vec<ExerciseProgress> = self
            .feed
            .latest_progress_of_user(user_id)
            .await?
            .into_iter()
            .map(|(exercise, snapshot)| ExerciseProgress {
                revision: snapshot.revision,
                progress: ProgressView::new(&exercise, &snapshot),
            })
            .collect();
        if let Err(error) = self.cache.fill(user_id, &all).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "Could not fill the progress cache."
            );
        }
        Ok(all.into_iter().map(|p| p.progress).collect())
    }

    /// The patient's progress on `exercise`, if any game of it was processed.
    pub async fn of_exercise(
        &self,
        user_id: &str,
        exercise: &str,
    ) -> anyhow::Result<Option<ProgressView>> {
        match self.cache.load_exercise(user_id, exercise).await {
            Ok(Some(progress)) => return Ok(Some(progress)),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "Progress cache unreadable.");
            }
        }
        let Some(snapshot) = self.feed.latest_progress(user_id, exercise).await? else {
            return Ok(None);
        };
        let progress = ExerciseProgress {
            revision: snapshot.revision,
            progress: ProgressView::new(exercise, &snapshot),
        };
        if let Err(error) = self.cache.store(user_id, &progress).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "Could not cache a patient's progress."
            );
        }
        Ok(Some(progress.progress))
    }
}

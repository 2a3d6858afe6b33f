//! `reconciliation.ready`: a worker saved a game's analysis; tell the patient.
//!
//! In order, each step idempotent so a redelivery (or a retry after a failure
//! half-way) converges on the same state:
//! 1. mark the game `processed` or `failed` in `games`;
//! 2. append the change, with a snapshot of the game, its metrics and the patient's
//!    progress, to the patient's change feed (a change already there is found, not
//!    added again);
//! 3. refresh the patient's progress in the Redis cache;
//! 4. publish `feed.appended` (confirmed), which every gateway instance relays to the
//!    patient's open sockets. A redelivered event publishes it again; sockets skip a
//!    position they have already sent.
//!
//! The results document, not the event, says what the analysis came to: an event
//! redelivered after a newer analysis must not bring the older outcome back.
//! The leaderboard needs nothing here: it ranks uploaded scores, which the analysis
//! does not change.

use anyhow::Context;
use mongodb::bson::Document;
use serde_json::json;
use shared_events::events::{FeedAppendedV1, GameOutcome, ReconciliationEventV1};
use shared_events::{DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher};

use crate::feed::{ExerciseProgress, ProgressCache};
use crate::store::feed::{Appended, NewEntry};
use crate::store::{ChangeFeed, Games, Results};
use crate::views::{GameView, progress_view};

#[derive(Debug)]
pub struct ApplyReconciliation {
    pub games: Games,
    pub results: Results,
    pub feed: ChangeFeed,
    pub progress_cache: ProgressCache,
    pub publisher: Publisher,
}

impl Handler for ApplyReconciliation {
    async fn handle(&self, envelope: Envelope, _: DeliveryContext) -> Result<(), HandlerError> {
        let Event::ReconciliationV1(event) = &envelope.event else {
            return Err(HandlerError::permanent(anyhow::anyhow!(
                "`{}` does not belong on the reconciliation queue",
                envelope.event.event_type()
            )));
        };
        let applied = self.apply(event).await?;
        let notice = Envelope::caused_by(
            &envelope,
            Event::FeedAppendedV1(FeedAppendedV1 {
                user_id: event.user_id,
                seq: applied.appended.seq(),
                game_id: event.game_id,
                exercise: event.exercise.clone(),
                change: applied.change,
            }),
        );
        // The cache first: a phone that reads /progress on hearing of the change
        // must find it there.
        if let Some(progress) = applied.progress {
            self.cache_progress(&event.user_id.to_string(), &event.exercise, progress)
                .await
                .map_err(HandlerError::transient)?;
        }
        self.publisher
            .publish(&notice)
            .await
            .map_err(HandlerError::transient)?;
        tracing::info!(game_id = %event.game_id, seq = applied.appended.seq(),
            new = matches!(applied.appended, Appended::New(_)), "Reconciliation applied.");
        Ok(())
    }
}

/// What steps 1 and 2 did, and the progress step 3 caches.
struct Applied {
    appended: Appended,
    /// `game.processed` or `game.failed`.
    change: String,
    progress: Option<Document>,
}

impl ApplyReconciliation {
    /// Steps 1 and 2.
    async fn apply(&self, event: &ReconciliationEventV1) -> Result<Applied, HandlerError> {
        let (user_id, game_id) = (event.user_id.to_string(), event.game_id.to_string());
        // The worker wrote both before it published the event: read them together.
        let (result, progress) = tokio::try_join!(
            self.results.result(&game_id),
            self.results.progress(&user_id, &event.exercise),
        )
        .map_err(HandlerError::transient)?;
        let status = status_of(result.as_ref(), event);
        let game = self
            .games
            .mark_analysed(&game_id, &user_id, &status)
            .await
            .map_err(HandlerError::transient)?
            .ok_or_else(|| {
                // Not retryable: the game is not this patient's or does not exist.
                HandlerError::permanent(anyhow::anyhow!(
                    "game {game_id} of user {user_id} is not in the games collection"
                ))
            })?;
        let progress = progress.filter(|_| status == "processed");
        let change = format!("game.{status}");
        let version = result
            .as_ref()
            .and_then(|r| r.get("analytics_version"))
            .map_or_else(|| event.analytics_version.clone(), ToString::to_string);
        let view = GameView::new(game, result.as_ref(), progress.clone());
        let entry = NewEntry {
            user_id,
            game_id: game_id.clone(),
            change: change.clone(),
            dedupe: format!("{game_id}:{status}:{version}"),
            entry: json!({ "type": change, "game": view }),
        };
        let appended = self
            .feed
            .append(&entry)
            .await
            .map_err(HandlerError::transient)?;
        Ok(Applied {
            appended,
            change,
            progress,
        })
    }

    async fn cache_progress(
        &self,
        user_id: &str,
        exercise: &str,
        progress: Document,
    ) -> anyhow::Result<()> {
        let session_count = progress
            .get_i64("session_count")
            .context("A progress document without session_count")?;
        self.progress_cache
            .store(
                user_id,
                &ExerciseProgress {
                    exercise: exercise.to_owned(),
                    session_count,
                    progress: progress_view(progress),
                },
            )
            .await
    }
}

/// `processed` or `failed`: the stored result's status, else the event's outcome.
fn status_of(result: Option<&Document>, event: &ReconciliationEventV1) -> String {
    match result.and_then(|r| r.get_str("status").ok()) {
        Some(status @ ("processed" | "failed")) => status.to_owned(),
        _ => match event.outcome {
            GameOutcome::Processed => "processed".to_owned(),
            GameOutcome::Failed { .. } => "failed".to_owned(),
        },
    }
}

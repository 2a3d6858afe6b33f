//! `reconciliation.ready`: a worker analysed a game (or gave up on it); record it and
//! tell the patient.
//!
//! Everything comes from the event: v2 carries the result and the patient's progress
//! after it, and the gateway never reads processing-service's collections. In
//! order, each step idempotent so a redelivery (or a retry after a failure half-way)
//! converges on the same state:
//! 1. record the analysis on the game in `games`, one conditional update of one
//!    document that lands only if the game holds no newer analysis
//!    ([`crate::store::analyses`]). If it holds a newer one the event is stale:
//!    nothing else happens (no feed entry, no cache write, no notification) and the
//!    message is acked;
//! 2. append the change, a snapshot of the game and of the patient's progress, to the
//!    patient's change feed (a change already there is found, not added again: v2
//!    changes are told apart by `<game>:r<revision>`, and the worker keeps the
//!    revision when a re-analysis gives the same result);
//! 3. store the progress in the Redis cache, which keeps the highest revision;
//! 4. publish `feed.appended` (confirmed), which every gateway instance relays to the
//!    patient's open sockets. A redelivered event publishes it again; sockets skip a
//!    position they have already sent.
//!
//! v1 events (from workers not yet upgraded during a rollout) still apply, as
//! revision 0: the status and the failure reason, no metrics and no progress (the
//! event has neither; such games show them once re-analysed). Their changes are told
//! apart by `<game>:<status>:<analytics version>`.
//! The leaderboard needs nothing here: it ranks uploaded scores, which the analysis
//! does not change.

use anyhow::{Context, anyhow};
use mongodb::bson::{self, Bson, DateTime};
use serde_json::json;
use shared_events::events::{
    FeedAppendedV1, ProgressSnapshot, ReconciliationEventV1, ReconciliationEventV2,
};
use shared_events::{DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher};
use uuid::Uuid;

use crate::feed::{ExerciseProgress, ProgressCache};
use crate::store::analyses::{Analysis, Recorded, StoredProvenance};
use crate::store::feed::{Appended, NewEntry};
use crate::store::progress::EntryProgress;
use crate::store::{ChangeFeed, Games};
use crate::views::{GameView, ProgressView, bson_time};

#[derive(Debug)]
pub struct ApplyReconciliation {
    pub games: Games,
    pub feed: ChangeFeed,
    pub progress_cache: ProgressCache,
    pub publisher: Publisher,
}

/// What an event asks the gateway to record, whichever its version.
struct Reconciliation<'a> {
    user_id: Uuid,
    game_id: Uuid,
    exercise: &'a str,
    analysis: Analysis,
    /// Tells this change apart from every other in the patient's feed.
    dedupe: String,
    progress: Option<(&'a ProgressSnapshot, EntryProgress)>,
}

impl Handler for ApplyReconciliation {
    async fn handle(&self, envelope: Envelope, _: DeliveryContext) -> Result<(), HandlerError> {
        let reconciliation = match &envelope.event {
            Event::ReconciliationV2(event) => from_v2(event).map_err(HandlerError::permanent)?,
            Event::ReconciliationV1(event) => from_v1(event),
            other => {
                return Err(HandlerError::permanent(anyhow!(
                    "`{}` does not belong on the reconciliation queue",
                    other.event_type()
                )));
            }
        };
        let Some(appended) = self.apply(&envelope, &reconciliation).await? else {
            return Ok(());
        };
        tracing::info!(game_id = %reconciliation.game_id, seq = appended.seq(),
            revision = reconciliation.analysis.revision,
            new = matches!(appended, Appended::New(_)), "Reconciliation applied.");
        Ok(())
    }
}

impl ApplyReconciliation {
    /// Steps 1 to 4; `None` for a stale event, which changes nothing.
    async fn apply(
        &self,
        envelope: &Envelope,
        reconciliation: &Reconciliation<'_>,
    ) -> Result<Option<Appended>, HandlerError> {
        let Reconciliation {
            user_id,
            game_id,
            exercise,
            analysis,
            ..
        } = reconciliation;
        let (user, game) = (user_id.to_string(), game_id.to_string());
        let stored = match self
            .games
            .record_analysis(&game, &user, analysis)
            .await
            .map_err(HandlerError::transient)?
        {
            Recorded::Applied(stored) => stored,
            Recorded::Stale { held } => {
                tracing::info!(game_id = %game_id, revision = analysis.revision, held,
                    "A stale reconciliation was ignored: the game holds a newer analysis.");
                return Ok(None);
            }
            // Not retryable: the game is not this patient's or does not exist.
            Recorded::Missing => {
                return Err(HandlerError::permanent(anyhow!(
                    "game {game_id} of user {user_id} is not in the games collection"
                )));
            }
        };
        let progress = reconciliation
            .progress
            .as_ref()
            .map(|(snapshot, _)| (snapshot.revision, ProgressView::new(exercise, snapshot)));
        let change = format!("game.{}", analysis.status);
        let view = GameView::new(*stored, progress.as_ref().map(|(_, view)| view.clone()));
        let entry = NewEntry {
            user_id: user.clone(),
            game_id: game,
            change: change.clone(),
            dedupe: reconciliation.dedupe.clone(),
            exercise: (*exercise).to_owned(),
            entry: json!({ "type": change, "game": view }),
            progress: reconciliation
                .progress
                .as_ref()
                .map(|(_, stored)| stored.clone()),
        };
        let appended = self
            .feed
            .append(&entry)
            .await
            .map_err(HandlerError::transient)?;
        // The cache before the notification: a phone that reads /progress on hearing
        // of the change must find it there.
        if let Some((revision, progress)) = progress {
            self.progress_cache
                .store(&user, &ExerciseProgress { revision, progress })
                .await
                .map_err(HandlerError::transient)?;
        }
        let notice = Envelope::caused_by(
            envelope,
            Event::FeedAppendedV1(FeedAppendedV1 {
                user_id: *user_id,
                seq: appended.seq(),
                game_id: *game_id,
                exercise: (*exercise).to_owned(),
                change,
            }),
        );
        self.publisher
            .publish(&notice)
            .await
            .map_err(HandlerError::transient)?;
        Ok(Some(appended))
    }
}

/// A v2 event: the result and the progress, in full. Fails on values MongoDB cannot
/// hold, before anything is written.
fn from_v2(event: &ReconciliationEventV2) -> anyhow::Result<Reconciliation<'_>> {
    let result = &event.result;
    let metrics = match &result.metrics {
        Some(metrics) => bson::to_bson(metrics).context("The metrics are not storable")?,
        None => Bson::Null,
    };
    let revision = i64::try_from(result.revision)
        .context("The result revision does not fit a 64-bit signed integer")?;
    let progress = match &event.progress {
        Some(snapshot) => Some((snapshot, EntryProgress::new(snapshot)?)),
        None => None,
    };
    Ok(Reconciliation {
        user_id: event.user_id,
        game_id: event.game_id,
        exercise: &event.exercise,
        analysis: Analysis {
            status: result.outcome.status(),
            metrics,
            failure_reason: result.outcome.failure_reason().map(str::to_owned),
            analytics_version: result.analytics_version.clone(),
            analysed_at: bson_time(result.analysed_at),
            revision,
            provenance: Some(StoredProvenance {
                recording_sha256: result.provenance.recording_sha256.clone(),
                source_event_id: result.provenance.source_event_id.to_string(),
            }),
        },
        dedupe: format!("{}:r{}", event.game_id, result.revision),
        progress,
    })
}

/// A v1 event: the outcome only, as revision 0.
fn from_v1(event: &ReconciliationEventV1) -> Reconciliation<'_> {
    let status = event.outcome.status();
    Reconciliation {
        user_id: event.user_id,
        game_id: event.game_id,
        exercise: &event.exercise,
        analysis: Analysis {
            status,
            metrics: Bson::Null,
            failure_reason: event.outcome.failure_reason().map(str::to_owned),
            analytics_version: event.analytics_version.clone(),
            analysed_at: DateTime::now(),
            revision: 0,
            provenance: None,
        },
        dedupe: format!("{}:{status}:{}", event.game_id, event.analytics_version),
        progress: None,
    }
}

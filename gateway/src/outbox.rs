//! Publishing a stored game's ProcessingEvent, and the outbox that publishes games a
//! request left unpublished.
//!
//! `POST /game` stores the game (`published: false`, with a publish claim), publishes
//! its event, waits for the broker's confirm, then sets `published: true`. If the broker
//! is down the request answers 503 and releases its claim; if the process dies between
//! the insert and the confirm, the claim simply lapses. Either way the game stays
//! `published: false`, and the outbox (one task per gateway, polling every
//! `M2M_OUTBOX_INTERVAL_MS`) claims it and publishes it; so does the phone's retry with
//! the same `Idempotency-Key`, whichever comes first.
//!
//! Why this is safe: publishing is at-least-once, never at-most-once. A game is marked
//! published only after the confirm, so no game is lost; a crash after the confirm but
//! before the mark, or a claim that lapses while a slow publish is still in flight,
//! publishes the game twice. That is harmless because the processing worker is
//! idempotent per game (it upserts the result keyed by game id, `processing-service`
//! `worker/results.rs`), and every republication carries the same envelope id (the
//! stored `event_id`), so a duplicate is recognisable. Claims (a lease in the document,
//! taken with one atomic `findOneAndUpdate`) keep several gateways and the request path
//! from publishing the same game at the same moment in the normal case.

use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mongodb::bson::DateTime;
use shared_events::events::{EncodedRecording, ProcessingEventV1};
use shared_events::{Envelope, Event, PublishError};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::uploads::GameRecord;

/// Games the outbox publishes per pass at most; the rest wait for the next pass.
const BATCH: i64 = 100;

/// Why a stored game's event was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishGameError {
    #[error(transparent)]
    Broker(#[from] PublishError),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// How long a publisher's claim on a game holds: long enough for a connect and a
/// confirm, each bounded by `M2M_AMQP_TIMEOUT_MS`, with a margin.
pub fn publish_lease(state: &AppState) -> Duration {
    state.bus.settings().timeout * 2 + Duration::from_secs(5)
}

/// Publishes the event of `game`, whose claim the caller holds, waits for the confirm
/// and marks the game published. `recording` saves re-encoding when the caller has
/// it. On a broker failure the claim is released, so a retry can go at once.
pub async fn publish_claimed(
    state: &AppState,
    game: &GameRecord,
    recording: Option<EncodedRecording>,
) -> Result<(), PublishGameError> {
    let recording = match recording {
        Some(recording) => recording,
        None => stored_recording(state, &game.id).await?,
    };
    let envelope = envelope_of(game, recording)?;
    if let Err(error) = state.publisher.publish(&envelope).await {
        if let Err(release) = state.games.release_claim(&game.id).await {
            tracing::warn!(error = format!("{release:#}"), game_id = %game.id,
                "Failed to release a publish claim; it lapses on its own");
        }
        return Err(error.into());
    }
    state.games.mark_published(&game.id).await?;
    tracing::info!(game_id = %game.id, event_id = %envelope.id,
        correlation_id = %envelope.correlation_id, "Published the game's ProcessingEvent");
    Ok(())
}

/// The stored recording of a game, as the event carries it.
async fn stored_recording(state: &AppState, game_id: &str) -> anyhow::Result<EncodedRecording> {
    let stored = state
        .games
        .find_recording(game_id)
        .await?
        .with_context(|| format!("The recording of game {game_id} is missing"))?;
    Ok(EncodedRecording {
        content_type: stored.content_type,
        content_encoding: stored.content_encoding,
        data: BASE64.encode(&stored.data.bytes),
    })
}

/// The ProcessingEvent of a stored game. Its ids come from the document, so every
/// publication of one game is the same event.
fn envelope_of(game: &GameRecord, recording: EncodedRecording) -> anyhow::Result<Envelope> {
    let uuid = |text: &str, what: &str| {
        Uuid::parse_str(text).with_context(|| format!("The stored {what} is not a UUID"))
    };
    let event = ProcessingEventV1 {
        user_id: uuid(&game.user_id, "user id")?,
        game_id: uuid(&game.id, "game id")?,
        exercise: game.exercise.clone(),
        score: game.score,
        started_at: to_offset(game.started_at)?,
        ended_at: to_offset(game.ended_at)?,
        recording,
    };
    Ok(Envelope {
        id: uuid(&game.event_id, "event id")?,
        occurred_at: to_offset(game.created_at)?,
        correlation_id: uuid(&game.correlation_id, "correlation id")?,
        causation_id: None,
        event: Event::ProcessingV1(event),
    })
}

pub fn to_offset(time: DateTime) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(time.timestamp_millis()) * 1_000_000)
        .context("A stored time is out of range")
}

/// Runs the outbox until `stop` is cancelled; the returned task ends soon after.
pub fn spawn(state: AppState, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if let Err(error) = publish_pending(&state, &stop).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "The outbox pass failed; it tries again on the next one"
                );
            }
        }
    })
}

/// One pass: claims and publishes every unpublished game nobody holds. Stops at the
/// first broker failure (the others would fail the same way).
async fn publish_pending(state: &AppState, stop: &CancellationToken) -> anyhow::Result<()> {
    let lease = publish_lease(state);
    for game_id in state.games.unclaimed_unpublished(BATCH).await? {
        if stop.is_cancelled() {
            break;
        }
        let Some(game) = state.games.claim_publish(&game_id, lease).await? else {
            continue; // published or claimed by someone else meanwhile
        };
        tracing::info!(game_id = %game.id, "The outbox publishes a game left unpublished");
        publish_claimed(state, &game, None)
            .await
            .map_err(|error| anyhow::anyhow!(error))
            .context("Failed to publish a game from the outbox")?;
    }
    Ok(())
}

//! Publishing stored games' ProcessingEvents: the relay for new uploads and the
//! sweep for whatever it left.
//!
//! `POST /game` answers `202` as soon as the game and its recording are stored
//! (`published: false`, with a publish claim), whether or not the broker is up. Then:
//! - the **relay** ([`relay`]), a task per gateway, publishes the new game with the
//!   recording still in memory, waits for the confirm and marks games published in
//!   batches (one command for many games: nothing waits for the mark but the sweep);
//! - the **sweep** ([`sweep`]), a task per gateway polling every
//!   `M2M_OUTBOX_INTERVAL_MS`, claims the games whose claim lapsed unpublished (the
//!   broker was down, the relay was full, the gateway died) and publishes them from
//!   the store, batch after batch until none is left, so a backlog after a long
//!   outage drains at the store's pace while the relay keeps serving new uploads.
//!
//! While the relay sees the broker failing ([`BrokerState`]), new games are stored
//! without a claim and left to the sweep, so an outage costs no connection attempt
//! per upload.
//!
//! Why this is safe: publishing is at-least-once, never at-most-once. A game is marked
//! published only after the confirm, so no game is lost; a crash after the confirm but
//! before the mark, or a claim that lapses while a slow publish is still in flight,
//! publishes the game twice. That is harmless because the processing worker is
//! idempotent per game, and every republication carries the same envelope id (the
//! stored `event_id`), so a duplicate is recognisable. Claims (a lease in the document,
//! taken with one atomic `findOneAndUpdate`) keep several gateways from publishing the
//! same game at the same moment in the normal case.

pub mod relay;
pub mod sweep;

use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mongodb::bson::DateTime;
use shared_events::events::{EncodedRecording, ProcessingEventV1};
use shared_events::{Envelope, Event, PublishError};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;
use tracing::Instrument as _;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use uuid::Uuid;

use shared_events::Publisher;

use crate::store::Games;
use crate::store::uploads::GameRecord;

/// How long after a failed publish new uploads are left to the sweep.
const BROKER_DOWN_FOR: Duration = Duration::from_secs(5);

/// Whether publishing has been failing: shared by the relay (which sets and reads
/// it) and the sweep (whose successes clear it).
#[derive(Debug, Clone, Default)]
pub struct BrokerState {
    /// Unix milliseconds of the last failed publish; 0 after a success.
    failed_at_ms: Arc<AtomicI64>,
}

impl BrokerState {
    pub fn failed(&self) {
        self.failed_at_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn succeeded(&self) {
        self.failed_at_ms.store(0, Ordering::Relaxed);
    }

    /// A publish failed within [`BROKER_DOWN_FOR`] and none succeeded since.
    pub fn is_down(&self) -> bool {
        let failed = self.failed_at_ms.load(Ordering::Relaxed);
        failed != 0 && now_ms() - failed < BROKER_DOWN_FOR.as_millis() as i64
    }
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The outbox's series: `m2m_outbox_backlog` (stored games waiting to be
/// published, as of the sweep's last pass) and `m2m_outbox_published_total{path}`
/// (`relay` or `sweep`).
#[derive(Debug, Clone, Default)]
pub struct OutboxMetrics {
    pub backlog: Gauge,
    published: Family<PathLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: &'static str,
}

impl OutboxMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "outbox_backlog",
            "Stored games whose event is not yet published, as of the last sweep",
            metrics.backlog.clone(),
        );
        registry.register(
            "outbox_published",
            "Game events published, by path (relay: at upload; sweep: later)",
            metrics.published.clone(),
        );
        metrics
    }

    fn published(&self, path: &'static str) {
        self.published.get_or_create(&PathLabels { path }).inc();
    }
}

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
pub fn publish_lease(amqp_timeout: Duration) -> Duration {
    amqp_timeout * 2 + Duration::from_secs(5)
}

/// What publishing needs: the publisher, the games, and the shared broker state.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub publisher: Publisher,
    pub games: Games,
    pub broker: BrokerState,
    pub metrics: OutboxMetrics,
    /// The claim a publisher takes (see [`publish_lease`]).
    pub lease: Duration,
}

impl Outbox {
    /// Publishes the event of `game` (whose claim the caller holds) and waits for
    /// the confirm. On a broker failure the claim is released, so the sweep can take
    /// the game at once when the broker is back.
    async fn publish(
        &self,
        game: &GameRecord,
        recording: EncodedRecording,
        path: &'static str,
    ) -> Result<(), PublishGameError> {
        let envelope = envelope_of(game, recording)?;
        // Outside any request: the span carries the game's correlation id, so its
        // lines join the rest of the game's path.
        let span = tracing::info_span!("publish", correlation_id = %envelope.correlation_id,
            game_id = %game.id, path);
        self.publish_envelope(game, &envelope, path)
            .instrument(span)
            .await
    }

    async fn publish_envelope(
        &self,
        game: &GameRecord,
        envelope: &Envelope,
        path: &'static str,
    ) -> Result<(), PublishGameError> {
        if let Err(error) = self.publisher.publish(envelope).await {
            self.broker.failed();
            if let Err(release) = self.games.release_claim(&game.id).await {
                tracing::warn!(error = format!("{release:#}"), game_id = %game.id,
                    "Failed to release a publish claim; it lapses on its own");
            }
            return Err(error.into());
        }
        self.broker.succeeded();
        self.metrics.published(path);
        tracing::info!(event_id = %envelope.id, "Published the game's ProcessingEvent");
        Ok(())
    }
}

/// The stored recording of a game, as the event carries it.
async fn stored_recording(games: &Games, game_id: &str) -> anyhow::Result<EncodedRecording> {
    let stored = games
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

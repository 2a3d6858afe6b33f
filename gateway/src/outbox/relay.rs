//! The relay: publishes each new upload's event right after the `202`, with the
//! recording still in memory, and marks what the broker confirmed in batches.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use shared_events::events::EncodedRecording;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::Outbox;
use crate::store::uploads::GameRecord;

/// New games waiting for the relay; past this the sweep publishes them.
const CAPACITY: usize = 1024;
/// Publishes awaiting their confirm at once (the publisher pipelines them).
const IN_FLIGHT: usize = 64;
/// Confirmed games marked in one command at most, and how long a mark may wait.
const MARK_BATCH: usize = 128;
const MARK_EVERY: Duration = Duration::from_millis(250);

/// A stored game with its claim held by this gateway, and its recording.
#[derive(Debug)]
pub struct NewGame {
    pub game: GameRecord,
    pub recording: EncodedRecording,
}

/// The handle the upload route offers new games to.
#[derive(Debug, Clone)]
pub struct Relay {
    sender: mpsc::Sender<NewGame>,
    /// Taken by [`Relay::spawn`].
    receiver: Arc<Mutex<Option<mpsc::Receiver<NewGame>>>>,
}

impl Default for Relay {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        Self {
            sender,
            receiver: Arc::new(Mutex::new(Some(receiver))),
        }
    }
}

impl Relay {
    /// Hands `game` to the relay. A full relay (or one stopping) leaves it to the
    /// sweep once its claim lapses: the game is stored either way.
    pub fn offer(&self, game: NewGame) {
        if let Err(error) = self.sender.try_send(game) {
            tracing::warn!(reason = %error, "The relay is busy; the outbox sweep publishes the game");
        }
    }

    /// Runs the relay until `stop`, then finishes the publishes in flight and marks
    /// them. `None` if it was spawned already.
    pub fn spawn(&self, outbox: Outbox, stop: CancellationToken) -> Option<JoinHandle<()>> {
        let receiver = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(tokio::spawn(run(outbox, receiver, stop)))
    }
}

async fn run(outbox: Outbox, mut receiver: mpsc::Receiver<NewGame>, stop: CancellationToken) {
    let mut in_flight: JoinSet<Option<String>> = JoinSet::new();
    let mut confirmed: Vec<String> = Vec::new();
    let mut tick = tokio::time::interval(MARK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(Some(game_id)) = done {
                    confirmed.push(game_id);
                }
                if confirmed.len() >= MARK_BATCH {
                    mark(&outbox, &mut confirmed).await;
                }
            }
            next = receiver.recv(), if in_flight.len() < IN_FLIGHT => {
                let Some(NewGame { game, recording }) = next else { break };
                let outbox = outbox.clone();
                in_flight.spawn(async move {
                    match outbox.publish(&game, recording, "relay").await {
                        Ok(()) => Some(game.id),
                        Err(error) => {
                            tracing::warn!(%error, game_id = %game.id,
                                "The relay could not publish a game; the sweep will");
                            None
                        }
                    }
                });
            }
            _ = tick.tick() => mark(&outbox, &mut confirmed).await,
        }
    }
    // Stopping: what is in flight finishes (each publish is bounded by the broker
    // timeout), then its marks are written; games still queued are the sweep's.
    while let Some(done) = in_flight.join_next().await {
        if let Ok(Some(game_id)) = done {
            confirmed.push(game_id);
        }
    }
    mark(&outbox, &mut confirmed).await;
}

/// Marks `confirmed` published in one command. A failure only means the sweep
/// publishes those games again once their claims lapse (harmless, see the module doc).
async fn mark(outbox: &Outbox, confirmed: &mut Vec<String>) {
    if confirmed.is_empty() {
        return;
    }
    if let Err(error) = outbox.games.mark_published_many(confirmed).await {
        tracing::warn!(
            error = format!("{error:#}"),
            games = confirmed.len(),
            "Failed to mark published games; the sweep may publish them again"
        );
    }
    confirmed.clear();
}

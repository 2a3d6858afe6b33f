//! The sweep: publishes the stored games nobody is publishing (their claim lapsed or
//! was never taken), and reports the backlog.

use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Outbox, stored_recording};

/// Games claimed per query; the sweep goes on to the next batch at once while there
/// are more, so a backlog drains without waiting a period per batch.
const BATCH: i64 = 100;

/// Runs the sweep every `interval` until `stop` is cancelled.
pub fn spawn(outbox: Outbox, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            match outbox.games.count_unpublished().await {
                Ok(backlog) => {
                    outbox
                        .metrics
                        .backlog
                        .set(i64::try_from(backlog).unwrap_or(i64::MAX));
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "Failed to count the outbox")
                }
            }
            if let Err(error) = publish_pending(&outbox, &stop).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "The outbox sweep stopped; it tries again on the next pass"
                );
            }
        }
    })
}

/// Claims and publishes unclaimed unpublished games, batch after batch, until none
/// is left. Stops at the first broker failure (the others would fail the same way).
async fn publish_pending(outbox: &Outbox, stop: &CancellationToken) -> anyhow::Result<()> {
    loop {
        let pending = outbox.games.unclaimed_unpublished(BATCH).await?;
        let full = pending.len() as i64 == BATCH;
        for game_id in pending {
            if stop.is_cancelled() {
                return Ok(());
            }
            let Some(game) = outbox.games.claim_publish(&game_id, outbox.lease).await? else {
                continue; // published or claimed by someone else meanwhile
            };
            let recording = stored_recording(&outbox.games, &game.id).await?;
            outbox
                .publish(&game, recording, "sweep")
                .await
                .map_err(|error| anyhow::anyhow!(error))
                .context("Failed to publish a game from the outbox")?;
            outbox.games.mark_published(&game.id).await?;
        }
        if !full {
            return Ok(());
        }
        // Let new uploads' work run between batches.
        tokio::task::yield_now().await;
    }
}

//! `events dlq purge --yes`: delete every dead letter.

use anyhow::{Context as _, bail};
use shared_events::Bus;
use shared_events::lapin::options::QueuePurgeOptions;

use crate::cli::DlqPurgeArgs;
use crate::{broker, out};

pub async fn run(bus: &Bus, args: DlqPurgeArgs) -> anyhow::Result<()> {
    let queue = bus.topology().dead_letter_queue();
    let connection = broker::connect(bus, "dlq purge").await?;
    let Some(stat) = broker::queue_stat(&connection, &queue).await? else {
        broker::close(connection).await;
        bail!("Queue `{queue}` does not exist: is M2M_BUS_PREFIX right?");
    };
    if !args.yes {
        broker::close(connection).await;
        bail!(
            "Refusing to delete the {} dead letters of `{queue}` without --yes \
             (`events dlq list` shows them; `redrive` retries them)",
            stat.ready
        );
    }
    let channel = connection
        .create_channel()
        .await
        .context("Failed to open a channel")?;
    let purged = channel
        .queue_purge(queue.as_str().into(), QueuePurgeOptions::default())
        .await
        .with_context(|| format!("Failed to purge `{queue}`"));
    broker::close(connection).await;
    out::line(&format!("Purged {} dead letters from `{queue}`.", purged?))
        .context("Failed to write to stdout")
}

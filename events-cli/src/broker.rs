//! Reaching the broker the way every m2m process does, with errors an operator
//! can act on.
//!
//! The CLI never declares topology on a queue it only inspects: a mistyped
//! `M2M_BUS_PREFIX` must say "no such queue", not quietly create an empty stack
//! beside the real one. Commands check with passive declares first
//! ([`require_queue`]); the shared-events readers they then use declare the
//! (by then known to exist) topology idempotently.

use anyhow::{Context as _, bail};
use shared_events::lapin::Connection;
use shared_events::settings::redact_url;
use shared_events::{Bus, BusSettings};

pub use shared_events::inspect::{QueueStat, is_not_found};

/// The bus the environment describes (`M2M_AMQP_URL`, `M2M_BUS_PREFIX`, ...).
pub fn bus_from_env() -> anyhow::Result<Bus> {
    let settings = BusSettings::from_env().context("Failed to read the bus settings")?;
    Ok(Bus::new(settings))
}

/// One connection, named `events <purpose>` in the broker's connection list.
pub async fn connect(bus: &Bus, purpose: &str) -> anyhow::Result<Connection> {
    bus.connect(&format!("events {purpose}"))
        .await
        .with_context(|| {
            format!(
                "Failed to connect to the broker at {} (is RabbitMQ running? M2M_AMQP_URL)",
                redact_url(&bus.settings().url)
            )
        })
}

/// The queue's depth and consumers, or `None` if it does not exist.
pub async fn queue_stat(connection: &Connection, queue: &str) -> anyhow::Result<Option<QueueStat>> {
    shared_events::inspect::queue_stat(connection, queue)
        .await
        .with_context(|| format!("Failed to look up queue `{queue}`"))
}

/// Fails with a clear message if `queue` does not exist.
pub async fn require_queue(bus: &Bus, connection: &Connection, queue: &str) -> anyhow::Result<()> {
    if queue_stat(connection, queue).await?.is_none() {
        bail!(
            "Queue `{queue}` does not exist: is M2M_BUS_PREFIX={} right, and has a service \
             declared the bus (they do at start)?",
            bus.settings().prefix
        );
    }
    Ok(())
}

/// Closes a connection we are done with; a failure to close changes nothing.
pub async fn close(connection: Connection) {
    let close = connection.close(200, "events done".into());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
}

//! `GET /admin/api/queues`: each work queue, its retry queue and the dead-letter
//! queue, with ready messages, consumers and the depth's change per second.
//!
//! Depths come from passive declares (ready messages only: those delivered and
//! awaiting an ack are not counted), on one connection kept between polls and
//! replaced when it dies. A queue that does not exist shows as missing, and is
//! never created from here.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Json;
use serde::Serialize;
use shared_events::inspect::queue_stat;
use shared_events::lapin::Connection;
use shared_events::{QueueRole, WorkQueue};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Dashboard;
use super::access::{AdminError, Operator};

#[derive(Debug, Serialize)]
pub struct Queues {
    prefix: String,
    /// When the depths were read, RFC 3339.
    at: String,
    queues: Vec<QueueRow>,
}

#[derive(Debug, Serialize)]
struct QueueRow {
    name: String,
    /// `work`, `retry` or `dead_letters`.
    role: &'static str,
    /// The work queue's short name (`processing`...), for work and retry queues.
    work_queue: Option<String>,
    exists: bool,
    ready: Option<u32>,
    consumers: Option<u32>,
    /// Change of `ready` per second since an earlier poll (positive: growing).
    change_per_sec: Option<f64>,
}

/// Every queue the dashboard shows, in display order: `(name, role, work queue)`.
pub fn watched(dashboard: &Dashboard) -> Vec<(String, &'static str, Option<String>)> {
    let topology = dashboard.bus.topology();
    let short = |queue: WorkQueue| {
        let name = topology.queue(queue);
        name.strip_prefix(&format!("{}.", topology.prefix()))
            .unwrap_or(&name)
            .to_owned()
    };
    topology
        .message_queues()
        .into_iter()
        .map(|(name, role)| match role {
            QueueRole::Work(queue) => (name, "work", Some(short(queue))),
            QueueRole::Retry(queue) => (name, "retry", Some(short(queue))),
            QueueRole::DeadLetters => (name, "dead_letters", None),
        })
        .collect()
}

pub async fn queues(Operator(dashboard): Operator) -> Result<Json<Queues>, AdminError> {
    let mut inspector = dashboard.inspector.lock().await;
    // Bounded: a half-dead connection must not hold the lock for every poll. The
    // connection is out of `inspector` while in use, so one that timed out is
    // dropped and the next poll connects afresh.
    let deadline = dashboard.bus.settings().timeout * 2;
    let stats = tokio::time::timeout(deadline, read(&dashboard, &mut inspector))
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "the broker did not answer within {deadline:?}"
            ))
        })
        .map_err(AdminError::unavailable)?;
    drop(inspector);
    let now = Instant::now();
    let mut rates = dashboard
        .rates
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let queues = watched(&dashboard)
        .into_iter()
        .zip(stats)
        .map(|((name, role, work_queue), stat)| QueueRow {
            change_per_sec: stat.and_then(|s| rates.observe(&name, s.ready, now)),
            exists: stat.is_some(),
            ready: stat.map(|s| s.ready),
            consumers: stat.map(|s| s.consumers),
            name,
            role,
            work_queue,
        })
        .collect();
    Ok(Json(Queues {
        prefix: dashboard.bus.settings().prefix.clone(),
        at: OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default(),
        queues,
    }))
}

/// Reads every watched queue; on failure forgets the connection, so the next
/// poll starts afresh.
async fn read(
    dashboard: &Dashboard,
    inspector: &mut Option<Connection>,
) -> anyhow::Result<Vec<Option<shared_events::inspect::QueueStat>>> {
    let connection = match inspector.take() {
        Some(connection) if connection.status().connected() => connection,
        _ => dashboard
            .bus
            .connect("gateway admin inspector")
            .await
            .context("Failed to connect to the broker")?,
    };
    let mut stats = Vec::new();
    for (name, _, _) in watched(dashboard) {
        match queue_stat(&connection, &name).await {
            Ok(stat) => stats.push(stat),
            Err(error) => {
                let close = connection.close(200, "inspection failed".into());
                let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
                return Err(error).with_context(|| format!("Failed to look up queue `{name}`"));
            }
        }
    }
    *inspector = Some(connection);
    Ok(stats)
}

//! [`QueuePoller`]: queue depths and consumer counts, read every few seconds.
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `m2m_queue_messages` | `queue` | messages ready in the queue (not those delivered and unacked) |
//! | `m2m_queue_consumers` | `queue` | consumers attached |
//! | `m2m_queue_poll_failures_total` | | polls that could not read the broker (the gauges are then cleared, never left stale) |
//!
//! The queues are the work queues, their retry queues and the dead-letter queue
//! (the history stream's depth means nothing). One poller per deployment is
//! enough; the gateway runs it (`M2M_QUEUE_POLL_MS`), so its `/metrics`, and
//! the dashboard beside it, have the depths.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use shared_events::BusError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use shared_events::inspect::QueueStat;

use crate::broker_probe::BrokerProbe;
use crate::metrics::Metrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

/// Polls the queues of one stack into gauges. Clones share the gauges.
#[derive(Debug, Clone)]
pub struct QueuePoller {
    probe: Arc<BrokerProbe>,
    interval: Duration,
    queues: Vec<String>,
    messages: Family<QueueLabels, Gauge>,
    consumers: Family<QueueLabels, Gauge>,
    failures: Counter,
}

impl QueuePoller {
    /// Registers the gauges in `metrics` and prepares to poll `probe`'s stack
    /// every `interval`.
    pub fn register(metrics: &mut Metrics, probe: Arc<BrokerProbe>, interval: Duration) -> Self {
        let queues = probe
            .bus()
            .topology()
            .message_queues()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let poller = Self {
            probe,
            interval,
            queues,
            messages: Family::default(),
            consumers: Family::default(),
            failures: Counter::default(),
        };
        let registry = metrics.registry_mut();
        registry.register(
            "queue_messages",
            "Messages ready in each queue (read by passive declare)",
            poller.messages.clone(),
        );
        registry.register(
            "queue_consumers",
            "Consumers attached to each queue",
            poller.consumers.clone(),
        );
        registry.register(
            "queue_poll_failures",
            "Queue polls that could not read the broker",
            poller.failures.clone(),
        );
        poller
    }

    /// Reads every queue once and updates the gauges; on failure clears them
    /// (a gap in the graph, rather than a stale flat line) and counts it.
    pub async fn poll_once(&self) -> Result<(), BusError> {
        let mut stats: Vec<(&str, QueueStat)> = Vec::with_capacity(self.queues.len());
        for queue in &self.queues {
            match self.probe.queue_stat(queue).await {
                Ok(stat) => stats.push((queue, stat)),
                Err(error) => {
                    self.messages.clear();
                    self.consumers.clear();
                    self.failures.inc();
                    return Err(error);
                }
            }
        }
        for (queue, stat) in stats {
            let labels = QueueLabels {
                queue: queue.to_owned(),
            };
            self.messages
                .get_or_create(&labels)
                .set(i64::from(stat.ready));
            self.consumers
                .get_or_create(&labels)
                .set(i64::from(stat.consumers));
        }
        Ok(())
    }

    /// Polls every `interval` until `stop` is cancelled.
    pub fn spawn(self, stop: CancellationToken) -> JoinHandle<()> {
        let interval = self.interval;
        tokio::spawn(async move {
            let mut warned = false;
            loop {
                match self.poll_once().await {
                    Ok(()) => warned = false,
                    // Once per outage: readiness already reports the broker down.
                    Err(error) if !warned => {
                        tracing::warn!(%error, "Could not read the queue depths.");
                        warned = true;
                    }
                    Err(_) => {}
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}

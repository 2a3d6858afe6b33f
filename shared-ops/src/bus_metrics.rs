//! [`BusMetrics`]: what publishers and consumer runners do, as series.
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `m2m_events_published_total` | `event_type`, `result` (`confirmed`, `failed`) | events this process published |
//! | `m2m_events_consumed_total` | `queue`, `event_type`, `outcome` | deliveries settled: `handled`, `retried` (transient failure, waits in the retry queue), `dead_lettered`, `requeued` (the copy could not be published) |
//! | `m2m_event_handling_seconds` | `queue`, `event_type` | time in the handler, whatever the outcome |
//! | `m2m_broker_reconnects_total` | `connection` | a runner or publisher lost its connection and reconnected |

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use shared_events::{BusObserver, Settled};

use crate::metrics::{HistogramFn, latency_histogram};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PublishedLabels {
    event_type: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumedLabels {
    queue: String,
    event_type: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlingLabels {
    queue: String,
    event_type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    connection: String,
}

/// The bus series of one process; registered once by [`crate::Metrics::new`].
#[derive(Debug)]
pub struct BusMetrics {
    published: Family<PublishedLabels, Counter>,
    consumed: Family<ConsumedLabels, Counter>,
    handling: Family<HandlingLabels, prometheus_client::metrics::histogram::Histogram, HistogramFn>,
    reconnects: Family<ConnectionLabels, Counter>,
}

impl BusMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            published: Family::default(),
            consumed: Family::default(),
            handling: Family::new_with_constructor(latency_histogram as HistogramFn),
            reconnects: Family::default(),
        };
        registry.register(
            "events_published",
            "Events published, by type and whether the broker confirmed them",
            metrics.published.clone(),
        );
        registry.register(
            "events_consumed",
            "Deliveries settled, by queue, event type and outcome (handled, retried, dead_lettered, requeued)",
            metrics.consumed.clone(),
        );
        registry.register(
            "event_handling_seconds",
            "Time spent in the event handler, by queue and event type",
            metrics.handling.clone(),
        );
        registry.register(
            "broker_reconnects",
            "Broker connections lost and re-established, by connection name",
            metrics.reconnects.clone(),
        );
        metrics
    }
}

impl BusObserver for BusMetrics {
    fn published(&self, event_type: &str, confirmed: bool) {
        let labels = PublishedLabels {
            event_type: event_type.to_owned(),
            result: if confirmed { "confirmed" } else { "failed" },
        };
        self.published.get_or_create(&labels).inc();
    }

    fn settled(&self, queue: &str, event_type: &str, outcome: Settled, handling: Duration) {
        let labels = ConsumedLabels {
            queue: queue.to_owned(),
            event_type: event_type.to_owned(),
            outcome: outcome.as_str(),
        };
        self.consumed.get_or_create(&labels).inc();
        let labels = HandlingLabels {
            queue: queue.to_owned(),
            event_type: event_type.to_owned(),
        };
        self.handling
            .get_or_create(&labels)
            .observe(handling.as_secs_f64());
    }

    fn reconnected(&self, connection: &str) {
        let labels = ConnectionLabels {
            connection: connection.to_owned(),
        };
        self.reconnects.get_or_create(&labels).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metrics;

    #[test]
    fn what_the_bus_reports_shows_up_as_labelled_series() {
        let metrics = Metrics::new();
        let observer = metrics.bus_observer();
        observer.published("processing.requested", true);
        observer.settled(
            "m2m.processing",
            "processing.requested",
            Settled::Retried,
            Duration::from_millis(30),
        );
        observer.reconnected("consumer m2m.processing");
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains(
                r#"m2m_events_published_total{event_type="processing.requested",result="confirmed"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"m2m_events_consumed_total{queue="m2m.processing",event_type="processing.requested",outcome="retried"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"m2m_event_handling_seconds_bucket{le="0.05",queue="m2m.processing",event_type="processing.requested"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"m2m_broker_reconnects_total{connection="consumer m2m.processing"} 1"#),
            "{text}"
        );
    }
}

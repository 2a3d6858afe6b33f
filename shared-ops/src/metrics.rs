//! [`Metrics`]: one registry per process, encoded for Prometheus on `/metrics`.
//!
//! Each process builds its own registry (no global recorder), so several
//! gateways or workers in one test process keep their numbers apart. Every
//! series is named `m2m_...`; `docs/OPERATIONS.md` says what each one means.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use shared_events::BusObserver;

use crate::bus_metrics::BusMetrics;

/// The content type of [`Metrics::encode`]'s output: the OpenMetrics text format,
/// which Prometheus scrapes natively (counters end in `_total`, the body in `# EOF`).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds, in seconds, of the latency histograms: HTTP requests (a
/// millisecond for a read, seconds for a large upload) and event handling (a
/// timer that is already done, a minute for a long recording).
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A histogram with [`LATENCY_BUCKETS`]; a plain `fn` so families can name its type.
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The constructor type of a histogram family (`Family<L, Histogram, HistogramFn>`).
pub type HistogramFn = fn() -> Histogram;

/// A process's metrics: its registry, with the bus metrics every process has.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    bus: Arc<BusMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("m2m");
        let bus = Arc::new(BusMetrics::register(&mut registry));
        Self { registry, bus }
    }

    /// Where a service registers its own series (before serving them).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// What to hand to [`shared_events::Bus::observed_by`].
    pub fn bus_observer(&self) -> Arc<dyn BusObserver> {
        Arc::clone(&self.bus) as Arc<dyn BusObserver>
    }

    /// Every series, in the text format of [`CONTENT_TYPE`].
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

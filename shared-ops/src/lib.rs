//! What every m2m process shows its operators: Prometheus metrics, liveness and
//! readiness, and the small HTTP server the workers serve them on.
//!
//! Why a crate of its own: the gateway and both workers need the same registry,
//! the same readiness checks and the same endpoints, and none of that belongs in
//! `shared-events` (the event contract, also used by the `events` tool, which
//! needs no HTTP server) or in `shared-store` (persistence plumbing, which must
//! not know about the bus). Depending on both, this crate sits above them.
//!
//! # Layout
//! - [`settings`]: `M2M_OPS_ADDR`, `M2M_SHUTDOWN_DEADLINE_MS`, `M2M_READY_TIMEOUT_MS`,
//!   `M2M_QUEUE_POLL_MS`.
//! - [`metrics`]: [`Metrics`], the process's registry (every name starts `m2m_`),
//!   with the bus metrics every process has.
//! - [`bus_metrics`]: [`BusMetrics`], the [`shared_events::BusObserver`] that turns
//!   what publishers and consumer runners do into counters and histograms.
//! - [`broker_probe`]: [`BrokerProbe`], one small broker connection for checking
//!   the broker and reading queue depths (passive declares only).
//! - [`readiness`]: [`Readiness`]: the broker, MongoDB and Redis, each checked
//!   for real under a timeout, and the JSON `/readyz` answers.
//! - [`queues`]: [`QueuePoller`], queue depths and consumer counts as gauges.
//! - [`server`]: [`Ops`], the `/healthz`, `/readyz` and `/metrics` routes, and
//!   [`OpsServer`], the workers' own HTTP server for them.
//!
//! The crate also builds `m2m-probe`, a dependency-free HTTP check for container
//! health checks (the runtime image has no curl).

pub mod broker_probe;
pub mod bus_metrics;
pub mod metrics;
pub mod queues;
pub mod readiness;
pub mod server;
pub mod settings;

pub use broker_probe::BrokerProbe;
pub use bus_metrics::BusMetrics;
pub use metrics::Metrics;
pub use queues::QueuePoller;
pub use readiness::{Dependency, Readiness, ReadinessReport};
pub use server::{Ops, OpsHandle, OpsServer};
pub use settings::OpsSettings;

/// The metrics library, so services register their own series with the same
/// version.
pub use prometheus_client;

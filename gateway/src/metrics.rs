//! The gateway's operations: its series, readiness, and the queue poller.
//!
//! Beside the bus series every process has (`shared_ops`), the gateway exports:
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `m2m_http_requests_total` | `method`, `route`, `status` | requests answered; `route` is the matched pattern (`/games/{id}`), `unmatched` for 404s, so ids never become labels |
//! | `m2m_http_request_duration_seconds` | `method`, `route`, `status` | time to the response head |
//! | `m2m_logins_total` | `outcome` | `POST /login` answers: `success`, `bad_credentials`, `rate_limited`, `unavailable` (hashing pool full or broker/store down), `invalid_request`, `error` |
//!
//! and, from the queue poller it runs (`M2M_QUEUE_POLL_MS`), `m2m_queue_messages`
//! and `m2m_queue_consumers`; from the outbox, `m2m_outbox_backlog` and
//! `m2m_outbox_published_total{path}`. `/readyz` checks the broker, MongoDB and
//! Redis; without the broker it answers `200` `degraded` (uploads are still taken).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use shared_events::Bus;
use shared_ops::metrics::{HistogramFn, latency_histogram};
use shared_ops::{BrokerProbe, Dependency, Metrics, Ops, QueuePoller, Readiness};

use crate::config::Settings;
use crate::error::ApiError;
use crate::state::AppState;

/// Everything operational the gateway holds: cheap to clone.
#[derive(Debug, Clone)]
pub struct GatewayOps {
    /// `/healthz`, `/readyz`, `/metrics`.
    pub ops: Ops,
    pub metrics: Arc<GatewayMetrics>,
    /// The broker connection readiness and the poller share (closed at stop).
    pub probe: Arc<BrokerProbe>,
    /// Started with the server unless `M2M_QUEUE_POLL_MS=0`.
    pub queue_poller: Option<QueuePoller>,
}

impl GatewayOps {
    /// Registers the gateway's series in `metrics` (which already observes
    /// `bus`) and freezes it beside the readiness checks.
    pub fn build(
        mut metrics: Metrics,
        settings: &Settings,
        bus: &Bus,
        db: &mongodb::Database,
        redis: &redis::aio::ConnectionManager,
    ) -> Self {
        let gateway = Arc::new(GatewayMetrics::register(&mut metrics));
        let probe = Arc::new(BrokerProbe::new(bus.clone(), "gateway probe"));
        let queue_poller = settings
            .queue_poll
            .map(|interval| QueuePoller::register(&mut metrics, Arc::clone(&probe), interval));
        let readiness = Readiness::new(
            vec![
                Dependency::Broker(Arc::clone(&probe)),
                Dependency::MongoDb(db.clone()),
                Dependency::Redis(redis.clone()),
            ],
            settings.ready_timeout,
        )
        // Uploads are stored and published later while the broker is down.
        .degraded_without("broker");
        Self {
            ops: Ops::new(metrics, readiness),
            metrics: gateway,
            probe,
            queue_poller,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    outcome: &'static str,
}

/// The gateway's own series.
#[derive(Debug)]
pub struct GatewayMetrics {
    requests: Family<HttpLabels, Counter>,
    durations: Family<HttpLabels, Histogram, HistogramFn>,
    logins: Family<LoginLabels, Counter>,
    /// The outbox's backlog and publishes.
    pub outbox: crate::outbox::OutboxMetrics,
}

impl GatewayMetrics {
    fn register(metrics: &mut Metrics) -> Self {
        let gateway = Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram as HistogramFn),
            logins: Family::default(),
            outbox: crate::outbox::OutboxMetrics::register(metrics.registry_mut()),
        };
        let registry = metrics.registry_mut();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, matched route and status",
            gateway.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, matched route and status",
            gateway.durations.clone(),
        );
        registry.register(
            "logins",
            "POST /login answers by outcome",
            gateway.logins.clone(),
        );
        gateway
    }

    /// Counts one `POST /login` answer.
    pub fn record_login<T>(&self, answer: &Result<T, ApiError>) {
        let outcome = match answer {
            Ok(_) => "success",
            Err(ApiError::InvalidCredentials) => "bad_credentials",
            Err(ApiError::TooManyRequests { .. }) => "rate_limited",
            Err(ApiError::Overloaded { .. } | ApiError::Unavailable { .. }) => "unavailable",
            Err(ApiError::Unexpected(_)) => "error",
            Err(_) => "invalid_request",
        };
        self.logins.get_or_create(&LoginLabels { outcome }).inc();
    }
}

/// Middleware: counts and times every request under its matched route.
pub async fn track_http(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let labels = HttpLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    let metrics = &state.ops.metrics;
    metrics.requests.get_or_create(&labels).inc();
    metrics
        .durations
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

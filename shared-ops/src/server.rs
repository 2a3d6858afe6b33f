//! The operations endpoints, and the small HTTP server the workers serve them on.
//!
//! - `GET /healthz`: `200 {"status": "ok"}` while the process runs (liveness).
//! - `GET /readyz`: `200` when every dependency answers, `503` naming those that
//!   did not, or while the process is stopping (see [`crate::readiness`]).
//! - `GET /metrics`: every series of the process's [`Metrics`].
//!
//! The gateway merges [`Ops::router`] into its own router; the workers, which
//! have no HTTP API, run an [`OpsServer`] on `M2M_OPS_ADDR`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{CONTENT_TYPE, Metrics};
use crate::readiness::Readiness;

/// A process's metrics and readiness, shared by its handlers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ops {
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

impl Ops {
    /// Freezes the registry (every series is registered by now) beside the checks.
    pub fn new(metrics: Metrics, readiness: Readiness) -> Self {
        Self {
            metrics: Arc::new(metrics),
            readiness: Arc::new(readiness),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// `/healthz`, `/readyz` and `/metrics`, with their state already applied,
    /// ready to merge into any router.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self.clone())
    }
}

async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let report = ops.readiness.check().await;
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report.to_json())).into_response()
}

async fn metrics(State(ops): State<Ops>) -> Response {
    match ops.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "Could not encode the metrics.");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A worker's operations server, bound and not yet serving.
#[derive(Debug)]
pub struct OpsServer {
    listener: TcpListener,
    addr: SocketAddr,
    ops: Ops,
}

/// A running [`OpsServer`]; [`OpsHandle::stop`] ends it.
#[derive(Debug)]
pub struct OpsHandle {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl OpsServer {
    /// Binds `addr` now, so a taken port fails the start and port 0 can be read back.
    pub async fn bind(addr: SocketAddr, ops: Ops) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            ops,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves in the background. When `shutdown` fires the process reports
    /// itself not ready but keeps answering (probes, a last scrape) until
    /// [`OpsHandle::stop`], which the process calls once it has drained.
    pub fn spawn(self, shutdown: &CancellationToken) -> OpsHandle {
        let stop = CancellationToken::new();
        let readiness = Arc::clone(&self.ops.readiness);
        let draining = shutdown.clone();
        let stopped = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = draining.cancelled() => readiness.mark_stopping(),
                () = stopped.cancelled() => {}
            }
        });
        let router: Router = self.ops.router();
        let served = stop.clone();
        let addr = self.addr;
        let task = tokio::spawn(async move {
            tracing::info!(%addr, "Serving /healthz, /readyz and /metrics.");
            let serve =
                axum::serve(self.listener, router).with_graceful_shutdown(served.cancelled_owned());
            if let Err(error) = serve.await {
                tracing::error!(%error, "The operations server failed.");
            }
        });
        OpsHandle { stop, task }
    }
}

impl OpsHandle {
    /// Stops serving and waits for the server task.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

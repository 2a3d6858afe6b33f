//! `GET /healthz` (liveness: touches no store, so a slow database does not get healthy
//! gateways restarted), `GET /readyz` (the broker, MongoDB and Redis answer; `503`
//! naming what is down, or while stopping) and `GET /metrics` (Prometheus), served by
//! `shared_ops` the same way on every process.

use axum::Router;

use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    state.ops.ops.router()
}

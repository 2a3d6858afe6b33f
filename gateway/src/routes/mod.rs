//! The HTTP API, one module per resource; each exposes `router()` and keeps its request
//! and response types private.

pub mod accounts;
pub mod games;
pub mod health;
pub mod notifications;
pub mod progress;
pub mod scores;
pub mod sync;
pub mod upload;

use axum::Router;
use axum::http::Request;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::correlation::{self, CorrelationId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{bookkeeping, metrics};

/// The whole API. Resource routers are merged under the bookkeeping middleware; health,
/// readiness, metrics and the API description stay outside it so probes, scrapes and
/// docs are not journaled. Outermost first, every request gets its correlation id,
/// then its log span, then is counted and timed.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(accounts::router())
        .merge(games::router())
        .merge(upload::router(state.upload.max_body_bytes))
        .merge(scores::router())
        .merge(sync::router())
        .merge(progress::router())
        .merge(notifications::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            bookkeeping::record,
        ));
    Router::new()
        .merge(api)
        .merge(health::router(&state))
        .merge(crate::admin::router())
        .merge(crate::openapi::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track_http,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(middleware::from_fn(correlation::propagate))
        .with_state(state)
}

fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let correlation_id = request
        .extensions()
        .get::<CorrelationId>()
        .map(|id| id.0.to_string());
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = route.as_deref().unwrap_or("unmatched"),
        correlation_id = correlation_id.as_deref().unwrap_or("none"),
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Unexpected(anyhow::anyhow!("a request handler panicked")).into_response()
}

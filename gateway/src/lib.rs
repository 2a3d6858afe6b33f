//! The m2m gateway: the phone's HTTP API.
//!
//! # Layout
//! - [`config`]: typed settings from defaults and `M2M_*` variables, validated at start.
//! - [`startup`]: [`startup::Application`] builds everything, binds, serves, drains.
//! - [`server`]: the accept loop, with header and body read timeouts and a cap on
//!   open connections.
//! - [`state`]: [`state::AppState`], the stores and services handlers share.
//! - [`routes`]: one module per resource, each with a `router()`.
//! - [`auth`]: argon2id hashing, credentials, JWT access tokens, rotating refresh tokens,
//!   and the [`auth::AuthUser`] extractor.
//! - [`store`]: the gateway's MongoDB collections (never another service's).
//! - [`bookkeeping`]: the Redis keys written for every request (a contract with the
//!   sync and backup jobs).
//! - [`rate_limit`]: failed-login limiting in Redis.
//! - [`openapi`]: the OpenAPI description (`/openapi.json`) and its page (`/docs`).
//! - [`outbox`]: publishing a stored game's ProcessingEvent, and the background task
//!   that publishes games a request left unpublished.
//! - [`scores`]: per-exercise aggregates and leaderboards in Redis.
//! - [`events`]: handlers of the events the gateway consumes (ReconciliationEvents).
//! - [`feed`]: change-feed cursors and the patient's progress (the Redis cache over
//!   the feed's snapshots); [`notifications`]: the phone's WebSocket, this
//!   instance's notification queue and its open sockets.
//! - [`views`]: what the phone sees of a game and of its progress, in one place.
//! - [`error`]: [`error::ApiError`], the one error type, and its JSON shape.
//! - [`metrics`]: the gateway's series, readiness checks and queue poller ([`metrics::GatewayOps`]).
//! - [`correlation`]: the request's correlation id, from `X-Correlation-Id`/`X-Request-Id` or made up.
//! - [`extract`]: JSON and query extractors that reject with [`error::ApiError`].
//! - [`admin`]: the operators' dashboard (`/admin`) and its JSON endpoints.

pub mod admin;
pub mod auth;
pub mod bookkeeping;
pub mod config;
pub mod correlation;
pub mod error;
pub mod events;
pub mod extract;
pub mod feed;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod outbox;
pub mod rate_limit;
pub mod routes;
pub mod scores;
pub mod server;
pub mod startup;
pub mod state;
pub mod store;
pub mod views;

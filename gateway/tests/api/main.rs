//! The gateway's one integration-test binary. Every test starts the real application on
//! port 0 against the real MongoDB-compatible server and Redis, with its own database
//! and Redis key prefix, so tests run in parallel. See `helpers.rs`.

mod access_tokens;
mod accounts;
mod admin;
mod admin_browser;
mod admin_helpers;
mod bookkeeping;
mod docs;
mod errors;
mod feed;
mod feed_helpers;
mod games;
mod gateway_process;
mod health;
mod helpers;
mod hostile_bodies;
mod hostile_clients;
mod notifications;
mod ops;
mod rate_limit;
mod raw_http;
mod reads;
mod reconciliation;
mod reconciliation_helpers;
mod refresh;
mod security;
mod startup;
mod sync;
mod upload;
mod upload_helpers;
mod upload_outage;
mod upload_refused;

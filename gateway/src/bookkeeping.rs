//! Seed-000 bookkeeping in Redis, written for every API request.
//!
//! These keys are a contract with the `sync` and `backup` jobs of `sync-worker`, named
//! for both sides in [`shared_store::keys`]. Every name below is prefixed with
//! `M2M_REDIS_PREFIX` (empty by default) through [`shared_store::RedisKeys`].
//!
//! | key | type | written |
//! |---|---|---|
//! | `users` | SET | `SADD` of the user id, when the request is tied to a user (a valid access token, a successful register/login/refresh, or a logout of a known token) |
//! | `users:updated_time` | STRING | Unix time in milliseconds, set with every `SADD users` |
//! | `c:<command>` | STRING counter | `INCR` per request; `<command>` is the first segment of the route (`register`, `login`, `refresh`, `logout`, `games`, ...) |
//! | `c:updated_time` | STRING | Unix time in milliseconds, set with every counter increment: one time for all counters, as seed 000 does |
//! | `journal` | LIST | `RPUSH` of one JSON entry per request, oldest first, for the backup job to move out |
//!
//! A journal entry is `{"id": UUID v7, "at": RFC 3339 UTC, "command", "method", "route"
//! (the route template, never the raw URI), "status": HTTP status, "user_id": string or
//! null}`. It holds no credentials, tokens, bodies or client addresses.
//!
//! Requests that match no route, and `/healthz` (probes would flood the journal), are not
//! recorded. The writes are one pipelined round trip after the handler; a Redis failure
//! is logged and does not fail the request, which has already been served.

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use shared_store::keys::{self as shared_keys, Family};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::state::AppState;

/// The user a request turned out to belong to, filled in by whoever learns it (the
/// [`crate::auth::AuthUser`] extractor, or the login and register handlers) and read by
/// [`record`] once the response is ready.
#[derive(Debug, Clone, Default)]
pub struct RequestUser(Arc<OnceLock<String>>);

impl RequestUser {
    /// Records `user_id`; the first value set wins.
    pub fn set(&self, user_id: &str) {
        let _ = self.0.set(user_id.to_owned());
    }

    fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestUser {
    type Rejection = std::convert::Infallible;

    /// Outside the bookkeeping middleware this yields a slot nobody reads.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().cloned().unwrap_or_default())
    }
}

#[derive(Serialize)]
struct JournalEntry<'a> {
    id: String,
    at: String,
    command: &'a str,
    method: &'a str,
    route: &'a str,
    status: u16,
    user_id: Option<&'a str>,
}

/// Middleware: runs the request, then writes the keys described in the module doc.
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(route) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let method = request.method().as_str().to_owned();
    let user = RequestUser::default();
    request.extensions_mut().insert(user.clone());

    let response = next.run(request).await;

    let command = command_of(&route);
    let entry = JournalEntry {
        id: Uuid::now_v7().to_string(),
        at: OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default(),
        command,
        method: &method,
        route: &route,
        status: response.status().as_u16(),
        user_id: user.get(),
    };
    if let Err(error) = write(&state, command, user.get(), &entry).await {
        tracing::warn!(
            error = format!("{error:#}"),
            command,
            "Failed to write request bookkeeping"
        );
    }
    response
}

async fn write(
    state: &AppState,
    command: &str,
    user_id: Option<&str>,
    entry: &JournalEntry<'_>,
) -> anyhow::Result<()> {
    let keys = &state.keys;
    let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let now_ms = i64::try_from(now_ms)?;
    let mut pipe = redis::pipe();
    if let Some(user_id) = user_id {
        pipe.sadd(keys.key(shared_keys::USERS), user_id).ignore();
        pipe.set(keys.key(Family::Users.updated_time_key()), now_ms)
            .ignore();
    }
    pipe.incr(keys.key(&shared_keys::counter(command)), 1)
        .ignore();
    pipe.set(keys.key(Family::Counters.updated_time_key()), now_ms)
        .ignore();
    pipe.rpush(
        keys.key(shared_keys::JOURNAL),
        serde_json::to_string(entry)?,
    )
    .ignore();
    let mut redis = state.redis.clone();
    pipe.query_async::<()>(&mut redis).await?;
    Ok(())
}

/// The command a route counts as: its first path segment (`/games/{id}` -> `games`).
fn command_of(route: &str) -> &str {
    route
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|segment| !segment.is_empty())
        .unwrap_or("root")
}

#[cfg(test)]
mod tests {
    use super::command_of;

    #[test]
    fn a_command_is_the_first_segment_of_its_route() {
        assert_eq!(command_of("/login"), "login");
        assert_eq!(command_of("/games/{id}"), "games");
        assert_eq!(command_of("/"), "root");
    }
}

//! `POST /game`: accept a game and its glove recording, store it, answer `202`;
//! the outbox relay publishes its ProcessingEvent (`crate::outbox`).
//!
//! Request: `Authorization: Bearer`, `Idempotency-Key` (1-255 printable ASCII
//! characters, required), `Content-Type: application/json`, optionally `Content-Encoding: gzip`;
//! body `{exercise, score, started_at, ended_at, sensors}` of at most
//! `M2M_MAX_BODY_BYTES` (on the wire and once gunzipped). Rules: `exercise` as in
//! [`crate::scores::is_valid_exercise`], `score` a non-negative integer, RFC 3339
//! times with `started_at <= ended_at`, `sensors` as `shared_events::recording` says.
//!
//! Answers: `202 {game_id, status: "queued", status_url}`; `400` malformed JSON, bad
//! gzip or a missing key; `413`; `415`; `422` with the field path; `503` with
//! `Retry-After` only when the store cannot take the game (a broker outage does not
//! refuse uploads: the outbox publishes them when it is back). The same key and body
//! answer the same `202`; the same key with another body is `422` on `Idempotency-Key`.

mod decode;
mod schema;

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use mongodb::bson::{Binary, DateTime, spec::BinarySubtype};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::correlation::CorrelationId;
use crate::error::{ApiError, ApiResult};
use crate::openapi::ErrorResponse;
use crate::outbox::relay::NewGame;
use crate::scores;
use crate::state::AppState;
use crate::store::uploads::{GameRecord, Inserted, RecordingRecord, lease_end};

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// What a client is told to wait after a 503.
const RETRY_AFTER: Duration = Duration::from_secs(5);

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/game", post(upload_game))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// The part of the OpenAPI description this module serves.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(upload_game), components(schemas(schema::ContentEncoding)))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

/// The game is stored and its analysis queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Accepted {
    game_id: String,
    status: &'static str,
    status_url: String,
}

/// Uploads a finished game and its glove recording.
#[utoipa::path(
    post,
    path = "/game",
    tag = "games",
    request_body(content = schema::UploadBody, content_type = "application/json",
        description = "At most M2M_MAX_BODY_BYTES (16 MiB by default), also once gunzipped"),
    params(schema::UploadHeaders),
    responses(
        (status = 202, description = "Stored and queued (also for a retry of the same upload)",
            body = Accepted),
        (status = 400, description = "Malformed JSON, bad gzip or a missing Idempotency-Key",
            body = ErrorResponse),
        (status = 401, description = "No valid access token", body = ErrorResponse),
        (status = 413, description = "The body is too large", body = ErrorResponse),
        (status = 415, description = "Not application/json, or an unknown encoding",
            body = ErrorResponse),
        (status = 422, description = "A rule is broken; `field` is the path of the value",
            body = ErrorResponse),
        (status = 503, description = "The store cannot take the game now; retry with the \
            same key after Retry-After", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, game_id))]
async fn upload_game(
    State(state): State<AppState>,
    user: AuthUser,
    CorrelationId(correlation_id): CorrelationId,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let started = Instant::now();
    let key = idempotency_key(&headers)?;
    let gzip = content_encoding_is_gzip(&headers)?;
    require_json(&headers)?;
    let body = Bytes::from_request(request, &state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest(rejection.body_text()),
        })?;
    let received = Instant::now();
    let limit = state.upload.max_body_bytes;
    let upload = tokio::task::spawn_blocking(move || decode::decode(&body, gzip, limit))
        .await
        .context("The upload decoding task failed")??;
    let decoded = Instant::now();

    let now = DateTime::now();
    let game = GameRecord {
        id: Uuid::now_v7().to_string(),
        user_id: user.user_id.clone(),
        created_at: now,
        exercise: upload.exercise,
        score: upload.score,
        started_at: to_bson_time(upload.started_at),
        ended_at: to_bson_time(upload.ended_at),
        status: "queued".to_owned(),
        idempotency_key: key,
        request_hash: upload.request_hash,
        published: false,
        // The relay's claim; none while the broker is failing, so the sweep takes the
        // game as soon as the broker is back.
        publish_lease_until: (!state.outbox.broker.is_down())
            .then(|| lease_end(now, state.outbox.lease)),
        event_id: Uuid::now_v7().to_string(),
        // The request's id (the request span carries it too): the game's events
        // and every log line about it share it.
        correlation_id: correlation_id.to_string(),
    };
    let recording = RecordingRecord {
        id: game.id.clone(),
        user_id: game.user_id.clone(),
        content_type: upload.recording.content_type.clone(),
        content_encoding: upload.recording.content_encoding.clone(),
        data: Binary {
            subtype: BinarySubtype::Generic,
            bytes: upload.recording_bytes,
        },
    };
    let inserted = state
        .games
        .insert_new(&game, &recording)
        .await
        .map_err(|error| {
            tracing::warn!(
                error = format!("{error:#}"),
                "The store did not take the game; answering 503"
            );
            ApiError::Unavailable {
                retry_after: RETRY_AFTER,
            }
        })?;
    match inserted {
        Inserted::New => {
            let stored = Instant::now();
            tracing::Span::current().record("game_id", tracing::field::display(&game.id));
            // Counted once per game, at its creation: a 503 below still leaves a stored
            // game that will be published, and its retries are not new games.
            if let Err(error) =
                scores::record_new_game(&state, &game.user_id, &game.exercise, game.score).await
            {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "Failed to update scores in Redis"
                );
            }
            let counted = Instant::now();
            // Where a slow upload spent its time (`RUST_LOG=gateway=debug`).
            let ms = |from: Instant, to: Instant| (to - from).as_secs_f64() * 1e3;
            tracing::debug!(
                receive_ms = ms(started, received),
                decode_ms = ms(received, decoded),
                store_ms = ms(decoded, stored),
                scores_ms = ms(stored, counted),
                "Upload accepted"
            );
            let game_id = game.id.clone();
            if game.publish_lease_until.is_some() {
                state.relay.offer(NewGame {
                    game,
                    recording: upload.recording,
                });
            }
            Ok(accepted(&game_id))
        }
        Inserted::Existing(existing) => {
            tracing::Span::current().record("game_id", tracing::field::display(&existing.id));
            if existing.request_hash != game.request_hash {
                return Err(ApiError::validation(
                    IDEMPOTENCY_KEY,
                    "this Idempotency-Key was used for a different upload",
                ));
            }
            // Stored already: the outbox publishes it if nobody has yet.
            Ok(accepted(&existing.id))
        }
    }
}

fn accepted(game_id: &str) -> Response {
    let status_url = format!("/games/{game_id}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(Accepted {
            game_id: game_id.to_owned(),
            status: "queued",
            status_url: status_url.clone(),
        }),
    )
        .into_response();
    if let Ok(location) = status_url.parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    let bad = |message: &str| ApiError::BadField {
        field: IDEMPOTENCY_KEY,
        message: message.to_owned(),
    };
    let value = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| bad("the Idempotency-Key header is required"))?;
    // Printable ASCII, spaces only inside (HTTP trims them at the edges): exactly the
    // pattern the OpenAPI description states, so clients and server agree on every key.
    let key = value.as_bytes();
    if !(1..=255).contains(&key.len()) {
        return Err(bad("the Idempotency-Key is 1-255 characters"));
    }
    let printable = key.iter().all(|b| *b == b' ' || b.is_ascii_graphic());
    let trimmed = key.first() != Some(&b' ') && key.last() != Some(&b' ');
    if !(printable && trimmed) {
        return Err(bad("the Idempotency-Key is printable ASCII"));
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

fn content_encoding_is_gzip(headers: &HeaderMap) -> ApiResult<bool> {
    match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str()) {
        None => Ok(false),
        Some(Ok(value)) if value.trim().eq_ignore_ascii_case("identity") => Ok(false),
        Some(Ok(value)) if value.trim().eq_ignore_ascii_case("gzip") => Ok(true),
        Some(_) => Err(ApiError::UnsupportedMediaType(
            "the only Content-Encoding accepted is gzip".to_owned(),
        )),
    }
}

fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "expected a request with Content-Type: application/json".to_owned(),
        ))
    }
}

fn to_bson_time(time: time::OffsetDateTime) -> DateTime {
    let millis = time.unix_timestamp_nanos() / 1_000_000;
    DateTime::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

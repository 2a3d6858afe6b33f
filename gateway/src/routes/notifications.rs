//! `GET /notifications`: the phone's WebSocket for live changes (the protocol is in
//! [`crate::notifications::socket`]).

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::auth::SocketUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::feed::FeedCursor;
use crate::notifications::socket;
use crate::openapi::ErrorResponse;
use crate::state::AppState;

/// The only subprotocol; a client authenticating through `Sec-WebSocket-Protocol`
/// offers it beside `bearer.<token>`.
const PROTOCOL: &str = "m2m.v1";
/// Phones send only small requests.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/notifications", get(notifications))
}

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(notifications))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SocketQuery {
    /// The last cursor the phone saw: every change after it is sent first.
    /// Opaque: any value the server did not issue to the caller is `400`.
    cursor: Option<String>,
    /// The access token, for clients that can set neither `Authorization` nor
    /// `Sec-WebSocket-Protocol: m2m.v1, bearer.<token>`.
    #[allow(dead_code, reason = "read by the SocketUser extractor")]
    access_token: Option<String>,
}

/// Upgrades to a WebSocket of live changes to the caller's games (JSON messages:
/// `ready`, then `game.processed` / `game.failed` with their cursor; send
/// `{"type":"resume","cursor":...}` to be caught up).
#[utoipa::path(get, path = "/notifications", tag = "sync", params(SocketQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade, or a bad cursor", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.0.user_id))]
async fn notifications(
    State(state): State<AppState>,
    user: SocketUser,
    ApiQuery(query): ApiQuery<SocketQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let user_id = user.0.user_id;
    let resume = match query.cursor.as_deref() {
        Some(raw) => Some(
            FeedCursor::decode_for(raw, &user_id)
                .map_err(|error| ApiError::BadField {
                    field: "cursor",
                    message: error.to_string(),
                })?
                .seq,
        ),
        None => None,
    };
    let upgrade = upgrade.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    Ok(upgrade
        .protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |websocket| socket::serve(websocket, state, user_id, resume)))
}

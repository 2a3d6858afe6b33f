//! `GET /sync?since=<cursor>&limit=`: the changes to the caller's games after the
//! cursor, oldest first, and the cursor to ask from next.
//!
//! Each change is a snapshot taken when it happened (the game with its status,
//! metrics and the patient's progress at that point), so asking with the same
//! cursor twice gives the same answer, and a phone that was offline for hours pulls
//! every change it missed, in order, by following `next_cursor` until `has_more` is
//! false. Without `since` the feed is read from its start.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::feed::{CursorError, FeedCursor};
use crate::openapi::ErrorResponse;
use crate::state::AppState;
use crate::views::GameView;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/sync", get(sync))
}

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(sync), components(schemas(GameView)))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SyncQuery {
    /// The `next_cursor` of the previous answer (or a notification's `cursor`);
    /// absent to read from the start. Opaque: any other value is `400`.
    since: Option<String>,
    /// 1-200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SyncPage {
    changes: Vec<Change>,
    /// Where the next call starts; equals `since` when nothing changed.
    next_cursor: String,
    /// Whether more changes follow `next_cursor` already.
    has_more: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Change {
    /// This change's position; resuming from it skips it.
    cursor: String,
    /// `game.processed` or `game.failed`.
    #[serde(rename = "type")]
    kind: String,
    /// The game as it was after the change, with the patient's progress then.
    #[schema(value_type = GameView)]
    game: serde_json::Value,
}

/// The changes to the caller's games after `since`.
#[utoipa::path(get, path = "/sync", tag = "sync", params(SyncQuery),
    responses(
        (status = 200, body = SyncPage),
        (status = 400, description = "An invalid cursor, or another user's", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 422, description = "A bad limit", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn sync(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> ApiResult<Json<SyncPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", "limit is between 1 and 200"));
    }
    let since = match query.since.as_deref() {
        Some(raw) => {
            FeedCursor::decode_for(raw, &user.user_id)
                .map_err(|error| ApiError::BadField {
                    field: "since",
                    message: since_refused(error),
                })?
                .seq
        }
        None => 0,
    };
    // One extra entry tells whether more follow, without a count.
    let mut entries = state.feed.after(&user.user_id, since, limit + 1).await?;
    let has_more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let last = entries.last().map_or(since, |entry| entry.seq);
    let changes = entries
        .into_iter()
        .map(|mut entry| Change {
            cursor: FeedCursor::new(&user.user_id, entry.seq).encode(),
            kind: entry.entry["type"].as_str().unwrap_or_default().to_owned(),
            game: entry.entry["game"].take(),
        })
        .collect();
    Ok(Json(SyncPage {
        changes,
        next_cursor: FeedCursor::new(&user.user_id, last).encode(),
        has_more,
    }))
}

/// The `400` message for a `since` the server did not issue. A phone's first call is
/// the commonest way to get here (`since=0` looks natural, and cursors are opaque),
/// so the message says what the first call is instead of only what went wrong.
fn since_refused(error: CursorError) -> String {
    format!(
        "{error}: leave `since` out on the first call to read the feed from its start, \
         then pass each answer's `next_cursor`"
    )
}

//! `GET /games?limit=&cursor=`: the caller's games, newest first, cursor-paged.
//! `GET /games/{id}`: one of the caller's games: its status (`queued`, `processed`,
//! `failed`), metadata and, once analysed, its metrics, their provenance and the
//! caller's current progress on the exercise. Another user's game is `404`, exactly
//! like a missing one.
//!
//! One read of the game's document (the reconciliation handler recorded the analysis
//! on it) and, for a processed game, the progress from the cache (the change feed
//! when cold): never processing-service's collections.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::openapi::ErrorResponse;
use crate::state::AppState;
use crate::store::games::{Cursor, GameDetail, GameSummary};
use crate::views::{GameView, rfc3339};

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/games", get(list_games))
        .route("/games/{id}", get(game_status))
}

/// The part of the OpenAPI description this module serves.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(list_games, game_status))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; any other value is `422`).
    cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct GamePage {
    games: Vec<GameItem>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct GameItem {
    game_id: String,
    created_at: String,
    exercise: Option<String>,
    #[schema(value_type = Option<i64>)]
    score: Option<serde_json::Value>,
    status: Option<String>,
}

/// The caller's games, newest first.
#[utoipa::path(get, path = "/games", tag = "games", params(ListQuery),
    responses(
        (status = 200, body = GamePage),
        (status = 401, body = ErrorResponse),
        (status = 422, description = "A bad limit or cursor", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn list_games(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<GamePage>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", "limit is between 1 and 100"));
    }
    let after = match query.cursor.as_deref() {
        Some(raw) => Some(
            Cursor::decode(raw).ok_or_else(|| ApiError::validation("cursor", "unknown cursor"))?,
        ),
        None => None,
    };
    let (games, next) = state
        .games
        .list(&user.user_id, limit, after.as_ref())
        .await?;
    Ok(Json(GamePage {
        games: games.into_iter().map(GameItem::from).collect(),
        next_cursor: next.map(|cursor| cursor.encode()),
    }))
}

/// One of the caller's games: status, metadata and, once analysed, metrics, their
/// provenance and the caller's current progress on the exercise.
#[utoipa::path(get, path = "/games/{id}", tag = "games",
    params(("id" = String, Path, description = "The game id from `POST /game`")),
    responses(
        (status = 200, body = GameView),
        (status = 401, body = ErrorResponse),
        (status = 404, description = "No such game of the caller's", body = ErrorResponse),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, game_id = %game_id))]
async fn game_status(
    State(state): State<AppState>,
    user: AuthUser,
    Path(game_id): Path<String>,
) -> ApiResult<Json<GameView>> {
    let game: GameDetail = state
        .games
        .find_for_user(&game_id, &user.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let progress = match (&game.exercise, game.status.as_deref()) {
        (Some(exercise), Some("processed")) => {
            state.progress.of_exercise(&user.user_id, exercise).await?
        }
        _ => None,
    };
    Ok(Json(GameView::new(game, progress)))
}

impl From<GameSummary> for GameItem {
    fn from(game: GameSummary) -> Self {
        Self {
            game_id: game.id,
            created_at: rfc3339(game.created_at),
            exercise: game.exercise,
            score: game.score.map(|s| s.into_relaxed_extjson()),
            status: game.status,
        }
    }
}

//! `GET /games?limit=&cursor=`: the caller's games, newest first, cursor-paged.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::store::games::{Cursor, GameSummary};

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/games", get(list_games))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct GamePage {
    games: Vec<GameItem>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct GameItem {
    game_id: String,
    created_at: String,
    exercise: Option<String>,
    score: Option<serde_json::Value>,
    status: Option<String>,
}

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

impl From<GameSummary> for GameItem {
    fn from(game: GameSummary) -> Self {
        let created_at = OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(game.created_at.timestamp_millis()) * 1_000_000,
        )
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
        Self {
            game_id: game.id,
            created_at,
            exercise: game.exercise,
            score: game.score.map(|s| s.into_relaxed_extjson()),
            status: game.status,
        }
    }
}

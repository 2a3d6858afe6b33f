//! Reads served from Redis alone, never the database (seed 001's aggregated reads):
//! - `GET /leaderboard?exercise=&limit=`: the best score of each user on an exercise,
//!   highest first (`limit` 1-100, default 10).
//! - `GET /stats`: request counters per command, the number of users seen, and each
//!   exercise's game count, score sum and mean score.

use std::collections::BTreeMap;

use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::openapi::ErrorResponse;
use crate::scores::{self, is_valid_exercise};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 10;
const MAX_LIMIT: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/leaderboard", get(leaderboard))
        .route("/stats", get(stats))
}

/// The part of the OpenAPI description this module serves.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(leaderboard, stats))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LeaderboardQuery {
    /// The exercise: 1-64 of `a-z 0-9 _ -`, starting with a letter (not
    /// `updated_time`).
    // An `Option` only so that a missing one is a 422 naming the field, not a 400.
    #[param(required = true, pattern = "^[a-z][a-z0-9_-]{0,63}$")]
    exercise: Option<String>,
    /// 1-100, default 10.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Leaderboard {
    exercise: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Entry {
    rank: usize,
    user_id: String,
    score: f64,
}

/// The best score of each user on an exercise, highest first.
#[utoipa::path(get, path = "/leaderboard", tag = "scores", params(LeaderboardQuery),
    responses(
        (status = 200, body = Leaderboard),
        (status = 401, body = ErrorResponse),
        (status = 422, description = "A missing or bad exercise, or a bad limit",
            body = ErrorResponse),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
async fn leaderboard(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(query): ApiQuery<LeaderboardQuery>,
) -> ApiResult<Json<Leaderboard>> {
    let exercise = query
        .exercise
        .filter(|e| is_valid_exercise(e))
        .ok_or_else(|| ApiError::validation("exercise", "a valid exercise name is required"))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", "limit is between 1 and 100"));
    }
    let top = scores::top(&state, &exercise, limit).await?;
    Ok(Json(Leaderboard {
        exercise,
        entries: top
            .into_iter()
            .enumerate()
            .map(|(index, (user_id, score))| Entry {
                rank: index + 1,
                user_id,
                score,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Stats {
    /// Requests per command (`c:<command>`).
    counters: BTreeMap<String, i64>,
    /// Users who made a request (`SCARD users`).
    users: u64,
    exercises: BTreeMap<String, ExerciseStats>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ExerciseStats {
    count: i64,
    score_sum: i64,
    mean_score: Option<f64>,
}

/// Request counters, users seen and per-exercise aggregates, from Redis alone.
#[utoipa::path(get, path = "/stats", tag = "scores",
    responses((status = 200, body = Stats), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
async fn stats(State(state): State<AppState>, _user: AuthUser) -> ApiResult<Json<Stats>> {
    let counters = scores::counters(&state).await?;
    let mut redis = state.redis.clone();
    let users: u64 = redis::cmd("SCARD")
        .arg(state.keys.key(shared_store::keys::USERS))
        .query_async(&mut redis)
        .await
        .context("Failed to count users")?;
    let exercises = scores::aggregates(&state)
        .await?
        .into_iter()
        .map(|(name, agg)| {
            let mean_score = (agg.count > 0).then(|| agg.score_sum as f64 / agg.count as f64);
            let stats = ExerciseStats {
                count: agg.count,
                score_sum: agg.score_sum,
                mean_score,
            };
            (name, stats)
        })
        .collect();
    Ok(Json(Stats {
        counters,
        users,
        exercises,
    }))
}

//! `GET /progress`: the caller's current progress on every exercise played, per
//! metric: baseline, latest, change, trend and whether the change is real (beyond
//! the measurement's noise), as the processing service computed it.
//!
//! Served from the Redis cache the reconciliation handler keeps current
//! ([`crate::feed::progress_cache`]); filled from the progress snapshots in the
//! change feed when it is cold ([`crate::feed::progress`]).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::openapi::ErrorResponse;
use crate::state::AppState;
use crate::views::ProgressView;

pub fn router() -> Router<AppState> {
    Router::new().route("/progress", get(progress))
}

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(progress), components(schemas(ProgressView)))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ProgressPage {
    /// One entry per exercise with at least one processed game, by name.
    exercises: Vec<Exercise>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Exercise {
    exercise: String,
    session_count: u64,
    progress: ProgressView,
}

/// The caller's progress per exercise and metric.
#[utoipa::path(get, path = "/progress", tag = "sync",
    responses((status = 200, body = ProgressPage), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn progress(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<ProgressPage>> {
    let all = state.progress.all(&user.user_id).await?;
    Ok(Json(ProgressPage {
        exercises: all
            .into_iter()
            .map(|progress| Exercise {
                exercise: progress.exercise.clone(),
                session_count: progress.session_count,
                progress,
            })
            .collect(),
    }))
}

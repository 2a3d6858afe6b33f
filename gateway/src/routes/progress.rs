//! `GET /progress`: the caller's current progress on every exercise played, per
//! metric: baseline, latest, change, trend and whether the change is real (beyond
//! the measurement's noise), as the processing service computed it.
//!
//! Served from the Redis cache the reconciliation handler keeps current
//! ([`crate::feed::progress_cache`]); filled from MongoDB when it is cold.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::feed::ExerciseProgress;
use crate::openapi::ErrorResponse;
use crate::state::AppState;
use crate::views::progress_view;

pub fn router() -> Router<AppState> {
    Router::new().route("/progress", get(progress))
}

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(progress))]
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
    session_count: i64,
    /// `metrics`: per metric `baseline`, `latest`, `change`, `pct_change`, `slope`,
    /// `direction`, `improved`, `real_change`, ...; `updated_at`.
    #[schema(value_type = Object)]
    progress: serde_json::Value,
}

/// The caller's progress per exercise and metric.
#[utoipa::path(get, path = "/progress", tag = "sync",
    responses((status = 200, body = ProgressPage), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn progress(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<ProgressPage>> {
    let cached = match state.progress_cache.load(&user.user_id).await {
        Ok(cached) => cached,
        Err(error) => {
            // The cache is an optimisation: with Redis down, read MongoDB.
            tracing::warn!(error = format!("{error:#}"), "Progress cache unreadable");
            None
        }
    };
    let all = match cached {
        Some(all) => all,
        None => {
            let all: Vec<ExerciseProgress> = state
                .results
                .progress_of_user(&user.user_id)
                .await?
                .into_iter()
                .filter_map(|document| {
                    Some(ExerciseProgress {
                        exercise: document.get_str("exercise").ok()?.to_owned(),
                        session_count: document.get_i64("session_count").ok()?,
                        progress: progress_view(document),
                    })
                })
                .collect();
            if let Err(error) = state.progress_cache.fill(&user.user_id, &all).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "Could not fill the progress cache"
                );
            }
            all
        }
    };
    Ok(Json(ProgressPage {
        exercises: all
            .into_iter()
            .map(|p| Exercise {
                exercise: p.exercise,
                session_count: p.session_count,
                progress: p.progress,
            })
            .collect(),
    }))
}

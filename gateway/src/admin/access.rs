//! Who may use the dashboard, and how its endpoints fail.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::{Dashboard, digest};
use crate::auth::extractor::bearer_from;
use crate::error::{ApiError, TokenProblem};
use crate::state::AppState;

/// An operator: the request carries `Authorization: Bearer <M2M_ADMIN_TOKEN>`.
/// Holds the dashboard, so handlers that take one know it is on.
#[derive(Debug, Clone)]
pub struct Operator(pub Arc<Dashboard>);

impl FromRequestParts<AppState> for Operator {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        let dashboard = state.admin.dashboard().ok_or(ApiError::NotFound)?;
        let token = bearer_from(parts)?;
        if bool::from(digest(token).ct_eq(&dashboard.token_digest)) {
            return Ok(Self(dashboard.clone()));
        }
        // A valid patient token is someone known but not allowed: 403, so the
        // page can say so rather than ask for a token again.
        if state.jwt.verify(token).is_ok() {
            return Err(AdminError::Forbidden);
        }
        Err(ApiError::Unauthenticated(TokenProblem::Invalid).into())
    }
}

/// Everything a dashboard endpoint can fail with; the JSON is the API's
/// (`crate::error`): `{"error": {"code", "message"}}`.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Whatever the rest of the API answers (404 when off, 401, 503, 500).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// 403 `forbidden`: a patient's token.
    #[error("this is a patient's token; the dashboard needs the operators' token")]
    Forbidden,
    /// 404 `not_found`: no such dead letter (or another reader holds it).
    #[error("{0}")]
    NoSuchLetter(String),
    /// 409 `conflict`: the dead letter cannot be redriven as it is.
    #[error("{0}")]
    CannotRedrive(String),
}

impl AdminError {
    /// A store or the broker failed: 503 when it is unreachable, else 500 (logged).
    pub fn unavailable(error: anyhow::Error) -> Self {
        tracing::warn!(
            error = format!("{error:#}"),
            "The dashboard could not read a store"
        );
        ApiError::Unavailable {
            retry_after: Duration::from_secs(5),
        }
        .into()
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, code) = match self {
            Self::Api(error) => return error.into_response(),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NoSuchLetter(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::CannotRedrive(_) => (StatusCode::CONFLICT, "conflict"),
        };
        let body = json!({ "error": { "code": code, "message": message } });
        (status, axum::Json(body)).into_response()
    }
}

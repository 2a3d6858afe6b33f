//! The one error type every handler returns, and its JSON shape.
//!
//! Every error the API sends, including axum's own extractor rejections (bad JSON, wrong
//! content type, body too large), 404 for unknown routes and 405 for wrong methods, is
//! `{"error": {"code": "...", "message": "...", "field": "..."}}` with `field` present only
//! when one input field is at fault. Handlers use `anyhow` with `.context(...)` for
//! failures the client cannot fix; those become [`ApiError::Unexpected`], are logged once
//! here with their whole source chain, and reach the client only as a generic 500.

use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The realm named in every `WWW-Authenticate` challenge.
const REALM: &str = "m2m";

/// Everything a request can fail with. Each variant's doc says the status it returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`: the body or query string could not be parsed at all.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `bad_request` naming the field (a header, e.g. `Idempotency-Key`) at fault.
    #[error("{message}")]
    BadField {
        field: &'static str,
        message: String,
    },
    /// 401 `invalid_credentials`: wrong password and unknown user alike, so the two are
    /// indistinguishable.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// 401 `invalid_token` (or `missing_token`) with a `WWW-Authenticate: Bearer`
    /// challenge: the access token is missing, malformed, expired or tampered with.
    #[error("{0}")]
    Unauthenticated(TokenProblem),
    /// 401 `invalid_refresh_token`: unknown, expired, revoked or reused refresh token.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// 404 `not_found`.
    #[error("not found")]
    NotFound,
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408 `request_timeout`: the body did not arrive within the body read timeout.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// 409 `conflict`: e.g. the username is taken.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// 413 `payload_too_large`.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 `validation_failed`: well-formed input that breaks a rule.
    #[error("{message}")]
    Validation {
        field: Option<String>,
        message: String,
    },
    /// 429 `too_many_requests` with `Retry-After`: too many failed logins.
    #[error("too many failed attempts")]
    TooManyRequests { retry_after: Duration },
    /// 503 `overloaded` with `Retry-After`: every password-hashing slot is busy.
    #[error("the server is busy")]
    Overloaded { retry_after: Duration },
    /// 503 `unavailable` with `Retry-After`: a service the request needs (the broker)
    /// is down; nothing was half-done, so the same request may simply be retried.
    #[error("the service is temporarily unavailable; retry later")]
    Unavailable { retry_after: Duration },
    /// 500 `internal_error`: logged with its source chain, never shown to the client.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why an access token was refused; the text is sent as the challenge's
/// `error_description` (RFC 6750 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("an access token is required")]
    Missing,
    #[error("the Authorization header is not a Bearer token")]
    Malformed,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) | Self::BadField { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Self::Unauthenticated(TokenProblem::Missing) => {
                (StatusCode::UNAUTHORIZED, "missing_token")
            }
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::InvalidRefreshToken => (StatusCode::UNAUTHORIZED, "invalid_refresh_token"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Conflict { field, .. } | Self::BadField { field, .. } => Some(field),
            Self::Validation { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Unexpected(error) => {
                // `{:#}` prints the whole context chain on one line.
                tracing::error!(error = format!("{error:#}"), "Request failed unexpectedly");
                "an internal error occurred".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field: self.field(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::TooManyRequests { retry_after }
            | Self::Overloaded { retry_after }
            | Self::Unavailable { retry_after } => {
                // Whole seconds, rounded up, never 0 (which would invite a hot retry loop).
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            Self::Unauthenticated(problem) => {
                headers.insert(header::WWW_AUTHENTICATE, challenge(Some(*problem)));
            }
            Self::InvalidCredentials | Self::InvalidRefreshToken => {
                // RFC 9110 requires a challenge on every 401.
                headers.insert(header::WWW_AUTHENTICATE, challenge(None));
            }
            _ => {}
        }
        response
    }
}

/// Builds an RFC 6750 challenge; a missing token gets no error code (section 3.1).
fn challenge(problem: Option<TokenProblem>) -> HeaderValue {
    let value = match problem {
        None | Some(TokenProblem::Missing) => format!("Bearer realm=\"{REALM}\""),
        Some(problem) => format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{problem}\""
        ),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType(
                "expected a request with Content-Type: application/json".to_owned(),
            ),
            // Valid JSON of the wrong shape (a missing or mistyped field).
            StatusCode::UNPROCESSABLE_ENTITY => Self::Validation {
                field: None,
                message: rejection.body_text(),
            },
            _ => Self::BadRequest(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

/// Every handler returns this.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let response = ApiError::Overloaded {
            retry_after: Duration::from_millis(1500),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn an_expired_token_gets_an_invalid_token_challenge() {
        let response = ApiError::Unauthenticated(TokenProblem::Expired).into_response();
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii");
        assert!(challenge.starts_with("Bearer realm=\"m2m\", error=\"invalid_token\""));
    }

    #[tokio::test]
    async fn unexpected_errors_hide_their_details() {
        let error = ApiError::Unexpected(anyhow::anyhow!("database password is hunter2"));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains(r#""code":"internal_error""#), "{body}");
        assert!(!body.contains("hunter2"), "{body}");
    }

    #[tokio::test]
    async fn a_field_error_names_its_field_and_others_omit_it() {
        let body_of = |error: ApiError| async move {
            let bytes = axum::body::to_bytes(error.into_response().into_body(), usize::MAX)
                .await
                .expect("body");
            serde_json::from_slice::<serde_json::Value>(&bytes).expect("json")
        };
        let with_field = body_of(ApiError::validation("username", "too short")).await;
        assert_eq!(with_field["error"]["field"], "username");
        assert_eq!(with_field["error"]["code"], "validation_failed");
        let without = body_of(ApiError::NotFound).await;
        assert!(without["error"].get("field").is_none());
    }
}

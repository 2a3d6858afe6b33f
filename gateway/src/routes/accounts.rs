//! Accounts: `POST /register`, `/login`, `/refresh` and `/logout`.
//!
//! - `POST /register {username, password}` -> `201 {user_id}`; `409` if the username is
//!   taken, `422` if either field breaks a rule.
//! - `POST /login {username, password}` -> `200 {user_id, access_token, token_type:
//!   "Bearer", expires_in, refresh_token}`; `401` with one body for a wrong password and
//!   an unknown user alike; `429` after too many failures; `503` when every hashing slot
//!   is busy.
//! - `POST /refresh {refresh_token}` -> `200` with a login's body and a new refresh
//!   token; `401` for an unknown, expired or revoked one, and a reused one revokes its
//!   family.
//! - `POST /logout {refresh_token}` -> `204`, revoking the token's family. Unknown
//!   tokens also get `204`: logging out is idempotent.

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use mongodb::bson::DateTime;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::credentials::{NewPassword, Username};
use crate::auth::password::Verified;
use crate::bookkeeping::RequestUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientAddr};
use crate::openapi::ErrorResponse;
use crate::state::AppState;
use crate::store::users::{InsertUserError, UserDoc};

/// Credentials are tiny; a small limit keeps junk bodies cheap to refuse.
const BODY_LIMIT_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// The part of the OpenAPI description this module serves.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(register, login, refresh, logout))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Credentials {
    /// 3-64 of `a-z 0-9 . _ -`; upper case is lowered, surrounding spaces trimmed.
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    username: String,
    /// At least 8 characters and at most 1024 bytes (UTF-8) to register.
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 1024)]
    password: SecretString,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Registered {
    user_id: String,
}

/// The answer to a login or a refresh.
#[derive(Serialize, utoipa::ToSchema)]
struct TokenResponse {
    user_id: String,
    access_token: String,
    token_type: &'static str,
    /// Seconds until `access_token` expires.
    expires_in: u64,
    refresh_token: String,
}

/// Creates an account.
#[utoipa::path(post, path = "/register", tag = "accounts", request_body = Credentials,
    responses(
        (status = 201, body = Registered),
        (status = 409, description = "The username is taken", body = ErrorResponse),
        (status = 422, description = "A field breaks a rule", body = ErrorResponse),
    ))]
#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    request_user: RequestUser,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<impl IntoResponse> {
    let username = Username::parse(&body.username)?;
    let password = NewPassword::parse(body.password)?;
    // Spares an argon2 hash for the common case; the unique index settles races.
    if state.users.find_by_username(&username).await?.is_some() {
        return Err(username_taken());
    }
    let password_hash = state.hasher.hash(password.into_secret()).await?;
    let now = DateTime::now();
    let user = UserDoc {
        id: Uuid::now_v7().to_string(),
        username: username.as_str().to_owned(),
        password_hash,
        created_at: now,
        password_updated_at: now,
    };
    match state.users.insert(&user).await {
        Ok(()) => {}
        Err(InsertUserError::UsernameTaken) => return Err(username_taken()),
        Err(InsertUserError::Other(error)) => return Err(error.into()),
    }
    request_user.set(&user.id);
    tracing::info!(user_id = %user.id, "Registered a user");
    Ok((StatusCode::CREATED, Json(Registered { user_id: user.id })))
}

/// Logs in: an access token and a rotating refresh token.
#[utoipa::path(post, path = "/login", tag = "accounts", request_body = Credentials,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong username or password", body = ErrorResponse),
        (status = 429, description = "Too many failed attempts", body = ErrorResponse),
        (status = 503, description = "Busy; retry after Retry-After", body = ErrorResponse),
    ))]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request_user: RequestUser,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<impl IntoResponse> {
    let answer = check_login(&state, client, &request_user, body).await;
    state.ops.metrics.record_login(&answer);
    answer
}

async fn check_login(
    state: &AppState,
    client: std::net::IpAddr,
    request_user: &RequestUser,
    body: Credentials,
) -> ApiResult<impl IntoResponse + use<>> {
    let username = Username::parse(&body.username)?;
    if body.password.expose_secret().len() > NewPassword::MAX_BYTES {
        return Err(ApiError::validation(
            "password",
            "a password has at most 1024 bytes",
        ));
    }
    state.login_limiter.check(&username, client).await?;

    let user = state.users.find_by_username(&username).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    // An unknown user is verified against a dummy hash: same work, same answer.
    let verified = state.hasher.verify(stored_hash, body.password).await?;
    let (user, rehashed) = match (verified, user) {
        (Verified::Valid { rehashed }, Some(user)) => (user, rehashed),
        _ => {
            state.login_limiter.record_failure(&username, client).await;
            return Err(ApiError::InvalidCredentials);
        }
    };
    if let Some(new_hash) = rehashed {
        // Losing an upgrade is harmless (the next login retries), so it does not fail
        // the login.
        match state
            .users
            .replace_hash(&user.id, &user.password_hash, &new_hash)
            .await
        {
            Ok(()) => tracing::info!(user_id = %user.id, "Upgraded a password hash"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "Failed to upgrade a hash"),
        }
    }
    state.login_limiter.reset(&username).await;
    request_user.set(&user.id);
    let refresh_token = state.refresh_tokens.issue_first(&user.id).await?;
    tokens_for(state, user.id, refresh_token)
}

/// Trades a refresh token for new tokens; a reused one revokes its family.
#[utoipa::path(post, path = "/refresh", tag = "accounts", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused", body = ErrorResponse),
    ))]
#[tracing::instrument(skip_all)]
async fn refresh(
    State(state): State<AppState>,
    request_user: RequestUser,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<impl IntoResponse> {
    let issued = state.refresh_tokens.rotate(&body.refresh_token).await?;
    request_user.set(&issued.user_id);
    tokens_for(&state, issued.user_id, issued.token)
}

/// Revokes the refresh token's family; idempotent.
#[utoipa::path(post, path = "/logout", tag = "accounts", request_body = RefreshRequest,
    responses((status = 204, description = "Logged out")))]
#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    request_user: RequestUser,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    if let Some(user_id) = state
        .refresh_tokens
        .revoke_family_of(&body.refresh_token)
        .await?
    {
        request_user.set(&user_id);
    }
    Ok(StatusCode::NO_CONTENT)
}

fn tokens_for(
    state: &AppState,
    user_id: String,
    refresh_token: String,
) -> ApiResult<impl IntoResponse + use<>> {
    let access_token = state
        .jwt
        .issue(&user_id)
        .context("Failed to sign an access token")?;
    let body = TokenResponse {
        user_id,
        access_token,
        token_type: "Bearer",
        expires_in: state.jwt.ttl().as_secs(),
        refresh_token,
    };
    // Tokens must not be cached by anything in between (RFC 6749 section 5.1).
    let no_store = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    Ok((no_store, Json(body)))
}

fn username_taken() -> ApiError {
    ApiError::Conflict {
        field: "username",
        message: "this username is taken".to_owned(),
    }
}

//! [`AuthUser`]: the authenticated caller, as an extractor.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::bookkeeping::RequestUser;
use crate::error::{ApiError, TokenProblem};
use crate::state::AppState;

/// The user named by a valid `Authorization: Bearer <access token>`. A handler that
/// takes one is reachable only with a valid token; otherwise the request gets `401`
/// with a `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated(TokenProblem::Missing))?;
        let token = header
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or(ApiError::Unauthenticated(TokenProblem::Malformed))?;
        let claims = state.jwt.verify(token).map_err(ApiError::Unauthenticated)?;
        // Lets the bookkeeping middleware record who made the request.
        if let Some(slot) = parts.extensions.get::<RequestUser>() {
            slot.set(&claims.sub);
        }
        Ok(Self {
            user_id: claims.sub,
        })
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 9110 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn only_bearer_credentials_yield_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}

//! [`AuthUser`]: the authenticated caller, as an extractor.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
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
        let token = bearer_from(parts)?;
        authenticate(token, parts, state)
    }
}

/// The user of a WebSocket upgrade. Browsers cannot set headers on a WebSocket, so
/// besides `Authorization: Bearer` the access token is taken from a
/// `Sec-WebSocket-Protocol` entry `bearer.<token>` (offered beside `m2m.v1`, which
/// the server selects) or from the `access_token` query parameter. A query string
/// can end up in access logs; prefer the header or the protocol.
#[derive(Debug, Clone)]
pub struct SocketUser(pub AuthUser);

impl FromRequestParts<AppState> for SocketUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            return AuthUser::from_request_parts(parts, state).await.map(Self);
        }
        let from_protocol = parts
            .headers
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .find_map(|protocol| protocol.trim().strip_prefix("bearer."))
            .map(str::to_owned);
        let from_query = || {
            parts.uri.query().and_then(|query| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("access_token="))
                    .map(str::to_owned)
            })
        };
        let token = from_protocol
            .or_else(from_query)
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthenticated(TokenProblem::Missing))?;
        authenticate(&token, parts, state).map(Self)
    }
}

fn authenticate(token: &str, parts: &Parts, state: &AppState) -> Result<AuthUser, ApiError> {
    let claims = state.jwt.verify(token).map_err(ApiError::Unauthenticated)?;
    // Lets the bookkeeping middleware record who made the request.
    if let Some(slot) = parts.extensions.get::<RequestUser>() {
        slot.set(&claims.sub);
    }
    Ok(AuthUser {
        user_id: claims.sub,
    })
}

/// The token of the request's `Authorization: Bearer` header: `401` if there is
/// no header, or if it holds another kind of credential.
pub(crate) fn bearer_from(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(TokenProblem::Missing))?;
    header
        .to_str()
        .ok()
        .and_then(bearer_token)
        .ok_or(ApiError::Unauthenticated(TokenProblem::Malformed))
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 9110 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::{bearer_from, bearer_token};
    use crate::error::{ApiError, TokenProblem};

    #[test]
    fn only_bearer_credentials_yield_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    fn problem_with(authorization: Option<&str>) -> Option<TokenProblem> {
        let mut request = Request::builder();
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let (parts, ()) = request.body(()).expect("request").into_parts();
        match bearer_from(&parts) {
            Ok(_) => None,
            Err(ApiError::Unauthenticated(problem)) => Some(problem),
            Err(other) => panic!("not a 401: {other:?}"),
        }
    }

    #[test]
    fn a_missing_header_and_another_scheme_are_told_apart() {
        assert_eq!(problem_with(None), Some(TokenProblem::Missing));
        assert_eq!(
            problem_with(Some("Basic abc")),
            Some(TokenProblem::Malformed)
        );
        assert_eq!(problem_with(Some("Bearer abc")), None);
    }
}

//! The correlation id of a request: taken from `X-Correlation-Id` or
//! `X-Request-Id` when the client sends a UUID, made up (UUID v7) otherwise,
//! and returned in both headers of the response.
//!
//! It is the `correlation_id` of the request's log span and of every event the
//! request causes (`POST /game`'s ProcessingEvent, the worker's reconciliation),
//! and the consumer runner puts it on the span of every delivery, so
//! `grep <id>` over every process's JSON logs finds one game's whole path. A
//! value that is not a UUID is replaced, because the envelope carries a UUID.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's correlation id; an extractor for handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationId(pub Uuid);

impl CorrelationId {
    /// The client's id from the request headers, if one is a UUID.
    fn from_headers(headers: &axum::http::HeaderMap) -> Option<Self> {
        [CORRELATION_ID, REQUEST_ID]
            .iter()
            .filter_map(|name| headers.get(name))
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| Uuid::parse_str(value.trim()).ok())
            .map(Self)
    }
}

/// Middleware (outside the trace layer, so the request span can name the id):
/// sets the id as a request extension and on the response.
pub async fn propagate(mut request: Request, next: Next) -> Response {
    let id = CorrelationId::from_headers(request.headers())
        .unwrap_or_else(|| CorrelationId(Uuid::now_v7()));
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id.0.to_string()) {
        let headers = response.headers_mut();
        headers.insert(CORRELATION_ID, value.clone());
        headers.insert(REQUEST_ID, value);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for CorrelationId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Without the middleware (a handler called directly), a fresh id.
        Ok(parts
            .extensions
            .get::<Self>()
            .copied()
            .unwrap_or_else(|| Self(Uuid::now_v7())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&HeaderName, &str)]) -> axum::http::HeaderMap {
        let mut map = axum::http::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                (*name).clone(),
                HeaderValue::from_str(value).expect("ascii"),
            );
        }
        map
    }

    #[test]
    fn a_uuid_in_either_header_is_taken() {
        let id = Uuid::now_v7();
        let by_request_id = headers(&[(&REQUEST_ID, &id.to_string())]);
        assert_eq!(
            CorrelationId::from_headers(&by_request_id),
            Some(CorrelationId(id))
        );
        let other = Uuid::now_v7();
        let both = headers(&[
            (&CORRELATION_ID, &id.to_string()),
            (&REQUEST_ID, &other.to_string()),
        ]);
        assert_eq!(
            CorrelationId::from_headers(&both),
            Some(CorrelationId(id)),
            "X-Correlation-Id wins"
        );
    }

    #[test]
    fn a_value_that_is_not_a_uuid_is_ignored() {
        let junk = headers(&[(&CORRELATION_ID, "req-42")]);
        assert_eq!(CorrelationId::from_headers(&junk), None);
    }
}

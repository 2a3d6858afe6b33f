//! Extractors whose rejections are [`ApiError`]s, so malformed input gets the same JSON
//! error shape as everything else.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

/// `axum::Json`, rejecting with `400` (bad JSON), `413`, `415` or `422` (wrong shape).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query`, rejecting with `400`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The client's address: the TCP peer, or, with `M2M_TRUST_FORWARDED_FOR`, the last
/// `X-Forwarded-For` entry (the one our own proxy appended; earlier entries are
/// whatever the client chose to send).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .last()
                .and_then(|entry| entry.trim().parse::<IpAddr>().ok());
            if let Some(address) = forwarded {
                return Ok(Self(address));
            }
        }
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .context("The server was not started with connect info")?;
        Ok(Self(peer.ip()))
    }
}

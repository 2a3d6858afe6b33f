//! The OpenAPI 3 description (`GET /openapi.json`) and a page that renders it
//! (`GET /docs`).
//!
//! Generated from the code with utoipa: each route module documents its own handlers
//! and private types in a `pub(crate) fn openapi()`, and [`description`] merges them,
//! so the description lives next to what it describes.

use std::sync::LazyLock;

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::OpenApi as Description;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

use crate::routes;
use crate::state::AppState;

/// The JSON every error response carries (see [`crate::error`]).
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "describes a response; built by crate::error")]
pub struct ErrorResponse {
    error: ErrorDetail,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "describes a response; built by crate::error")]
struct ErrorDetail {
    /// A stable machine-readable code, e.g. `validation_failed`.
    code: String,
    message: String,
    /// The input field at fault (a JSON path such as
    /// `sensors.angles_deg.index_mcp[17]`, or a header name), when there is one.
    field: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "m2m gateway",
        description = "The phone's HTTP API of the m2m rehabilitation game."
    ),
    components(schemas(ErrorResponse))
)]
struct Base;

/// The whole description, built once.
pub fn description() -> &'static Description {
    static DESCRIPTION: LazyLock<Description> = LazyLock::new(|| {
        let mut description = Base::openapi();
        description.merge(routes::accounts::openapi());
        description.merge(routes::upload::openapi());
        description.merge(routes::games::openapi());
        description.merge(routes::scores::openapi());
        description.merge(routes::sync::openapi());
        description.merge(routes::progress::openapi());
        description.merge(routes::notifications::openapi());
        let components = description.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        document_shared_refusals(&mut description);
        description
    });
    &DESCRIPTION
}

/// Adds the refusals every operation of a kind shares, where its own documentation
/// left them out: they come from shared code (the extractors of [`crate::extract`]
/// and [`crate::auth::AuthUser`]) and the server ([`crate::server`]), not from the
/// handler. A body can be refused with 400 (not JSON), 408 (too slow), 413, 415 and
/// 422 (wrong shape), a query string with 400 (does not parse) and 422, a
/// bearer-secured operation with 401.
fn document_shared_refusals(description: &mut Description) {
    for item in description.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let mut refusals: Vec<(&str, &str)> = Vec::new();
            if operation.request_body.is_some() {
                refusals.extend([
                    ("400", "The body is not JSON"),
                    (
                        "408",
                        "The body did not arrive within the body read timeout",
                    ),
                    ("413", "The body is too large"),
                    ("415", "Not Content-Type: application/json"),
                    (
                        "422",
                        "The body does not have the documented shape, or breaks a rule",
                    ),
                ]);
            }
            let has_query = operation.parameters.iter().flatten().any(|parameter| {
                matches!(
                    parameter.parameter_in,
                    utoipa::openapi::path::ParameterIn::Query
                )
            });
            if has_query {
                refusals.extend([
                    ("400", "The query string does not parse"),
                    ("422", "A query parameter breaks a rule"),
                ]);
            }
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                refusals.push(("401", "No valid access token"));
            }
            for (status, text) in refusals {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(text));
            }
        }
    }
}

fn error_response(text: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorResponse")))
        .build();
    RefOr::T(
        ResponseBuilder::new()
            .description(text)
            .content("application/json", content)
            .build(),
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .route(REDOC_PATH, get(redoc))
}

/// Redoc's standalone bundle (MIT, from the npm package `redoc` 2.1.5; its
/// licences are in `assets/`), served by the gateway itself so `/docs` works on a
/// closed hospital network. The version is in the path, so it can be cached forever.
const REDOC_PATH: &str = "/docs/redoc-2.1.5.standalone.js";
const REDOC: &[u8] = include_bytes!("../assets/redoc-2.1.5.standalone.js");

async fn redoc() -> impl axum::response::IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (
                axum::http::header::CACHE_CONTROL,
                "public, max-age=31536000, immutable",
            ),
        ],
        REDOC,
    )
}

async fn openapi_json() -> Json<&'static Description> {
    Json(description())
}

/// Redoc renders `/openapi.json` with the script the gateway serves (no CDN);
/// without scripts the page links to the JSON.
async fn docs() -> Html<&'static str> {
    Html(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>m2m gateway API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<noscript><p>The API description is at <a href="/openapi.json">/openapi.json</a>.</p></noscript>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs/redoc-2.1.5.standalone.js"></script>
</body></html>"#,
    )
}

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
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
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
        description
    });
    &DESCRIPTION
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
}

async fn openapi_json() -> Json<&'static Description> {
    Json(description())
}

/// Redoc renders `/openapi.json`; without the script the page links to the JSON.
async fn docs() -> Html<&'static str> {
    Html(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>m2m gateway API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<noscript><p>The API description is at <a href="/openapi.json">/openapi.json</a>.</p></noscript>
<redoc spec-url="/openapi.json"></redoc>
<script src="https://cdn.redoc.ly/redoc/v2.1.5/bundles/redoc.standalone.js"></script>
</body></html>"#,
    )
}

//! `GET /openapi.json` and `GET /docs`.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_description_covers_the_game_routes_and_the_upload_schema() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let description: Value = response.json().await.expect("json");
    assert!(
        description["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for (path, method) in [
        ("/register", "post"),
        ("/login", "post"),
        ("/refresh", "post"),
        ("/logout", "post"),
        ("/game", "post"),
        ("/games", "get"),
        ("/games/{id}", "get"),
        ("/leaderboard", "get"),
        ("/stats", "get"),
        ("/progress", "get"),
        ("/sync", "get"),
    ] {
        assert!(
            description["paths"][path][method].is_object(),
            "{method} {path}"
        );
    }
    let schemas = &description["components"]["schemas"];
    for schema in [
        "UploadBody",
        "Sensors",
        "Triaxial",
        "Accepted",
        "ErrorResponse",
        "GameView",
        "ProvenanceView",
        "ProgressView",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema}");
    }
    let responses = &description["paths"]["/game"]["post"]["responses"];
    for status in ["202", "400", "401", "413", "415", "422", "503"] {
        assert!(responses[status].is_object(), "POST /game {status}");
    }
    assert!(description["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_docs_page_renders_the_description() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/docs")).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        response
            .text()
            .await
            .expect("text")
            .contains("/openapi.json")
    );
}

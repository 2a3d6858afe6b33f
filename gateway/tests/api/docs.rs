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
    let page = response.text().await.expect("text");
    assert!(page.contains("/openapi.json"));
    // Everything the page loads comes from the gateway: it works offline.
    assert!(!page.contains("https://"), "no outside resource: {page}");
    let script = page
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page loads a script");
    let response = app.client.get(app.url(script)).send().await.expect("sent");
    assert_eq!(response.status(), 200, "{script}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/javascript")
    );
    let bundle = response.bytes().await.expect("body");
    assert!(bundle.len() > 500_000, "the whole Redoc bundle");
    assert!(String::from_utf8_lossy(&bundle[..2000]).contains("Redoc"));
}

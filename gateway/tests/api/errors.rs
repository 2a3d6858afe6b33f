//! Every error, axum's own rejections included, has the JSON error shape.

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    assert_eq!(error_of(response).await.0, "bad_request");
}

#[tokio::test]
async fn a_missing_field_is_a_422() {
    let app = spawn_app().await;
    let response = app
        .post_json("/register", &serde_json::json!({ "username": "someone" }))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_of(response).await.0, "validation_failed");
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/login"))
        .header("content-type", "text/plain")
        .body(r#"{"username":"a","password":"b"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 415);
    assert_eq!(error_of(response).await.0, "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = spawn_app().await;
    let huge = format!(
        r#"{{"username":"someone","password":"{}"}}"#,
        "x".repeat(64 * 1024)
    );
    let response = app
        .client
        .post(app.url("/register"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
    assert_eq!(error_of(response).await.0, "payload_too_large");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let app = spawn_app().await;
    let missing = app
        .client
        .get(app.url("/nowhere"))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), 404);
    assert_eq!(error_of(missing).await.0, "not_found");

    let wrong_method = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(error_of(wrong_method).await.0, "method_not_allowed");
}

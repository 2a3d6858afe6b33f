//! Access tokens that must be refused, each with 401 and a Bearer challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_of, spawn_app, unique_username};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn claims(sub: &str) -> Value {
    json!({
        "iss": "m2m-gateway", "aud": "m2m-app", "sub": sub,
        "iat": now(), "exp": now() + 600, "jti": "test-jti",
    })
}

fn sign(app: &TestApp, algorithm: Algorithm, claims: &Value) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(app.jwt_secret.as_bytes()),
    )
    .expect("signed")
}

async fn assert_refused(app: &TestApp, token: &str, expected_code: &str) {
    let response = app.get_games(token, "").await;
    assert_eq!(response.status(), 401, "token {token}");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(challenge.starts_with("Bearer realm=\"m2m\""), "{challenge}");
    assert_eq!(error_of(response).await.0, expected_code);
}

#[tokio::test]
async fn a_token_signed_by_the_test_helper_is_accepted() {
    // Guards the other tests: their tokens fail for the reason they name, not another.
    let app = spawn_app().await;
    let token = sign(&app, Algorithm::HS256, &claims("someone"));
    assert_eq!(app.get_games(&token, "").await.status(), 200);
}

#[tokio::test]
async fn missing_and_malformed_authorization_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/games"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"m2m\""
    );
    assert_eq!(error_of(response).await.0, "missing_token");

    let basic = app
        .client
        .get(app.url("/games"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect("sent");
    assert_eq!(basic.status(), 401);
    assert_refused(&app, "not-a-jwt", "invalid_token").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let mut expired = claims("someone");
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    let token = sign(&app, Algorithm::HS256, &expired);
    let response = app.get_games(&token, "").await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii");
    assert!(challenge.contains("expired"), "{challenge}");
}

#[tokio::test]
async fn a_token_with_a_tampered_payload_is_refused() {
    let app = spawn_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let token = login["access_token"].as_str().expect("token");
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    payload["sub"] = json!("somebody-else");
    let forged_payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_refused(&app, &forged, "invalid_token").await;
}

#[tokio::test]
async fn a_token_for_another_audience_or_issuer_is_refused() {
    let app = spawn_app().await;
    let mut other_audience = claims("someone");
    other_audience["aud"] = json!("another-service");
    assert_refused(
        &app,
        &sign(&app, Algorithm::HS256, &other_audience),
        "invalid_token",
    )
    .await;

    let mut other_issuer = claims("someone");
    other_issuer["iss"] = json!("someone-else");
    assert_refused(
        &app,
        &sign(&app, Algorithm::HS256, &other_issuer),
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_token_missing_jti_or_iat_is_refused() {
    let app = spawn_app().await;
    for claim in ["jti", "iat", "sub"] {
        let mut partial = claims("someone");
        partial.as_object_mut().expect("object").remove(claim);
        assert_refused(
            &app,
            &sign(&app, Algorithm::HS256, &partial),
            "invalid_token",
        )
        .await;
    }
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_refused() {
    let app = spawn_app().await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims("someone").to_string());
    assert_refused(&app, &format!("{header}.{payload}."), "invalid_token").await;

    // Same secret, another HMAC: the algorithm is pinned to HS256.
    assert_refused(
        &app,
        &sign(&app, Algorithm::HS512, &claims("someone")),
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let app = spawn_app().await;
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims("someone"),
        &EncodingKey::from_secret(b"not-the-gateway-secret-not-the-gateway-secret"),
    )
    .expect("signed");
    assert_refused(&app, &token, "invalid_token").await;
}

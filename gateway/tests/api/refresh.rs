//! Refresh-token rotation, reuse detection and logout.

use mongodb::bson::{DateTime, Document, doc};
use serde_json::{Value, json};

use crate::helpers::{error_of, spawn_app, unique_username};

async fn token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

#[tokio::test]
async fn every_refresh_rotates_the_token() {
    let app = spawn_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let first = login["refresh_token"].as_str().expect("token").to_owned();
    assert!(first.len() >= 43, "at least 256 bits");

    let second = token_of(app.refresh(&first).await).await;
    let third = token_of(app.refresh(&second).await).await;
    assert_ne!(first, second);
    assert_ne!(second, third);

    // Only hashes are stored.
    let stored = app
        .db
        .collection::<Document>("refresh_tokens")
        .count_documents(doc! { "_id": { "$in": [&first, &second, &third] } })
        .await
        .expect("count");
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_its_whole_family() {
    let app = spawn_app().await;
    let username = unique_username();
    let login = app.signed_up(&username, "a fine password").await;
    let first = login["refresh_token"].as_str().expect("token").to_owned();
    let second = token_of(app.refresh(&first).await).await;

    // An attacker replays the rotated token.
    let replay = app.refresh(&first).await;
    assert_eq!(replay.status(), 401);
    assert!(replay.headers().contains_key("www-authenticate"));
    assert_eq!(error_of(replay).await.0, "invalid_refresh_token");

    // The legitimate holder's current token died with the family.
    assert_eq!(app.refresh(&second).await.status(), 401);

    // Another login starts a fresh, working family.
    let other = app.login(&username, "a fine password").await;
    let other = token_of(other).await;
    assert_eq!(app.refresh(&other).await.status(), 200);
}

#[tokio::test]
async fn logout_revokes_the_family_and_is_idempotent() {
    let app = spawn_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let first = login["refresh_token"].as_str().expect("token").to_owned();
    let second = token_of(app.refresh(&first).await).await;

    let logout = app
        .post_json("/logout", &json!({ "refresh_token": second }))
        .await;
    assert_eq!(logout.status(), 204);
    assert_eq!(app.refresh(&second).await.status(), 401);

    let again = app
        .post_json("/logout", &json!({ "refresh_token": second }))
        .await;
    assert_eq!(again.status(), 204);
    let unknown = app
        .post_json("/logout", &json!({ "refresh_token": "x".repeat(43) }))
        .await;
    assert_eq!(unknown.status(), 204);
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    assert_eq!(app.refresh("garbage").await.status(), 401);
    assert_eq!(app.refresh(&"A".repeat(43)).await.status(), 401);

    let login = app.signed_up(&unique_username(), "a fine password").await;
    let token = login["refresh_token"].as_str().expect("token");
    // Expire it in the store rather than waiting 30 days.
    app.db
        .collection::<Document>("refresh_tokens")
        .update_many(
            doc! {},
            doc! { "$set": { "expires_at": DateTime::from_millis(0) } },
        )
        .await
        .expect("update");
    assert_eq!(app.refresh(token).await.status(), 401);
}

#[tokio::test]
async fn two_concurrent_refreshes_of_one_token_are_reuse_and_kill_the_family() {
    let app = spawn_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let token = login["refresh_token"].as_str().expect("token");
    let (a, b) = tokio::join!(app.refresh(token), app.refresh(token));
    let (a_status, b_status) = (a.status().as_u16(), b.status().as_u16());
    // Exactly one request can claim the token; the other presented a rotated token,
    // which is reuse (OAuth 2.0 Security BCP): the family is revoked. Whether the
    // winner's own answer was already sent when that happened is a race, so the
    // winner may see 200 or 401 -- but never both requests 200.
    assert!(
        [(200, 401), (401, 200), (401, 401)].contains(&(a_status, b_status)),
        "{a_status} {b_status}"
    );
    // Whatever the winner got is dead: the family is revoked.
    for response in [a, b] {
        if response.status().as_u16() == 200 {
            let body: serde_json::Value = response.json().await.expect("json");
            let next = body["refresh_token"].as_str().expect("token");
            assert_eq!(app.refresh(next).await.status().as_u16(), 401);
        }
    }
}

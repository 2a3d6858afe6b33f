//! The checks behind `SECURITY.md` that other test files do not already make: a
//! cursor cannot page through another user's games, secrets never reach the logs or
//! the request journal, and the container runs as a user other than root.
//!
//! Covered elsewhere: another user's game by id is `404` (`reads.rs`), a refresh
//! token of a logged-out family is refused (`refresh.rs`), a forged or expired access
//! token is refused (`access_tokens.rs`).

use std::collections::HashSet;

use redis::AsyncCommands;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::gateway_process::GatewayProcess;
use crate::helpers::{spawn_app, unique_username};
use crate::upload_helpers::{SAMPLE, accepted_game_id, post_game, user};

async fn game_ids(response: reqwest::Response) -> (Vec<String>, Option<String>) {
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.expect("json");
    let ids = page["games"]
        .as_array()
        .expect("games")
        .iter()
        .map(|game| game["game_id"].as_str().expect("game_id").to_owned())
        .collect();
    (ids, page["next_cursor"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn another_users_cursor_pages_through_the_callers_games_only() {
    let app = spawn_app().await;
    let (bob, _) = user(&app).await;
    let mut bobs = HashSet::new();
    bobs.insert(accepted_game_id(post_game(&app, &bob, Some("b1"), SAMPLE, &[]).await).await);
    let (alice, _) = user(&app).await;
    let mut alices = HashSet::new();
    for key in ["a1", "a2", "a3"] {
        let response = post_game(&app, &alice, Some(key), SAMPLE, &[]).await;
        alices.insert(accepted_game_id(response).await);
    }
    bobs.insert(accepted_game_id(post_game(&app, &bob, Some("b2"), SAMPLE, &[]).await).await);

    // Alice's cursor points between her own games, newer than Bob's first one.
    let (_, cursor) = game_ids(app.get_games(&alice, "?limit=1").await).await;
    let cursor = cursor.expect("alice has a second page");

    let (seen, _) = game_ids(
        app.get_games(&bob, &format!("?limit=100&cursor={cursor}"))
            .await,
    )
    .await;
    assert!(
        seen.iter().all(|id| bobs.contains(id)),
        "bob saw games that are not his: {seen:?}"
    );
    assert!(seen.iter().all(|id| !alices.contains(id)));
    // The cursor still works as a position: Bob's game older than it is there.
    assert!(!seen.is_empty());
}

/// Registers, logs in (once wrongly), refreshes, reads, logs out and reuses a rotated
/// token, against a gateway logging everything at `trace`; returns every secret used.
async fn exercise_every_credential(gateway: &GatewayProcess) -> Vec<String> {
    let app = &gateway.app;
    let username = unique_username();
    let password = format!("pass-{}", Uuid::new_v4().simple());
    let wrong_password = format!("wrong-{}", Uuid::new_v4().simple());
    assert_eq!(app.register(&username, &password).await.status(), 201);
    assert_eq!(app.login(&username, &wrong_password).await.status(), 401);
    let login: Value = app
        .login(&username, &password)
        .await
        .json()
        .await
        .expect("json");
    let access = login["access_token"].as_str().expect("access").to_owned();
    let first_refresh = login["refresh_token"].as_str().expect("refresh").to_owned();

    let refreshed: Value = app
        .refresh(&first_refresh)
        .await
        .json()
        .await
        .expect("json");
    let second_access = refreshed["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let second_refresh = refreshed["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(app.get_games(&second_access, "").await.status(), 200);
    let tampered = format!("{second_access}x");
    assert_eq!(app.get_games(&tampered, "").await.status(), 401);
    let logout = app
        .post_json("/logout", &json!({ "refresh_token": second_refresh }))
        .await;
    assert_eq!(logout.status(), 204);
    // Reuse of a rotated token: logged as a warning, with the family, not the token.
    assert_eq!(app.refresh(&first_refresh).await.status(), 401);

    vec![
        password,
        wrong_password,
        access,
        second_access,
        tampered,
        first_refresh,
        second_refresh,
        app.jwt_secret.clone(),
    ]
}

#[tokio::test]
async fn passwords_tokens_and_the_signing_key_never_reach_the_logs_or_the_journal() {
    let gateway = GatewayProcess::start(&[], "trace").await;
    let secrets = exercise_every_credential(&gateway).await;

    // The last request's log lines are written before its response is sent; the
    // reader thread collects them a moment later, so wait until the output settles.
    let mut output = gateway.output();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = gateway.output();
        if now.len() == output.len() {
            break;
        }
        output = now;
    }
    assert!(
        output.contains("Registered a user"),
        "the logs were captured: {} bytes",
        output.len()
    );
    for secret in &secrets {
        assert!(
            !output.contains(secret.as_str()),
            "a secret appears in the logs: {secret}"
        );
    }

    let mut redis = gateway.app.redis.clone();
    let journal: Vec<String> = redis
        .lrange(gateway.app.keys.key("journal"), 0, -1)
        .await
        .expect("journal");
    assert!(!journal.is_empty(), "the requests were journaled");
    for entry in &journal {
        for secret in &secrets {
            assert!(
                !entry.contains(secret.as_str()),
                "a secret in the journal: {entry}"
            );
        }
    }
}

#[test]
fn the_runtime_image_runs_as_a_user_other_than_root() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile"))
        .expect("the Dockerfile at the repository root");
    // The last stage is the image that runs; its last USER is who runs it.
    let runtime_stage = dockerfile
        .rsplit_once("\nFROM ")
        .map(|(_, stage)| stage)
        .expect("a multi-stage Dockerfile");
    let user = runtime_stage
        .lines()
        .filter_map(|line| line.trim().strip_prefix("USER "))
        .next_back()
        .map(|user| user.trim().split(':').next().unwrap_or_default().to_owned())
        .expect("the runtime stage sets a USER");
    assert!(
        !matches!(user.as_str(), "root" | "0" | ""),
        "the image runs as {user:?}"
    );
}

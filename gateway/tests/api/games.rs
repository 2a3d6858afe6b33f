//! `GET /games`: the caller's games, newest first, cursor-paged.

use mongodb::bson::{DateTime, Document, doc};
use serde_json::Value;

use crate::helpers::{error_of, spawn_app, unique_username};

#[tokio::test]
async fn games_are_listed_newest_first_across_pages_and_only_the_callers() {
    let app = spawn_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let user_id = login["user_id"].as_str().expect("user_id");
    let access = login["access_token"].as_str().expect("token");

    let games = app.db.collection::<Document>("games");
    let base = 1_800_000_000_000_i64;
    // Two games share a timestamp, so the cursor must break ties by id.
    let rows = [
        ("g1", 0),
        ("g2", 1_000),
        ("g3", 1_000),
        ("g4", 2_000),
        ("g5", 3_000),
    ];
    for (id, offset) in rows {
        games
            .insert_one(doc! {
                "_id": id, "user_id": user_id, "created_at": DateTime::from_millis(base + offset),
                "exercise": "piano", "score": 10, "status": "queued",
            })
            .await
            .expect("insert");
    }
    games
        .insert_one(doc! { "_id": "other", "user_id": "someone-else",
        "created_at": DateTime::from_millis(base + 9_000) })
        .await
        .expect("insert");

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let response = app.get_games(access, &query).await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.expect("json");
        for game in page["games"].as_array().expect("games") {
            seen.push(game["game_id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["g5", "g4", "g3", "g2", "g1"]);
}

#[tokio::test]
async fn an_empty_list_has_no_next_cursor() {
    let app = spawn_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let response = app
        .get_games(login["access_token"].as_str().expect("token"), "")
        .await;
    let page: Value = response.json().await.expect("json");
    assert_eq!(page["games"].as_array().map(Vec::len), Some(0));
    assert!(page["next_cursor"].is_null());
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_refused_with_its_field() {
    let app = spawn_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let access = login["access_token"].as_str().expect("token");
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=zzz", "cursor"),
    ] {
        let response = app.get_games(access, query).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(error_of(response).await.1.as_deref(), Some(field));
    }
    let response = app.get_games(access, "?limit=lots").await;
    assert_eq!(response.status(), 400);
}

//! `GET /games/{id}`, `GET /leaderboard` and `GET /stats`.

use serde_json::Value;
use shared_events::events::GameOutcome;
use shared_events::{Envelope, Event};

use crate::feed_helpers::wait_for_changes;
use crate::helpers::{TestApp, error_of, spawn_app};
use crate::reconciliation_helpers::{
    ANALYTICS_VERSION, analysed, processed, progress_over, publish,
};
use crate::upload_helpers::{SAMPLE, accepted_game_id, post_game, user};

async fn get(app: &TestApp, access: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(access)
        .send()
        .await
        .expect("request sent")
}

async fn upload_with_score(app: &TestApp, access: &str, key: &str, score: i64) -> String {
    let body = SAMPLE.replacen("\"score\":30", &format!("\"score\":{score}"), 1);
    accepted_game_id(post_game(app, access, Some(key), body, &[]).await).await
}

#[tokio::test]
async fn a_game_is_queued_then_failed_with_its_reason_and_provenance_but_no_metrics() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    let played = upload_with_score(&app, &access, "played", 30).await;
    let game_id = upload_with_score(&app, &access, "g", 30).await;

    let response = get(&app, &access, &format!("/games/{game_id}")).await;
    assert_eq!(response.status(), 200);
    let game: Value = response.json().await.expect("json");
    assert_eq!(game["game_id"], game_id.as_str());
    assert_eq!(game["status"], "queued");
    assert_eq!(game["exercise"], "grasp_and_release");
    assert_eq!(game["score"], 30);
    assert_eq!(game["started_at"], "2026-01-15T10:00:00Z");
    assert_eq!(game["ended_at"], "2026-01-15T10:00:10Z");
    for absent in ["metrics", "progress", "provenance", "analytics_version"] {
        assert!(game.get(absent).is_none(), "{absent} in {game}");
    }

    // The patient has progress from another game; this one could not be analysed.
    let earlier = processed(&app, &played, 1, &[30]).await;
    let failed = analysed(
        &app,
        &game_id,
        GameOutcome::Failed {
            reason: "the recording is flat".into(),
        },
        1,
        Some(progress_over(1, &[30])),
    )
    .await;
    publish(
        &app,
        &[
            &Envelope::new(Event::ReconciliationV2(earlier)),
            &Envelope::new(Event::ReconciliationV2(failed.clone())),
        ],
    )
    .await;
    wait_for_changes(&app, &access, 2).await;

    let game: Value = get(&app, &access, &format!("/games/{game_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(game["status"], "failed", "{game}");
    assert_eq!(game["failure_reason"], "the recording is flat", "{game}");
    assert_eq!(game["analytics_version"], ANALYTICS_VERSION, "{game}");
    assert_eq!(
        game["provenance"]["source_event_id"],
        failed.result.provenance.source_event_id.to_string(),
        "{game}"
    );
    // Progress belongs with a processed game only.
    assert!(
        game.get("metrics").is_none() && game.get("progress").is_none(),
        "{game}"
    );
    let other: Value = get(&app, &access, &format!("/games/{played}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(other["progress"]["session_count"], 1, "{other}");
}

#[tokio::test]
async fn another_users_game_is_not_found_like_a_missing_one() {
    let app = spawn_app().await;
    let (owner, _) = user(&app).await;
    let game_id = upload_with_score(&app, &owner, "mine", 30).await;
    let (stranger, _) = user(&app).await;
    let response = get(&app, &stranger, &format!("/games/{game_id}")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_of(response).await.0, "not_found");
    let response = get(&app, &owner, "/games/no-such-game").await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_leaderboard_keeps_each_users_best_score_highest_first() {
    let app = spawn_app().await;
    let (alice, alice_id) = user(&app).await;
    let (bob, bob_id) = user(&app).await;
    upload_with_score(&app, &alice, "a1", 30).await;
    upload_with_score(&app, &alice, "a2", 50).await;
    upload_with_score(&app, &alice, "a3", 40).await; // lower: her best stays 50
    upload_with_score(&app, &bob, "b1", 45).await;

    let board: Value = get(&app, &alice, "/leaderboard?exercise=grasp_and_release")
        .await
        .json()
        .await
        .expect("json");
    let entries = board["entries"].as_array().expect("entries");
    let pairs: Vec<(String, f64)> = entries
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().expect("id").to_owned(),
                e["score"].as_f64().expect("score"),
            )
        })
        .collect();
    assert_eq!(pairs, [(alice_id, 50.0), (bob_id, 45.0)]);
    assert_eq!(entries[1]["rank"], 2);

    let top: Value = get(
        &app,
        &bob,
        "/leaderboard?exercise=grasp_and_release&limit=1",
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(top["entries"].as_array().map(Vec::len), Some(1));
    for query in ["", "?exercise=Bad!", "?exercise=piano&limit=0"] {
        let response = get(&app, &bob, &format!("/leaderboard{query}")).await;
        assert_eq!(response.status(), 422, "{query}");
    }
}

#[tokio::test]
async fn stats_show_counters_users_and_per_exercise_aggregates() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    upload_with_score(&app, &access, "s1", 30).await;
    upload_with_score(&app, &access, "s2", 50).await;
    upload_with_score(&app, &access, "s2", 50).await; // a retry: a request, not a game
    let piano = SAMPLE.replacen("grasp_and_release", "piano", 1);
    accepted_game_id(post_game(&app, &access, Some("p1"), piano, &[]).await).await;

    let stats: Value = get(&app, &access, "/stats")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(stats["counters"]["game"], 4, "{stats}");
    assert_eq!(stats["counters"]["register"], 1, "{stats}");
    assert_eq!(stats["users"], 1, "{stats}");
    let exercise = &stats["exercises"]["grasp_and_release"];
    assert_eq!(exercise["count"], 2, "{stats}");
    assert_eq!(exercise["score_sum"], 80, "{stats}");
    assert_eq!(exercise["mean_score"], 40.0, "{stats}");
    assert_eq!(stats["exercises"]["piano"]["count"], 1, "{stats}");
    assert_eq!(stats["exercises"]["piano"]["score_sum"], 30, "{stats}");
}

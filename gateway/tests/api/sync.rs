//! `GET /sync` and `GET /progress`, and the reconciliation consumer that feeds them
//! (from the events a worker would publish; no worker runs here).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use shared_events::events::{GameOutcome, ReconciliationEventV1};
use shared_events::{Envelope, Event, Publisher};
use uuid::Uuid;

use crate::feed_helpers::{TokenIn, connect, sync, wait_for_changes};
use crate::helpers::{error_of, spawn_app, spawn_app_with};
use crate::reconciliation_helpers::{processed, publish};
use crate::upload_helpers::{SAMPLE, accepted_game_id, post_game, user};

fn cursors(changes: &[Value]) -> Vec<String> {
    changes
        .iter()
        .map(|c| c["cursor"].as_str().expect("cursor").to_owned())
        .collect()
}

#[tokio::test]
async fn a_phone_offline_during_three_uploads_gets_all_three_in_order_once() {
    // Analyses applied in the order the worker published them.
    let app = spawn_app_with(&[("M2M_RECONCILIATION_CONCURRENCY", "1")]).await;
    let (access, _) = user(&app).await;
    let (status, empty) = sync(&app, &app.address, &access, "").await;
    assert_eq!(status, 200);
    assert_eq!(empty["changes"], serde_json::json!([]));
    assert_eq!(empty["has_more"], false);
    let start = empty["next_cursor"].as_str().expect("cursor").to_owned();

    let mut uploaded = HashSet::new();
    let mut scores = Vec::new();
    for key in ["offline-1", "offline-2", "offline-3"] {
        let game_id =
            accepted_game_id(post_game(&app, &access, Some(key), SAMPLE, &[]).await).await;
        // The worker's analysis: the game's metrics and the patient's progress, one
        // session more each time.
        scores.push(30);
        let event = processed(&app, &game_id, 1, &scores).await;
        publish(&app, &[&Envelope::new(Event::ReconciliationV2(event))]).await;
        uploaded.insert(game_id);
    }
    let all = wait_for_changes(&app, &access, 3).await;
    assert_eq!(all.len(), 3, "nothing twice: {all:?}");
    let ids: HashSet<String> = all
        .iter()
        .map(|c| c["game"]["game_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids, uploaded);
    for change in &all {
        assert_eq!(change["type"], "game.processed", "{change}");
        assert_eq!(change["game"]["status"], "processed", "{change}");
        assert!(change["game"]["metrics"].is_object(), "{change}");
        assert!(change["game"]["progress"]["metrics"].is_array(), "{change}");
    }
    // Progress snapshots grow with the feed: the third change saw three sessions.
    let counts: Vec<i64> = all
        .iter()
        .map(|c| {
            c["game"]["progress"]["session_count"]
                .as_i64()
                .expect("count")
        })
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert_eq!(counts.last(), Some(&3));

    // Paging one at a time from where the phone was visits each change once, in order.
    let mut since = start.clone();
    let mut paged = Vec::new();
    loop {
        let (status, page) = sync(
            &app,
            &app.address,
            &access,
            &format!("?since={since}&limit=1"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["changes"].as_array().cloned().unwrap_or_default());
        since = page["next_cursor"].as_str().expect("next").to_owned();
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(cursors(&paged), cursors(&all));
    let (_, after_end) = sync(&app, &app.address, &access, &format!("?since={since}")).await;
    assert_eq!(after_end["changes"], serde_json::json!([]));
    assert_eq!(after_end["next_cursor"], since.as_str());

    // The same cursor twice gives the same answer.
    let first = sync(
        &app,
        &app.address,
        &access,
        &format!("?since={start}&limit=2"),
    )
    .await;
    let second = sync(
        &app,
        &app.address,
        &access,
        &format!("?since={start}&limit=2"),
    )
    .await;
    assert_eq!(first, second);
    assert_eq!(first.1["has_more"], true);
}

#[tokio::test]
async fn a_v1_reconciliation_delivered_twice_adds_one_change_and_one_notification() {
    // One event at a time, in queue order, so the sentinel below comes last.
    let app = spawn_app_with(&[("M2M_RECONCILIATION_CONCURRENCY", "1")]).await;
    let (access, user_id) = user(&app).await;
    let first =
        accepted_game_id(post_game(&app, &access, Some("twice-1"), SAMPLE, &[]).await).await;
    let sentinel =
        accepted_game_id(post_game(&app, &access, Some("twice-2"), SAMPLE, &[]).await).await;
    let mut phone = connect(&app.address, Some(&access), TokenIn::Header, None)
        .await
        .expect("socket");
    phone.ready().await;

    let reconciliation = |game_id: &str| {
        Envelope::new(Event::ReconciliationV1(ReconciliationEventV1 {
            user_id: Uuid::parse_str(&user_id).expect("uuid"),
            game_id: Uuid::parse_str(game_id).expect("uuid"),
            exercise: "piano".into(),
            outcome: GameOutcome::Failed {
                reason: "the test says so".into(),
            },
            analytics_version: "1".into(),
        }))
    };
    let publisher = Publisher::new(app.bus.clone(), "test publisher");
    let event = reconciliation(&first);
    // The same message redelivered, and the worker publishing again after its own
    // redelivery (a new envelope for the same outcome).
    for envelope in [
        &event,
        &event,
        &reconciliation(&first),
        &reconciliation(&sentinel),
    ] {
        publisher.publish(envelope).await.expect("published");
    }
    publisher.close().await;

    let feed = wait_for_changes(&app, &access, 2).await;
    let games: Vec<&str> = feed
        .iter()
        .map(|c| c["game"]["game_id"].as_str().expect("id"))
        .collect();
    assert_eq!(games, [first.as_str(), sentinel.as_str()], "{feed:?}");
    assert_eq!(feed[0]["type"], "game.failed");

    let mut notified = Vec::new();
    while let Some(notice) = phone.next_json(Duration::from_secs(2)).await {
        notified.push(notice["game_id"].as_str().expect("id").to_owned());
        if notified.last() == Some(&sentinel) {
            break;
        }
    }
    assert_eq!(notified, [first.clone(), sentinel.clone()]);

    let game: Value = app
        .client
        .get(app.url(&format!("/games/{first}")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(game["status"], "failed", "{game}");
}

#[tokio::test]
async fn an_invalid_or_foreign_cursor_is_refused() {
    let app = spawn_app().await;
    let (alice, _) = user(&app).await;
    let (bob, _) = user(&app).await;
    let (_, bobs_page) = sync(&app, &app.address, &bob, "").await;
    let bobs_cursor = bobs_page["next_cursor"].as_str().expect("cursor");
    for since in ["0", "garbage", "ZjE6eDox", bobs_cursor] {
        let response = app
            .client
            .get(app.url(&format!("/sync?since={since}")))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400, "{since}");
        assert_eq!(
            error_of(response).await,
            ("bad_request".into(), Some("since".into()))
        );
    }
    // `since=0` is what a newcomer tries first; the refusal says what to send instead.
    let first_call: Value = app
        .client
        .get(app.url("/sync?since=0"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a JSON error");
    let message = first_call["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("leave `since` out on the first call"),
        "{first_call}"
    );
    let (status, _) = sync(&app, &app.address, &alice, "?limit=0").await;
    assert_eq!(status, 422);
    let anonymous = app.client.get(app.url("/sync")).send().await.expect("sent");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn progress_lists_each_exercise_with_its_metrics() {
    let app = spawn_app_with(&[("M2M_RECONCILIATION_CONCURRENCY", "1")]).await;
    let (access, user_id) = user(&app).await;
    let get_progress = || async {
        let response = app
            .client
            .get(app.url("/progress"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.expect("json")
    };
    assert_eq!(get_progress().await["exercises"], serde_json::json!([]));

    let mut scores = Vec::new();
    for (key, score) in [("progress-1", 30), ("progress-2", 45)] {
        let game_id =
            accepted_game_id(post_game(&app, &access, Some(key), SAMPLE, &[]).await).await;
        scores.push(score);
        let event = processed(&app, &game_id, 1, &scores).await;
        publish(&app, &[&Envelope::new(Event::ReconciliationV2(event))]).await;
    }
    wait_for_changes(&app, &access, 2).await;
    let progress = get_progress().await;
    let exercises = progress["exercises"].as_array().expect("exercises");
    assert_eq!(exercises.len(), 1, "{progress}");
    assert_eq!(exercises[0]["session_count"], 2, "{progress}");
    let metrics = exercises[0]["progress"]["metrics"]
        .as_array()
        .expect("metrics");
    let score = metrics
        .iter()
        .find(|m| m["metric"] == "score")
        .expect("the score's progress");
    for field in ["baseline", "latest", "change", "real_change"] {
        assert!(score.get(field).is_some(), "{field} in {score}");
    }
    assert_eq!(score["latest"], 45.0, "the newest snapshot: {score}");

    // Served from the cache the consumer keeps, and the same from the change feed
    // after it is dropped.
    let mut redis = app.redis.clone();
    let key = app.keys.key(&format!("progress:{user_id}"));
    let cached: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .expect("redis");
    assert!(cached);
    let () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .expect("redis");
    assert_eq!(get_progress().await, progress);
}

#[tokio::test]
async fn a_progress_cache_written_before_revisions_is_read_as_cold_and_refilled_from_the_feed() {
    let app = spawn_app().await;
    let (access, user_id) = user(&app).await;
    let game_id =
        accepted_game_id(post_game(&app, &access, Some("old-cache"), SAMPLE, &[]).await).await;
    let event = processed(&app, &game_id, 1, &[30]).await;
    publish(&app, &[&Envelope::new(Event::ReconciliationV2(event))]).await;
    wait_for_changes(&app, &access, 1).await;

    // The hash as an older gateway left it: counted by sessions, marked complete,
    // and missing the exercise just analysed.
    let mut redis = app.redis.clone();
    let key = app.keys.key(&format!("progress:{user_id}"));
    let old = serde_json::json!({ "exercise": "piano", "session_count": 5, "metrics": [] });
    let () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .expect("redis");
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("piano")
        .arg(old.to_string())
        .arg("piano#n")
        .arg(5)
        .arg("#complete")
        .arg(1)
        .query_async(&mut redis)
        .await
        .expect("redis");

    for _ in 0..2 {
        let response = app
            .client
            .get(app.url("/progress"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("sent");
        let progress: Value = response.json().await.expect("json");
        let exercises: Vec<&str> = progress["exercises"]
            .as_array()
            .expect("exercises")
            .iter()
            .map(|e| e["exercise"].as_str().expect("name"))
            .collect();
        assert_eq!(exercises, ["grasp_and_release"], "{progress}");
    }
    // Refilled from the feed: marked filled, with the exercise at its revision, so
    // reads come from it again; the old entry stays beside it, never shown.
    let (filled, revision): (bool, Option<String>) = redis::pipe()
        .cmd("HEXISTS")
        .arg(&key)
        .arg("#filled")
        .cmd("HGET")
        .arg(&key)
        .arg("grasp_and_release#rev")
        .query_async(&mut redis)
        .await
        .expect("redis");
    assert!(filled, "refilled from the feed");
    assert_eq!(revision.as_deref(), Some("1"));
}

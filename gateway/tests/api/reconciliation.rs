//! The reconciliation consumer on its own: the `reconciliation.ready` events a
//! worker would publish, and no worker. Everything the phone reads of an analysis
//! (the game, the change feed, `/progress`, the notification) comes from the event.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use serde_json::Value;
use shared_events::events::GameOutcome;
use shared_events::testing::wait_for_depth;
use shared_events::{Envelope, Event};
use uuid::Uuid;

use crate::feed_helpers::{Phone, TokenIn, connect, sync, wait_for_changes};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::reconciliation_helpers::{
    ANALYTICS_VERSION, analysed, processed, progress_over, publish, report, v1,
};
use crate::upload_helpers::{SAMPLE, accepted_game_id, post_game, user};

const WAIT: Duration = Duration::from_secs(30);

async fn get_json(app: &TestApp, access: &str, path: &str) -> Value {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(access)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

async fn upload(app: &TestApp, access: &str, key: &str) -> String {
    accepted_game_id(post_game(app, access, Some(key), SAMPLE, &[]).await).await
}

/// Forgets the patient's cached progress, so the next read takes the cold path.
async fn drop_progress_cache(app: &TestApp, user_id: &str) {
    let mut redis = app.redis.clone();
    let () = redis::cmd("DEL")
        .arg(app.keys.key(&format!("progress:{user_id}")))
        .query_async(&mut redis)
        .await
        .expect("redis");
}

/// The notifications a phone receives until the one about `last` (a sentinel
/// published after everything the test looks at); their game ids in order.
async fn notified_until(phone: &mut Phone, last: &str) -> Vec<String> {
    let mut notified = Vec::new();
    while let Some(notice) = phone.next_json(WAIT).await {
        notified.push(notice["game_id"].as_str().expect("id").to_owned());
        if notified.last().map(String::as_str) == Some(last) {
            break;
        }
    }
    notified
}

#[tokio::test]
async fn a_v2_event_alone_gives_the_game_its_metrics_provenance_feed_entry_progress_and_notification()
 {
    let app = spawn_app().await;
    let (access, user_id) = user(&app).await;
    let game_id = upload(&app, &access, "v2-alone").await;
    let mut phone = connect(&app.address, Some(&access), TokenIn::Header, None)
        .await
        .expect("socket");
    let start = phone.ready().await;

    let event = processed(&app, &game_id, 1, &[30]).await;
    publish(
        &app,
        &[&Envelope::new(Event::ReconciliationV2(event.clone()))],
    )
    .await;

    let notice = phone.next_json(WAIT).await.expect("a notification");
    assert_eq!(notice["type"], "game.processed", "{notice}");
    assert_eq!(notice["game_id"], game_id.as_str(), "{notice}");
    assert_eq!(notice["status"], "processed", "{notice}");

    let game = get_json(&app, &access, &format!("/games/{game_id}")).await;
    assert_eq!(game["status"], "processed", "{game}");
    assert_eq!(game["metrics"], report(), "the report, exactly as sent");
    assert_eq!(game["analytics_version"], ANALYTICS_VERSION, "{game}");
    assert!(game.get("failure_reason").is_none(), "{game}");
    let provenance = &game["provenance"];
    assert_eq!(provenance["analytics_version"], ANALYTICS_VERSION);
    assert_eq!(
        provenance["recording_sha256"],
        event.result.provenance.recording_sha256.as_str()
    );
    assert_eq!(
        provenance["source_event_id"],
        event.result.provenance.source_event_id.to_string()
    );
    assert!(provenance["analysed_at"].is_string(), "{provenance}");
    let progress = &game["progress"];
    assert_eq!(progress["exercise"], "grasp_and_release", "{game}");
    assert_eq!(progress["session_count"], 1, "{game}");
    assert_eq!(progress["analytics_version"], ANALYTICS_VERSION, "{game}");
    assert!(progress["updated_at"].is_object(), "{game}");
    let score = progress["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == "score")
        .expect("the score's progress");
    assert_eq!(score["baseline"], 30.0, "{score}");
    for field in ["n_sessions", "latest", "change", "slope", "real_change"] {
        assert!(score.get(field).is_some(), "{field} in {score}");
    }

    // The feed entry is the same game, at the position the notification named.
    let (status, page) = sync(&app, &app.address, &access, &format!("?since={start}")).await;
    assert_eq!(status, 200, "{page}");
    let changes = page["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{page}");
    assert_eq!(changes[0]["cursor"], notice["cursor"]);
    assert_eq!(changes[0]["type"], "game.processed");
    assert_eq!(
        changes[0]["game"], game,
        "the snapshot is the game as served"
    );

    let all = get_json(&app, &access, "/progress").await;
    let exercises = all["exercises"].as_array().expect("exercises");
    assert_eq!(exercises.len(), 1, "{all}");
    assert_eq!(exercises[0]["exercise"], "grasp_and_release");
    assert_eq!(exercises[0]["session_count"], 1);
    assert_eq!(exercises[0]["progress"], *progress);

    // Cold: the same answers from the change feed, without the cache.
    drop_progress_cache(&app, &user_id).await;
    assert_eq!(get_json(&app, &access, "/progress").await, all);
    drop_progress_cache(&app, &user_id).await;
    assert_eq!(
        get_json(&app, &access, &format!("/games/{game_id}")).await,
        game
    );
}

#[tokio::test]
async fn a_stale_event_after_a_newer_one_changes_nothing() {
    // One event at a time, in queue order, so the sentinel below comes last.
    let app = spawn_app_with(&[("M2M_RECONCILIATION_CONCURRENCY", "1")]).await;
    let (access, user_id) = user(&app).await;
    let game_id = upload(&app, &access, "stale-1").await;
    let sentinel = upload(&app, &access, "stale-2").await;
    let mut phone = connect(&app.address, Some(&access), TokenIn::Header, None)
        .await
        .expect("socket");
    phone.ready().await;

    // The second analysis of the game arrives first.
    let newer = analysed(
        &app,
        &game_id,
        GameOutcome::Processed,
        2,
        Some(progress_over(1, &[30])),
    )
    .await;
    publish(&app, &[&Envelope::new(Event::ReconciliationV2(newer))]).await;
    let notice = phone.next_json(WAIT).await.expect("a notification");
    assert_eq!(notice["game_id"], game_id.as_str());
    let before = get_json(&app, &access, &format!("/games/{game_id}")).await;
    assert_eq!(before["status"], "processed", "{before}");

    // Then the first, late: another outcome, and a progress snapshot that would win
    // the cache (a higher revision) were it applied.
    let stale = analysed(
        &app,
        &game_id,
        GameOutcome::Failed {
            reason: "an older analysis".into(),
        },
        1,
        Some(progress_over(9, &[30, 30, 30, 30])),
    )
    .await;
    let sentinel_event = processed(&app, &sentinel, 1, &[30, 30]).await;
    publish(
        &app,
        &[
            &Envelope::new(Event::ReconciliationV2(stale)),
            &Envelope::new(Event::ReconciliationV2(sentinel_event)),
        ],
    )
    .await;

    assert_eq!(
        notified_until(&mut phone, &sentinel).await,
        [sentinel.as_str()],
        "no second notification about the game"
    );
    let feed = wait_for_changes(&app, &access, 2).await;
    let games: Vec<&str> = feed
        .iter()
        .map(|c| c["game"]["game_id"].as_str().expect("id"))
        .collect();
    assert_eq!(games, [game_id.as_str(), sentinel.as_str()], "{feed:?}");

    let after = get_json(&app, &access, &format!("/games/{game_id}")).await;
    // The progress shown is the patient's current one, which the sentinel moved on.
    let without_progress = |mut game: Value| {
        game.as_object_mut().expect("object").remove("progress");
        game
    };
    assert_eq!(without_progress(after.clone()), without_progress(before));
    assert_eq!(after["progress"]["session_count"], 2, "{after}");

    // The progress is the sentinel's (revision 2), not the stale event's (9), in the
    // cache and in the feed behind it.
    let mut redis = app.redis.clone();
    let revision: Option<String> = redis::cmd("HGET")
        .arg(app.keys.key(&format!("progress:{user_id}")))
        .arg("grasp_and_release#rev")
        .query_async(&mut redis)
        .await
        .expect("redis");
    assert_eq!(revision.as_deref(), Some("2"), "the sentinel's snapshot");
    for _ in 0..2 {
        let all = get_json(&app, &access, "/progress").await;
        assert_eq!(all["exercises"][0]["session_count"], 2, "{all}");
        drop_progress_cache(&app, &user_id).await;
    }
}

#[tokio::test]
async fn a_redelivered_v2_event_adds_no_second_change_and_no_second_notification() {
    let app = spawn_app_with(&[("M2M_RECONCILIATION_CONCURRENCY", "1")]).await;
    let (access, _) = user(&app).await;
    let game_id = upload(&app, &access, "again-1").await;
    let sentinel = upload(&app, &access, "again-2").await;
    let mut phone = connect(&app.address, Some(&access), TokenIn::Header, None)
        .await
        .expect("socket");
    phone.ready().await;

    let event = processed(&app, &game_id, 1, &[30]).await;
    let envelope = Envelope::new(Event::ReconciliationV2(event.clone()));
    // The same message redelivered, and the worker publishing again after its own
    // redelivery (a new envelope, the same revision).
    publish(
        &app,
        &[
            &envelope,
            &envelope,
            &Envelope::new(Event::ReconciliationV2(event)),
            &Envelope::new(Event::ReconciliationV2(
                processed(&app, &sentinel, 1, &[30, 30]).await,
            )),
        ],
    )
    .await;

    assert_eq!(
        notified_until(&mut phone, &sentinel).await,
        [game_id.clone(), sentinel.clone()]
    );
    let feed = wait_for_changes(&app, &access, 2).await;
    assert_eq!(feed.len(), 2, "{feed:?}");
    assert_eq!(feed[0]["game"]["game_id"], game_id.as_str());
    assert_eq!(feed[0]["game"]["metrics"], report());
}

#[tokio::test]
async fn a_v1_event_from_an_older_worker_still_sets_the_status_and_never_overrides_v2() {
    let app = spawn_app_with(&[("M2M_RECONCILIATION_CONCURRENCY", "1")]).await;
    let (access, user_id) = user(&app).await;
    let game_id = upload(&app, &access, "v1-1").await;

    publish(&app, &[&v1(&user_id, &game_id, GameOutcome::Processed)]).await;
    let feed = wait_for_changes(&app, &access, 1).await;
    assert_eq!(feed[0]["type"], "game.processed");
    let game = get_json(&app, &access, &format!("/games/{game_id}")).await;
    assert_eq!(game["status"], "processed", "{game}");
    assert_eq!(game["analytics_version"], "1", "{game}");
    // A v1 event carries neither: they come with the re-analysis.
    for absent in ["metrics", "progress", "provenance"] {
        assert!(game.get(absent).is_none(), "{absent} in {game}");
    }
    let all = get_json(&app, &access, "/progress").await;
    assert_eq!(all["exercises"], serde_json::json!([]));

    // Re-analysed by an upgraded worker: the metrics and progress appear.
    let event = processed(&app, &game_id, 1, &[30]).await;
    publish(&app, &[&Envelope::new(Event::ReconciliationV2(event))]).await;
    wait_for_changes(&app, &access, 2).await;
    let game = get_json(&app, &access, &format!("/games/{game_id}")).await;
    assert_eq!(game["metrics"], report(), "{game}");
    assert_eq!(game["progress"]["session_count"], 1, "{game}");

    // A late v1 event (of revision 0) changes nothing after it.
    let sentinel = upload(&app, &access, "v1-2").await;
    publish(
        &app,
        &[
            &v1(
                &user_id,
                &game_id,
                GameOutcome::Failed {
                    reason: "late".into(),
                },
            ),
            &v1(&user_id, &sentinel, GameOutcome::Processed),
        ],
    )
    .await;
    let feed = wait_for_changes(&app, &access, 3).await;
    assert_eq!(feed.len(), 3, "{feed:?}");
    assert_eq!(feed[2]["game"]["game_id"], sentinel.as_str());
    assert_eq!(
        get_json(&app, &access, &format!("/games/{game_id}")).await,
        game
    );
}

#[tokio::test]
async fn an_event_about_a_game_the_patient_does_not_have_is_dead_lettered() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    let game_id = upload(&app, &access, "foreign").await;
    let (_, stranger) = user(&app).await;
    let mut event = processed(&app, &game_id, 1, &[30]).await;
    event.user_id = Uuid::parse_str(&stranger).expect("uuid");
    publish(&app, &[&Envelope::new(Event::ReconciliationV2(event))]).await;

    let dead_letters = app.bus.topology().dead_letter_queue();
    assert_eq!(wait_for_depth(&app.bus, &dead_letters, 1, WAIT).await, 1);
    let game = app
        .db
        .collection::<Document>("games")
        .find_one(doc! { "_id": &game_id })
        .await
        .expect("read")
        .expect("the game");
    assert_eq!(game.get_str("status"), Ok("queued"));
    assert_eq!(
        app.db
            .collection::<Document>("change_feed")
            .count_documents(doc! {})
            .await
            .expect("count"),
        0
    );
}

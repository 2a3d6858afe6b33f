//! `POST /game` while the broker refuses us: `503`, then one game and one event once
//! it is back, whether the phone's retry or the outbox publishes it.
//!
//! "Broker down" is real: the app runs on a vhost of its own, and the test revokes
//! the app's permissions there and closes its connections with `rabbitmqctl`, so every
//! reconnect is refused by the real broker until the permissions come back.

use std::time::Duration;

use shared_events::Event;

use crate::helpers::{PrivateVhost, TestApp, error_of, spawn_app_with};
use crate::upload_helpers::{
    SAMPLE, accepted_game_id, post_game, sensors_text, stored_games, take_processing_event, user,
    wait_for_processing_event,
};

async fn app_on(vhost: &PrivateVhost, outbox_ms: &str) -> TestApp {
    let url = vhost.url();
    spawn_app_with(&[
        ("M2M_AMQP_URL", &url),
        ("M2M_AMQP_TIMEOUT_MS", "2000"),
        ("M2M_OUTBOX_INTERVAL_MS", outbox_ms),
    ])
    .await
}

#[tokio::test]
async fn a_broker_outage_is_503_and_the_retry_later_publishes_exactly_once() {
    let vhost = PrivateVhost::create().await;
    // The outbox is made too slow to matter: this test is about the phone's retry.
    let app = app_on(&vhost, "3600000").await;
    let (access, _) = user(&app).await;

    vhost.take_down().await;
    let response = post_game(&app, &access, Some("outage"), SAMPLE, &[]).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_of(response).await.0, "unavailable");
    let response = post_game(&app, &access, Some("outage"), SAMPLE, &[]).await;
    assert_eq!(
        response.status(),
        503,
        "a retry during the outage is 503 too"
    );
    let games = stored_games(&app).await;
    assert_eq!(games.len(), 1, "the game is stored once");
    assert!(!games[0].get_bool("published").expect("published"));

    vhost.allow().await;
    let game_id = accepted_game_id(post_game(&app, &access, Some("outage"), SAMPLE, &[]).await);
    let game_id = game_id.await;
    assert_eq!(
        games[0].get_str("_id").expect("_id"),
        game_id,
        "the stored game"
    );
    let again = post_game(&app, &access, Some("outage"), SAMPLE, &[]).await;
    assert_eq!(accepted_game_id(again).await, game_id);

    let envelope = take_processing_event(&app).await.expect("the event");
    let Event::ProcessingV1(event) = &envelope.event else {
        panic!("expected a ProcessingEvent");
    };
    assert_eq!(event.game_id.to_string(), game_id);
    assert!(
        take_processing_event(&app).await.is_none(),
        "exactly one event"
    );
    assert_eq!(stored_games(&app).await.len(), 1);
    drop(app);
    vhost.delete().await;
}

#[tokio::test]
async fn the_outbox_publishes_a_game_the_outage_left_unpublished() {
    let vhost = PrivateVhost::create().await;
    let app = app_on(&vhost, "200").await;
    let (access, _) = user(&app).await;

    vhost.take_down().await;
    let response = post_game(&app, &access, Some("left"), SAMPLE, &[]).await;
    assert_eq!(response.status(), 503);
    vhost.allow().await;

    // Nobody retries: the gateway publishes the stored game by itself.
    let envelope = wait_for_processing_event(&app, Duration::from_secs(20))
        .await
        .expect("the outbox published the game");
    let games = stored_games(&app).await;
    assert_eq!(games.len(), 1);
    let Event::ProcessingV1(event) = &envelope.event else {
        panic!("expected a ProcessingEvent");
    };
    assert_eq!(
        event.game_id.to_string(),
        games[0].get_str("_id").expect("_id")
    );
    assert_eq!(
        event.recording.to_json(16 << 20).expect("decompresses"),
        sensors_text(SAMPLE).as_bytes(),
        "the outbox sends the stored recording"
    );
    // The phone's later retry finds it published and adds nothing.
    let retry = post_game(&app, &access, Some("left"), SAMPLE, &[]).await;
    assert_eq!(accepted_game_id(retry).await, event.game_id.to_string());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        take_processing_event(&app).await.is_none(),
        "exactly one event"
    );
    drop(app);
    vhost.delete().await;
}

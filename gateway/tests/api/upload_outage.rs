//! `POST /game` while the broker refuses us: `202` all the same (the game is stored),
//! then one event per game once the broker is back, published by the outbox.
//!
//! "Broker down" is real: the app runs on a vhost of its own, and the test revokes
//! the app's permissions there and closes its connections with `rabbitmqctl`, so every
//! reconnect is refused by the real broker until the permissions come back.

use std::time::Duration;

use shared_events::Event;

use crate::helpers::{PrivateVhost, TestApp, spawn_app_with};
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
async fn a_broker_outage_refuses_no_upload_and_each_game_is_published_once_when_it_is_back() {
    let vhost = PrivateVhost::create().await;
    let app = app_on(&vhost, "200").await;
    let (access, _) = user(&app).await;

    vhost.take_down().await;
    let first =
        accepted_game_id(post_game(&app, &access, Some("outage-1"), SAMPLE, &[]).await).await;
    // Later uploads during the outage are stored without a claim (the relay has seen
    // the broker fail), and a retry of the first is the same game.
    let second =
        accepted_game_id(post_game(&app, &access, Some("outage-2"), SAMPLE, &[]).await).await;
    let retry = post_game(&app, &access, Some("outage-1"), SAMPLE, &[]).await;
    assert_eq!(
        accepted_game_id(retry).await,
        first,
        "a retry is the same game"
    );
    let games = stored_games(&app).await;
    assert_eq!(games.len(), 2, "each game stored once");
    assert!(
        games
            .iter()
            .all(|g| !g.get_bool("published").expect("published"))
    );

    // Ready, degraded: a load balancer keeps sending uploads.
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["down"], serde_json::json!(["broker"]));

    vhost.allow().await;
    // Nobody retries: the gateway publishes the stored games by itself.
    let mut published = Vec::new();
    for _ in 0..2 {
        let envelope = wait_for_processing_event(&app, Duration::from_secs(30))
            .await
            .expect("the outbox published the game");
        let Event::ProcessingV1(event) = &envelope.event else {
            panic!("expected a ProcessingEvent");
        };
        assert_eq!(
            event.recording.to_json(16 << 20).expect("decompresses"),
            sensors_text(SAMPLE).as_bytes(),
            "the outbox sends the stored recording"
        );
        published.push(event.game_id.to_string());
    }
    published.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(published, expected);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        take_processing_event(&app).await.is_none(),
        "exactly one event per game"
    );
    drop(app);
    vhost.delete().await;
}

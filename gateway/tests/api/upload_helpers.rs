//! What the upload tests share: the sample body, posting a game, reading the
//! processing queue and the stored games.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use serde_json::Value;
use shared_events::lapin::options::BasicGetOptions;
use shared_events::{Envelope, WorkQueue};

use crate::helpers::{TestApp, unique_username};

/// A whole `POST /game` body: a 10 s, 100 Hz recording of grasp and release.
pub const SAMPLE: &str = include_str!("../../../processing-service/testdata/grasp_10s_100hz.json");

/// The `sensors` object of `body`, exactly as written.
pub fn sensors_text(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        sensors: &'a serde_json::value::RawValue,
    }
    let parsed: Body<'_> = serde_json::from_str(body).expect("a body with sensors");
    parsed.sensors.get().to_owned()
}

/// A signed-up user's access token and id.
pub async fn user(app: &TestApp) -> (String, String) {
    let login = app.signed_up(&unique_username(), "a fine password").await;
    (
        login["access_token"].as_str().expect("token").to_owned(),
        login["user_id"].as_str().expect("user id").to_owned(),
    )
}

/// `POST /game` with `body` and the given headers on top of the usual ones
/// (`Content-Type: application/json`, the bearer token and `Idempotency-Key: key`
/// unless `key` is `None`).
pub async fn post_game(
    app: &TestApp,
    access: &str,
    key: Option<&str>,
    body: impl Into<reqwest::Body>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/game"))
        .bearer_auth(access)
        .header("Content-Type", "application/json");
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(body).send().await.expect("request sent")
}

/// `POST /game` expecting `202`; returns the game id.
pub async fn accepted_game_id(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "queued");
    let id = body["game_id"].as_str().expect("game_id").to_owned();
    assert_eq!(body["status_url"], format!("/games/{id}"));
    id
}

/// Takes one message off the processing queue, if there is one.
pub async fn take_processing_event(app: &TestApp) -> Option<Envelope> {
    let queue = app.bus.topology().queue(WorkQueue::Processing);
    let connection = app.bus.connect("test get").await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let message = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get");
    let _ = connection.close(200, "done".into()).await;
    message.map(|m| Envelope::from_json(&m.delivery.data).expect("an envelope"))
}

/// The one event a test expects: waits for it (the relay publishes just after the
/// `202`), then makes sure no second one follows.
pub async fn only_processing_event(app: &TestApp) -> Envelope {
    let envelope = wait_for_processing_event(app, Duration::from_secs(10))
        .await
        .expect("an event on the processing queue");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        take_processing_event(app).await.is_none(),
        "exactly one event"
    );
    envelope
}

/// Polls the processing queue for up to `within`.
pub async fn wait_for_processing_event(app: &TestApp, within: Duration) -> Option<Envelope> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(envelope) = take_processing_event(app).await {
            return Some(envelope);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every stored game.
pub async fn stored_games(app: &TestApp) -> Vec<Document> {
    every_document(app, "games").await
}

/// Every stored recording (one per game, in their own collection).
pub async fn stored_recordings(app: &TestApp) -> Vec<Document> {
    every_document(app, "game_recordings").await
}

async fn every_document(app: &TestApp, collection: &str) -> Vec<Document> {
    use futures_util::TryStreamExt;
    app.db
        .collection::<Document>(collection)
        .find(doc! {})
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("games")
}

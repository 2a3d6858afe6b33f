//! `GET /notifications`: a phone's WebSocket hears of its games' analyses on any
//! gateway instance, is refused without a valid token, and resumes by cursor. The
//! analyses are the events a worker would publish; no worker runs here.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use shared_events::{Envelope, Event};
use tokio_tungstenite::tungstenite;

use crate::feed_helpers::{TokenIn, connect, sync, wait_for_changes};
use crate::helpers::spawn_app;
use crate::reconciliation_helpers::{processed, publish};
use crate::upload_helpers::{SAMPLE, accepted_game_id, post_game, user};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_upload_on_one_instance_is_notified_on_the_other() {
    let app = spawn_app().await;
    let instance_b = app.another_instance().await;
    let (access, _) = user(&app).await;

    let mut phone = connect(&instance_b, Some(&access), TokenIn::Header, None)
        .await
        .expect("the socket opens on instance B");
    let start = phone.ready().await;
    let game_id = accepted_game_id(post_game(&app, &access, Some("ws-1"), SAMPLE, &[]).await).await;
    let event = processed(&app, &game_id, 1, &[30]).await;
    publish(&app, &[&Envelope::new(Event::ReconciliationV2(event))]).await;

    let notice = phone.next_json(WAIT).await.expect("a notification on B");
    assert_eq!(notice["type"], "game.processed", "{notice}");
    assert_eq!(notice["game_id"], game_id.as_str(), "{notice}");
    assert_eq!(notice["status"], "processed", "{notice}");
    assert_ne!(notice["cursor"], start.as_str());

    // The change the notification names is in the feed, on either instance.
    let (status, page) = sync(&app, &instance_b, &access, &format!("?since={start}")).await;
    assert_eq!(status, 200, "{page}");
    let change = &page["changes"][0];
    assert_eq!(change["cursor"], notice["cursor"], "{page}");
    assert_eq!(change["game"]["game_id"], game_id.as_str());
    assert!(change["game"]["metrics"]["fingers"].is_object(), "{page}");
    assert_eq!(change["game"]["progress"]["session_count"], 1, "{page}");
}

#[tokio::test]
async fn a_socket_without_a_valid_token_is_refused() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    for (token, token_in) in [
        (None, TokenIn::Header),
        (Some("not-a-jwt"), TokenIn::Header),
        (Some("not-a-jwt"), TokenIn::Protocol),
        (Some("not-a-jwt"), TokenIn::Query),
    ] {
        match connect(&app.address, token, token_in, None).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{token_in:?}");
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                        .expect("a JSON error");
                assert!(body["error"]["code"].is_string(), "{body}");
            }
            Ok(_) => panic!("a socket opened with {token:?} in {token_in:?}"),
            Err(other) => panic!("unexpected handshake failure: {other}"),
        }
    }
    // The same endpoint with a valid token in each place opens.
    for token_in in [TokenIn::Header, TokenIn::Protocol, TokenIn::Query] {
        let mut phone = connect(&app.address, Some(&access), token_in, None)
            .await
            .unwrap_or_else(|e| panic!("{token_in:?}: {e}"));
        phone.ready().await;
        if matches!(token_in, TokenIn::Protocol) {
            assert_eq!(phone.protocol.as_deref(), Some("m2m.v1"));
        }
        phone.close().await;
    }
}

#[tokio::test]
async fn a_dropped_socket_that_reconnects_with_its_cursor_is_caught_up() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    let mut phone = connect(&app.address, Some(&access), TokenIn::Header, None)
        .await
        .expect("socket");
    let last_seen = phone.ready().await;
    phone.close().await;

    let mut uploaded = HashSet::new();
    for key in ["drop-1", "drop-2"] {
        let game_id =
            accepted_game_id(post_game(&app, &access, Some(key), SAMPLE, &[]).await).await;
        let event = processed(&app, &game_id, 1, &[30]).await;
        publish(&app, &[&Envelope::new(Event::ReconciliationV2(event))]).await;
        uploaded.insert(game_id);
    }
    let feed = wait_for_changes(&app, &access, 2).await;

    // Reconnecting with the cursor in the URL replays both, in feed order.
    let mut phone = connect(
        &app.address,
        Some(&access),
        TokenIn::Header,
        Some(&last_seen),
    )
    .await
    .expect("socket");
    assert_eq!(phone.ready().await, last_seen);
    let mut replayed = Vec::new();
    for _ in 0..2 {
        replayed.push(phone.next_json(WAIT).await.expect("a replayed change"));
    }
    let cursors =
        |changes: &[Value]| -> Vec<Value> { changes.iter().map(|c| c["cursor"].clone()).collect() };
    assert_eq!(cursors(&replayed), cursors(&feed));
    let ids: HashSet<String> = replayed
        .iter()
        .map(|n| n["game_id"].as_str().expect("game id").to_owned())
        .collect();
    assert_eq!(ids, uploaded);
    assert_eq!(
        phone.next_json(Duration::from_millis(500)).await,
        None,
        "nothing twice"
    );

    // So does a `resume` message on an open socket.
    phone.resume(&last_seen).await;
    let again = phone.next_json(WAIT).await.expect("replayed after resume");
    assert_eq!(again["cursor"], feed[0]["cursor"]);

    // A cursor that is not the phone's gets an error message, not a disconnect.
    phone.resume("bogus").await;
    let error = phone.next_json(WAIT).await.expect("an error message");
    // The second replayed change may come first.
    let error = if error["type"] == "error" {
        error
    } else {
        phone.next_json(WAIT).await.expect("an error message")
    };
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "invalid_cursor", "{error}");
}

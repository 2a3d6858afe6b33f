//! One game through the whole system: upload on the gateway, analysis by a real
//! processing worker over the real broker, the result read back and notified to the
//! phone.

// The gateway's test helpers, shared by path; only part of them is used here.
#[allow(dead_code)]
#[path = "../../gateway/tests/api/feed_helpers.rs"]
mod feed_helpers;
#[allow(dead_code)]
#[path = "../../gateway/tests/api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../../gateway/tests/api/upload_helpers.rs"]
mod upload_helpers;

use std::time::Duration;

use e2e::worker::start_worker;
use serde_json::Value;

use feed_helpers::{TokenIn, connect};
use helpers::spawn_app;
use upload_helpers::{SAMPLE, accepted_game_id, post_game, user};

#[tokio::test]
async fn an_uploaded_game_is_analysed_and_the_phone_hears_of_it_and_reads_it() {
    let app = spawn_app().await;
    let worker = start_worker(app.bus.settings(), &app.store, 2, 4)
        .await
        .expect("the worker starts on the gateway's stack");
    let (access, _) = user(&app).await;
    let mut phone = connect(&app.address, Some(&access), TokenIn::Header, None)
        .await
        .expect("socket");
    phone.ready().await;

    let game_id =
        accepted_game_id(post_game(&app, &access, Some("e2e-1"), SAMPLE, &[]).await).await;

    let notice = phone
        .next_json(Duration::from_secs(60))
        .await
        .expect("a notification within a minute");
    assert_eq!(notice["type"], "game.processed", "{notice}");
    assert_eq!(notice["game_id"], game_id.as_str(), "{notice}");

    // The notification follows the reconciliation: the game reads processed now.
    let game: Value = app
        .client
        .get(app.url(&format!("/games/{game_id}")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("json");
    assert_eq!(game["status"], "processed", "{game}");
    assert!(game["analytics_version"].is_string(), "{game}");
    // The metrics, the provenance and the progress travelled in the worker's event.
    assert!(
        game["metrics"]["fingers"]["index"]["sparc_mean"].is_f64(),
        "{game}"
    );
    assert_eq!(game["progress"]["session_count"], 1, "{game}");
    let sha = game["provenance"]["recording_sha256"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(sha.len(), 64, "{game}");
    worker.stop().await.expect("the worker stops cleanly");
}

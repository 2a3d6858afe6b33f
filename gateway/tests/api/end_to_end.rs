//! One game through the whole system: upload on the gateway, analysis by a real
//! processing worker over the real broker, the result read back by the phone.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::upload_helpers::{SAMPLE, accepted_game_id, post_game, user};
use crate::worker_helpers::start_worker;

#[tokio::test]
async fn an_uploaded_game_is_analysed_and_the_phone_reads_its_metrics_and_progress() {
    let app = spawn_app().await;
    let worker = start_worker(&app, 2, 4).await;

    let (access, _) = user(&app).await;
    let game_id =
        accepted_game_id(post_game(&app, &access, Some("e2e-1"), SAMPLE, &[]).await).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let game = loop {
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
        // The worker saves the result, then the progress: until the gateway reads
        // the status from the reconciliation, a read can fall in between.
        if game["status"] == "processed" && !game["progress"].is_null() {
            break game;
        }
        assert!(
            game["status"] == "queued" || game["status"] == "processed",
            "{game}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "not processed within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let index = &game["metrics"]["fingers"]["index"];
    assert!(
        index["sparc_mean"].as_f64().is_some_and(f64::is_finite),
        "{game}"
    );
    assert!(
        game["metrics"]["tremor"]["gyro"]["tremor_rms"].is_number(),
        "{game}"
    );
    assert_eq!(game["progress"]["session_count"], 1, "{game}");
    worker.stop().await;
}

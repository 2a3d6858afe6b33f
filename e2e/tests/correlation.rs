//! One game's path in the logs: every JSON line about the game, on the gateway,
//! the processing worker and the gateway's reconciliation consumer, carries the
//! correlation id the phone sent, so one grep finds them all.
//!
//! A test binary of its own because it installs the process-wide log subscriber
//! (the production JSON format, written to a buffer) and reads it back; beside
//! other tests, every one of them would write into it.

// The gateway's test helpers, shared by path; only part of them is used here.
#[allow(dead_code)]
#[path = "../../gateway/tests/api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../../gateway/tests/api/upload_helpers.rs"]
mod upload_helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongodb::bson::{Document, doc};
use serde_json::Value;
use uuid::Uuid;

use e2e::worker::start_worker;
use helpers::spawn_app;
use upload_helpers::{SAMPLE, accepted_game_id, post_game, user};

/// Where the subscriber writes: every line, kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The lines logged inside a span called `span` with the message `message`.
fn logged_in_span<'a>(lines: &'a [Value], span: &str, message: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|line| line["message"] == message)
        .filter(|line| {
            line["spans"]
                .as_array()
                .is_some_and(|spans| spans.iter().any(|s| s["name"] == span))
        })
        .collect()
}

#[tokio::test]
async fn every_log_line_of_a_game_carries_the_correlation_id_of_its_upload() {
    let captured = Captured::default();
    let sink = captured.clone();
    assert!(
        shared_events::telemetry::init_json(move || sink.clone()),
        "this binary installs the only subscriber"
    );

    let app = spawn_app().await;
    let worker = start_worker(app.bus.settings(), &app.store, 1, 2)
        .await
        .expect("the worker starts on the gateway's stack");

    let (access, _) = user(&app).await;
    let correlation_id = Uuid::now_v7().to_string();
    let game_id = accepted_game_id(
        post_game(
            &app,
            &access,
            Some("logged"),
            SAMPLE,
            &[("X-Correlation-Id", &correlation_id)],
        )
        .await,
    )
    .await;
    // Waits on the store, not on `GET /games`: those reads are requests of their
    // own, with ids of their own. The gateway's reconciliation consumer has
    // applied the event once the change is in the patient's feed.
    let feed = app.db.collection::<Document>("change_feed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while feed
        .find_one(doc! { "game_id": &game_id })
        .await
        .expect("read")
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline, "never reconciled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The consumer logs "Reconciliation applied." just after the append the loop
    // above saw: wait for the line itself, or the checks below race it.
    while !captured
        .lines()
        .iter()
        .any(|line| line.contains("Reconciliation applied.") && line.contains(&game_id))
    {
        assert!(tokio::time::Instant::now() < deadline, "never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let game = app
        .db
        .collection::<Document>("games")
        .find_one(doc! { "_id": &game_id })
        .await
        .expect("read")
        .expect("the game");
    assert_eq!(
        game.get_str("status"),
        Ok("processed"),
        "the game was analysed"
    );
    worker.stop().await.expect("the worker stops cleanly");

    let lines: Vec<Value> = captured
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).expect("every line is one JSON object"))
        .collect();
    let about_the_game: Vec<&Value> = lines
        .iter()
        .filter(|line| line.to_string().contains(&game_id))
        .collect();
    assert!(about_the_game.len() >= 3, "{about_the_game:#?}");
    for line in &about_the_game {
        assert!(
            line.to_string().contains(&correlation_id),
            "a line about the game without its correlation id: {line}"
        );
    }
    // Each part of the path is there, inside its own span.
    for (span, message) in [
        ("publish", "Published the game's ProcessingEvent"),
        ("consume", "Game analysed and reconciliation published."),
        ("consume", "Reconciliation applied."),
    ] {
        let found = logged_in_span(&lines, span, message);
        assert_eq!(found.len(), 1, "{span}: {message}");
        let carrier = found[0]["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find(|s| s["name"] == span))
            .expect("the span");
        assert_eq!(carrier["correlation_id"], correlation_id.as_str(), "{span}");
    }
}

//! The worker's operations server: readiness, and the series a processed game,
//! and a dead-lettered message, leave behind.

use std::time::Duration;

use shared_events::events::{EncodedRecording, Job, TimerFiredV1};
use shared_events::publisher::OutgoingMessage;
use shared_events::{Envelope, Event, WorkQueue};
use uuid::Uuid;

use crate::worker::{TestWorker, game, sample_sensors};

/// Scrapes `/metrics` until every line of `expected` is in it (counters are
/// updated when a delivery is settled, just after its reconciliation is out).
async fn scrape_until(worker: &TestWorker, expected: &[String]) -> String {
    let url = format!("http://{}/metrics", worker.ops_addr);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = reqwest::get(&url)
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        if expected.iter().all(|line| text.contains(line.as_str())) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing one of {expected:#?} in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_worker_is_ready_and_its_metrics_count_a_processed_game_and_a_dead_letter() {
    let worker = TestWorker::start().await;
    let ready = reqwest::get(format!("http://{}/readyz", worker.ops_addr))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["broker"]["status"], "up", "{body}");
    assert_eq!(body["checks"]["mongodb"]["status"], "up", "{body}");

    let sent = game(
        Uuid::now_v7(),
        EncodedRecording::from_json(&sample_sensors()).expect("encode"),
    );
    worker.publisher.publish(&sent).await.expect("publish");
    assert!(worker.reconciliation().await.is_some());
    // A timer on the processing queue is a routing mistake: dead-lettered.
    let stray = Envelope::new(Event::TimerFiredV1(TimerFiredV1 {
        job: Job::Sync,
        window: 1,
    }));
    let queue = worker.bus.topology().queue(WorkQueue::Processing);
    worker
        .publisher
        .publish_message(
            "",
            &queue,
            OutgoingMessage::from_envelope(&stray).expect("encode"),
        )
        .await
        .expect("publish the stray timer");

    let consumed = |event_type: &str, outcome: &str| {
        format!(
            r#"m2m_events_consumed_total{{queue="{queue}",event_type="{event_type}",outcome="{outcome}"}} 1"#
        )
    };
    scrape_until(
        &worker,
        &[
            consumed("processing.requested", "handled"),
            consumed("timer.fired", "dead_lettered"),
            format!(
                r#"m2m_event_handling_seconds_count{{queue="{queue}",event_type="processing.requested"}} 1"#
            ),
            r#"m2m_analysis_seconds_count{outcome="processed"} 1"#.to_owned(),
            r#"m2m_events_published_total{event_type="reconciliation.ready",result="confirmed"} 1"#
                .to_owned(),
            r#"m2m_analytics_info{version="1"} 1"#.to_owned(),
            // A new patient: no running state yet, so it is built from the (empty)
            // history once; then one insert of the state and one upsert of the result.
            r#"m2m_progress_rebuilds_total{reason="missing"} 1"#.to_owned(),
            r#"m2m_store_commands_total{command="find",collection="progress_state"} 1"#.to_owned(),
            r#"m2m_store_commands_total{command="insert",collection="progress_state"} 1"#
                .to_owned(),
            r#"m2m_store_commands_total{command="findAndModify",collection="results"} 1"#
                .to_owned(),
        ],
    )
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn a_patients_later_games_cost_one_read_and_one_write_of_progress_whatever_the_history() {
    let worker = TestWorker::start().await;
    let user = Uuid::now_v7();
    let recording = EncodedRecording::from_json(&sample_sensors()).expect("encode");
    const GAMES: u64 = 6;
    for played in 1..=GAMES {
        let sent = game(user, recording.clone());
        worker.publisher.publish(&sent).await.expect("publish");
        let reconciliation = worker.reconciliation().await.expect("reconciled");
        let Event::ReconciliationV2(event) = reconciliation.event else {
            panic!("a v2 reconciliation")
        };
        let progress = event.progress.expect("progress");
        assert_eq!(progress.session_count, played);
        assert_eq!(progress.revision, played);
    }
    // The history was read once (the first game, no state yet); every later game
    // read one state document and replaced it once.
    let line = |command: &str, collection: &str, n: u64| {
        format!(r#"m2m_store_commands_total{{command="{command}",collection="{collection}"}} {n}"#)
    };
    let text = scrape_until(
        &worker,
        &[
            line("find", "results", 1),
            line("find", "progress_state", GAMES),
            line("insert", "progress_state", 1),
            line("update", "progress_state", GAMES - 1),
            line("findAndModify", "results", GAMES),
        ],
    )
    .await;
    assert!(
        !text.contains(r#"reason="out_of_window""#),
        "no rebuild for games in play order:\n{text}"
    );
    worker.stop().await;
}

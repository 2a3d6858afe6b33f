//! The operators' dashboard's JSON API: who may use it, and what it shows and does.

use std::time::Duration;

use mongodb::bson::{DateTime, Document, doc};
use serde_json::{Value, json};
use shared_events::WorkQueue;
use shared_events::events::{Job, JobCompletedV1};
use shared_events::header_values::get_text;
use shared_events::publisher::headers;
use shared_events::testing::{depth, drain, processing_event};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::admin_helpers::{WAIT, spawn_admin_app};
use crate::helpers::{error_of, spawn_app, unique_username};

const ENDPOINTS: [&str; 4] = [
    "/admin/api/queues",
    "/admin/api/processing",
    "/admin/api/jobs",
    "/admin/api/dead-letters",
];

#[tokio::test]
async fn without_an_admin_token_configured_there_is_no_dashboard() {
    let app = spawn_app().await;
    for path in ["/admin", "/admin/app.js"].into_iter().chain(ENDPOINTS) {
        let response = app.admin_get(path, Some("anything-at-all-anything")).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let redrive = app
        .admin_post("/admin/api/dead-letters/x/redrive", Some("anything"))
        .await;
    assert_eq!(redrive.status(), 404);
}

#[tokio::test]
async fn the_api_refuses_no_token_a_wrong_token_and_a_patients_token() {
    let (app, token) = spawn_admin_app().await;
    let login = app.signed_up(&unique_username(), "a fine password").await;
    let patient = login["access_token"].as_str().expect("access token");
    let wrong = format!("{token}x");
    for path in ENDPOINTS {
        let none = app.admin_get(path, None).await;
        assert_eq!(none.status(), 401, "{path}");
        assert!(none.headers().contains_key("www-authenticate"));
        assert_eq!(error_of(none).await.0, "missing_token", "{path}");

        let refused = app.admin_get(path, Some(&wrong)).await;
        assert_eq!(refused.status(), 401, "{path}");
        assert_eq!(error_of(refused).await.0, "invalid_token", "{path}");

        let forbidden = app.admin_get(path, Some(patient)).await;
        assert_eq!(forbidden.status(), 403, "{path}");
        assert_eq!(error_of(forbidden).await.0, "forbidden", "{path}");

        assert_eq!(
            app.admin_get(path, Some(&token)).await.status(),
            200,
            "{path}"
        );
    }
    let redrive = "/admin/api/dead-letters/anything/redrive";
    assert_eq!(app.admin_post(redrive, None).await.status(), 401);
    assert_eq!(app.admin_post(redrive, Some(&wrong)).await.status(), 401);
    assert_eq!(app.admin_post(redrive, Some(patient)).await.status(), 403);
}

#[tokio::test]
async fn the_page_is_served_with_a_strict_content_policy_and_needs_no_token() {
    let (app, _token) = spawn_admin_app().await;
    let response = app.admin_get("/admin", None).await;
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let html = response.text().await.expect("body");
    let processing = app.bus.topology().queue(WorkQueue::Processing);
    assert!(
        html.contains(&format!("data-queue=\"{processing}\"")),
        "{html}"
    );
    assert!(html.contains("id=\"token\""));
    let script = app.admin_get("/admin/app.js", None).await;
    assert_eq!(script.status(), 200);
    assert!(
        script
            .text()
            .await
            .expect("body")
            .contains("sessionStorage")
    );
}

#[tokio::test]
async fn a_dead_letter_is_listed_and_a_redrive_moves_it_back_to_its_work_queue() {
    let (app, token) = spawn_admin_app().await;
    let envelope = app.dead_letter("the recording is corrupt").await;
    let id = envelope.id.to_string();
    let processing = app.bus.topology().queue(WorkQueue::Processing);
    let dead_letters = app.bus.topology().dead_letter_queue();

    let listing = app.admin_json("/admin/api/dead-letters", &token).await;
    assert_eq!(listing["total"], 1, "{listing}");
    assert_eq!(listing["queue"], dead_letters.as_str());
    let letter = &listing["letters"][0];
    assert_eq!(letter["id"], id.as_str());
    assert_eq!(letter["type"], "processing.requested");
    assert_eq!(letter["by"], "runner");
    assert_eq!(letter["queue"], processing.as_str());
    assert!(
        letter["reason"]
            .as_str()
            .expect("reason")
            .contains("the recording is corrupt"),
        "{letter}"
    );
    // Looking took nothing away.
    assert_eq!(depth(&app.bus, &dead_letters).await, 1);
    assert_eq!(depth(&app.bus, &processing).await, 0);

    let redriven = app
        .admin_post(
            &format!("/admin/api/dead-letters/{id}/redrive"),
            Some(&token),
        )
        .await;
    assert_eq!(redriven.status(), 200);
    let body: Value = redriven.json().await.expect("json");
    assert_eq!(body["queue"], processing.as_str());

    assert_eq!(depth(&app.bus, &dead_letters).await, 0, "gone from the DLQ");
    let back = drain(&app.bus, &processing).await;
    assert_eq!(back.len(), 1, "on its work queue");
    let properties = &back[0].delivery.properties;
    assert_eq!(
        properties.message_id().as_ref().map(|m| m.to_string()),
        Some(id.clone())
    );
    assert_eq!(get_text(properties, headers::DEATH_REASON), None, "fresh");
    assert_eq!(
        shared_events::Envelope::from_json(&back[0].delivery.data).expect("envelope"),
        envelope,
        "the same event, intact"
    );

    let again = app
        .admin_post(
            &format!("/admin/api/dead-letters/{id}/redrive"),
            Some(&token),
        )
        .await;
    assert_eq!(again.status(), 404);
    assert_eq!(error_of(again).await.0, "not_found");
}

#[tokio::test]
async fn queues_show_depth_consumers_and_the_change_between_polls() {
    let (app, token) = spawn_admin_app().await;
    app.dead_letter("poison").await;
    let row = |queues: &Value, name: &str| -> Value {
        queues["queues"]
            .as_array()
            .expect("queues")
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no row {name} in {queues}"))
    };
    let topology = app.bus.topology().clone();
    let processing = topology.queue(WorkQueue::Processing);
    let first = app.admin_json("/admin/api/queues", &token).await;
    // Four work queues, each with its retry queue, and the dead letters.
    assert_eq!(first["queues"].as_array().expect("queues").len(), 9);
    let dlq = row(&first, &topology.dead_letter_queue());
    assert_eq!(
        (dlq["ready"].as_u64(), dlq["role"].as_str()),
        (Some(1), Some("dead_letters"))
    );
    let retry = row(&first, &topology.retry_queue(WorkQueue::Processing));
    assert_eq!(
        (retry["exists"].as_bool(), retry["role"].as_str()),
        (Some(true), Some("retry"))
    );
    assert_eq!(row(&first, &processing)["ready"], 0);

    // Three uploads' worth of work arrive and nobody consumes them.
    let publisher = shared_events::Publisher::new(app.bus.clone(), "test publisher");
    for _ in 0..3 {
        publisher
            .publish(&processing_event(Uuid::now_v7(), Uuid::now_v7()))
            .await
            .expect("published");
    }
    publisher.close().await;
    // Rates need a second look at least a second after the first.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = app.admin_json("/admin/api/queues", &token).await;
    let work = row(&second, &processing);
    assert_eq!(
        (work["ready"].as_u64(), work["consumers"].as_u64()),
        (Some(3), Some(0))
    );
    let change = work["change_per_sec"]
        .as_f64()
        .expect("a rate on the second look");
    assert!(change > 0.0, "the queue grew: {work}");
    assert_eq!(
        row(&second, &topology.dead_letter_queue())["change_per_sec"],
        0.0
    );
}

fn ago(millis: i64) -> DateTime {
    DateTime::from_millis(DateTime::now().timestamp_millis() - millis)
}

/// A game as the gateway stores it once reconciled: accepted at `created`,
/// analysed at `analysed` (`None`: still queued).
fn game(
    id: &str,
    created: DateTime,
    analysed: Option<DateTime>,
    failure: Option<&str>,
) -> Document {
    let mut game = doc! {
        "_id": id, "user_id": "u", "exercise": "piano", "score": 10_i64,
        "created_at": created, "published": true,
        "status": match (analysed, failure) {
            (None, _) => "queued",
            (Some(_), None) => "processed",
            (Some(_), Some(_)) => "failed",
        },
    };
    if let Some(analysed) = analysed {
        game.insert("analysed_at", analysed);
        game.insert("analytics_version", 3_i64);
    }
    if let Some(reason) = failure {
        game.insert("failure_reason", reason);
    }
    game
}

#[tokio::test]
async fn processing_shows_latency_throughput_and_failures_from_the_games() {
    let (app, token) = spawn_admin_app().await;
    // Games accepted, then analysed `wait` ms later (a few seconds ago).
    let waits = [1_000_i64, 2_000, 30_000];
    let mut games = Vec::new();
    for (n, wait) in waits.iter().enumerate() {
        let analysed = ago(5_000 + n as i64);
        let created = DateTime::from_millis(analysed.timestamp_millis() - wait);
        let failure = (n == 2).then_some("impossible angles <b>");
        games.push(game(&format!("game-{n}"), created, Some(analysed), failure));
    }
    // An old failure outside the last minute, and a game still waiting.
    games.push(game(
        "old",
        ago(3_700_000),
        Some(ago(3_600_000)),
        Some("long ago"),
    ));
    games.push(game("queued", ago(1_000), None, None));
    app.db
        .collection::<Document>("games")
        .insert_many(games)
        .await
        .expect("games");

    let processing = app.admin_json("/admin/api/processing", &token).await;
    let latency = &processing["latency"];
    assert_eq!(latency["games"], 4, "{processing}");
    assert_eq!(latency["p50_ms"], 2_000);
    assert_eq!(latency["p99_ms"], 100_000);
    assert_eq!(latency["max_ms"], 100_000);
    assert_eq!(processing["last_minute"]["processed"], 2);
    assert_eq!(processing["last_minute"]["failed"], 1);
    let failures = processing["failures"].as_array().expect("failures");
    let ids: Vec<&str> = failures
        .iter()
        .filter_map(|f| f["game_id"].as_str())
        .collect();
    assert_eq!(ids, ["game-2", "old"], "newest first");
    assert_eq!(failures[0]["reason"], "impossible angles <b>");
    assert_eq!(failures[0]["exercise"], "piano");
    assert_eq!(failures[0]["user_id"], "u");
}

#[tokio::test]
async fn the_dashboard_creates_its_index_on_games_and_only_when_it_is_on() {
    let (on, _token) = spawn_admin_app().await;
    let off = spawn_app().await;
    let names = |app: &crate::helpers::TestApp| {
        let games = app.db.collection::<Document>("games");
        async move { games.list_index_names().await.expect("index names") }
    };
    assert!(
        names(&on)
            .await
            .iter()
            .any(|n| n == "dashboard_by_status_recent"),
        "{:?}",
        names(&on).await
    );
    assert!(
        !names(&off)
            .await
            .iter()
            .any(|n| n == "dashboard_by_status_recent"),
        "{:?}",
        names(&off).await
    );
}

#[tokio::test]
async fn jobs_show_the_runs_the_sync_worker_announced_newest_first_manual_ones_included() {
    let (app, token) = spawn_admin_app().await;
    let runs = [
        completed(Job::Backup, 100, 30_000, 1),
        completed(Job::Backup, 101, 20_000, 2),
        completed(Job::Backup, -1_795_341_600_123, 10_000, 3),
        completed(Job::Sync, 7, 50_000, 4),
    ];
    for run in &runs {
        app.publish_job_completed(run.clone()).await;
    }
    // A redelivery or a replay of one run changes nothing.
    app.publish_job_completed(runs[1].clone()).await;

    let jobs = app
        .admin_json_until("/admin/api/jobs", &token, |jobs| {
            runs_of(jobs, "backup").len() == 3 && runs_of(jobs, "sync").len() == 1
        })
        .await;
    let backup = runs_of(&jobs, "backup");
    let windows: Vec<i64> = backup.iter().filter_map(|r| r["window"].as_i64()).collect();
    assert_eq!(windows, [-1_795_341_600_123, 101, 100], "{jobs}");
    assert_eq!(backup[0]["manual"], true);
    assert_eq!(backup[1]["manual"], false);
    assert_eq!(backup[0]["summary"]["archived"], 3);
    assert!(backup[0]["age_secs"].as_i64().expect("age") >= 10);
    let sync = runs_of(&jobs, "sync");
    assert_eq!(sync[0]["summary"]["archived"], 4);
    let dashboard = app.bus.topology().queue(WorkQueue::Dashboard);
    assert_eq!(depth(&app.bus, &dashboard).await, 0, "every event consumed");
}

#[tokio::test]
async fn job_runs_are_recorded_even_with_the_dashboard_off() {
    let app = spawn_app().await;
    app.publish_job_completed(completed(Job::Sync, 9, 1_000, 5))
        .await;
    let recorded = app.db.collection::<Document>("dashboard_job_runs");
    let mut found = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while found.is_none() && tokio::time::Instant::now() < deadline {
        found = recorded
            .find_one(doc! { "job": "sync", "window": 9_i64 })
            .await
            .expect("find");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run = found.expect("the run is recorded");
    assert_eq!(
        run.get_document("summary")
            .expect("summary")
            .get_i64("archived")
            .ok(),
        Some(5)
    );
}

fn completed(job: Job, window: i64, ago_ms: i64, archived: i64) -> JobCompletedV1 {
    JobCompletedV1 {
        job,
        window,
        finished_at: OffsetDateTime::now_utc() - time::Duration::milliseconds(ago_ms),
        summary: json!({ "archived": archived }),
    }
}

fn runs_of(jobs: &Value, name: &str) -> Vec<Value> {
    jobs["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["job"] == name)
        .and_then(|j| j["runs"].as_array().cloned())
        .unwrap_or_else(|| panic!("no {name} in {jobs}"))
}

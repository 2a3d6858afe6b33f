//! Operations: `/metrics` after real traffic, `/readyz` following the broker down
//! and back, and the correlation id of a request.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{PrivateVhost, TestApp, spawn_app_with, unique_username};
use crate::upload_helpers::{SAMPLE, accepted_game_id, only_processing_event, post_game, user};

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response.text().await.expect("body")
}

/// Scrapes until every line of `expected` is there (the queue poller runs on its
/// own schedule), or fails with the last scrape.
async fn scrape_until(app: &TestApp, expected: &[String]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = scrape(app).await;
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

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn metrics_count_requests_logins_published_events_and_queue_depths() {
    let app = spawn_app_with(&[
        ("M2M_LOGIN_MAX_FAILURES", "1"),
        ("M2M_QUEUE_POLL_MS", "100"),
    ])
    .await;
    let (access, _) = user(&app).await; // registers and logs in: one success
    let stranger = unique_username();
    assert_eq!(app.login(&stranger, "wrong password").await.status(), 401);
    assert_eq!(app.login(&stranger, "wrong password").await.status(), 429);
    let game_id =
        accepted_game_id(post_game(&app, &access, Some("metrics-1"), SAMPLE, &[]).await).await;
    let read = app
        .client
        .get(app.url(&format!("/games/{game_id}")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("sent");
    assert_eq!(read.status(), 200);

    let processing = app
        .bus
        .topology()
        .queue(shared_events::WorkQueue::Processing);
    scrape_until(
        &app,
        &[
            r#"m2m_logins_total{outcome="success"} 1"#.to_owned(),
            r#"m2m_logins_total{outcome="bad_credentials"} 1"#.to_owned(),
            r#"m2m_logins_total{outcome="rate_limited"} 1"#.to_owned(),
            r#"m2m_http_requests_total{method="POST",route="/login",status="401"} 1"#.to_owned(),
            r#"m2m_http_requests_total{method="POST",route="/game",status="202"} 1"#.to_owned(),
            // The matched pattern, not the id: one series for every game.
            r#"m2m_http_request_duration_seconds_count{method="GET",route="/games/{id}",status="200"} 1"#
                .to_owned(),
            r#"m2m_events_published_total{event_type="processing.requested",result="confirmed"} 1"#
                .to_owned(),
            r#"m2m_outbox_published_total{path="relay"} 1"#.to_owned(),
            format!(r#"m2m_queue_messages{{queue="{processing}"}} 1"#),
            format!(r#"m2m_queue_consumers{{queue="{processing}"}} 0"#),
        ],
    )
    .await;
}

#[tokio::test]
async fn readiness_is_degraded_while_the_broker_is_unreachable_and_ready_when_it_is_back() {
    let vhost = PrivateVhost::create().await;
    let url = vhost.url();
    let app = spawn_app_with(&[("M2M_AMQP_URL", &url), ("M2M_AMQP_TIMEOUT_MS", "2000")]).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");

    vhost.take_down().await;
    // Still ready for uploads (the outbox publishes them later), and says why not whole.
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["down"], serde_json::json!(["broker"]), "{body}");
    assert_eq!(body["checks"]["broker"]["status"], "down");
    assert_eq!(body["checks"]["mongodb"]["status"], "up");
    assert_eq!(body["checks"]["redis"]["status"], "up");
    let alive = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        alive.status(),
        200,
        "liveness does not depend on the broker"
    );

    vhost.allow().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "ready again once the broker is back: {body}");
    assert_eq!(body["status"], "ready", "{body}");
    drop(app);
    vhost.delete().await;
}

#[tokio::test]
async fn a_client_request_id_is_kept_returned_and_carried_by_the_game_event() {
    let app = spawn_app_with(&[]).await;
    let (access, _) = user(&app).await;
    let id = Uuid::now_v7().to_string();
    let response = post_game(
        &app,
        &access,
        Some("correlated"),
        SAMPLE,
        &[("X-Request-Id", &id)],
    )
    .await;
    assert_eq!(response.headers()["x-correlation-id"], id.as_str());
    assert_eq!(response.headers()["x-request-id"], id.as_str());
    accepted_game_id(response).await;
    let event = only_processing_event(&app).await;
    assert_eq!(event.correlation_id.to_string(), id);

    // Without one, or with one that is not a UUID, the gateway makes one up.
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("X-Correlation-Id", "not-a-uuid")
        .send()
        .await
        .expect("sent");
    let made_up = response.headers()["x-correlation-id"]
        .to_str()
        .expect("ascii");
    assert!(Uuid::parse_str(made_up).is_ok(), "{made_up}");
}

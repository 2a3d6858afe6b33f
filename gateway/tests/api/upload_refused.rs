//! `POST /game` refusals: each bad input gets its status (and field), and leaves
//! nothing stored, published or counted.

use std::io::Write as _;

use redis::AsyncCommands;

use crate::helpers::{TestApp, error_of, spawn_app, spawn_app_with};
use crate::upload_helpers::{
    SAMPLE, post_game, stored_games, stored_recordings, take_processing_event, user,
};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

async fn assert_nothing_left(app: &TestApp, case: &str) {
    assert!(
        stored_games(app).await.is_empty(),
        "{case}: a game was stored"
    );
    assert!(
        stored_recordings(app).await.is_empty(),
        "{case}: a recording was stored"
    );
    assert!(
        take_processing_event(app).await.is_none(),
        "{case}: an event was published"
    );
    let mut redis = app.redis.clone();
    let aggregate: Option<i64> = redis
        .hget(app.keys.key("agg:grasp_and_release"), "count")
        .await
        .expect("hget");
    assert_eq!(aggregate, None, "{case}: the game was counted");
}

#[tokio::test]
async fn bad_bodies_are_refused_with_their_status_and_field_and_leave_nothing() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    let channel = "\"index_mcp\":[";
    let with_x = SAMPLE.replacen(channel, "\"index_mcp\":[\"x\",", 1);
    let short = SAMPLE.replacen(channel, "\"index_mcp\":[1.5,", 1);
    // (case, body, status, the field or the start of its path)
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        (
            "malformed JSON",
            SAMPLE[..SAMPLE.len() / 2].to_owned(),
            400,
            None,
        ),
        ("not JSON at all", "hello".to_owned(), 400, None),
        (
            "a string in a channel",
            with_x,
            422,
            Some("sensors.angles_deg.index_mcp[0]"),
        ),
        // Which channel is blamed depends on which one sets the length.
        (
            "a number that is not a finite double",
            SAMPLE.replacen(channel, "\"index_mcp\":[1e999,", 1),
            422,
            Some("sensors.angles_deg.index_mcp[0]"),
        ),
        ("unequal lengths", short, 422, Some("sensors.angles_deg.")),
        (
            "a sample rate out of range",
            SAMPLE.replacen("\"sample_rate_hz\":100.0", "\"sample_rate_hz\":5", 1),
            422,
            Some("sensors.sample_rate_hz"),
        ),
        (
            "a score of the wrong type",
            SAMPLE.replacen("\"score\":30", "\"score\":\"30\"", 1),
            422,
            Some("score"),
        ),
        (
            "a bad exercise name",
            SAMPLE.replacen("grasp_and_release", "Grasp & release", 1),
            422,
            Some("exercise"),
        ),
        (
            "an end before the start",
            SAMPLE.replacen("10:00:10Z", "09:59:00Z", 1),
            422,
            Some("ended_at"),
        ),
    ];
    for (case, body, status, field) in cases {
        let response = post_game(&app, &access, Some(case), body, &[]).await;
        assert_eq!(response.status(), status, "{case}");
        let (_, got_field) = error_of(response).await;
        if let Some(field) = field {
            let got = got_field.unwrap_or_default();
            assert!(
                got.starts_with(field),
                "{case}: field {got:?}, expected {field:?}"
            );
        }
    }
    assert_nothing_left(&app, "bad bodies").await;
}

#[tokio::test]
async fn bad_headers_and_encodings_are_refused_and_leave_nothing() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;

    let response = post_game(&app, &access, None, SAMPLE, &[]).await;
    assert_eq!(response.status(), 400, "no Idempotency-Key");
    assert_eq!(
        error_of(response).await.1.as_deref(),
        Some("Idempotency-Key")
    );

    let long_key = "k".repeat(256);
    let response = post_game(&app, &access, Some(&long_key), SAMPLE, &[]).await;
    assert_eq!(response.status(), 400, "a 256-character key");

    let response = app
        .client
        .post(app.url("/game"))
        .bearer_auth(&access)
        .header("Idempotency-Key", "k")
        .header("Content-Type", "text/plain")
        .body(SAMPLE)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 415, "text/plain");
    assert_eq!(error_of(response).await.0, "unsupported_media_type");

    let response = post_game(
        &app,
        &access,
        Some("k"),
        SAMPLE,
        &[("Content-Encoding", "br")],
    );
    assert_eq!(response.await.status(), 415, "brotli");

    let response = post_game(
        &app,
        &access,
        Some("k"),
        "not gzip at all",
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(response.await.status(), 400, "bad gzip");

    let mut truncated = gzip(SAMPLE.as_bytes());
    truncated.truncate(truncated.len() / 2);
    let response = post_game(
        &app,
        &access,
        Some("k"),
        truncated,
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(response.await.status(), 400, "truncated gzip");

    let response = app
        .client
        .post(app.url("/game"))
        .header("Idempotency-Key", "k")
        .header("Content-Type", "application/json")
        .body(SAMPLE)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401, "no token");

    assert_nothing_left(&app, "bad headers").await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_plain_or_gzipped() {
    // The sample is ~104 KB; its gzip is far smaller than the limit.
    let app = spawn_app_with(&[("M2M_MAX_BODY_BYTES", "60000")]).await;
    let (access, _) = user(&app).await;
    let response = post_game(&app, &access, Some("big"), SAMPLE, &[]).await;
    assert_eq!(response.status(), 413, "plain");
    assert_eq!(error_of(response).await.0, "payload_too_large");

    let zipped = gzip(SAMPLE.as_bytes());
    assert!(zipped.len() < 60_000);
    let response = post_game(
        &app,
        &access,
        Some("big"),
        zipped,
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(response.await.status(), 413, "gzipped past the limit");

    let bomb = gzip(&vec![b' '; 200 << 20]);
    let response = post_game(
        &app,
        &access,
        Some("bomb"),
        bomb,
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(response.await.status(), 413, "a gzip bomb");

    assert_nothing_left(&app, "too large").await;
}

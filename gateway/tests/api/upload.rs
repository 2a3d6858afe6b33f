//! `POST /game`: the happy path to the queue, idempotency and the same-key race.

use std::io::Write as _;

use mongodb::bson::Bson;
use redis::AsyncCommands;
use shared_events::Event;

use crate::helpers::spawn_app;
use crate::upload_helpers::{
    SAMPLE, accepted_game_id, only_processing_event, post_game, sensors_text, stored_games,
    stored_recordings, user,
};

#[tokio::test]
async fn an_upload_is_stored_published_with_its_recording_and_counted() {
    let app = spawn_app().await;
    let (access, user_id) = user(&app).await;

    let game_id = accepted_game_id(post_game(&app, &access, Some("k-1"), SAMPLE, &[]).await).await;

    let envelope = only_processing_event(&app).await;
    let Event::ProcessingV1(event) = &envelope.event else {
        panic!("expected a ProcessingEvent, got {:?}", envelope.event);
    };
    assert_eq!(event.game_id.to_string(), game_id);
    assert_eq!(event.user_id.to_string(), user_id);
    assert_eq!(event.exercise, "grasp_and_release");
    assert_eq!(event.score, 30);
    assert_eq!(event.started_at.unix_timestamp(), 1_768_471_200);
    assert_eq!((event.ended_at - event.started_at).whole_seconds(), 10);
    let sensors = event
        .recording
        .to_json(16 << 20)
        .expect("the recording decompresses");
    assert_eq!(sensors, sensors_text(SAMPLE).as_bytes());

    // The relay marks confirmed games in batches, within a fraction of a second.
    let mut games = stored_games(&app).await;
    for _ in 0..50 {
        if games[0].get_bool("published") == Ok(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        games = stored_games(&app).await;
    }
    assert_eq!(games.len(), 1);
    let game = &games[0];
    assert_eq!(game.get_str("_id").expect("_id"), game_id);
    assert_eq!(game.get_str("user_id").expect("user_id"), user_id);
    assert_eq!(game.get_str("status").expect("status"), "queued");
    assert!(game.get_bool("published").expect("published"));
    assert_eq!(
        game.get_str("correlation_id").expect("id"),
        envelope.correlation_id.to_string()
    );
    assert!(
        game.get("recording").is_none(),
        "the recording has its own document"
    );
    let recordings = stored_recordings(&app).await;
    assert_eq!(recordings.len(), 1);
    let recording = &recordings[0];
    assert_eq!(recording.get_str("_id").expect("_id"), game_id);
    assert_eq!(recording.get_str("user_id").expect("user_id"), user_id);
    let Some(Bson::Binary(data)) = recording.get("data") else {
        panic!("the recording is not stored as binary: {recording:?}");
    };
    assert_eq!(
        zstd::bulk::decompress(&data.bytes, 16 << 20).expect("a zstd frame"),
        sensors_text(SAMPLE).as_bytes()
    );

    let mut redis = app.redis.clone();
    let key = |name: &str| app.keys.key(name);
    let count: i64 = redis
        .hget(key("agg:grasp_and_release"), "count")
        .await
        .expect("agg");
    let sum: i64 = redis
        .hget(key("agg:grasp_and_release"), "score_sum")
        .await
        .expect("agg");
    assert_eq!((count, sum), (1, 30));
    let best: Option<f64> = redis
        .zscore(key("leaderboard:grasp_and_release"), &user_id)
        .await
        .expect("zscore");
    assert_eq!(best, Some(30.0));
    for family in ["agg", "leaderboard"] {
        let at: Option<i64> = redis
            .get(key(&format!("{family}:updated_time")))
            .await
            .expect("get");
        assert!(
            at.is_some_and(|ms| ms > 1_700_000_000_000),
            "{family}:updated_time"
        );
    }
    let game_counter: i64 = redis.get(key("c:game")).await.expect("c:game");
    assert_eq!(game_counter, 1);
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_is_the_same_game_and_no_new_event() {
    let app = spawn_app().await;
    let (access, user_id) = user(&app).await;
    let first = accepted_game_id(post_game(&app, &access, Some("same"), SAMPLE, &[]).await).await;
    let again = accepted_game_id(post_game(&app, &access, Some("same"), SAMPLE, &[]).await).await;
    assert_eq!(first, again);
    // The retry published nothing.
    only_processing_event(&app).await;
    assert_eq!(stored_games(&app).await.len(), 1);
    assert_eq!(stored_recordings(&app).await.len(), 1);
    let mut redis = app.redis.clone();
    let count: i64 = redis
        .hget(app.keys.key("agg:grasp_and_release"), "count")
        .await
        .expect("agg");
    assert_eq!(count, 1, "a retry is not a new game");

    // Another user's identical key is another game.
    let (other, _) = user(&app).await;
    let theirs = accepted_game_id(post_game(&app, &other, Some("same"), SAMPLE, &[]).await).await;
    assert_ne!(theirs, first);
    assert!(!user_id.is_empty());
}

#[tokio::test]
async fn concurrent_uploads_with_one_key_make_one_game_and_one_event() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    let requests = (0..6).map(|_| post_game(&app, &access, Some("race"), SAMPLE, &[]));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        ids.push(accepted_game_id(response).await);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every request got the same game: {ids:?}");
    assert_eq!(stored_games(&app).await.len(), 1);
    assert_eq!(
        stored_recordings(&app).await.len(),
        1,
        "the losers' recordings are removed"
    );
    only_processing_event(&app).await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    let first = post_game(&app, &access, Some("k"), SAMPLE, &[]).await;
    accepted_game_id(first).await;
    let changed = SAMPLE.replacen("\"score\":30", "\"score\":31", 1);
    let response = post_game(&app, &access, Some("k"), changed, &[]).await;
    assert_eq!(response.status(), 422);
    let (code, field) = crate::helpers::error_of(response).await;
    assert_eq!(code, "validation_failed");
    assert_eq!(field.as_deref(), Some("Idempotency-Key"));
    assert_eq!(stored_games(&app).await.len(), 1);
}

#[tokio::test]
async fn a_gzip_body_is_accepted_and_stored_like_a_plain_one() {
    let app = spawn_app().await;
    let (access, _) = user(&app).await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(SAMPLE.as_bytes()).expect("gzip");
    let zipped = encoder.finish().expect("gzip");
    let response = post_game(
        &app,
        &access,
        Some("z"),
        zipped,
        &[("Content-Encoding", "gzip")],
    );
    let game_id = accepted_game_id(response.await).await;
    let envelope = only_processing_event(&app).await;
    let Event::ProcessingV1(event) = &envelope.event else {
        panic!("expected a ProcessingEvent");
    };
    assert_eq!(event.game_id.to_string(), game_id);
    let sensors = event.recording.to_json(16 << 20).expect("decompresses");
    assert_eq!(sensors, sensors_text(SAMPLE).as_bytes());
    // The same upload sent plain is the same request (hash of the decompressed body).
    let plain = post_game(&app, &access, Some("z"), SAMPLE, &[]).await;
    assert_eq!(accepted_game_id(plain).await, game_id);
}

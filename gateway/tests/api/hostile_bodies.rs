//! Bodies sent to hurt: larger than announced or than allowed, gzip bombs, JSON nested
//! past any parser's stack. Each is refused with a JSON error, and the gateway's
//! memory stays far below what buffering the body would take.
//!
//! Memory is the gateway process's high-water mark (`VmHWM`, resident bytes), which
//! no later freeing can hide. Each attack sends (or inflates to) [`ATTACK_BYTES`],
//! several times the bound, so a gateway that held the body would fail the test.

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::gateway_process::GatewayProcess;
use crate::helpers::{error_of, spawn_app, unique_username};
use crate::raw_http::{connect, head, read_response, write_all};

/// What each attack sends or inflates to.
const ATTACK_BYTES: usize = 1 << 30;
/// The gateway's resident memory may not pass this: far above its working set (a
/// few tens of MiB, plus argon2's 19 MiB per hash), far below the attack.
const MEMORY_BOUND_BYTES: u64 = 256 << 20;
/// The upload limit of the gateway under attack.
const LIMIT: &str = "1048576";

async fn attacked_gateway() -> (GatewayProcess, String) {
    let gateway = GatewayProcess::start(&[("M2M_MAX_BODY_BYTES", LIMIT)], "info").await;
    let login = gateway
        .app
        .signed_up(&unique_username(), "a fine password")
        .await;
    let access = login["access_token"].as_str().expect("token").to_owned();
    (gateway, access)
}

fn assert_memory_bounded(gateway: &GatewayProcess) {
    let peak = gateway.peak_rss_bytes();
    assert!(
        peak < MEMORY_BOUND_BYTES,
        "the gateway's resident memory peaked at {} MiB",
        peak >> 20
    );
}

/// Sends `head` and then up to `ATTACK_BYTES` of body made by `frame` (64 KiB at a
/// time) while reading the answer; returns the answer and how much was sent before
/// the server stopped reading.
async fn attack(
    gateway: &GatewayProcess,
    head: String,
    frame: fn(&[u8]) -> Vec<u8>,
) -> (crate::raw_http::RawResponse, usize) {
    let stream = connect(&gateway.socket_address()).await;
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let chunk = frame(&[b' '; 64 * 1024]);
        let mut sent = 0;
        if writer.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        while sent < ATTACK_BYTES {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
            sent += 64 * 1024;
        }
        sent
    });
    let response = read_response(&mut reader)
        .await
        .expect("an answer before the connection closes");
    // Once answered, the server reads no more; the sender fails soon after.
    let sent = tokio::time::timeout(Duration::from_secs(60), sender)
        .await
        .expect("the sender stops once the server stops reading")
        .expect("the sender task");
    (response, sent)
}

fn game_head(access: &str, extra: &[(&str, &str)]) -> String {
    let auth = format!("Bearer {access}");
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "hostile"),
    ];
    headers.extend_from_slice(extra);
    head("POST", "/game", &headers)
}

#[tokio::test]
async fn a_body_longer_than_the_limit_is_refused_with_413_without_being_kept() {
    let (gateway, access) = attacked_gateway().await;
    let length = ATTACK_BYTES.to_string();
    let head = game_head(&access, &[("Content-Length", &length)]);
    let (response, sent) = attack(&gateway, head, <[u8]>::to_vec).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.error_code(), "payload_too_large");
    assert!(sent < ATTACK_BYTES, "the server read the whole body");
    assert_memory_bounded(&gateway);
}

#[tokio::test]
async fn a_chunked_body_that_grows_past_the_limit_is_refused_with_413() {
    let (gateway, access) = attacked_gateway().await;
    let head = game_head(&access, &[("Transfer-Encoding", "chunked")]);
    let chunked = |data: &[u8]| {
        let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
        frame.extend_from_slice(data);
        frame.extend_from_slice(b"\r\n");
        frame
    };
    let (response, sent) = attack(&gateway, head, chunked).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.error_code(), "payload_too_large");
    assert!(sent < ATTACK_BYTES, "the server read the whole body");
    assert_memory_bounded(&gateway);
}

/// About 1 MiB of gzip that inflates to [`ATTACK_BYTES`] of spaces: one member
/// compressing 1 MiB, repeated (a gzip stream may hold many members).
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&[b' '; 1 << 20]).expect("compress");
    let member = encoder.finish().expect("finish");
    member.repeat(ATTACK_BYTES >> 20)
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_with_413_once_it_inflates_past_the_limit() {
    let gateway = GatewayProcess::start(&[], "info").await;
    let login = gateway
        .app
        .signed_up(&unique_username(), "a fine password")
        .await;
    let access = login["access_token"].as_str().expect("token");
    let bomb = gzip_bomb();
    assert!(bomb.len() < 2 << 20, "the bomb is small on the wire");
    let length = bomb.len().to_string();
    let head = game_head(
        access,
        &[("Content-Encoding", "gzip"), ("Content-Length", &length)],
    );
    let mut stream = connect(&gateway.socket_address()).await;
    write_all(&mut stream, head.as_bytes()).await;
    write_all(&mut stream, &bomb).await;
    let response = read_response(&mut stream).await.expect("an answer");
    assert_eq!(response.status, 413);
    assert_eq!(response.error_code(), "payload_too_large");
    assert_memory_bounded(&gateway);
}

/// `depth` nested arrays around a number: `[[[...1...]]]`.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test]
async fn deeply_nested_json_is_refused_as_a_bad_body_not_a_crash() {
    let app = spawn_app().await;
    // 8,000 levels fit the 16 KiB accounts limit; serde_json stops at 128.
    for body in [
        format!(
            r#"{{"username": {}, "password": "a fine password"}}"#,
            nested(8_000)
        ),
        format!("{}{}", r#"{"a":"#.repeat(2_500), "}".repeat(2_500)),
    ] {
        let response = app
            .client
            .post(app.url("/register"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        assert!(matches!(status, 400 | 422), "got {status}");
        error_of(response).await;
    }

    let login = app.signed_up(&unique_username(), "a fine password").await;
    let access = login["access_token"].as_str().expect("token");
    let sensors = nested(200_000);
    let body = format!(
        r#"{{"exercise":"piano","score":1,"started_at":"2026-11-22T10:00:00Z",
        "ended_at":"2026-11-22T10:01:00Z","sensors":{sensors}}}"#
    );
    let response = app
        .client
        .post(app.url("/game"))
        .bearer_auth(access)
        .header("Idempotency-Key", "deep")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    assert!(matches!(status, 400 | 422), "got {status}");
    error_of(response).await;

    // Still serving.
    let again = app
        .post_json(
            "/login",
            &json!({"username": "nobody-here", "password": "whatever1"}),
        )
        .await;
    assert_eq!(again.status(), 401);
}

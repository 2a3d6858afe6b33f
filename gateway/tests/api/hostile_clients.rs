//! Clients that hold the server rather than send it much: headers that never end,
//! connections that say nothing, bodies that stall or trickle, and more connections
//! than the gateway allows. The gateway closes or answers each, and the number of
//! connections it holds stays at its limit.

use std::time::Duration;

use crate::gateway_process::GatewayProcess;
use crate::helpers::spawn_app_with;
use crate::raw_http::{closed_without_answer, connect, head, read_response, write_all};

/// Short timeouts keep the tests quick; what they prove does not depend on the values.
const TIMEOUTS: [(&str, &str); 2] = [
    ("M2M_HEADER_READ_TIMEOUT_SECS", "1"),
    ("M2M_BODY_READ_TIMEOUT_SECS", "1"),
];

#[tokio::test]
async fn headers_that_never_end_get_the_connection_closed() {
    let app = spawn_app_with(&TIMEOUTS).await;
    let mut stream = connect(app.url("").trim_start_matches("http://")).await;
    write_all(
        &mut stream,
        b"POST /login HTTP/1.1\r\nHost: gateway\r\nContent-",
    )
    .await;
    assert!(closed_without_answer(&mut stream).await);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = spawn_app_with(&TIMEOUTS).await;
    let mut stream = connect(app.url("").trim_start_matches("http://")).await;
    assert!(closed_without_answer(&mut stream).await);
}

fn register_head(length: usize) -> String {
    let length = length.to_string();
    head(
        "POST",
        "/register",
        &[
            ("Content-Type", "application/json"),
            ("Content-Length", &length),
        ],
    )
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408() {
    let app = spawn_app_with(&TIMEOUTS).await;
    let mut stream = connect(app.url("").trim_start_matches("http://")).await;
    write_all(&mut stream, register_head(100).as_bytes()).await;
    write_all(&mut stream, br#"{"username":"#).await;
    let response = read_response(&mut stream).await.expect("an answer");
    assert_eq!(response.status, 408);
    assert_eq!(response.error_code(), "request_timeout");
    assert_eq!(response.header("connection"), Some("close"));
}

#[tokio::test]
async fn a_body_that_trickles_is_answered_408_at_the_deadline() {
    let app = spawn_app_with(&TIMEOUTS).await;
    let stream = connect(app.url("").trim_start_matches("http://")).await;
    let (mut reader, mut writer) = stream.into_split();
    // A byte every 100 ms: never idle for long, never done (10,000 bytes announced).
    let trickle = tokio::spawn(async move {
        write_all(&mut writer, register_head(10_000).as_bytes()).await;
        for _ in 0..10_000 {
            if tokio::io::AsyncWriteExt::write_all(&mut writer, b" ")
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let response = read_response(&mut reader).await.expect("an answer");
    trickle.abort();
    assert_eq!(response.status, 408);
    assert_eq!(response.error_code(), "request_timeout");
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_and_the_gateway_holds_no_more() {
    const LIMIT: usize = 32;
    const FLOOD: usize = 300;
    let limit = LIMIT.to_string();
    // A long header timeout: the flood's connections stay idle and open for the test.
    let gateway = GatewayProcess::start(
        &[
            ("M2M_MAX_CONNECTIONS", &limit),
            ("M2M_HEADER_READ_TIMEOUT_SECS", "600"),
        ],
        "info",
    )
    .await;
    let address = gateway.socket_address();
    let before = gateway.open_sockets();

    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        flood.push(connect(&address).await);
    }
    // The gateway accepts them all, keeps `LIMIT` and closes the rest at once.
    let mut closed = 0;
    for stream in &mut flood {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(200), stream.peek(&mut byte)).await;
        if matches!(read, Ok(Ok(0) | Err(_))) {
            closed += 1;
        }
    }
    let held = gateway.open_sockets().saturating_sub(before);
    assert!(held <= LIMIT, "the gateway holds {held} more sockets");
    assert!(
        closed >= FLOOD - LIMIT,
        "only {closed} of {FLOOD} connections were closed"
    );

    // Once the flood goes, the gateway serves again.
    drop(flood);
    let mut served = false;
    for _ in 0..50 {
        if let Ok(response) = gateway
            .app
            .client
            .get(gateway.app.url("/healthz"))
            .send()
            .await
        {
            served = response.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the gateway serves once the flood is gone");
    let peak = gateway.peak_rss_bytes();
    assert!(
        peak < 256 << 20,
        "resident memory peaked at {} MiB",
        peak >> 20
    );
}

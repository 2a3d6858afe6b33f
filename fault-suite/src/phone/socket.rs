//! A phone's notification socket (`GET /notifications`, see the gateway's
//! `notifications/socket.rs` for the protocol): connected before the phone's first
//! upload, and reconnected with `?cursor=<last cursor received>` whenever it drops
//! (a gateway restart, a broker outage), as the app does. Every `game.*` message is
//! written to the ledger, so the suite can count what each phone heard.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_util::sync::CancellationToken;

use super::Account;
use crate::ledger::Ledger;

/// Counters every socket task shares with the suite.
#[derive(Debug, Default)]
pub struct SocketStats {
    /// Sockets that have received their first `ready`.
    pub ready: AtomicUsize,
    /// Connections opened after the first (reconnects).
    pub reconnects: AtomicUsize,
}

/// Keeps the phone's socket open until `stop`.
pub async fn hold(
    base: String,
    account: Account,
    ledger: Arc<Ledger>,
    stats: Arc<SocketStats>,
    stop: CancellationToken,
) {
    ledger.holds_socket(account.index);
    let mut cursor: Option<String> = None;
    let mut pause = Duration::from_millis(200);
    let mut connected_once = false;
    while !stop.is_cancelled() {
        let mut url = format!("{}/notifications", base.replacen("http", "ws", 1));
        if let Some(cursor) = &cursor {
            // Cursors are URL-safe base64.
            url = format!("{url}?cursor={cursor}");
        }
        match connect(&url, &account.token).await {
            Some(mut socket) => {
                if connected_once {
                    stats.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                pause = Duration::from_millis(200);
                loop {
                    let message = tokio::select! {
                        () = stop.cancelled() => return,
                        message = socket.next() => message,
                    };
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Ping(payload))) => {
                            let _ = socket.send(Message::Pong(payload)).await;
                            continue;
                        }
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    match value["type"].as_str() {
                        Some("ready") => {
                            if !connected_once {
                                connected_once = true;
                                stats.ready.fetch_add(1, Ordering::SeqCst);
                            }
                            if cursor.is_none() {
                                cursor = value["cursor"].as_str().map(str::to_owned);
                            }
                        }
                        Some(change @ ("game.processed" | "game.failed")) => {
                            let game_id = value["game_id"].as_str().unwrap_or_default();
                            ledger.notified(account.index, game_id, change);
                            if let Some(next) = value["cursor"].as_str() {
                                cursor = Some(next.to_owned());
                            }
                        }
                        _ => {
                            println!("phone {}: unexpected socket message {value}", account.index);
                        }
                    }
                }
            }
            None => {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, token: &str) -> Option<Socket> {
    let mut request = url.into_client_request().ok()?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    request.headers_mut().insert("authorization", bearer);
    let connecting = tokio_tungstenite::connect_async(request);
    match tokio::time::timeout(Duration::from_secs(10), connecting).await {
        Ok(Ok((socket, _))) => Some(socket),
        _ => None,
    }
}

//! What the sync and notification tests share: a phone's WebSocket, and reading
//! the whole change feed.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::TestApp;

/// How a phone presents its access token on the upgrade.
#[derive(Debug, Clone, Copy)]
pub enum TokenIn {
    Header,
    Protocol,
    Query,
}

/// A phone's notification socket.
pub struct Phone {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
}

/// Opens `GET /notifications` on the gateway at `base` (`http://...`).
pub async fn connect(
    base: &str,
    token: Option<&str>,
    token_in: TokenIn,
    cursor: Option<&str>,
) -> Result<Phone, tungstenite::Error> {
    let mut url = format!("{}/notifications", base.replacen("http", "ws", 1));
    let mut query = Vec::new();
    if let Some(cursor) = cursor {
        query.push(format!("cursor={cursor}"));
    }
    if let (Some(token), TokenIn::Query) = (token, token_in) {
        query.push(format!("access_token={token}"));
    }
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        let headers = request.headers_mut();
        match token_in {
            TokenIn::Header => {
                let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
                headers.insert("authorization", value);
            }
            TokenIn::Protocol => {
                let value =
                    HeaderValue::from_str(&format!("m2m.v1, bearer.{token}")).expect("header");
                headers.insert("sec-websocket-protocol", value);
            }
            TokenIn::Query => {}
        }
    }
    let (socket, response) = tokio_tungstenite::connect_async(request).await?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(Phone { socket, protocol })
}

impl Phone {
    /// The next JSON message within `within`, answering pings on the way; `None` on
    /// timeout or close.
    pub async fn next_json(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match message.ok()? {
                Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// The `ready` message every socket starts with; returns its cursor.
    pub async fn ready(&mut self) -> String {
        let ready = self
            .next_json(Duration::from_secs(10))
            .await
            .expect("a ready message");
        assert_eq!(ready["type"], "ready", "{ready}");
        ready["cursor"].as_str().expect("cursor").to_owned()
    }

    pub async fn resume(&mut self, cursor: &str) {
        let request = json!({ "type": "resume", "cursor": cursor }).to_string();
        self.socket
            .send(Message::Text(request.into()))
            .await
            .expect("sent");
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// `GET /sync` on `base` with the query `query`; the status and the body.
pub async fn sync(app: &TestApp, base: &str, token: &str, query: &str) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{base}/sync{query}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// Polls `GET /sync` from the start until the feed holds `count` changes (or a
/// minute passes); returns them.
pub async fn wait_for_changes(app: &TestApp, token: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, page) = sync(app, &app.address, token, "?limit=200").await;
        assert_eq!(status, 200, "{page}");
        let changes = page["changes"].as_array().cloned().unwrap_or_default();
        if changes.len() >= count {
            return changes;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} changes within a minute: {page}",
            changes.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! The simulated phones' side of the load benchmarks: an account, an upload body
//! and the upload itself.

use anyhow::Context;
use axum::body::Bytes;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Length of every benchmark recording.
pub const SECONDS: usize = 60;

/// Registers a fresh patient and logs in; returns the access token.
pub async fn sign_up(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let username = format!("phone-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let credentials = json!({ "username": username, "password": "benchmark password" });
    let registered = http
        .post(format!("{base}/register"))
        .json(&credentials)
        .send()
        .await?;
    anyhow::ensure!(
        registered.status() == 201,
        "register answered {}",
        registered.status()
    );
    let login: Value = http
        .post(format!("{base}/login"))
        .json(&credentials)
        .send()
        .await?
        .json()
        .await?;
    login["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access token")
}

/// A whole `POST /game` body around `sensors`, a recording of `SECONDS`.
pub fn upload_body(sensors: &[u8]) -> Bytes {
    let sensors = String::from_utf8_lossy(sensors);
    let now = time::OffsetDateTime::now_utc();
    let format = &time::format_description::well_known::Rfc3339;
    let end = now.format(format).unwrap_or_default();
    let start = (now - time::Duration::seconds(SECONDS as i64))
        .format(format)
        .unwrap_or_default();
    let text = format!(
        r#"{{"exercise":"piano","score":1234,"started_at":"{start}","ended_at":"{end}","sensors":{sensors}}}"#
    );
    Bytes::from(text.into_bytes())
}

/// `POST /game` with `body` under a fresh `Idempotency-Key`, as a phone uploads a
/// new game.
pub async fn post_game(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Bytes,
) -> reqwest::Result<reqwest::Response> {
    http.post(format!("{base}/game"))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .body(body.clone())
        .send()
        .await
}

/// Opens the patient's notification socket and calls `processed` with the game id
/// of each `game.processed` message it hears, until the socket closes.
pub async fn on_each_processed(
    base: &str,
    token: &str,
    processed: impl Fn(&str) + Send + 'static,
) -> anyhow::Result<()> {
    let mut request =
        format!("{}/notifications", base.replacen("http", "ws", 1)).into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(notice) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            if notice["type"] == "game.processed"
                && let Some(game_id) = notice["game_id"].as_str()
            {
                processed(game_id);
            }
        }
    });
    Ok(())
}

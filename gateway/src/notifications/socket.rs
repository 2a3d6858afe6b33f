//! One phone's WebSocket after the upgrade.
//!
//! Server -> phone, JSON text messages:
//! - `{"type": "ready", "cursor": ...}` once, first: the position the socket starts
//!   from (the phone's own cursor if it gave one, else the end of its feed);
//! - `{"type": "game.processed" | "game.failed", "cursor", "game_id", "exercise",
//!   "status"}` per change, in feed order, each once per socket;
//! - `{"type": "error", "code", "message"}` for a message it could not use.
//!
//! Phone -> server: `{"type": "resume", "cursor": "<last cursor seen>"}` replays every
//! change after that cursor, then goes on live. The server pings every
//! `M2M_WS_PING_INTERVAL_MS` and drops a phone that has not answered for two periods.
//!
//! The socket remembers the last position it sent. A live notification right after
//! it is sent as is; one it has already sent is skipped; after a gap (a notification
//! lost, the hub unsubscribed a lagging socket, the listener reconnected) it reads
//! the feed from the last position instead. So a socket never skips a change and
//! never sends one twice, whatever the bus does.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use serde::Deserialize;
use serde_json::{Value, json};
use shared_events::events::FeedAppendedV1;
use time::OffsetDateTime;
use tokio::time::{Instant, MissedTickBehavior};

use super::hub::{Signal, Subscription};
use crate::feed::FeedCursor;
use crate::state::AppState;
use crate::store::feed::FeedEntry;

/// A phone that cannot take a message for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Feed entries read per query while catching up.
const CATCH_UP_PAGE: u32 = 100;

/// Why a socket ends.
enum Closed {
    /// The phone closed it or went away.
    ByPhone,
    /// The gateway is stopping.
    GoingAway,
    /// The phone stopped answering pings.
    Silent,
    /// A store failed: the phone should reconnect and resume.
    Failed(anyhow::Error),
}

struct Session {
    socket: WebSocket,
    state: AppState,
    user_id: String,
    /// The feed position of the last change sent (or the starting point).
    last_sent: u64,
    subscription: Subscription,
}

/// Runs the socket until the phone leaves, stops answering or the gateway stops.
pub async fn serve(socket: WebSocket, state: AppState, user_id: String, resume: Option<u64>) {
    // Subscribe before reading the feed's end: a change appended in between is then
    // either below the start (skipped) or delivered.
    let subscription = state.hub.subscribe(&user_id);
    let mut session = Session {
        socket,
        state,
        user_id,
        last_sent: 0,
        subscription,
    };
    let closed = session.run(resume).await;
    let frame = match &closed {
        Closed::ByPhone => None,
        Closed::GoingAway => Some((close_code::AWAY, "the server is restarting; reconnect")),
        Closed::Silent => Some((close_code::POLICY, "no answer to pings")),
        Closed::Failed(error) => {
            tracing::warn!(user_id = %session.user_id, error = format!("{error:#}"),
                "A notification socket failed; the phone will resume.");
            Some((
                close_code::AGAIN,
                "temporarily unavailable; reconnect and resume",
            ))
        }
    };
    if let Some((code, reason)) = frame {
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = tokio::time::timeout(SEND_TIMEOUT, session.socket.send(close)).await;
    }
}

impl Session {
    async fn run(&mut self, resume: Option<u64>) -> Closed {
        let start = match resume {
            Some(seq) => Ok(seq),
            None => self.state.feed.last_seq(&self.user_id).await,
        };
        self.last_sent = match start {
            Ok(seq) => seq,
            Err(error) => return Closed::Failed(error),
        };
        let ready = json!({ "type": "ready", "cursor": self.cursor(self.last_sent) });
        if let Err(closed) = self.send(&ready).await {
            return closed;
        }
        if let Err(closed) = self.catch_up().await {
            return closed;
        }
        self.mark_online().await;

        let period = self.state.notifications.ping_interval;
        let mut pings = tokio::time::interval_at(Instant::now() + period, period);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            let step = tokio::select! {
                () = self.state.hub.closing() => Err(Closed::GoingAway),
                signal = self.subscription.signals.recv() => self.on_signal(signal).await,
                message = self.socket.recv() => {
                    last_heard = Instant::now();
                    self.on_message(message).await
                }
                _ = pings.tick() => {
                    if last_heard.elapsed() > period * 2 {
                        Err(Closed::Silent)
                    } else {
                        self.send_message(Message::Ping(Default::default())).await
                    }
                }
            };
            if let Err(closed) = step {
                return closed;
            }
        }
    }

    async fn on_signal(&mut self, signal: Option<Signal>) -> Result<(), Closed> {
        match signal {
            Some(Signal::Appended(appended)) if appended.seq <= self.last_sent => Ok(()),
            Some(Signal::Appended(appended)) if appended.seq == self.last_sent + 1 => {
                let notice = self.live_notice(&appended);
                self.send(&notice).await?;
                self.last_sent = appended.seq;
                Ok(())
            }
            Some(Signal::Appended(_) | Signal::CatchUp) => self.catch_up().await,
            None => {
                // The hub dropped this socket for lagging: rejoin, then read what
                // was missed from the feed.
                self.subscription = self.state.hub.subscribe(&self.user_id);
                self.catch_up().await
            }
        }
    }

    async fn on_message(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
    ) -> Result<(), Closed> {
        match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(Closed::ByPhone),
            Some(Ok(Message::Pong(_))) => {
                self.mark_online().await;
                Ok(())
            }
            Some(Ok(Message::Text(text))) => self.on_request(text.as_str()).await,
            // Pings are answered by the library; binary frames mean nothing here.
            Some(Ok(Message::Ping(_) | Message::Binary(_))) => Ok(()),
        }
    }

    async fn on_request(&mut self, text: &str) -> Result<(), Closed> {
        #[derive(Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Request {
            Resume { cursor: String },
        }
        let refused = |code: &str, message: String| json!({ "type": "error", "code": code, "message": message });
        match serde_json::from_str::<Request>(text) {
            Ok(Request::Resume { cursor }) => {
                match FeedCursor::decode_for(&cursor, &self.user_id) {
                    Ok(cursor) => {
                        self.last_sent = cursor.seq;
                        self.catch_up().await
                    }
                    Err(error) => {
                        self.send(&refused("invalid_cursor", error.to_string()))
                            .await
                    }
                }
            }
            Err(error) => {
                let message =
                    format!("expected {{\"type\": \"resume\", \"cursor\": ...}}: {error}");
                self.send(&refused("bad_request", message)).await
            }
        }
    }

    /// Sends every change after `last_sent`, in order.
    async fn catch_up(&mut self) -> Result<(), Closed> {
        loop {
            let entries = self
                .state
                .feed
                .after(&self.user_id, self.last_sent, CATCH_UP_PAGE)
                .await
                .map_err(Closed::Failed)?;
            let full_page = entries.len() == CATCH_UP_PAGE as usize;
            for entry in entries {
                let notice = self.stored_notice(&entry);
                self.send(&notice).await?;
                self.last_sent = entry.seq;
            }
            if !full_page {
                return Ok(());
            }
        }
    }

    fn live_notice(&self, appended: &FeedAppendedV1) -> Value {
        json!({
            "type": appended.change,
            "cursor": self.cursor(appended.seq),
            "game_id": appended.game_id,
            "exercise": appended.exercise,
            "status": status_of(&appended.change),
        })
    }

    fn stored_notice(&self, entry: &FeedEntry) -> Value {
        let change = entry.entry["type"].as_str().unwrap_or_default();
        let game = &entry.entry["game"];
        json!({
            "type": change,
            "cursor": self.cursor(entry.seq),
            "game_id": game["game_id"],
            "exercise": game["exercise"],
            "status": status_of(change),
        })
    }

    fn cursor(&self, seq: u64) -> String {
        FeedCursor::new(&self.user_id, seq).encode()
    }

    async fn send(&mut self, value: &Value) -> Result<(), Closed> {
        self.send_message(Message::Text(value.to_string().into()))
            .await
    }

    async fn send_message(&mut self, message: Message) -> Result<(), Closed> {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            // A phone that is gone or not reading: end the socket, it resumes later.
            Ok(Err(_)) | Err(_) => Err(Closed::ByPhone),
        }
    }

    /// `online` ZSET: who is connected, scored by last seen (Unix ms). Best effort:
    /// presence is informational and must not cut a socket when Redis blinks.
    async fn mark_online(&mut self) {
        let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let mut redis = self.state.redis.clone();
        let written: redis::RedisResult<()> = redis::cmd("ZADD")
            .arg(self.state.keys.key("online"))
            .arg(i64::try_from(now_ms).unwrap_or(i64::MAX))
            .arg(&self.user_id)
            .query_async(&mut redis)
            .await;
        if let Err(error) = written {
            tracing::debug!(%error, "Could not record the phone as online.");
        }
    }
}

/// `processed` for `game.processed`, `failed` for `game.failed`.
fn status_of(change: &str) -> &str {
    change.strip_prefix("game.").unwrap_or(change)
}

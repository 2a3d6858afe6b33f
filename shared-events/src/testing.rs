//! What the integration tests of every crate on the bus need: watching a test's
//! queues from outside the plumbing, and an event to put through them.
//!
//! Behind the `testing` feature, which only dev-dependencies turn on: draining a
//! queue throws its messages away, which no process should do. Every function
//! panics on a broker error, as a test would.
use std::time::Duration;

use lapin::message::BasicGetMessage;
use lapin::options::BasicGetOptions;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::connection::Bus;
use crate::envelope::Envelope;
use crate::events::{EncodedRecording, Event, ProcessingEventV1};
use crate::inspect::queue_stat;

/// Takes every message off `queue` (acked: they are gone), oldest first.
pub async fn drain(bus: &Bus, queue: &str) -> Vec<BasicGetMessage> {
    let connection = bus.connect("test drain").await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let mut messages = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        messages.push(message);
    }
    let _ = connection.close(200, "done".into()).await;
    messages
}

/// Ready messages in `queue`, which must exist.
pub async fn depth(bus: &Bus, queue: &str) -> u32 {
    let connection = bus.connect("test depth").await.expect("connect");
    let stat = queue_stat(&connection, queue)
        .await
        .expect("passive declare");
    let _ = connection.close(200, "done".into()).await;
    stat.unwrap_or_else(|| panic!("queue `{queue}` does not exist"))
        .ready
}

/// Polls until `queue` holds `count` ready messages or `within` passes; returns
/// the last depth seen.
pub async fn wait_for_depth(bus: &Bus, queue: &str, count: u32, within: Duration) -> u32 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let depth = depth(bus, queue).await;
        if depth == count || tokio::time::Instant::now() >= deadline {
            return depth;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `processing.requested` event of a new game with a token recording.
pub fn processing_event(user_id: Uuid, game_id: Uuid) -> Envelope {
    let now = OffsetDateTime::now_utc();
    Envelope::new(Event::ProcessingV1(ProcessingEventV1 {
        user_id,
        game_id,
        exercise: "piano".into(),
        score: 1234,
        started_at: now,
        ended_at: now,
        recording: EncodedRecording::from_json(br#"{"sample_rate_hz":100,"angles_deg":{}}"#)
            .expect("compress"),
    }))
}

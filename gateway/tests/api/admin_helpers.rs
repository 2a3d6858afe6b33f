//! What the dashboard tests share: a gateway with the dashboard on, a dead letter
//! made the way the consumer runner makes them, and looking at queues.

use std::time::Duration;

use serde_json::Value;
use shared_events::events::{EncodedRecording, ProcessingEventV1};
use shared_events::inspect::queue_stat;
use shared_events::lapin::message::BasicGetMessage;
use shared_events::lapin::options::BasicGetOptions;
use shared_events::{
    ConsumerRunner, DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher, WorkQueue,
};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app_with};

/// How long the tests wait for the broker to move a message.
pub const WAIT: Duration = Duration::from_secs(20);

/// A gateway with the dashboard on, and its token.
pub async fn spawn_admin_app() -> (TestApp, String) {
    let token = format!("admin-{}", Uuid::new_v4().simple());
    let app = spawn_app_with(&[("M2M_ADMIN_TOKEN", &token)]).await;
    (app, token)
}

impl TestApp {
    /// `GET path` with `Authorization: Bearer <token>` (none if `None`).
    pub async fn admin_get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// `POST path` with `Authorization: Bearer <token>` (none if `None`).
    pub async fn admin_post(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// `GET path` as the operator, expecting 200 and JSON.
    pub async fn admin_json(&self, path: &str, token: &str) -> Value {
        let response = self.admin_get(path, Some(token)).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("json")
    }

    /// Ready messages in `queue` (which must exist).
    pub async fn depth(&self, queue: &str) -> u32 {
        let connection = self.bus.connect("test depth").await.expect("connect");
        let stat = queue_stat(&connection, queue)
            .await
            .expect("passive declare");
        let _ = connection.close(200, "done".into()).await;
        stat.expect("the queue exists").ready
    }

    /// Waits until `queue` holds `count` ready messages; returns the last depth seen.
    pub async fn wait_for_depth(&self, queue: &str, count: u32) -> u32 {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let depth = self.depth(queue).await;
            if depth == count || tokio::time::Instant::now() >= deadline {
                return depth;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Takes every message off `queue` (acked: they are gone).
    pub async fn drain(&self, queue: &str) -> Vec<BasicGetMessage> {
        let connection = self.bus.connect("test drain").await.expect("connect");
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

    /// A `processing.requested` event that a processing worker failed permanently
    /// on, now in the dead-letter queue with the runner's reason.
    pub async fn dead_letter(&self, reason: &str) -> Envelope {
        let envelope = processing_event();
        let dead_letters = self.bus.topology().dead_letter_queue();
        let before = self.depth(&dead_letters).await;
        let publisher = Publisher::new(self.bus.clone(), "test publisher");
        publisher.publish(&envelope).await.expect("published");
        let runner = ConsumerRunner::new(
            publisher.clone(),
            WorkQueue::Processing,
            Refuser(reason.to_owned()),
        );
        let stop = CancellationToken::new();
        let running = tokio::spawn(runner.run(stop.clone()));
        assert_eq!(
            self.wait_for_depth(&dead_letters, before + 1).await,
            before + 1
        );
        stop.cancel();
        running.await.expect("runner task").expect("runner");
        publisher.close().await;
        envelope
    }
}

/// A `processing.requested` event of a new game (a token recording).
pub fn processing_event() -> Envelope {
    let now = OffsetDateTime::now_utc();
    Envelope::new(Event::ProcessingV1(ProcessingEventV1 {
        user_id: Uuid::now_v7(),
        game_id: Uuid::now_v7(),
        exercise: "piano".into(),
        score: 1234,
        started_at: now,
        ended_at: now,
        recording: EncodedRecording::from_json(br#"{"sample_rate_hz":100,"angles_deg":{}}"#)
            .expect("compress"),
    }))
}

/// A handler that refuses every message for good.
struct Refuser(String);

impl Handler for Refuser {
    async fn handle(&self, _: Envelope, _: DeliveryContext) -> Result<(), HandlerError> {
        Err(HandlerError::permanent(anyhow::anyhow!(self.0.clone())))
    }
}

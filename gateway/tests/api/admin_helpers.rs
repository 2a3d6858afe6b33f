//! What the dashboard tests share: a gateway with the dashboard on, a dead
//! letter made the way the consumer runner makes them, and a `job.completed` as
//! the sync-worker publishes it.

use std::time::Duration;

use serde_json::Value;
use shared_events::events::JobCompletedV1;
use shared_events::testing::{depth, processing_event, wait_for_depth};
use shared_events::{
    ConsumerRunner, DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher, WorkQueue,
};
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

    /// `GET path` as the operator until `ready` holds of the JSON (the page's
    /// polling, for what arrives through the bus); panics after [`WAIT`].
    pub async fn admin_json_until(
        &self,
        path: &str,
        token: &str,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let json = self.admin_json(path, token).await;
            if ready(&json) {
                return json;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never showed what was expected: {json}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Publishes `run` on the bus, confirmed, as the sync-worker announces a run.
    pub async fn publish_job_completed(&self, run: JobCompletedV1) {
        let publisher = Publisher::new(self.bus.clone(), "test sync-worker");
        publisher
            .publish(&Envelope::new(Event::JobCompletedV1(run)))
            .await
            .expect("published");
        publisher.close().await;
    }

    /// A `processing.requested` event that a processing worker failed permanently
    /// on, now in the dead-letter queue with the runner's reason.
    pub async fn dead_letter(&self, reason: &str) -> Envelope {
        let envelope = processing_event(Uuid::now_v7(), Uuid::now_v7());
        let dead_letters = self.bus.topology().dead_letter_queue();
        let before = depth(&self.bus, &dead_letters).await;
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
            wait_for_depth(&self.bus, &dead_letters, before + 1, WAIT).await,
            before + 1
        );
        stop.cancel();
        running.await.expect("runner task").expect("runner");
        publisher.close().await;
        envelope
    }
}

/// A handler that refuses every message for good.
struct Refuser(String);

impl Handler for Refuser {
    async fn handle(&self, _: Envelope, _: DeliveryContext) -> Result<(), HandlerError> {
        Err(HandlerError::permanent(anyhow::anyhow!(self.0.clone())))
    }
}

//! A test stack: a random prefix on the shared broker, and tools to watch it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::BasicGetOptions;
use shared_events::events::{GameOutcome, ReconciliationEventV1};
use shared_events::{
    Bus, BusObserver, BusSettings, DeliveryContext, Envelope, Event, Handler, HandlerError,
    Publisher, Settled,
};
use uuid::Uuid;

/// A bus with a fresh prefix (and, optionally, its own vhost).
pub struct TestBus {
    pub bus: Bus,
    pub publisher: Publisher,
}

pub fn amqp_base() -> String {
    std::env::var("M2M_TEST_AMQP_BASE")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into())
}

impl TestBus {
    pub async fn new() -> Self {
        Self::on_url(format!("{}/%2f", amqp_base())).await
    }

    pub async fn on_url(url: String) -> Self {
        // Silent unless asked: `TEST_LOG=1 cargo test` shows the runners' logs.
        if std::env::var_os("TEST_LOG").is_some() {
            shared_events::telemetry::init("tests");
        }
        let settings = BusSettings {
            url,
            replicas: None,
            prefix: format!("test-{}", Uuid::now_v7().simple()),
            retry_delay: Duration::from_millis(300),
            max_retries: 2,
            timeout: Duration::from_secs(5),
        };
        let bus = Bus::new(settings);
        bus.declare_topology("test setup")
            .await
            .expect("declare topology");
        let publisher = Publisher::new(bus.clone(), "test publisher");
        Self { bus, publisher }
    }

    /// Removes this test's queues and exchanges (best effort: a failed test may
    /// leave some behind; they carry the `test-` prefix).
    pub async fn cleanup(self) {
        self.publisher.close().await;
        self.bus.delete_topology().await;
    }

    /// Takes one message off `queue` without a consumer (auto-acked).
    pub async fn get(&self, queue: &str) -> Option<lapin::message::BasicGetMessage> {
        let connection = self.bus.connect("test get").await.expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        let message = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        let _ = connection.close(200, "done".into()).await;
        message
    }

    /// Polls `queue` until a message arrives or `within` passes.
    pub async fn wait_for_message(
        &self,
        queue: &str,
        within: Duration,
    ) -> Option<lapin::message::BasicGetMessage> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(message) = self.get(queue).await {
                return Some(message);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A [`BusObserver`] that remembers what it was told.
#[derive(Debug, Default)]
pub struct Observed {
    pub published: Mutex<Vec<(String, bool)>>,
    pub settled: Mutex<Vec<(String, String, Settled)>>,
    pub reconnected: Mutex<Vec<String>>,
}

impl BusObserver for Observed {
    fn published(&self, event_type: &str, confirmed: bool) {
        self.published
            .lock()
            .expect("lock")
            .push((event_type.to_owned(), confirmed));
    }

    fn settled(&self, queue: &str, event_type: &str, outcome: Settled, _: Duration) {
        self.settled
            .lock()
            .expect("lock")
            .push((queue.to_owned(), event_type.to_owned(), outcome));
    }

    fn reconnected(&self, connection: &str) {
        self.reconnected
            .lock()
            .expect("lock")
            .push(connection.to_owned());
    }
}

impl TestBus {
    /// Replaces the publisher with one on this bus observed by `observer`;
    /// runners built from it report there too.
    pub fn observed_by(&mut self, observer: Arc<Observed>) {
        let bus = self.bus.clone().observed_by(observer);
        self.publisher = Publisher::new(bus, "test publisher");
    }
}

pub fn reconciliation(exercise: &str) -> Envelope {
    Envelope::new(Event::ReconciliationV1(ReconciliationEventV1 {
        user_id: Uuid::now_v7(),
        game_id: Uuid::now_v7(),
        exercise: exercise.into(),
        outcome: GameOutcome::Processed,
        analytics_version: "1".into(),
    }))
}

/// What a recording handler saw, and how it should answer.
#[derive(Clone, Default)]
pub struct Recorder {
    pub seen: Arc<Mutex<Vec<(Envelope, DeliveryContext)>>>,
    behaviour: Behaviour,
}

#[derive(Clone, Copy, Default)]
pub enum Behaviour {
    #[default]
    Succeed,
    FailPermanently,
    /// Fail transiently this many times, then succeed.
    FailTransiently(usize),
    /// Never return (a consumer that hangs or dies mid-message).
    Hang,
    /// Take this long, then succeed.
    Slow(Duration),
}

impl Recorder {
    pub fn new(behaviour: Behaviour) -> Self {
        Self {
            seen: Arc::default(),
            behaviour,
        }
    }

    pub fn seen(&self) -> Vec<(Envelope, DeliveryContext)> {
        self.seen.lock().expect("lock").clone()
    }

    pub async fn wait_for(
        &self,
        count: usize,
        within: Duration,
    ) -> Vec<(Envelope, DeliveryContext)> {
        let deadline = tokio::time::Instant::now() + within;
        while self.seen().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.seen()
    }
}

impl Handler for Recorder {
    async fn handle(
        &self,
        envelope: Envelope,
        context: DeliveryContext,
    ) -> Result<(), HandlerError> {
        let attempt = {
            let mut seen = self.seen.lock().expect("lock");
            seen.push((envelope, context));
            seen.len()
        };
        match self.behaviour {
            Behaviour::Succeed => Ok(()),
            Behaviour::FailPermanently => Err(HandlerError::permanent(anyhow::anyhow!(
                "the recording is corrupt"
            ))),
            Behaviour::FailTransiently(times) if attempt <= times => Err(HandlerError::transient(
                anyhow::anyhow!("database unavailable"),
            )),
            Behaviour::FailTransiently(_) => Ok(()),
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Slow(duration) => {
                tokio::time::sleep(duration).await;
                Ok(())
            }
        }
    }
}

//! A test stack on the shared broker, the binary to run against it, and events.

use std::process::Output;
use std::time::Duration;

use shared_events::events::{GameOutcome, Job, ReconciliationEventV1, TimerFiredV1};
use shared_events::lapin::message::BasicGetMessage;
use shared_events::lapin::options::QueuePurgeOptions;
use shared_events::{Bus, BusSettings, Envelope, Event, Publisher, WorkQueue};
use time::OffsetDateTime;
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(20);

/// A bus under a fresh prefix, with the topology declared.
pub struct Stack {
    pub bus: Bus,
    pub publisher: Publisher,
}

pub fn amqp_url() -> String {
    let base = std::env::var("M2M_TEST_AMQP_BASE")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into());
    format!("{base}/%2f")
}

impl Stack {
    pub async fn new() -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            shared_events::telemetry::init("tests");
        }
        let settings = BusSettings {
            url: amqp_url(),
            replicas: None,
            prefix: format!("test-{}", Uuid::now_v7().simple()),
            retry_delay: Duration::from_millis(300),
            max_retries: 1,
            timeout: Duration::from_secs(5),
        };
        let bus = Bus::new(settings);
        bus.declare_topology("test setup")
            .await
            .expect("declare topology");
        let publisher = Publisher::new(bus.clone(), "test publisher");
        Self { bus, publisher }
    }

    pub fn queue(&self, queue: WorkQueue) -> String {
        self.bus.topology().queue(queue)
    }

    pub fn dead_letters(&self) -> String {
        self.bus.topology().dead_letter_queue()
    }

    /// Runs `events` with this stack's settings.
    pub async fn events(&self, args: &[&str]) -> Run {
        self.events_with(args, &[]).await
    }

    /// Runs `events` with this stack's settings, some overridden.
    pub async fn events_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let command = self
            .command(args)
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), command)
            .await
            .unwrap_or_else(|_| panic!("`events {}` did not finish within 60 s", args.join(" ")))
            .expect("run events");
        Run::from(output)
    }

    /// The `events` command for this stack, not yet started.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_events"));
        command
            .args(args)
            .env("M2M_AMQP_URL", &self.bus.settings().url)
            .env("M2M_BUS_PREFIX", &self.bus.settings().prefix)
            .env("M2M_AMQP_TIMEOUT_MS", "5000")
            .env_remove("RUST_LOG");
        command
    }

    pub async fn publish(&self, envelopes: &[Envelope]) {
        for envelope in envelopes {
            self.publisher.publish(envelope).await.expect("publish");
        }
    }

    pub async fn purge(&self, queue: &str) {
        let connection = self.bus.connect("test purge").await.expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .queue_purge(queue.into(), QueuePurgeOptions::default())
            .await
            .expect("purge");
        let _ = connection.close(200, "done".into()).await;
    }

    pub async fn purge_work_queues(&self) {
        for queue in WorkQueue::ALL {
            self.purge(&self.queue(queue)).await;
        }
    }

    /// Removes this test's queues and exchanges (best effort).
    pub async fn cleanup(self) {
        self.publisher.close().await;
        self.bus.delete_topology().await;
    }
}

/// What a run of the binary printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with everything printed unless the run succeeded.
    pub fn ok(self) -> Self {
        assert!(
            self.success,
            "events failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the run failed cleanly: a message, no panic.
    pub fn failed(self) -> Self {
        assert!(
            !self.success,
            "events should have failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(self.stderr.starts_with("error: "), "{}", self.stderr);
        self
    }

    /// stdout's lines as JSON.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

pub fn reconciliation(user: Uuid, game: Uuid) -> Envelope {
    Envelope::new(Event::ReconciliationV1(ReconciliationEventV1 {
        user_id: user,
        game_id: game,
        exercise: "piano".into(),
        outcome: GameOutcome::Processed,
        analytics_version: "1".into(),
    }))
}

pub fn timer(job: Job, window: i64) -> Envelope {
    Envelope::new(Event::TimerFiredV1(TimerFiredV1 { job, window }))
}

/// The envelope ids of messages, in order.
pub fn ids(messages: &[BasicGetMessage]) -> Vec<Uuid> {
    messages
        .iter()
        .map(|m| Envelope::from_json(&m.delivery.data).expect("envelope").id)
        .collect()
}

pub fn header_text(message: &BasicGetMessage, name: &str) -> Option<String> {
    events_cli::headers::get_text(&message.delivery.properties, name)
}

pub fn rfc3339(time: OffsetDateTime) -> String {
    events_cli::position::rfc3339(time)
}

//! Every exchange and queue of the bus, named and declared in one place.
//!
//! ```text
//!                      ┌───────────── processing.requested ──▶ <p>.processing ──┐
//!  publishers ─▶ <p>.events (topic) ─ reconciliation.ready ──▶ <p>.reconciliation│ quorum,
//!                      ├───────────── timer.fired.* ─────────▶ <p>.jobs ────────┘ delivery limit
//!                      ├───────────── job.completed ─────────▶ <p>.dashboard (quorum, same)
//!                      ├───────────── feed.appended ─────────▶ <p>.notifications.<instance>
//!                      │                     (one transient queue per gateway instance)
//!                      └───────────── # ─────────────────────▶ <p>.history (stream, replay)
//!  <q>.retry (classic, per-message TTL) ──expired──▶ default exchange ──▶ <q>
//!  <q> over its delivery limit, and the runner's permanent failures
//!        ──▶ <p>.dead-letter (fanout) ──▶ <p>.dead-letters (classic)
//! ```
//! Every process declares the whole topology at start and after each reconnect.
//! Declaring is idempotent only with identical arguments (a mismatch is a 406
//! that closes the channel), so the arguments live here and nowhere else.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ExchangeKind};

use crate::events::Event;
use crate::replication::{declare_classic, declare_replicated};

/// What a queue that holds messages is for (see [`Topology::message_queues`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRole {
    Work(WorkQueue),
    /// Where `WorkQueue`'s transiently failed messages wait out the retry delay.
    Retry(WorkQueue),
    DeadLetters,
}

/// A quorum queue that takes part in the competing-consumer pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkQueue {
    /// ProcessingEvents, consumed by processing-service workers.
    Processing,
    /// ReconciliationEvents, consumed by one gateway instance each.
    Reconciliation,
    /// TimerFired messages, consumed by sync-workers.
    Jobs,
    /// JobCompleted events, consumed by one gateway instance each, which records
    /// the run for the operators' dashboard.
    Dashboard,
}

impl WorkQueue {
    pub const ALL: [WorkQueue; 4] = [
        WorkQueue::Processing,
        WorkQueue::Reconciliation,
        WorkQueue::Jobs,
        WorkQueue::Dashboard,
    ];

    fn suffix(self) -> &'static str {
        match self {
            WorkQueue::Processing => "processing",
            WorkQueue::Reconciliation => "reconciliation",
            WorkQueue::Jobs => "jobs",
            WorkQueue::Dashboard => "dashboard",
        }
    }

    /// The event type this queue's consumers handle.
    pub fn event_type(self) -> &'static str {
        match self {
            WorkQueue::Processing => Event::PROCESSING_REQUESTED,
            WorkQueue::Reconciliation => Event::RECONCILIATION_READY,
            WorkQueue::Jobs => Event::TIMER_FIRED,
            WorkQueue::Dashboard => Event::JOB_COMPLETED,
        }
    }

    /// The work queue whose consumers handle events of `event_type` (where a
    /// replay or a redrive sends them).
    pub fn for_event_type(event_type: &str) -> Option<WorkQueue> {
        Self::ALL
            .into_iter()
            .find(|queue| queue.event_type() == event_type)
    }

    /// The routing-key pattern that binds the queue to the events exchange
    /// (timer messages are routed per job: `timer.fired.<job>`).
    fn binding_key(self) -> String {
        match self {
            WorkQueue::Jobs => format!("{}.*", Event::TIMER_FIRED),
            other => other.event_type().to_owned(),
        }
    }
}

/// The names of one stack's exchanges and queues (one prefix, one stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    /// Copies of each quorum queue and of the stream, when this process creates
    /// them; `None` leaves it to the broker (see `BusSettings::replication_factor`).
    replicas: Option<u16>,
}

/// Redeliveries (consumer crashes, lost connections) before the broker itself
/// dead-letters a message. Transient handler failures do not count here: they go
/// through the retry queue with their own budget (`M2M_MAX_RETRIES`).
pub const DELIVERY_LIMIT: i64 = 5;
/// Retention of the replay stream: by age...
pub const STREAM_MAX_AGE: &str = "7D";
/// ...and by size (20 GB). Retention drops whole segments; smaller segments than
/// the 500 MB default make it follow the limits more closely.
pub const STREAM_MAX_BYTES: i64 = 20_000_000_000;
pub const STREAM_SEGMENT_BYTES: i64 = 100_000_000;

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            replicas: None,
        }
    }

    /// This topology, creating its quorum queues and stream with `replicas`
    /// copies (`None`: the broker's default).
    pub fn with_replicas(mut self, replicas: Option<u16>) -> Self {
        self.replicas = replicas;
        self
    }

    /// The replication factor this topology creates queues with.
    pub fn replicas(&self) -> Option<u16> {
        self.replicas
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The durable topic exchange every domain event is published to.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    pub fn queue(&self, queue: WorkQueue) -> String {
        format!("{}.{}", self.prefix, queue.suffix())
    }

    /// Where transiently failed messages of `queue` wait out the retry delay.
    pub fn retry_queue(&self, queue: WorkQueue) -> String {
        format!("{}.retry", self.queue(queue))
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.prefix)
    }

    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letters", self.prefix)
    }

    /// Every queue whose depth means something, in the order operators read them:
    /// each work queue followed by its retry queue, then the dead-letter queue (not
    /// the history stream, whose "depth" is its whole retention).
    pub fn message_queues(&self) -> Vec<(String, QueueRole)> {
        let mut queues = Vec::new();
        for queue in WorkQueue::ALL {
            queues.push((self.queue(queue), QueueRole::Work(queue)));
            queues.push((self.retry_queue(queue), QueueRole::Retry(queue)));
        }
        queues.push((self.dead_letter_queue(), QueueRole::DeadLetters));
        queues
    }

    /// The stream that keeps every event for replay.
    pub fn history_stream(&self) -> String {
        format!("{}.history", self.prefix)
    }

    /// The transient queue through which gateway `instance` hears of change-feed
    /// entries, to tell the phones connected to it.
    pub fn notification_queue(&self, instance: &str) -> String {
        format!("{}.notifications.{instance}", self.prefix)
    }

    /// Declares and binds a notification queue on `channel`. It is exclusive and
    /// auto-deleted: it lives exactly as long as the instance's connection, so a
    /// crashed gateway leaves nothing behind. A notification is only a hint (the
    /// phone catches up from the change feed), so the queue is bounded: stale ones
    /// expire after a minute and the oldest are dropped past 10,000.
    pub async fn declare_notification_queue(
        &self,
        channel: &Channel,
        instance: &str,
    ) -> lapin::Result<String> {
        let name = self.notification_queue(instance);
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        let args = table(vec![
            ("x-queue-type", text("classic")),
            ("x-message-ttl", AMQPValue::LongLongInt(60_000)),
            ("x-max-length", AMQPValue::LongLongInt(10_000)),
        ]);
        channel
            .queue_declare(name.as_str().into(), options, args)
            .await?;
        bind(
            channel,
            &name,
            &self.events_exchange(),
            Event::FEED_APPENDED,
        )
        .await?;
        Ok(name)
    }

    /// The work queue called `name`, if it is one of this stack's.
    pub fn work_queue_named(&self, name: &str) -> Option<WorkQueue> {
        WorkQueue::ALL.into_iter().find(|q| self.queue(*q) == name)
    }

    /// Declares everything on a new channel of `connection`, and returns the
    /// channel, open; safe to run from every process, at every (re)connect.
    ///
    /// On a cluster, a replicated queue created with another replication factor is
    /// taken as it is, and a classic queue whose node is down is skipped
    /// ([`crate::replication`]); both may close a channel, hence the channel is
    /// this function's to open.
    pub async fn declare(&self, connection: &Connection) -> lapin::Result<Channel> {
        let mut channel = connection.create_channel().await?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.events_exchange().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        // Fanout: dead letters keep their original routing key, which must not
        // decide whether they reach the dead-letter queue.
        channel
            .exchange_declare(
                self.dead_letter_exchange().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        let dead_letters = self.dead_letter_queue();
        if declare_classic(connection, &mut channel, &dead_letters, dead_letter_args()).await? {
            bind(&channel, &dead_letters, &self.dead_letter_exchange(), "").await?;
        }

        for queue in WorkQueue::ALL {
            let name = self.queue(queue);
            let args = quorum_args(&self.dead_letter_exchange(), self.replicas);
            declare_replicated(connection, &mut channel, &name, args).await?;
            bind(
                &channel,
                &name,
                &self.events_exchange(),
                &queue.binding_key(),
            )
            .await?;
            let retry = self.retry_queue(queue);
            declare_classic(connection, &mut channel, &retry, retry_args(&name)).await?;
        }

        let history = self.history_stream();
        declare_replicated(
            connection,
            &mut channel,
            &history,
            stream_args(self.replicas),
        )
        .await?;
        bind(&channel, &history, &self.events_exchange(), "#").await?;
        Ok(channel)
    }
}

impl Topology {
    /// Every queue of the stack, work queues first.
    pub fn queues(&self) -> Vec<String> {
        let mut queues = Vec::new();
        for queue in WorkQueue::ALL {
            queues.push(self.queue(queue));
            queues.push(self.retry_queue(queue));
        }
        queues.extend([self.dead_letter_queue(), self.history_stream()]);
        queues
    }

    /// Deletes every queue (messages included) and exchange of the stack.
    ///
    /// For tests, benchmarks and retiring a temporary stack; no service calls it.
    /// Best effort: a missing queue closes the channel, so each deletion gets a
    /// channel of its own and failures are skipped.
    pub async fn delete(&self, connection: &lapin::Connection) {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        for queue in self.queues() {
            if let Ok(channel) = connection.create_channel().await {
                let options = QueueDeleteOptions::default();
                let _ = channel.queue_delete(queue.as_str().into(), options).await;
                let _ = channel.close(200, "deleted".into()).await;
            }
        }
        for exchange in [self.events_exchange(), self.dead_letter_exchange()] {
            if let Ok(channel) = connection.create_channel().await {
                let options = ExchangeDeleteOptions::default();
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), options)
                    .await;
                let _ = channel.close(200, "deleted".into()).await;
            }
        }
    }
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn table(entries: Vec<(&str, AMQPValue)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        table.insert(ShortString::from(key), value);
    }
    table
}

/// `x-quorum-initial-group-size` or `x-initial-cluster-size` as `key`, when a
/// factor is chosen: the number of nodes that get a copy when the queue is created.
fn replication(key: &'static str, replicas: Option<u16>) -> Option<(&'static str, AMQPValue)> {
    replicas.map(|replicas| (key, AMQPValue::LongLongInt(i64::from(replicas))))
}

/// A replicated work queue with a delivery limit and at-least-once dead-lettering.
fn quorum_args(dead_letter_exchange: &str, replicas: Option<u16>) -> FieldTable {
    let mut args = vec![
        ("x-queue-type", text("quorum")),
        ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
        ("x-dead-letter-exchange", text(dead_letter_exchange)),
        // at-least-once: a dead letter is dropped from the source only once the
        // dead-letter queue has confirmed it. The broker requires reject-publish
        // overflow for it.
        ("x-dead-letter-strategy", text("at-least-once")),
        ("x-overflow", text("reject-publish")),
    ];
    args.extend(replication("x-quorum-initial-group-size", replicas));
    table(args)
}

/// The dead-letter queue is classic, not quorum: tools browse it by taking
/// messages and handing them back, and on RabbitMQ 4.x every hand-back counts
/// against a quorum queue's default delivery limit of 20, past which a dead
/// letter would be dropped for good. Its traffic is small; durability suffices.
fn dead_letter_args() -> FieldTable {
    table(vec![("x-queue-type", text("classic"))])
}

/// A delay queue: messages carry their own TTL (`expiration`), so the delay can
/// change by configuration without redeclaring (and mismatching) the queue, and
/// expire back to their work queue through the default exchange.
fn retry_args(work_queue: &str) -> FieldTable {
    table(vec![
        ("x-queue-type", text("classic")),
        ("x-dead-letter-exchange", text("")),
        ("x-dead-letter-routing-key", text(work_queue)),
    ])
}

fn stream_args(replicas: Option<u16>) -> FieldTable {
    let mut args = vec![
        ("x-queue-type", text("stream")),
        ("x-max-age", text(STREAM_MAX_AGE)),
        (
            "x-max-length-bytes",
            AMQPValue::LongLongInt(STREAM_MAX_BYTES),
        ),
        (
            "x-stream-max-segment-size-bytes",
            AMQPValue::LongLongInt(STREAM_SEGMENT_BYTES),
        ),
    ];
    args.extend(replication("x-initial-cluster-size", replicas));
    table(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_carries_the_prefix() {
        let topology = Topology::new("blue");
        assert_eq!(topology.events_exchange(), "blue.events");
        assert_eq!(topology.queue(WorkQueue::Processing), "blue.processing");
        assert_eq!(topology.retry_queue(WorkQueue::Jobs), "blue.jobs.retry");
        assert_eq!(topology.dead_letter_queue(), "blue.dead-letters");
        assert_eq!(topology.history_stream(), "blue.history");
    }

    #[test]
    fn the_message_queues_are_each_work_queue_with_its_retry_queue_then_the_dead_letters() {
        let names: Vec<String> = Topology::new("blue")
            .message_queues()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            [
                "blue.processing",
                "blue.processing.retry",
                "blue.reconciliation",
                "blue.reconciliation.retry",
                "blue.jobs",
                "blue.jobs.retry",
                "blue.dashboard",
                "blue.dashboard.retry",
                "blue.dead-letters",
            ]
        );
        let roles: Vec<QueueRole> = Topology::new("blue")
            .message_queues()
            .into_iter()
            .map(|(_, role)| role)
            .collect();
        assert_eq!(roles[2], QueueRole::Work(WorkQueue::Reconciliation));
        assert_eq!(roles[3], QueueRole::Retry(WorkQueue::Reconciliation));
        assert_eq!(roles[6], QueueRole::Work(WorkQueue::Dashboard));
        assert_eq!(roles[8], QueueRole::DeadLetters);
    }

    #[test]
    fn each_event_type_has_the_queue_its_binding_routes_it_to() {
        assert_eq!(
            WorkQueue::for_event_type("processing.requested"),
            Some(WorkQueue::Processing)
        );
        assert_eq!(
            WorkQueue::for_event_type("reconciliation.ready"),
            Some(WorkQueue::Reconciliation)
        );
        assert_eq!(
            WorkQueue::for_event_type("timer.fired"),
            Some(WorkQueue::Jobs)
        );
        assert_eq!(
            WorkQueue::for_event_type("job.completed"),
            Some(WorkQueue::Dashboard)
        );
        assert_eq!(WorkQueue::for_event_type("game.deleted"), None);
        assert_eq!(WorkQueue::Dashboard.binding_key(), "job.completed");
        assert_eq!(WorkQueue::Jobs.binding_key(), "timer.fired.*");
        assert_eq!(WorkQueue::Processing.binding_key(), "processing.requested");
    }

    #[test]
    fn a_work_queue_is_found_by_its_name() {
        let topology = Topology::new("blue");
        assert_eq!(
            topology.work_queue_named("blue.reconciliation"),
            Some(WorkQueue::Reconciliation)
        );
        assert_eq!(topology.work_queue_named("green.reconciliation"), None);
    }

    #[test]
    fn replication_arguments_are_sent_only_when_a_factor_is_chosen() {
        let group = ShortString::from("x-quorum-initial-group-size");
        let cluster = ShortString::from("x-initial-cluster-size");
        assert!(!quorum_args("dlx", None).inner().contains_key(&group));
        assert!(!stream_args(None).inner().contains_key(&cluster));
        assert_eq!(
            quorum_args("dlx", Some(3)).inner().get(&group),
            Some(&AMQPValue::LongLongInt(3))
        );
        assert_eq!(
            stream_args(Some(2)).inner().get(&cluster),
            Some(&AMQPValue::LongLongInt(2))
        );
    }
}

//! The consumer runner: turns a queue into calls of a [`Handler`], safely.
//!
//! - manual acks with an explicit prefetch; a message is acked only after its
//!   handler succeeded, or after its retry or dead-letter copy is confirmed;
//! - transient failures wait in the queue's retry queue (no hot requeue loop),
//!   permanent ones go to the dead-letter queue with the reason in a header;
//! - a lost connection is re-established with backoff, the topology re-declared
//!   and consuming resumed; unacked messages are redelivered by the broker;
//! - on shutdown it stops consuming, lets in-flight messages finish (bounded by
//!   the drain timeout) and closes its connection.

mod handler;
mod settle;

pub use handler::{DeliveryContext, Handler, HandlerError};
pub(crate) use settle::header;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::connection::{Bus, BusError, close_quietly};
use crate::publisher::Publisher;
use crate::topology::WorkQueue;

/// Counters of what a runner did, shared with whoever wants to watch (tests,
/// metrics). Monotonic; read with [`RunnerStats::snapshot`].
#[derive(Debug, Default)]
pub struct RunnerStats {
    pub handled: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Deliveries handed back to the broker because a copy could not be published.
    pub requeued: AtomicU64,
    /// Times the runner re-established its connection after losing it.
    pub recoveries: AtomicU64,
}

/// A point-in-time copy of [`RunnerStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub handled: u64,
    pub retried: u64,
    pub dead_lettered: u64,
    pub requeued: u64,
    pub recoveries: u64,
}

impl RunnerStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            handled: self.handled.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            requeued: self.requeued.load(Ordering::Relaxed),
            recoveries: self.recoveries.load(Ordering::Relaxed),
        }
    }
}

/// Consumes one work queue with one handler.
#[derive(Debug)]
pub struct ConsumerRunner<H> {
    shared: Arc<RunnerShared<H>>,
    bus: Bus,
    name: String,
    prefetch: u16,
    concurrency: usize,
    drain_timeout: Duration,
}

/// What every in-flight delivery needs.
#[derive(Debug)]
pub(crate) struct RunnerShared<H> {
    pub(crate) handler: Arc<H>,
    pub(crate) publisher: Publisher,
    pub(crate) queue: String,
    pub(crate) retry_queue: String,
    pub(crate) retry_delay: Duration,
    pub(crate) max_retries: u32,
    pub(crate) stats: Arc<RunnerStats>,
}

/// Why consuming on one connection stopped.
enum Ended {
    /// Shutdown was asked for and in-flight work has drained.
    Stopped,
    /// The connection or channel died; reconnect.
    Lost(String),
}

impl<H: Handler> ConsumerRunner<H> {
    /// A runner for `queue`. It publishes retry and dead-letter copies through
    /// `publisher`, which has its own connection (`docs/broker-notes.md` item 4).
    pub fn new(publisher: Publisher, queue: WorkQueue, handler: H) -> Self {
        let bus = publisher.bus().clone();
        let topology = bus.topology();
        let shared = RunnerShared {
            handler: Arc::new(handler),
            queue: topology.queue(queue),
            retry_queue: topology.retry_queue(queue),
            retry_delay: bus.settings().retry_delay,
            max_retries: bus.settings().max_retries,
            stats: Arc::default(),
            publisher,
        };
        Self {
            name: format!("consumer {}", shared.queue),
            shared: Arc::new(shared),
            bus,
            prefetch: 50,
            concurrency: 8,
            drain_timeout: Duration::from_secs(30),
        }
    }

    /// Unacked messages the broker may send ahead (per consumer, not global:
    /// a global QoS breaks stream consumers, `docs/broker-notes.md` item 4).
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Messages handled at the same time.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long shutdown waits for in-flight messages before abandoning them
    /// to redelivery.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The runner's counters, to watch it from outside.
    pub fn stats(&self) -> Arc<RunnerStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Consumes until `shutdown` fires, reconnecting whenever the connection is lost.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BusError> {
        loop {
            let connection = match self.bus.connect_with_backoff(&self.name, &shutdown).await {
                Ok(connection) => connection,
                Err(BusError::Cancelled) => return Ok(()),
                Err(error) => return Err(error),
            };
            let ended = self.consume(&connection, &shutdown).await;
            close_quietly(&connection, "consumer stopping").await;
            match ended {
                Ok(Ended::Stopped) => {
                    tracing::info!(queue = %self.shared.queue, "Consumer stopped.");
                    return Ok(());
                }
                Ok(Ended::Lost(why)) => {
                    tracing::warn!(queue = %self.shared.queue, reason = %why, "Lost the broker; reconnecting.");
                }
                Err(error) => {
                    tracing::warn!(queue = %self.shared.queue, %error, "Consuming failed; reconnecting.");
                }
            }
            if shutdown.is_cancelled() {
                return Ok(());
            }
            self.shared.stats.recoveries.fetch_add(1, Ordering::Relaxed);
            if let Some(observer) = self.bus.observer() {
                observer.reconnected(&self.name);
            }
        }
    }

    async fn consume(
        &self,
        connection: &Connection,
        shutdown: &CancellationToken,
    ) -> Result<Ended, BusError> {
        let channel = self.bus.open_channel(connection).await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions { global: false })
            .await?;
        let mut consumer = channel
            .basic_consume(
                self.shared.queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(), // no_ack: false, i.e. manual acks
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %self.shared.queue, prefetch = self.prefetch,
            concurrency = self.concurrency, "Consuming.");
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let mut in_flight = JoinSet::new();
        let ended = loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    cancel_consumer(&channel, consumer.tag()).await;
                    break Ended::Stopped;
                }
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let slot = tokio::select! {
                            slot = Arc::clone(&slots).acquire_owned() => slot,
                            // The delivery is dropped unacked: the broker gives it
                            // to another consumer when this channel closes.
                            () = shutdown.cancelled() => {
                                cancel_consumer(&channel, consumer.tag()).await;
                                break Ended::Stopped;
                            }
                        };
                        let Ok(slot) = slot else { break Ended::Lost("semaphore closed".into()) };
                        let shared = Arc::clone(&self.shared);
                        in_flight.spawn(async move {
                            settle::settle(shared, delivery).await;
                            drop(slot);
                        });
                    }
                    Some(Err(error)) => break Ended::Lost(error.to_string()),
                    None => break Ended::Lost("the broker ended the consumer".into()),
                },
            }
        };
        // Whether stopping or reconnecting, let in-flight handlers finish first, so a
        // redelivery on the new connection never races the old attempt.
        self.drain(&mut in_flight).await;
        if channel.status().connected() {
            // Channel first, then (in `run`) the connection: lapin logs a connection
            // closed under an open channel as an error.
            let _ = channel.close(200, "consumer stopping".into()).await;
        }
        Ok(ended)
    }

    async fn drain(&self, in_flight: &mut JoinSet<()>) {
        let pending = in_flight.len();
        if pending == 0 {
            return;
        }
        tracing::info!(queue = %self.shared.queue, pending, "Waiting for in-flight messages.");
        let drained = tokio::time::timeout(self.drain_timeout, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(queue = %self.shared.queue, abandoned = in_flight.len(),
                "Drain timeout reached; abandoned messages will be redelivered.");
            in_flight.abort_all();
        }
    }
}

async fn cancel_consumer(channel: &Channel, tag: lapin::types::ShortString) {
    if let Err(error) = channel
        .basic_cancel(tag, BasicCancelOptions::default())
        .await
    {
        tracing::debug!(%error, "Cancelling the consumer failed; closing the connection ends it anyway.");
    }
}

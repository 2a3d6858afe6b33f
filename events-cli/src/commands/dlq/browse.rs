//! Looking through the dead-letter queue without losing anything.
//!
//! AMQP cannot peek, so browsing takes every message with a manual ack and, once
//! done, hands back whatever was not deliberately acked: the broker puts a
//! requeued message of a classic queue back where it was. If the tool dies
//! midway, its connection closes and the broker requeues the lot. The DLQ is a
//! classic queue precisely so this costs nothing: on a quorum queue each hand-back
//! would count toward its delivery limit (see `shared_events::topology`).
//!
//! While a browse holds them, the dead letters are invisible to other readers
//! (another `events dlq` sees an empty queue); holding is short.

use anyhow::Context as _;
use shared_events::Bus;
use shared_events::lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use shared_events::lapin::{BasicProperties, Channel, Connection};

use super::dead_letter::DeadLetter;
use crate::broker;

/// One message taken off the dead-letter queue, unacked.
#[derive(Debug)]
pub struct Taken {
    pub delivery_tag: u64,
    pub properties: BasicProperties,
    pub body: Vec<u8>,
    pub dead: DeadLetter,
}

/// Every dead letter, held until [`Browse::hand_back`].
#[derive(Debug)]
pub struct Browse {
    connection: Connection,
    channel: Channel,
    pub queue: String,
    pub taken: Vec<Taken>,
}

impl Browse {
    /// Takes every ready message off the dead-letter queue.
    pub async fn take_all(bus: &Bus) -> anyhow::Result<Self> {
        let queue = bus.topology().dead_letter_queue();
        let connection = broker::connect(bus, "dlq").await?;
        broker::require_queue(bus, &connection, &queue).await?;
        let channel = connection
            .create_channel()
            .await
            .context("Failed to open a channel")?;
        let mut taken = Vec::new();
        // basic.get until empty: exact (no guessing when a consumer has received
        // everything) and the queue is small by nature.
        while let Some(message) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("Failed to read the dead-letter queue `{queue}`"))?
        {
            let delivery = message.delivery;
            taken.push(Taken {
                delivery_tag: delivery.delivery_tag,
                dead: DeadLetter::read(&delivery.properties, &delivery.data),
                properties: delivery.properties,
                body: delivery.data,
            });
        }
        Ok(Self {
            connection,
            channel,
            queue,
            taken,
        })
    }

    /// Removes one dead letter for good (it was redriven).
    pub async fn ack(&self, delivery_tag: u64) -> anyhow::Result<()> {
        self.channel
            .basic_ack(delivery_tag, BasicAckOptions { multiple: false })
            .await
            .context("Failed to remove a redriven message from the dead-letter queue")
    }

    /// Gives back every message not acked, in its place, and disconnects.
    pub async fn hand_back(self) -> anyhow::Result<()> {
        let handed = match self.taken.iter().map(|t| t.delivery_tag).max() {
            // `multiple` covers every unacked tag up to the last; acked ones are done.
            Some(last) => self
                .channel
                .basic_nack(
                    last,
                    BasicNackOptions {
                        multiple: true,
                        requeue: true,
                    },
                )
                .await
                .context("Failed to hand dead letters back (closing the connection will)"),
            None => Ok(()),
        };
        broker::close(self.connection).await;
        handed
    }
}

//! Looking through the dead-letter queue without losing anything.
//!
//! AMQP cannot peek, so browsing takes messages with a manual ack and, once
//! done, hands back whatever was not deliberately acked: the broker puts a
//! requeued message of a classic queue back where it was. If the reader dies
//! midway, its connection closes and the broker requeues the lot. The DLQ is a
//! classic queue precisely so this costs nothing: on a quorum queue each hand-back
//! would count toward its delivery limit (see `crate::topology`).
//!
//! While a browse holds them, the dead letters are invisible to other readers
//! (another browse sees them missing); holding is short, and a reader that
//! browses often (the dashboard) takes only the first few.

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::{BasicProperties, Channel, Connection};

use super::{DeadLetter, DeadLetterError};
use crate::connection::{Bus, close_quietly};
use crate::inspect::queue_stat;

/// One message taken off the dead-letter queue, unacked.
#[derive(Debug)]
pub struct Taken {
    pub delivery_tag: u64,
    pub properties: BasicProperties,
    pub body: Vec<u8>,
    pub dead: DeadLetter,
}

/// Dead letters taken so far, held until [`Browse::hand_back`].
#[derive(Debug)]
pub struct Browse {
    connection: Connection,
    channel: Channel,
    /// The dead-letter queue's name.
    pub queue: String,
    pub taken: Vec<Taken>,
    /// Messages still ready behind the last one taken (the broker tells with each).
    pub left: u32,
}

impl Browse {
    /// Connects (listed by the broker as `name`) and checks the queue exists,
    /// without declaring anything: a wrong prefix is an error, not a new queue.
    pub async fn open(bus: &Bus, name: &str) -> Result<Self, DeadLetterError> {
        let queue = bus.topology().dead_letter_queue();
        let connection = bus.connect(name).await?;
        match prepare(bus, &connection, &queue).await {
            Ok((channel, left)) => Ok(Self {
                connection,
                channel,
                queue,
                taken: Vec::new(),
                left,
            }),
            Err(error) => {
                close_quietly(&connection, "dead-letter queue unusable").await;
                Err(error)
            }
        }
    }

    /// Opens and takes every ready message.
    pub async fn take_all(bus: &Bus, name: &str) -> Result<Self, DeadLetterError> {
        Self::take_first(bus, name, usize::MAX).await
    }

    /// Opens and takes up to `limit` messages, oldest first.
    pub async fn take_first(bus: &Bus, name: &str, limit: usize) -> Result<Self, DeadLetterError> {
        let mut browse = Self::open(bus, name).await?;
        while browse.taken.len() < limit {
            match browse.take_next().await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => {
                    browse.close().await;
                    return Err(error);
                }
            }
        }
        Ok(browse)
    }

    /// Takes the next message, if any is ready. `basic.get` rather than a
    /// consumer: exact (no guessing when everything has arrived), and the queue
    /// is small by nature.
    pub async fn take_next(&mut self) -> Result<Option<&Taken>, DeadLetterError> {
        let got = self
            .channel
            .basic_get(
                self.queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .map_err(|source| DeadLetterError::Read {
                queue: self.queue.clone(),
                source,
            })?;
        let Some(message) = got else {
            self.left = 0;
            return Ok(None);
        };
        self.left = message.message_count;
        let delivery = message.delivery;
        self.taken.push(Taken {
            delivery_tag: delivery.delivery_tag,
            dead: DeadLetter::read(&delivery.properties, &delivery.data),
            properties: delivery.properties,
            body: delivery.data,
        });
        Ok(self.taken.last())
    }

    /// Removes one dead letter for good (it was redriven).
    pub async fn ack(&self, delivery_tag: u64) -> Result<(), DeadLetterError> {
        self.channel
            .basic_ack(delivery_tag, BasicAckOptions { multiple: false })
            .await
            .map_err(DeadLetterError::Ack)
    }

    /// Gives back every message not acked, in its place, and disconnects.
    pub async fn hand_back(self) -> Result<(), DeadLetterError> {
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
                .map_err(DeadLetterError::HandBack),
            None => Ok(()),
        };
        self.close().await;
        handed
    }

    /// Disconnects; the broker requeues whatever was taken and not acked.
    async fn close(self) {
        close_quietly(&self.connection, "dead letters handed back").await;
    }
}

/// Checks the queue exists and opens the channel to read it through; returns the
/// channel and the queue's ready messages.
async fn prepare(
    bus: &Bus,
    connection: &Connection,
    queue: &str,
) -> Result<(Channel, u32), DeadLetterError> {
    let Some(stat) = queue_stat(connection, queue).await? else {
        return Err(DeadLetterError::MissingQueue {
            queue: queue.to_owned(),
            prefix: bus.settings().prefix.clone(),
        });
    };
    Ok((connection.create_channel().await?, stat.ready))
}

//! Publishing with broker confirms.
//!
//! A publish succeeds only when the broker has confirmed it (`ack`) and has not
//! returned it as unroutable (we publish `mandatory`, see `docs/broker-notes.md` item 2).
//! Anything else, or no answer within the timeout, is an error the caller sees:
//! the gateway answers 503, a consumer leaves its delivery unacked.

use std::sync::Arc;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::connection::{Bus, BusError, close_quietly};
use crate::envelope::Envelope;

/// Why a message may not have reached its queue.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the broker is unavailable: {0}")]
    Unavailable(#[from] BusError),
    #[error("publishing failed: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker did not confirm the message within {0:?}")]
    ConfirmTimeout(std::time::Duration),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for routing key `{0}`; the message was returned")]
    Unroutable(String),
    #[error("the event could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Message headers the plumbing sets and reads. `x-` keeps them apart from
/// application headers; `m2m-` from the broker's own.
pub mod headers {
    /// The event's schema version (the body carries it too).
    pub const VERSION: &str = "x-m2m-version";
    /// The patient's id, so tools can filter without decoding bodies.
    pub const USER_ID: &str = "x-m2m-user-id";
    pub const GAME_ID: &str = "x-m2m-game-id";
    /// How many transient retries the message has had.
    pub const RETRIES: &str = "x-m2m-retries";
    /// Set on events republished by `events replay`.
    pub const REPLAY: &str = "x-m2m-replay";
    /// Why the message was dead-lettered, by whom, when and from which queue.
    pub const DEATH_REASON: &str = "x-m2m-death-reason";
    pub const DEATH_QUEUE: &str = "x-m2m-death-queue";
    pub const DEATH_TIME: &str = "x-m2m-death-time";
    pub const DEATH_ROUTING_KEY: &str = "x-m2m-death-routing-key";
}

/// A message ready to publish: its body and AMQP properties.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

impl OutgoingMessage {
    /// The persistent JSON message for `envelope`, with the envelope's ids
    /// mirrored into AMQP properties and headers for tools that only read those.
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, PublishError> {
        let body = envelope.to_json()?;
        let mut headers = FieldTable::default();
        headers.insert(
            headers::VERSION.into(),
            AMQPValue::LongUInt(envelope.event.version()),
        );
        if let Some(user) = envelope.event.user_id() {
            headers.insert(headers::USER_ID.into(), long_string(&user.to_string()));
        }
        if let Some(game) = envelope.event.game_id() {
            headers.insert(headers::GAME_ID.into(), long_string(&game.to_string()));
        }
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2) // persistent
            .with_message_id(envelope.id.to_string().into())
            .with_correlation_id(envelope.correlation_id.to_string().into())
            .with_type(envelope.event.event_type().into())
            .with_timestamp(envelope.occurred_at.unix_timestamp().max(0) as u64)
            .with_headers(headers);
        Ok(Self { body, properties })
    }
}

pub(crate) fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// Now, as AMQP's timestamp (Unix seconds).
pub(crate) fn now_timestamp() -> u64 {
    OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

/// How one publish attempt failed.
enum Failed {
    /// The connection died under it: worth one more attempt on a new connection.
    ConnectionLost(lapin::Error),
    Other(PublishError),
}

impl Failed {
    fn into_error(self) -> PublishError {
        match self {
            Failed::ConnectionLost(error) => error.into(),
            Failed::Other(error) => error,
        }
    }
}

/// A confirmed publisher with its own connection, reconnecting on demand.
///
/// Cheap to clone; clones share one connection and one confirm channel, on which
/// concurrent publishes are pipelined (the broker confirms them in batches).
#[derive(Debug, Clone)]
pub struct Publisher {
    bus: Bus,
    name: String,
    link: Arc<Mutex<Option<Link>>>,
}

#[derive(Debug)]
struct Link {
    connection: Connection,
    channel: Channel,
    /// Tells links apart: channel ids repeat across connections.
    generation: u64,
}

impl Publisher {
    /// A publisher that connects on first use. `name` labels its connection.
    pub fn new(bus: Bus, name: impl Into<String>) -> Self {
        Self {
            bus,
            name: name.into(),
            link: Arc::new(Mutex::new(None)),
        }
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Publishes an event to the events exchange under its routing key.
    pub async fn publish(&self, envelope: &Envelope) -> Result<(), PublishError> {
        let message = OutgoingMessage::from_envelope(envelope)?;
        let exchange = self.bus.topology().events_exchange();
        let published = self
            .publish_message(&exchange, &envelope.event.routing_key(), message)
            .await;
        if let Some(observer) = self.bus.observer() {
            observer.published(envelope.event.event_type(), published.is_ok());
        }
        published
    }

    /// Publishes any message and waits for its confirm. `exchange` "" is the
    /// default exchange, where the routing key is a queue name.
    ///
    /// When the connection dies under the publish (its node stopped or crashed,
    /// which fails a pending confirm at once rather than at the timeout), the
    /// message is published once more on a new connection, which goes to another
    /// node. The lost attempt may have reached the queue before the node died, so
    /// this can make a duplicate; every consumer is idempotent, whereas giving up
    /// would turn each node failover into errors for every caller with a publish in
    /// flight.
    pub async fn publish_message(
        &self,
        exchange: &str,
        routing_key: &str,
        message: OutgoingMessage,
    ) -> Result<(), PublishError> {
        match self.publish_once(exchange, routing_key, &message).await {
            Err(Failed::ConnectionLost(error)) => {
                tracing::info!(connection = %self.name, %error,
                    "The broker connection died under a publish; publishing again.");
                self.publish_once(exchange, routing_key, &message)
                    .await
                    .map_err(Failed::into_error)
            }
            other => other.map_err(Failed::into_error),
        }
    }

    async fn publish_once(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &OutgoingMessage,
    ) -> Result<(), Failed> {
        let (channel, generation) = self.channel().await.map_err(|e| Failed::Other(e.into()))?;
        let timeout = self.bus.settings().timeout;
        let outcome = tokio::time::timeout(timeout, async {
            let confirm = channel
                .basic_publish(
                    ShortString::from(exchange),
                    ShortString::from(routing_key),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &message.body,
                    message.properties.clone(),
                )
                .await?;
            confirm.await
        })
        .await;
        let confirmation = match outcome {
            Ok(Ok(confirmation)) => confirmation,
            Ok(Err(error)) => {
                self.forget(generation).await;
                // A soft error (404 on a missing exchange, say) is the channel's, and
                // would fail again; anything else is the connection's.
                return Err(if error.is_amqp_soft_error() {
                    Failed::Other(error.into())
                } else {
                    Failed::ConnectionLost(error)
                });
            }
            Err(_) => {
                // A confirm that never came may mean a half-dead connection: start
                // afresh next time rather than pile more publishes onto it. Not
                // retried here: the caller's wait is bounded by one timeout.
                self.forget(generation).await;
                return Err(Failed::Other(PublishError::ConfirmTimeout(timeout)));
            }
        };
        let nacked = confirmation.is_nack();
        if confirmation.take_message().is_some() {
            return Err(Failed::Other(PublishError::Unroutable(
                routing_key.to_owned(),
            )));
        }
        if nacked {
            return Err(Failed::Other(PublishError::Nacked));
        }
        Ok(())
    }

    /// Closes the connection, if any; later publishes reconnect.
    pub async fn close(&self) {
        if let Some(link) = self.link.lock().await.take() {
            // Channel first: lapin logs a connection closed under an open channel
            // as an error.
            let _ = link.channel.close(200, "publisher closed".into()).await;
            close_quietly(&link.connection, "publisher closed").await;
        }
    }

    /// The live confirm channel, connecting (once, for all waiting callers) if
    /// there is none or the old one died.
    async fn channel(&self) -> Result<(Channel, u64), BusError> {
        let mut link = self.link.lock().await;
        let mut generation = 0;
        if let Some(current) = link.as_ref() {
            if current.connection.status().connected() && current.channel.status().connected() {
                return Ok((current.channel.clone(), current.generation));
            }
            generation = current.generation + 1;
            tracing::info!(connection = %self.name, "Broker connection lost; the publisher reconnects.");
            if let Some(observer) = self.bus.observer() {
                observer.reconnected(&self.name);
            }
        }
        let (connection, node) = self.bus.connect_to_a_node(&self.name).await?;
        tracing::debug!(connection = %self.name, %node, "The publisher connected.");
        let channel = self.bus.open_channel(&connection).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        *link = Some(Link {
            connection,
            channel: channel.clone(),
            generation,
        });
        Ok((channel, generation))
    }

    /// Drops the link a publish failed on, unless another caller already replaced it.
    async fn forget(&self, generation: u64) {
        let mut link = self.link.lock().await;
        if link.as_ref().is_some_and(|l| l.generation == generation)
            && let Some(old) = link.take()
        {
            close_quietly(&old.connection, "publish failed").await;
        }
    }
}

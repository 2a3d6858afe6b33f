//! The fate of one delivery: handle it, then ack, retry later or dead-letter.
//!
//! The order is what makes it safe: a retry or dead-letter copy is published and
//! confirmed *before* the original is acked, so a crash in between can duplicate
//! a message (handlers are idempotent) but never lose one.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use tracing::Instrument;

use super::RunnerShared;
use super::handler::{DeliveryContext, Handler, HandlerError};
use crate::envelope::Envelope;
use crate::observe::{Settled, UNDECODABLE};
use crate::publisher::{OutgoingMessage, PublishError, headers, long_string, now_timestamp};

/// What became of a delivery (for logs and the runner's counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Done,
    Retried,
    DeadLettered,
}

pub(super) async fn settle<H: Handler>(shared: Arc<RunnerShared<H>>, delivery: Delivery) {
    let retries = header_u32(&delivery.properties, headers::RETRIES);
    let context = DeliveryContext {
        queue: shared.queue.clone(),
        redelivered: delivery.redelivered,
        retries,
        replay: header(&delivery.properties, headers::REPLAY).is_some(),
    };
    let envelope = match Envelope::from_json(&delivery.data) {
        Ok(envelope) => envelope,
        Err(error) => {
            let reason = format!("undecodable message: {error}");
            tracing::warn!(queue = %shared.queue, %reason, "Dead-lettering a message.");
            let fate = dead_letter(&shared, &delivery, &reason, retries).await;
            finish(&shared, &delivery, fate, UNDECODABLE, Duration::ZERO).await;
            return;
        }
    };
    let event_type = envelope.event.event_type();
    // `redelivered`: the broker gave this message to a consumer before (one that died
    // or lost its connection holding it); operators look for it after an incident.
    let span = tracing::info_span!("consume", queue = %shared.queue,
        event_id = %envelope.id, event_type = envelope.event.event_type(),
        correlation_id = %envelope.correlation_id, retries,
        redelivered = delivery.redelivered);
    async {
        let handler = Arc::clone(&shared.handler);
        let started = Instant::now();
        // The handler runs in its own task so that a panic fails this message only,
        // and the delivery is still settled instead of holding a prefetch slot forever.
        let outcome = tokio::spawn(
            async move { handler.handle(envelope, context).await }.in_current_span(),
        )
        .await
        .unwrap_or_else(|panic| Err(HandlerError::permanent(anyhow::anyhow!("handler panicked: {panic}"))));
        let handling = started.elapsed();
        let fate = match outcome {
            Ok(()) => Ok(Fate::Done),
            Err(HandlerError::Transient(error)) if retries < shared.max_retries => {
                tracing::warn!(error = %format!("{error:#}"), "Handling failed transiently; retrying after the delay.");
                retry(&shared, &delivery, retries + 1).await.map(|()| Fate::Retried)
            }
            Err(HandlerError::Transient(error)) => {
                let reason = format!("still failing after {retries} retries: {error:#}");
                tracing::error!(%reason, "Dead-lettering a message.");
                dead_letter(&shared, &delivery, &reason, retries).await
            }
            Err(HandlerError::Permanent(error)) => {
                let reason = format!("{error:#}");
                tracing::error!(%reason, "Dead-lettering a message.");
                dead_letter(&shared, &delivery, &reason, retries).await
            }
        };
        finish(&shared, &delivery, fate, event_type, handling).await;
    }
    .instrument(span)
    .await;
}

/// Acks the original once its fate is sealed; if publishing the copy failed,
/// hands the original back to the broker (the next attempt will try again).
///
/// Awaited inside the delivery's own task, not spawned: shutdown drains these
/// tasks and then closes the connection, so an ack still in flight elsewhere
/// would be lost and the finished message redelivered. Each delivery has its
/// own task, so waiting here does not hold up the consumer loop (docs/broker-notes.md item 1).
async fn finish<H: Handler>(
    shared: &RunnerShared<H>,
    delivery: &Delivery,
    fate: Result<Fate, PublishError>,
    event_type: &str,
    handling: Duration,
) {
    let (counter, settled) = match &fate {
        Ok(Fate::Done) => (&shared.stats.handled, Settled::Handled),
        Ok(Fate::Retried) => (&shared.stats.retried, Settled::Retried),
        Ok(Fate::DeadLettered) => (&shared.stats.dead_lettered, Settled::DeadLettered),
        Err(_) => (&shared.stats.requeued, Settled::Requeued),
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if let Some(observer) = shared.publisher.bus().observer() {
        observer.settled(&shared.queue, event_type, settled, handling);
    }
    let settled = match fate {
        Ok(_) => delivery.acker.ack(BasicAckOptions::default()).await,
        Err(error) => {
            tracing::warn!(%error, "Could not publish a retry or dead-letter copy; requeueing the message.");
            let requeue = BasicNackOptions {
                requeue: true,
                multiple: false,
            };
            delivery.acker.nack(requeue).await
        }
    };
    if let Err(error) = settled {
        // The channel is gone; the broker redelivers the message elsewhere.
        tracing::warn!(%error, "Could not settle a delivery; the broker will redeliver it.");
    }
}

async fn retry<H: Handler>(
    shared: &RunnerShared<H>,
    delivery: &Delivery,
    retries: u32,
) -> Result<(), PublishError> {
    let mut headers = headers_of(&delivery.properties);
    headers.insert(headers::RETRIES.into(), AMQPValue::LongUInt(retries));
    let delay_ms = shared.retry_delay.as_millis().to_string();
    let properties = delivery
        .properties
        .clone()
        .with_headers(headers)
        .with_expiration(ShortString::from(delay_ms));
    let message = OutgoingMessage {
        body: delivery.data.clone(),
        properties,
    };
    shared
        .publisher
        .publish_message("", &shared.retry_queue, message)
        .await
}

async fn dead_letter<H: Handler>(
    shared: &RunnerShared<H>,
    delivery: &Delivery,
    reason: &str,
    retries: u32,
) -> Result<Fate, PublishError> {
    let mut headers = headers_of(&delivery.properties);
    // Header values are bounded; a reason is for humans, not a core dump.
    let reason: String = reason.chars().take(2_000).collect();
    headers.insert(headers::DEATH_REASON.into(), long_string(&reason));
    headers.insert(headers::DEATH_QUEUE.into(), long_string(&shared.queue));
    headers.insert(
        headers::DEATH_TIME.into(),
        AMQPValue::Timestamp(now_timestamp()),
    );
    headers.insert(
        headers::DEATH_ROUTING_KEY.into(),
        long_string(delivery.routing_key.as_str()),
    );
    headers.insert(headers::RETRIES.into(), AMQPValue::LongUInt(retries));
    let mut properties = delivery.properties.clone().with_headers(headers);
    // A leftover retry TTL would make the dead letter expire out of the DLQ.
    properties = clear_expiration(properties);
    let message = OutgoingMessage {
        body: delivery.data.clone(),
        properties,
    };
    let exchange = shared.publisher.bus().topology().dead_letter_exchange();
    shared
        .publisher
        .publish_message(&exchange, delivery.routing_key.as_str(), message)
        .await
        .map(|()| Fate::DeadLettered)
}

fn clear_expiration(properties: BasicProperties) -> BasicProperties {
    let mut fresh = BasicProperties::default();
    if let Some(v) = properties.content_type() {
        fresh = fresh.with_content_type(v.clone());
    }
    if let Some(v) = properties.delivery_mode() {
        fresh = fresh.with_delivery_mode(*v);
    }
    if let Some(v) = properties.message_id() {
        fresh = fresh.with_message_id(v.clone());
    }
    if let Some(v) = properties.correlation_id() {
        fresh = fresh.with_correlation_id(v.clone());
    }
    if let Some(v) = properties.kind() {
        fresh = fresh.with_type(v.clone());
    }
    if let Some(v) = properties.timestamp() {
        fresh = fresh.with_timestamp(*v);
    }
    if let Some(v) = properties.headers() {
        fresh = fresh.with_headers(v.clone());
    }
    fresh
}

fn headers_of(properties: &BasicProperties) -> FieldTable {
    properties.headers().clone().unwrap_or_default()
}

pub(crate) fn header<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(name)
}

fn header_u32(properties: &BasicProperties, name: &str) -> u32 {
    match header(properties, name) {
        Some(AMQPValue::LongUInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

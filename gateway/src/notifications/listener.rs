//! This instance's ear on the bus: a transient queue bound to `feed.appended`, whose
//! messages go to the [`Hub`].
//!
//! Why a queue per instance and not Redis pub/sub: the broker already carries every
//! other event with a reconnect path we test; a bounded queue absorbs a burst while
//! the instance is busy instead of dropping it the way a slow pub/sub subscriber is
//! cut off; and `events tail` shows the notifications beside the events that caused
//! them, with the same correlation id. Either way a notification is only a hint: a
//! phone always catches up from the change feed by cursor, so one lost while this
//! instance reconnects costs latency, not data. After every reconnect the hub tells
//! all sockets to catch up for exactly that reason.

use futures_util::StreamExt as _;
use lapin::Connection;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use shared_events::connection::close_quietly;
use shared_events::{Bus, BusError, Envelope, Event, lapin};
use tokio_util::sync::CancellationToken;

use super::Hub;

/// Listens until `stop`, reconnecting whenever the broker is lost.
pub async fn run(bus: Bus, hub: Hub, instance: String, stop: CancellationToken) {
    let name = format!("gateway notifications {instance}");
    loop {
        let connection = match bus.connect_with_backoff(&name, &stop).await {
            Ok(connection) => connection,
            Err(BusError::Cancelled) => return,
            Err(error) => {
                tracing::error!(%error, "The notification listener cannot reach the broker");
                return;
            }
        };
        let ended = listen(&bus, &hub, &instance, &connection, &stop).await;
        close_quietly(&connection, "notification listener stopping").await;
        if stop.is_cancelled() {
            return;
        }
        match ended {
            Ok(()) => tracing::warn!("The notification queue's consumer ended; reconnecting."),
            Err(error) => {
                tracing::warn!(%error, "The notification listener lost the broker; reconnecting.")
            }
        }
    }
}

async fn listen(
    bus: &Bus,
    hub: &Hub,
    instance: &str,
    connection: &Connection,
    stop: &CancellationToken,
) -> Result<(), BusError> {
    let channel = bus.open_channel(connection).await?;
    let queue = bus
        .topology()
        .declare_notification_queue(&channel, instance)
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            // Auto-ack: a notification is a hint, and redelivering one after a crash
            // is pointless (the queue dies with the connection anyway).
            BasicConsumeOptions {
                no_ack: true,
                exclusive: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    tracing::info!(%queue, "Listening for change-feed notifications.");
    // Whatever was published while no queue existed is in the feed, not here.
    hub.catch_up_all();
    let ended = forward(hub, &mut consumer, stop).await;
    if channel.status().connected() {
        // Channel before connection: lapin logs a connection closed under an open
        // channel as an error.
        let _ = channel
            .close(200, "notification listener stopping".into())
            .await;
    }
    ended
}

async fn forward(
    hub: &Hub,
    consumer: &mut lapin::Consumer,
    stop: &CancellationToken,
) -> Result<(), BusError> {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            next = consumer.next() => match next {
                Some(Ok(delivery)) => match Envelope::from_json(&delivery.data) {
                    Ok(Envelope { event: Event::FeedAppendedV1(appended), .. }) => {
                        hub.dispatch(&appended);
                    }
                    Ok(other) => tracing::warn!(event_type = other.event.event_type(),
                        "An unexpected event reached the notification queue; ignored."),
                    Err(error) => tracing::warn!(%error, "An undecodable notification; ignored."),
                },
                Some(Err(error)) => return Err(error.into()),
                None => return Ok(()),
            },
        }
    }
}

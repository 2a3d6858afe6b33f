//! Looking at queues without changing them: passive declares.
//!
//! A passive declare answers with a queue's ready messages and consumers, or
//! fails with 404 if the queue does not exist; it never creates one, so a tool or
//! a dashboard pointed at a mistyped prefix reports "missing" instead of quietly
//! creating an empty stack beside the real one.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ErrorKind};

/// What a passive declare tells about a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStat {
    /// Messages ready for delivery (not those delivered and awaiting an ack).
    pub ready: u32,
    pub consumers: u32,
}

/// The queue's depth and consumers, or `None` if it does not exist. Each check
/// has its own channel: a passive declare of a missing queue closes its channel.
pub async fn queue_stat(connection: &Connection, queue: &str) -> lapin::Result<Option<QueueStat>> {
    let channel = connection.create_channel().await?;
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await;
    match declared {
        Ok(queue) => {
            let _ = channel.close(200, "checked".into()).await;
            Ok(Some(QueueStat {
                ready: queue.message_count(),
                consumers: queue.consumer_count(),
            }))
        }
        Err(error) if is_not_found(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A 404 from the broker: the queue or exchange does not exist.
pub fn is_not_found(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(e) if e.get_id() == 404)
}

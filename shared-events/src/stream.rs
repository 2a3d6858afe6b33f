//! Reading the history stream from any point: what replay and `tail` stand on.
//!
//! Over AMQP 0.9.1 a stream is read by a consumer with the `x-stream-offset`
//! argument; each delivery carries its offset in the `x-stream-offset` header,
//! and the reader keeps its own position (`docs/broker-notes.md` item 6). Streams need
//! manual acks for flow control; acks go out with `multiple` every few
//! deliveries, not one round-trip per message (`docs/broker-notes.md` item 1).

use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection};
use time::OffsetDateTime;

use crate::connection::{Bus, BusError, close_quietly};
use crate::consumer::header;

/// Where to start reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// The oldest message still retained.
    First,
    /// The last chunk written (a few of the latest messages).
    Last,
    /// Only messages published from now on.
    Next,
    /// This offset (or the first retained one, if it was truncated away).
    Offset(u64),
    /// The first chunk written at or after this time (second precision; the
    /// broker starts at a chunk boundary, so a few earlier messages may come first:
    /// filter on the envelope's `occurred_at` for an exact bound).
    Time(OffsetDateTime),
}

impl StreamStart {
    fn argument(self) -> AMQPValue {
        match self {
            StreamStart::First => AMQPValue::LongString(LongString::from("first")),
            StreamStart::Last => AMQPValue::LongString(LongString::from("last")),
            StreamStart::Next => AMQPValue::LongString(LongString::from("next")),
            StreamStart::Offset(offset) => {
                AMQPValue::LongLongInt(i64::try_from(offset).unwrap_or(i64::MAX))
            }
            StreamStart::Time(time) => AMQPValue::Timestamp(time.unix_timestamp().max(0) as u64),
        }
    }
}

/// One message read from the stream.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub offset: u64,
    pub routing_key: String,
    pub properties: BasicProperties,
    pub body: Vec<u8>,
}

/// Reads the history stream in order from a starting point.
///
/// When its connection dies (its node stopped or crashed), the reader connects
/// again, to another node if need be, and resumes after the last record it
/// returned, so a reader survives a node failover without skipping or repeating.
#[derive(Debug)]
pub struct StreamReader {
    bus: Bus,
    start: StreamStart,
    /// The offset after the last record returned: where a reopened reader starts.
    resume_from: Option<u64>,
    link: Link,
}

/// One connection's consumer of the stream.
#[derive(Debug)]
struct Link {
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
    unacked: u16,
}

/// Credit the broker may have in flight to the reader. Large enough to keep the
/// pipe full, small enough to bound memory with ~1 MB recordings.
const PREFETCH: u16 = 200;
/// Ack (with `multiple`) every this many deliveries.
const ACK_EVERY: u16 = PREFETCH / 4;
/// Reopenings in a row without a record in between before the error is the
/// caller's: each reopening already tries every node.
const MAX_REOPENINGS: u32 = 3;

impl StreamReader {
    pub async fn open(bus: &Bus, start: StreamStart) -> Result<Self, BusError> {
        let link = Link::open(bus, start).await?;
        Ok(Self {
            bus: bus.clone(),
            start,
            resume_from: None,
            link,
        })
    }

    /// The next record; waits for new ones at the end of the stream. `None`
    /// means the broker ended the consumer.
    pub async fn next(&mut self) -> Result<Option<StreamRecord>, BusError> {
        let mut reopenings = 0;
        loop {
            let failure = match self.link.consumer.next().await {
                Some(Ok(delivery)) => return self.record(delivery).await.map(Some),
                Some(Err(error)) => BusError::from(error),
                None if self.link.connection.status().connected() => return Ok(None),
                None => BusError::Unreachable {
                    failures: "the connection closed".into(),
                },
            };
            if reopenings == MAX_REOPENINGS {
                return Err(failure);
            }
            reopenings += 1;
            let start = self.resume_from.map_or(self.start, StreamStart::Offset);
            tracing::warn!(error = %failure, ?start,
                "The stream reader lost the broker; reopening.");
            self.link = Link::open(&self.bus, start).await?;
        }
    }

    async fn record(&mut self, delivery: Delivery) -> Result<StreamRecord, BusError> {
        self.link.credit(&delivery).await?;
        let offset = match header(&delivery.properties, "x-stream-offset") {
            Some(AMQPValue::LongLongInt(offset)) => u64::try_from(*offset).unwrap_or(0),
            Some(AMQPValue::LongUInt(offset)) => u64::from(*offset),
            _ => 0,
        };
        self.resume_from = Some(offset + 1);
        Ok(StreamRecord {
            offset,
            routing_key: delivery.routing_key.to_string(),
            properties: delivery.properties,
            body: delivery.data,
        })
    }

    pub async fn close(self) {
        close_quietly(&self.link.connection, "stream reader done").await;
    }
}

impl Link {
    async fn open(bus: &Bus, start: StreamStart) -> Result<Self, BusError> {
        let connection = bus.connect("stream reader").await?;
        let channel = bus.open_channel(&connection).await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions { global: false })
            .await?;
        let mut arguments = FieldTable::default();
        arguments.insert("x-stream-offset".into(), start.argument());
        let consumer = channel
            .basic_consume(
                bus.topology().history_stream().into(),
                "".into(),
                BasicConsumeOptions::default(),
                arguments,
            )
            .await?;
        Ok(Self {
            connection,
            channel,
            consumer,
            unacked: 0,
        })
    }

    /// Acks in batches: the ack is only credit here, nothing is removed.
    async fn credit(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        self.unacked += 1;
        if self.unacked >= ACK_EVERY {
            self.channel
                .basic_ack(delivery.delivery_tag, BasicAckOptions { multiple: true })
                .await?;
            self.unacked = 0;
        }
        Ok(())
    }
}

//! Where the history stream ends right now, found without waiting forever.
//!
//! AMQP 0.9.1 cannot ask a stream for its last offset (a passive declare reports
//! no message count for streams, and there is no byte size either). Two readers
//! find it instead, attached one after the other:
//! - one from `next`: the first message it receives was published after it
//!   attached, so that offset minus one is exactly the end at attach time. On a
//!   busy stream this answers within one publish;
//! - one from `last`: the broker sends the whole last chunk at once. When nothing
//!   more comes for [`SETTLE`] (and the `next` reader saw nothing, so nothing new
//!   was published), the highest offset seen is the end. On a quiet stream this
//!   answers in about [`SETTLE`]; if even the first chunk does not come within
//!   [`FIRST_WAIT`], the stream is empty.
//!
//! Offsets of a stream number its messages one by one, so the end also gives the
//! count of messages between two offsets.
//!
//! The readers run in tasks of their own and report over a channel, so that a
//! timeout never drops a delivery in the middle of being read.

use std::time::Duration;

use anyhow::Context as _;
use shared_events::{Bus, StreamReader, StreamStart};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::record::Peek;

/// How long the last chunk may pause before we take it as complete.
pub const SETTLE: Duration = Duration::from_millis(300);
/// How long to wait for any message at all before calling the stream empty.
pub const FIRST_WAIT: Duration = Duration::from_secs(2);

/// The end of the stream when it was probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    pub last_offset: u64,
    /// The latest `occurred_at` in the last chunk, when the quiet path saw it: a
    /// replay from a later time has nothing to replay.
    pub latest_event: Option<OffsetDateTime>,
}

enum Seen {
    /// A message one past the end (from the `next` reader).
    Past(u64),
    /// A message of the last chunk (from the `last` reader).
    Last(u64, Option<OffsetDateTime>),
    Failed(anyhow::Error),
}

/// The stream's end now, or `None` if it holds no message.
pub async fn find_end(bus: &Bus) -> anyhow::Result<Option<StreamEnd>> {
    let next = StreamReader::open(bus, StreamStart::Next)
        .await
        .context("Failed to open the history stream")?;
    let last = StreamReader::open(bus, StreamStart::Last)
        .await
        .context("Failed to open the history stream")?;
    let (sender, mut seen) = mpsc::channel(256);
    let stop = CancellationToken::new();
    let readers = [
        tokio::spawn(pump(next, true, sender.clone(), stop.clone())),
        tokio::spawn(pump(last, false, sender, stop.clone())),
    ];

    let mut end: Option<StreamEnd> = None;
    let found = loop {
        let quiet = if end.is_some() { SETTLE } else { FIRST_WAIT };
        match tokio::time::timeout(quiet, seen.recv()).await {
            Err(_) | Ok(None) => break Ok(end),
            Ok(Some(Seen::Failed(error))) => break Err(error),
            Ok(Some(Seen::Past(offset))) => {
                break Ok(offset.checked_sub(1).map(|last_offset| StreamEnd {
                    last_offset,
                    latest_event: None,
                }));
            }
            Ok(Some(Seen::Last(offset, occurred_at))) => {
                let mut current = end.unwrap_or(StreamEnd {
                    last_offset: offset,
                    latest_event: None,
                });
                current.last_offset = current.last_offset.max(offset);
                current.latest_event = current.latest_event.max(occurred_at);
                end = Some(current);
            }
        }
    };
    stop.cancel();
    // A reader blocked on a full channel sees it closed and stops.
    drop(seen);
    for reader in readers {
        let _ = reader.await;
    }
    found
}

async fn pump(
    mut reader: StreamReader,
    past_end: bool,
    seen: mpsc::Sender<Seen>,
    stop: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => break,
            next = reader.next() => next,
        };
        let report = match next {
            Ok(Some(record)) if past_end => Seen::Past(record.offset),
            Ok(Some(record)) => {
                let occurred_at = Peek::of(&record.body).ok().map(|peek| peek.occurred_at);
                Seen::Last(record.offset, occurred_at)
            }
            Ok(None) => Seen::Failed(anyhow::anyhow!("The broker ended the stream reader")),
            Err(error) => {
                Seen::Failed(anyhow::Error::new(error).context("Failed to read the stream"))
            }
        };
        let failed = matches!(report, Seen::Failed(_));
        if seen.send(report).await.is_err() || failed || past_end {
            break;
        }
    }
    reader.close().await;
}

//! `events stats`: how full each queue is, who consumes it, and the stream's extent.
//!
//! Depths come from passive declares: ready messages only (not those delivered
//! and awaiting an ack). The stream's first and last offsets come from reading
//! it ([`crate::stream_end`]); AMQP 0.9.1 has no way to ask a stream's size in
//! bytes, so none is shown (`rabbitmq-streams stream_status` on the broker has it).

use anyhow::Context as _;
use serde::Serialize;
use shared_events::{Bus, QueueRole, StreamReader, StreamStart};

use crate::broker::{self, QueueStat};
use crate::cli::StatsArgs;
use crate::{out, stream_end};

#[derive(Debug, Serialize)]
struct Stats {
    prefix: String,
    queues: Vec<QueueLine>,
    stream: StreamLine,
}

#[derive(Debug, Serialize)]
struct QueueLine {
    name: String,
    role: &'static str,
    exists: bool,
    ready: Option<u32>,
    consumers: Option<u32>,
}

#[derive(Debug, Serialize)]
struct StreamLine {
    name: String,
    exists: bool,
    consumers: Option<u32>,
    first_offset: Option<u64>,
    last_offset: Option<u64>,
    /// `last - first + 1`: stream offsets number messages one by one.
    messages: Option<u64>,
    /// Always null: AMQP 0.9.1 cannot report a stream's size.
    bytes: Option<u64>,
}

pub async fn run(bus: &Bus, args: StatsArgs) -> anyhow::Result<()> {
    let topology = bus.topology();
    let connection = broker::connect(bus, "stats").await?;
    let mut lines = Vec::new();
    for (name, role) in topology.message_queues() {
        let role = match role {
            QueueRole::Work(_) => "work queue",
            QueueRole::Retry(_) => "retry delay",
            QueueRole::DeadLetters => "dead letters",
        };
        let stat = broker::queue_stat(&connection, &name).await?;
        lines.push(QueueLine {
            name,
            role,
            exists: stat.is_some(),
            ready: stat.map(|s| s.ready),
            consumers: stat.map(|s| s.consumers),
        });
    }
    let history = topology.history_stream();
    let stream_stat = broker::queue_stat(&connection, &history).await?;
    broker::close(connection).await;
    let stream = stream_line(bus, history, stream_stat).await?;
    let stats = Stats {
        prefix: bus.settings().prefix.clone(),
        queues: lines,
        stream,
    };
    let text = if args.json {
        serde_json::to_string(&stats).context("Failed to encode the stats")?
    } else {
        table(&stats)
    };
    out::line(&text).context("Failed to write to stdout")
}

async fn stream_line(
    bus: &Bus,
    name: String,
    stat: Option<QueueStat>,
) -> anyhow::Result<StreamLine> {
    let mut line = StreamLine {
        name,
        exists: stat.is_some(),
        // A stream's depth from a passive declare means nothing; its consumers do.
        consumers: stat.map(|s| s.consumers),
        first_offset: None,
        last_offset: None,
        messages: None,
        bytes: None,
    };
    if stat.is_none() {
        return Ok(line);
    }
    if let Some(end) = stream_end::find_end(bus).await? {
        line.first_offset = first_offset(bus).await?;
        line.last_offset = Some(end.last_offset);
        line.messages = line
            .first_offset
            .map(|first| end.last_offset.saturating_sub(first) + 1);
    }
    Ok(line)
}

/// The oldest retained offset: the first message a reader from `first` gets.
async fn first_offset(bus: &Bus) -> anyhow::Result<Option<u64>> {
    let mut reader = StreamReader::open(bus, StreamStart::First)
        .await
        .context("Failed to open the history stream")?;
    let first = tokio::time::timeout(stream_end::FIRST_WAIT, reader.next()).await;
    reader.close().await;
    match first {
        Err(_) | Ok(Ok(None)) => Ok(None),
        Ok(Ok(Some(record))) => Ok(Some(record.offset)),
        Ok(Err(error)) => Err(error).context("Failed to read the history stream"),
    }
}

fn table(stats: &Stats) -> String {
    let width = stats
        .queues
        .iter()
        .map(|q| q.name.len())
        .chain([stats.stream.name.len(), 5])
        .max()
        .unwrap_or(5);
    let number = |n: Option<u32>| n.map_or("-".to_owned(), |n| n.to_string());
    let mut text = format!(
        "{:<width$}  {:<13} {:>9} {:>9}\n",
        "queue", "role", "ready", "consumers"
    );
    for q in &stats.queues {
        let ready = if q.exists {
            number(q.ready)
        } else {
            "missing".into()
        };
        text.push_str(&format!(
            "{:<width$}  {:<13} {:>9} {:>9}\n",
            q.name,
            q.role,
            ready,
            number(q.consumers)
        ));
    }
    let s = &stats.stream;
    let offset = |o: Option<u64>| o.map_or("-".to_owned(), |o| o.to_string());
    if s.exists {
        text.push_str(&format!(
            "{:<width$}  {:<13} first offset {}, last offset {}, {} messages, {} consumers; \
             size in bytes: not available over AMQP",
            s.name,
            "history",
            offset(s.first_offset),
            offset(s.last_offset),
            offset(s.messages),
            number(s.consumers)
        ));
    } else {
        text.push_str(&format!("{:<width$}  {:<13} missing", s.name, "history"));
    }
    text
}

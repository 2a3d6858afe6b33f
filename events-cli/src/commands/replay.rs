//! `events replay`: republish a range of the history to the work queues.
//!
//! Events go to the work queue of their type through the default exchange, not
//! the events exchange, so a replay never re-enters the history stream (and is
//! never replayed itself). Each carries the `x-m2m-replay` header (the replay's
//! id) and is otherwise byte-for-byte the original: same envelope id, so
//! idempotent consumers recognise it. Publishes are pipelined with every confirm
//! checked ([`shared_events::pipeline`]).
//!
//! The range ends at `--to` or at the end of the stream when the replay started
//! ([`crate::stream_end`]), so a replay of a busy stream finishes.

use std::pin::pin;
use std::time::Duration;

use anyhow::{Context as _, bail};
use shared_events::lapin::BasicProperties;
use shared_events::lapin::types::{AMQPValue, LongString};
use shared_events::pipeline::{ConfirmPipeline, DEFAULT_WINDOW};
use shared_events::publisher::headers;
use shared_events::{Bus, StreamReader, StreamRecord, WorkQueue};
use time::OffsetDateTime;
use tokio::time::Instant;
use uuid::Uuid;

use crate::cli::ReplayArgs;
use crate::filter::Filter;
use crate::progress::Progress;
use crate::range::Range;
use crate::rate::Pacer;
use crate::read_ahead::ReadAhead;
use crate::record::Peek;
use crate::{broker, out, render, stream_end};

/// What a replay did, for the summary line.
#[derive(Debug, Default)]
struct Tally {
    scanned: u64,
    matched: u64,
    republished: u64,
    undecodable: u64,
    /// Matching events of a type no work queue takes (a newer producer's).
    no_queue: u64,
    first_offset: Option<u64>,
    last_offset: Option<u64>,
}

/// Where matching events go.
enum Sink {
    Publish(Box<Republisher>),
    List { pretty: bool },
}

struct Republisher {
    pipeline: ConfirmPipeline<()>,
    replay_id: LongString,
    pacer: Pacer,
    queues: Vec<(WorkQueue, String)>,
}

/// Why reading stopped.
enum Outcome {
    Done,
    Interrupted,
    WentQuiet(Duration),
    Failed(anyhow::Error),
}

pub async fn run(bus: &Bus, args: ReplayArgs) -> anyhow::Result<()> {
    let range = Range::new(args.from, args.to, OffsetDateTime::now_utc())?;
    let history = bus.topology().history_stream();
    let connection = broker::connect(bus, "replay check").await?;
    broker::require_queue(bus, &connection, &history).await?;
    broker::close(connection).await;

    let Some(end) = stream_end::find_end(bus).await? else {
        eprintln!("replay: the history stream `{history}` is empty; nothing to replay.");
        return Ok(());
    };
    if range.is_empty(&end) {
        eprintln!(
            "replay: nothing in range (the stream ends at offset {}); nothing to replay.",
            end.last_offset
        );
        return Ok(());
    }
    let stop = range.stop_offset(&end);
    let filter = Filter::new(&args.filter)
        .since(range.since())
        .before(range.before());
    let mut sink = if args.dry_run {
        Sink::List {
            pretty: args.pretty,
        }
    } else {
        Sink::Publish(Box::new(Republisher {
            pipeline: ConfirmPipeline::open(bus, "events replay publisher", DEFAULT_WINDOW)
                .await
                .context("Failed to connect to the broker to republish (M2M_AMQP_URL)")?,
            replay_id: LongString::from(Uuid::now_v7().to_string()),
            pacer: Pacer::new(args.rate),
            queues: WorkQueue::ALL
                .into_iter()
                .map(|queue| (queue, bus.topology().queue(queue)))
                .collect(),
        }))
    };
    let reader = StreamReader::open(bus, range.start())
        .await
        .context("Failed to open the history stream")?;
    let mut records = ReadAhead::spawn(reader, stop);

    let base = range.first_offset();
    let total = stop + 1 - base.unwrap_or(0).min(stop);
    let acted = if args.dry_run {
        "matching"
    } else {
        "republished"
    };
    let mut progress = Progress::new("replay", acted, total);
    let started = Instant::now();
    let mut tally = Tally::default();
    // A range being read should never pause longer than this; if it does,
    // something is wrong and waiting longer would not help.
    let idle = bus.settings().timeout.max(Duration::from_secs(5));
    let mut interrupted = pin!(shared_events::shutdown::signal());
    let outcome = loop {
        let next = tokio::select! {
            () = &mut interrupted => break Outcome::Interrupted,
            next = tokio::time::timeout(idle, records.recv()) => next,
        };
        let record = match next {
            Err(_) => break Outcome::WentQuiet(idle),
            Ok(Some(Ok(record))) => record,
            Ok(None) => {
                break Outcome::Failed(anyhow::anyhow!("The broker ended the stream reader"));
            }
            Ok(Some(Err(error))) => {
                break Outcome::Failed(error.context("Failed to read the stream"));
            }
        };
        if record.offset > stop {
            break Outcome::Done;
        }
        tally.scanned += 1;
        let first = *tally.first_offset.get_or_insert(record.offset);
        tally.last_offset = Some(record.offset);
        let past = match take(&mut sink, &record, &filter, &range, &mut tally).await {
            Ok(past) => past,
            Err(error) => break Outcome::Failed(error),
        };
        let done = record.offset.saturating_sub(base.unwrap_or(first)) + 1;
        progress.update(
            done,
            if args.dry_run {
                tally.matched
            } else {
                tally.republished
            },
        );
        if record.offset >= stop || past {
            break Outcome::Done;
        }
    };
    records.close().await;
    // However the loop ended, every publish made is confirmed and checked before
    // the summary, so it never counts a message still in doubt.
    let drained = match sink {
        Sink::Publish(mut republisher) => {
            let drained = drain(&mut republisher.pipeline, &mut tally).await;
            republisher.pipeline.close().await;
            drained
        }
        Sink::List { .. } => Ok(()),
    };
    progress.finish();
    eprintln!("{}", summary(&tally, args.dry_run, started.elapsed()));
    drained?;
    match outcome {
        Outcome::Done => Ok(()),
        Outcome::Interrupted => bail!("Interrupted{}", resume_hint(&tally)),
        Outcome::WentQuiet(idle) => bail!(
            "The stream sent nothing for {idle:?} before reaching offset {stop}{}",
            resume_hint(&tally)
        ),
        Outcome::Failed(error) => {
            Err(error.context(format!("Replay stopped{}", resume_hint(&tally))))
        }
    }
}

/// Selects, then lists or republishes, one record. Returns true when the record
/// is past a time `--to`, so reading can stop.
async fn take(
    sink: &mut Sink,
    record: &StreamRecord,
    filter: &Filter,
    range: &Range,
    tally: &mut Tally,
) -> anyhow::Result<bool> {
    let Ok(peek) = Peek::of(&record.body) else {
        tally.undecodable += 1;
        return Ok(false);
    };
    if !filter.matches(&peek) {
        return Ok(range.is_past(peek.occurred_at));
    }
    tally.matched += 1;
    let Some(queue) = WorkQueue::for_event_type(&peek.event_type) else {
        tally.no_queue += 1;
        return Ok(false);
    };
    match sink {
        Sink::List { pretty } => {
            let line = if *pretty {
                render::pretty_line(record.offset, &record.body)
            } else {
                render::json_line(record.offset, &record.body, false)
            };
            out::line(&line).context("Failed to write to stdout")?;
        }
        Sink::Publish(republisher) => republisher.publish(record, queue, tally).await?,
    }
    Ok(false)
}

impl Republisher {
    async fn publish(
        &mut self,
        record: &StreamRecord,
        queue: WorkQueue,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        self.pacer.wait().await;
        let queue_name = self
            .queues
            .iter()
            .find(|(q, _)| *q == queue)
            .map(|(_, name)| name.as_str())
            .unwrap_or_default();
        let properties = replay_properties(&record.properties, &self.replay_id);
        let settled = self
            .pipeline
            .publish("", queue_name, &record.body, properties, ())
            .await
            .context("Failed to republish")?;
        for ((), outcome) in settled {
            outcome.context("The broker did not take a republished event")?;
            tally.republished += 1;
        }
        Ok(())
    }
}

/// Waits for the confirms still in flight.
async fn drain(pipeline: &mut ConfirmPipeline<()>, tally: &mut Tally) -> anyhow::Result<()> {
    while let Some(((), outcome)) = pipeline
        .next_settled()
        .await
        .context("Failed to confirm republished events")?
    {
        outcome.context("The broker did not take a republished event")?;
        tally.republished += 1;
    }
    Ok(())
}

/// The original's properties, marked as a replay. The stream's own offset header
/// is dropped: it describes the history, not the work queue's copy.
fn replay_properties(original: &BasicProperties, replay_id: &LongString) -> BasicProperties {
    let mut headers = crate::headers::without(original, &["x-stream-offset"]);
    headers.insert(
        headers::REPLAY.into(),
        AMQPValue::LongString(replay_id.clone()),
    );
    original.clone().with_headers(headers)
}

fn resume_hint(tally: &Tally) -> String {
    match tally.last_offset {
        Some(last) => format!(" after offset {last}; resume with --from {}", last + 1),
        None => String::new(),
    }
}

fn summary(tally: &Tally, dry_run: bool, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let range = match (tally.first_offset, tally.last_offset) {
        (Some(first), Some(last)) => format!("offsets {first}..={last}"),
        _ => "no offsets".into(),
    };
    let done = if dry_run {
        format!(
            "{} events match (dry run: nothing published)",
            tally.matched
        )
    } else {
        format!(
            "republished {} of {} matching events ({:.0} events/s)",
            tally.republished,
            tally.matched,
            tally.republished as f64 / seconds
        )
    };
    let mut skipped = String::new();
    if tally.undecodable > 0 {
        skipped.push_str(&format!(", {} undecodable skipped", tally.undecodable));
    }
    if tally.no_queue > 0 {
        skipped.push_str(&format!(", {} of an unknown type skipped", tally.no_queue));
    }
    format!(
        "replay: {done}; scanned {} messages, {range}{skipped}, in {seconds:.2}s.",
        tally.scanned
    )
}

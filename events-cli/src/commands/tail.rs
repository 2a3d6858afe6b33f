//! `events tail`: print the history from a point, then follow it live.

use std::pin::pin;

use anyhow::Context as _;
use shared_events::{Bus, StreamReader};

use crate::cli::TailArgs;
use crate::filter::Filter;
use crate::position::Position;
use crate::record::Peek;
use crate::{broker, out, render};

pub async fn run(bus: &Bus, args: TailArgs) -> anyhow::Result<()> {
    let history = bus.topology().history_stream();
    let connection = broker::connect(bus, "tail check").await?;
    broker::require_queue(bus, &connection, &history).await?;
    broker::close(connection).await;

    let since = match args.from {
        Position::Time(time) => Some(time),
        _ => None,
    };
    let filter = Filter::new(&args.filter).since(since);
    let mut reader = StreamReader::open(bus, args.from.stream_start())
        .await
        .context("Failed to open the history stream")?;
    let mut printed = 0;
    let mut stopped = pin!(shared_events::shutdown::signal());
    let result = loop {
        if args.limit.is_some_and(|limit| printed >= limit) {
            break Ok(());
        }
        let next = tokio::select! {
            () = &mut stopped => break Ok(()),
            next = reader.next() => next,
        };
        let record = match next {
            Ok(Some(record)) => record,
            Ok(None) => break Err(anyhow::anyhow!("The broker ended the stream reader")),
            Err(error) => break Err(anyhow::Error::new(error).context("Failed to read the stream")),
        };
        // An undecodable body is shown (it is history too) unless a filter asks
        // for something it cannot be shown to match.
        let shown = match Peek::of(&record.body) {
            Ok(peek) => filter.matches(&peek),
            Err(_) => {
                args.filter.types.is_empty()
                    && args.filter.user.is_none()
                    && args.filter.game.is_none()
                    && since.is_none()
            }
        };
        if !shown {
            continue;
        }
        let line = if args.pretty {
            render::pretty_line(record.offset, &record.body)
        } else {
            render::json_line(record.offset, &record.body, args.full)
        };
        if let Err(error) = out::line(&line) {
            break Err(anyhow::Error::new(error).context("Failed to write to stdout"));
        }
        printed += 1;
    };
    reader.close().await;
    result
}

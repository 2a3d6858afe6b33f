//! `events trigger <job>`: publish a job's timer message by hand.
//!
//! A manual trigger gets a window of its own
//! ([`TimerFiredV1::manual_window`]), so a window that already ran does not
//! swallow it.

use anyhow::Context as _;
use shared_events::events::TimerFiredV1;
use shared_events::{Bus, Envelope, Event, Publisher};
use time::OffsetDateTime;

use crate::cli::TriggerArgs;
use crate::{broker, out};

pub async fn run(bus: &Bus, args: TriggerArgs) -> anyhow::Result<()> {
    // Refuse before publishing if the stack is not there: the events exchange
    // would drop a timer with no jobs queue bound (mandatory makes it an error,
    // but this one says what to check).
    let connection = broker::connect(bus, "trigger check").await?;
    broker::require_queue(
        bus,
        &connection,
        &bus.topology().queue(shared_events::WorkQueue::Jobs),
    )
    .await?;
    broker::close(connection).await;

    let window = args
        .window
        .unwrap_or_else(|| TimerFiredV1::manual_window(OffsetDateTime::now_utc()));
    let envelope = Envelope::new(Event::TimerFiredV1(TimerFiredV1 {
        job: args.job,
        window,
    }));
    let publisher = Publisher::new(bus.clone(), "events trigger");
    let published = publisher.publish(&envelope).await;
    publisher.close().await;
    published.with_context(|| format!("Failed to publish the {} timer", args.job.as_str()))?;
    out::line(&format!(
        "Published timer.fired for job {} window {window} (event {}).",
        args.job.as_str(),
        envelope.id
    ))
    .context("Failed to write to stdout")
}

//! `events trigger <job>`: publish a job's timer message by hand.
//!
//! Workers run a job once per `(job, window)` and skip a window that already ran,
//! so a manual trigger must not reuse the scheduled window of now (it has
//! usually run). Scheduled windows are `unix_secs / interval`, always positive;
//! a manual trigger uses the *negative* of the current Unix time in
//! milliseconds: unique per trigger, never equal to a scheduled window, and below
//! every scheduled one, so the workers' catch-up (which looks at the highest
//! completed window) is not fooled into thinking the current window ran.

use anyhow::Context as _;
use shared_events::events::TimerFiredV1;
use shared_events::{Bus, Envelope, Event, Publisher};
use time::OffsetDateTime;

use crate::cli::TriggerArgs;
use crate::{broker, out};

/// The window of a manual trigger made at `now`.
pub fn manual_window(now: OffsetDateTime) -> i64 {
    let millis = now.unix_timestamp_nanos() / 1_000_000;
    -i64::try_from(millis).unwrap_or(i64::MAX)
}

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
        .unwrap_or_else(|| manual_window(OffsetDateTime::now_utc()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_manual_window_never_meets_a_scheduled_one() {
        let now = datetime!(2026-11-22 10:00:00.123 UTC);
        let window = manual_window(now);
        assert_eq!(window, -1_795_341_600_123);
        // Scheduled windows are Unix seconds over the interval: never negative.
        assert!(window < 0);
        assert_ne!(manual_window(now + time::Duration::milliseconds(1)), window);
    }
}

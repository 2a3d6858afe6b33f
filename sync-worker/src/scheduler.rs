//! Publishes `TimerFired { job, window }` at every window boundary.
//!
//! Window `n` of a job with interval `i` starts at Unix time `n * i` seconds; every
//! sync-worker process publishes it then. Several replicas thus publish the same
//! window; the handler runs it once (see [`crate::jobs`]). Publishing from every
//! replica, rather than electing one, means no single process is needed for the
//! timers to keep coming.
//!
//! A window whose start passed while no replica was running is caught up at start:
//! if a job's latest completed window is older than the current one, the current one
//! is published right away (older missed windows are not replayed: each run of either
//! job covers everything up to now).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shared_events::events::{Job, TimerFiredV1};
use shared_events::{Envelope, Event, PublishError, Publisher};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::JobSettings;
use crate::runs::JobRuns;

/// The window that contains `unix_secs`.
pub fn window_at(unix_secs: i64, interval: Duration) -> i64 {
    unix_secs.div_euclid(interval_secs(interval))
}

/// The current window of a job with this interval, by the system clock.
pub fn current_window(interval: Duration) -> i64 {
    window_at(now_millis() / 1_000, interval)
}

/// The next window to start after `now_ms`, and how long until it does.
pub fn next_window(now_ms: i64, interval: Duration) -> (i64, Duration) {
    let interval_ms = interval_secs(interval) * 1_000;
    let window = now_ms.div_euclid(interval_ms) + 1;
    let wait = window * interval_ms - now_ms;
    (window, Duration::from_millis(wait.max(0) as u64))
}

/// Publishes one timer message for `job`'s `window`, confirmed by the broker.
pub async fn publish(publisher: &Publisher, job: Job, window: i64) -> Result<(), PublishError> {
    let envelope = Envelope::new(Event::TimerFiredV1(TimerFiredV1 { job, window }));
    publisher.publish(&envelope).await
}

/// How long the catch-up at start keeps trying to publish. A broker can refuse the
/// first publishes of a fresh stack for a moment (RabbitMQ 3.10 crashes the channel
/// of a publish that reaches a stream still starting, `stream_not_found`, seen by the
/// fault suite); a worker must not die of that.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(30);

/// Publishes the current window of every job whose latest completed window is older
/// (or that never ran), each retried for up to [`CATCH_UP_PATIENCE`]. Returns what it
/// published.
pub async fn catch_up(
    publisher: &Publisher,
    runs: &JobRuns,
    settings: &JobSettings,
) -> anyhow::Result<Vec<(Job, i64)>> {
    use anyhow::Context as _;
    let mut published = Vec::new();
    for job in Job::ALL {
        let current = current_window(settings.interval(job));
        let latest = runs
            .latest_window(job)
            .await
            .context("Failed to read the latest completed window")?;
        if latest.is_some_and(|latest| latest >= current) {
            continue;
        }
        tracing::info!(job = job.as_str(), window = current, latest_completed = ?latest,
            "The current window has not run; publishing it now.");
        let never = CancellationToken::new();
        if !publish_with_retries(publisher, job, current, CATCH_UP_PATIENCE, &never).await {
            anyhow::bail!(
                "Failed to publish a catch-up timer for `{}` within {CATCH_UP_PATIENCE:?}",
                job.as_str()
            );
        }
        published.push((job, current));
    }
    Ok(published)
}

/// Publishes every job's windows as they start, until `shutdown`.
pub async fn run(publisher: Publisher, settings: JobSettings, shutdown: CancellationToken) {
    let mut timers = JoinSet::new();
    for job in Job::ALL {
        let publisher = publisher.clone();
        let interval = settings.interval(job);
        let shutdown = shutdown.clone();
        timers.spawn(async move { tick(&publisher, job, interval, &shutdown).await });
    }
    while timers.join_next().await.is_some() {}
}

async fn tick(publisher: &Publisher, job: Job, interval: Duration, shutdown: &CancellationToken) {
    loop {
        // Recomputed from the wall clock each time, so sleeps never drift and a
        // clock adjustment is followed at the next window.
        let (window, wait) = next_window(now_millis(), interval);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        publish_with_retries(publisher, job, window, interval, shutdown).await;
    }
}

/// Retries a failed publish for up to `patience` (a scheduled window: its interval;
/// past it, the next window, another replica's copy or the next start's catch-up
/// covers it). Returns whether it was published.
async fn publish_with_retries(
    publisher: &Publisher,
    job: Job,
    window: i64,
    patience: Duration,
    shutdown: &CancellationToken,
) -> bool {
    let give_up = tokio::time::Instant::now() + patience;
    let mut pause = Duration::from_millis(500);
    loop {
        match publish(publisher, job, window).await {
            Ok(()) => {
                tracing::debug!(job = job.as_str(), window, "Published a timer.");
                return true;
            }
            Err(error) => {
                tracing::warn!(job = job.as_str(), window, %error, "Could not publish a timer; retrying.");
            }
        }
        if tokio::time::Instant::now() + pause >= give_up {
            tracing::error!(
                job = job.as_str(),
                window,
                "Gave up publishing a timer for this window."
            );
            return false;
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

fn now_millis() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

fn interval_secs(interval: Duration) -> i64 {
    i64::try_from(interval.as_secs()).unwrap_or(i64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_the_time_divided_by_the_interval() {
        assert_eq!(window_at(3_599, Duration::from_secs(3600)), 0);
        assert_eq!(window_at(3_600, Duration::from_secs(3600)), 1);
        assert_eq!(window_at(25, Duration::from_secs(10)), 2);
    }

    #[test]
    fn the_next_window_starts_at_the_next_boundary() {
        assert_eq!(
            next_window(25_300, Duration::from_secs(10)),
            (3, Duration::from_millis(4_700))
        );
        // Exactly on a boundary, that window has started: wait for the next one.
        assert_eq!(
            next_window(30_000, Duration::from_secs(10)),
            (4, Duration::from_secs(10))
        );
    }
}

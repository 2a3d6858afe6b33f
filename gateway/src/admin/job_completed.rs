//! The consumer of `<prefix>.dashboard`: each `job.completed` the sync-worker
//! publishes is recorded in [`JobRunLog`] for the jobs panel.
//!
//! It runs on every gateway, whether or not the dashboard is on: the queue is part
//! of the topology every process declares, so nobody consuming it would let it grow
//! by a message per backup window (8,640 a day) for ever; recording a run is one
//! small upsert; and a dashboard turned on later shows the runs from before. Like
//! the reconciliation queue, the instances compete: one records each event.

use std::time::Duration;

use shared_events::{
    BusError, ConsumerRunner, DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher,
    WorkQueue,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::job_runs::JobRunLog;

/// Records each completed run; a store outage is transient (the event waits in the
/// retry queue), anything but `job.completed` is misrouted (dead-lettered).
#[derive(Debug)]
pub struct RecordJobRun {
    pub runs: JobRunLog,
}

impl Handler for RecordJobRun {
    async fn handle(&self, envelope: Envelope, _: DeliveryContext) -> Result<(), HandlerError> {
        match envelope.event {
            Event::JobCompletedV1(run) => {
                self.runs
                    .record(&run)
                    .await
                    .map_err(HandlerError::transient)?;
                tracing::debug!(
                    job = run.job.as_str(),
                    window = run.window,
                    "Recorded a job run for the dashboard."
                );
                Ok(())
            }
            other @ (Event::ProcessingV1(_)
            | Event::ReconciliationV1(_)
            | Event::ReconciliationV2(_)
            | Event::TimerFiredV1(_)
            | Event::FeedAppendedV1(_)) => Err(HandlerError::permanent(anyhow::anyhow!(
                "the dashboard queue received a `{}` event",
                other.event_type()
            ))),
        }
    }
}

/// The running consumer.
#[derive(Debug)]
pub struct JobRunsConsumer {
    task: JoinHandle<Result<(), BusError>>,
}

impl JobRunsConsumer {
    /// Starts consuming until `stop`. Retry and dead-letter copies go through
    /// `publisher`: they are rare and small, so they need no connection of their own.
    pub fn spawn(
        runs: JobRunLog,
        publisher: Publisher,
        stop: CancellationToken,
        drain: Duration,
    ) -> Self {
        // Few, small events: a short prefetch keeps them spread over the instances.
        let runner = ConsumerRunner::new(publisher, WorkQueue::Dashboard, RecordJobRun { runs })
            .prefetch(4)
            .concurrency(2)
            .drain_timeout(drain);
        Self {
            task: tokio::spawn(runner.run(stop)),
        }
    }

    /// Waits for the consumer (told to stop by its token) to drain.
    pub async fn join(self, deadline: Instant) {
        match tokio::time::timeout_at(deadline, self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::error!(%error, "The job-runs consumer failed"),
            Ok(Err(error)) => tracing::error!(%error, "The job-runs consumer crashed"),
            Err(_) => tracing::warn!("The job-runs consumer did not stop in time"),
        }
    }
}

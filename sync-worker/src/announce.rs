//! Telling the bus that a window ran: `job.completed`, at least once per run.
//!
//! Whoever shows runs to operators (the gateway's dashboard) learns of them here,
//! not by reading `job_runs`. The run is recorded first, with `announced: false`
//! ([`crate::runs`]); the event is published with a confirm; only then is the run
//! marked announced. A failed publish fails the timer message transiently, and the
//! retried copy finds the run recorded but unannounced and publishes it again
//! (`crate::jobs` says which copies do). A crash between the confirm and the mark
//! publishes the event twice, which its consumers absorb (they upsert by
//! `(job, window)`).

use shared_events::{Envelope, Event, Publisher};

use crate::error::JobError;
use crate::runs::{CompletedRun, JobRuns};

/// Publishes `run`'s `job.completed` (caused by the timer message `cause`) and
/// marks the run announced.
#[tracing::instrument(skip_all, fields(job = run.job.as_str(), window = run.window))]
pub async fn announce(
    publisher: &Publisher,
    runs: &JobRuns,
    cause: &Envelope,
    run: &CompletedRun,
) -> Result<(), JobError> {
    let envelope = Envelope::caused_by(cause, Event::JobCompletedV1(run.to_event()));
    publisher.publish(&envelope).await?;
    runs.mark_announced(run).await?;
    tracing::debug!("Announced the completed run.");
    Ok(())
}

/// [`announce`]s `run` if no earlier attempt was confirmed.
pub async fn announce_if_pending(
    publisher: &Publisher,
    runs: &JobRuns,
    cause: &Envelope,
    run: &CompletedRun,
) -> Result<(), JobError> {
    if run.announced {
        return Ok(());
    }
    tracing::info!(
        job = run.job.as_str(),
        window = run.window,
        "A completed run was never announced; announcing it now."
    );
    announce(publisher, runs, cause, run).await
}

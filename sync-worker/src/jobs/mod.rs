//! The jobs a timer message runs, one module each, behind one exhaustive match on
//! [`Job`] in [`JobHandler`].
//!
//! [`JobHandler`] turns a `TimerFired { job, window }` into at most one completed run
//! per window across every replica:
//! 1. a window already in `job_runs` is acknowledged without running (the fast path
//!    for the copies every replica's scheduler publishes);
//! 2. otherwise the job's Redis lease is taken (`SET NX PX`). If it is held, the
//!    message is retried after the bus's retry delay (by then the window is recorded,
//!    or the holder died and its lease expired), with one shortcut: a first delivery
//!    of a fresh copy (not redelivered, not a retry) meeting a run of the *same*
//!    window is acknowledged, because that run's own message stays unacked until the
//!    run ends and comes back (redelivered, or as a retry) if the run fails. Messages
//!    that come back never take the shortcut, so a dead holder's stale lease cannot
//!    swallow its own window;
//! 3. under the lease `job_runs` is read again (a run may have finished between 1 and 2),
//!    the job runs, the window is recorded, `job.completed` is published
//!    ([`crate::announce`]), and the lease is released.
//!
//! A window found recorded whose `job.completed` was never confirmed is announced
//! then: in 3 always (the run that recorded it has ended without announcing it), in
//! 1 only by a message that came back (redelivered or retried), because a fresh copy
//! may meet a run between its record and its announcement, and announcing from both
//! would publish the event twice. The run's own message comes back whenever the
//! announcement failed, so it is what announces late.
//!
//! A run that dies before recording its window leaves the message unacked: it is
//! redelivered, waits out the dead run's lease, and runs again; both jobs are
//! idempotent, so a repeated run is harmless.

pub mod backup;
pub mod sync;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mongodb::bson::Document;
use redis::aio::ConnectionManager;
use shared_events::events::{Job, TimerFiredV1};
use shared_events::{DeliveryContext, Envelope, Event, Handler, HandlerError, Publisher};
use shared_store::RedisKeys;

use crate::announce::{announce, announce_if_pending};
use crate::contract::lease_key;
use crate::error::JobError;
use crate::lease::Lease;
use crate::runs::JobRuns;
use backup::BackupJob;
use sync::SyncJob;

/// How many times this process ran each job (tests count runs across replicas).
#[derive(Debug, Default)]
pub struct JobStats {
    pub sync_runs: AtomicU64,
    pub backup_runs: AtomicU64,
    /// Timer messages acknowledged because their window had already run.
    pub skipped: AtomicU64,
}

impl JobStats {
    pub fn runs(&self, job: Job) -> u64 {
        self.counter(job).load(Ordering::Relaxed)
    }

    fn counter(&self, job: Job) -> &AtomicU64 {
        match job {
            Job::Sync => &self.sync_runs,
            Job::Backup => &self.backup_runs,
        }
    }
}

/// The consumer of the jobs queue.
#[derive(Debug)]
pub struct JobHandler {
    pub(crate) runs: JobRuns,
    pub(crate) redis: ConnectionManager,
    pub(crate) keys: RedisKeys,
    pub(crate) lease_ttl: Duration,
    pub(crate) sync: SyncJob,
    pub(crate) backup: BackupJob,
    pub(crate) stats: Arc<JobStats>,
    /// Publishes `job.completed` after each recorded run.
    pub(crate) publisher: Publisher,
}

impl Handler for JobHandler {
    async fn handle(
        &self,
        envelope: Envelope,
        context: DeliveryContext,
    ) -> Result<(), HandlerError> {
        match envelope.event {
            Event::TimerFiredV1(TimerFiredV1 { job, window }) => {
                let fresh = !context.redelivered && context.retries == 0;
                Ok(self.run_window(&envelope, job, window, fresh).await?)
            }
            // The jobs queue is bound to `timer.fired.*` only; anything else is a
            // misrouted message a human should look at.
            other @ (Event::ProcessingV1(_)
            | Event::ReconciliationV1(_)
            | Event::ReconciliationV2(_)
            | Event::FeedAppendedV1(_)
            | Event::JobCompletedV1(_)) => Err(HandlerError::permanent(anyhow::anyhow!(
                "the jobs queue received a `{}` event",
                other.event_type()
            ))),
        }
    }
}

impl JobHandler {
    #[tracing::instrument(skip(self, timer), fields(job = job.as_str()))]
    async fn run_window(
        &self,
        timer: &Envelope,
        job: Job,
        window: i64,
        fresh: bool,
    ) -> Result<(), JobError> {
        if let Some(run) = self.runs.find(job, window).await? {
            tracing::debug!("The window has already run.");
            if !fresh {
                announce_if_pending(&self.publisher, &self.runs, timer, &run).await?;
            }
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let lease_key = self.keys.key(&lease_key(job));
        let label = window.to_string();
        let Some(lease) =
            Lease::acquire(&self.redis, lease_key.clone(), &label, self.lease_ttl).await?
        else {
            if fresh
                && Lease::holder(&self.redis, &lease_key).await?.as_deref() == Some(label.as_str())
            {
                tracing::debug!("Another run of this window is in progress; it covers this copy.");
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            tracing::info!("Another run holds the job's lease; retrying later.");
            return Err(JobError::LeaseBusy);
        };
        let outcome = self.run_under_lease(timer, job, window, &lease).await;
        if let Err(error) = lease.release().await {
            // It expires on its own; the next run only waits longer.
            tracing::warn!(%error, "Could not release the job's lease.");
        }
        outcome
    }

    async fn run_under_lease(
        &self,
        timer: &Envelope,
        job: Job,
        window: i64,
        lease: &Lease,
    ) -> Result<(), JobError> {
        if let Some(run) = self.runs.find(job, window).await? {
            announce_if_pending(&self.publisher, &self.runs, timer, &run).await?;
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let summary: Document = match job {
            Job::Sync => sync::summary(&self.sync.run().await?),
            Job::Backup => self.backup.run(lease).await?.to_document(),
        };
        self.stats.counter(job).fetch_add(1, Ordering::Relaxed);
        tracing::info!(%summary, "Job run complete.");
        match self.runs.record(job, window, summary).await? {
            Some(run) => announce(&self.publisher, &self.runs, timer, &run).await,
            None => {
                // That run announces itself.
                tracing::warn!("The window was recorded by another run meanwhile.");
                Ok(())
            }
        }
    }
}

//! Building the worker and running it until it is told to stop.
//!
//! [`Application::build`] does everything that must happen before the first timer
//! message is consumed: connect, create indexes, restore Redis from the store (seed
//! 000), declare the bus, and publish the windows missed while every replica was down.
//! [`Application::run_until_stopped`] then consumes the jobs queue, runs the scheduler
//! and watches Redis's sync marker, restoring Redis again if it loses its data
//! (`jobs::sync::epoch`). `main` and the tests both go through these two calls.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use redis::aio::ConnectionManager;
use shared_events::consumer::RunnerStats;
use shared_events::events::Job;
use shared_events::{Bus, ConsumerRunner, Publisher, WorkQueue};
use shared_ops::{BrokerProbe, Dependency, Metrics, Ops, OpsServer, Readiness};
use shared_store::{RedisKeys, connect_mongodb, connect_redis};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::jobs::backup::BackupJob;
use crate::jobs::sync::restore::RestoreOutcome;
use crate::jobs::sync::{SyncJob, epoch};
use crate::jobs::{JobHandler, JobStats};
use crate::runs::JobRuns;
use crate::{scheduler, store};
use shared_store::keys::Family;

/// A built worker, restored and ready to consume.
#[derive(Debug)]
pub struct Application {
    runner: ConsumerRunner<JobHandler>,
    publisher: Publisher,
    settings: Settings,
    stats: Arc<JobStats>,
    restored: Vec<(Family, RestoreOutcome)>,
    caught_up: Vec<(Job, i64)>,
    probe: Arc<BrokerProbe>,
    ops: OpsServer,
    /// The sync job and the restore's own connection, for the marker watch.
    sync: SyncJob,
    exclusive: ConnectionManager,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = connect_mongodb(&settings.store, "sync-worker")
            .await
            .context("Failed to connect to MongoDB")?;
        store::ensure_indexes(&db)
            .await
            .context("Failed to create the worker's indexes")?;
        let redis = connect_redis(&settings.store)
            .await
            .context("Failed to connect to Redis")?;
        let keys = RedisKeys::new(&settings.store.redis_prefix);
        let sync = SyncJob::new(redis.clone(), keys.clone(), &db);

        let (restored, exclusive) = restore(&settings, &sync).await?;

        let mut metrics = Metrics::new();
        let bus = Bus::new(settings.bus.clone()).observed_by(metrics.bus_observer());
        bus.declare_topology("sync-worker setup")
            .await
            .context("Failed to declare the bus topology")?;
        let publisher = Publisher::new(bus.clone(), "sync-worker publisher");
        let runs = JobRuns::new(&db);
        let caught_up = if settings.jobs.scheduler_enabled {
            scheduler::catch_up(&publisher, &runs, &settings.jobs).await?
        } else {
            Vec::new()
        };

        let stats = Arc::new(JobStats::default());
        crate::ops::register(&mut metrics, Arc::clone(&stats));
        let probe = Arc::new(BrokerProbe::new(bus.clone(), "sync-worker probe"));
        let readiness = Readiness::new(
            vec![
                Dependency::Broker(Arc::clone(&probe)),
                Dependency::MongoDb(db.clone()),
                Dependency::Redis(redis.clone()),
            ],
            settings.ops.ready_timeout,
        );
        let ops = OpsServer::bind(settings.ops.addr, Ops::new(metrics, readiness))
            .await
            .with_context(|| format!("Failed to bind M2M_OPS_ADDR {}", settings.ops.addr))?;
        let jobs = &settings.jobs;
        let handler = JobHandler {
            runs,
            backup: BackupJob::new(
                redis.clone(),
                keys.clone(),
                &db,
                jobs.backup_batch_size,
                jobs.backup_max_batches,
            ),
            redis,
            keys,
            lease_ttl: jobs.lease_ttl,
            sync: sync.clone(),
            stats: Arc::clone(&stats),
            publisher: publisher.clone(),
        };
        // Prefetch and concurrency 2: a sync and a backup can run side by side; a
        // second message of a running job only meets its lease and is retried.
        let runner = ConsumerRunner::new(publisher.clone(), WorkQueue::Jobs, handler)
            .prefetch(2)
            .concurrency(2)
            .drain_timeout(settings.ops.shutdown_deadline);
        Ok(Self {
            runner,
            publisher,
            settings,
            stats,
            restored,
            caught_up,
            probe,
            ops,
            sync,
            exclusive,
        })
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served (the real port when
    /// `M2M_OPS_ADDR` asked for port 0).
    pub fn ops_addr(&self) -> SocketAddr {
        self.ops.local_addr()
    }

    /// How many runs of each job this process completed.
    pub fn job_stats(&self) -> Arc<JobStats> {
        Arc::clone(&self.stats)
    }

    /// The consumer runner's counters (messages handled, retried, ...).
    pub fn runner_stats(&self) -> Arc<RunnerStats> {
        self.runner.stats()
    }

    /// Which way each family went at start.
    pub fn restored(&self) -> &[(Family, RestoreOutcome)] {
        &self.restored
    }

    /// The windows published at start because they had not run.
    pub fn caught_up(&self) -> &[(Job, i64)] {
        &self.caught_up
    }

    /// Consumes timer messages and publishes them on schedule until `shutdown`.
    /// A running job may take `M2M_SHUTDOWN_DEADLINE_MS` to finish after `shutdown`;
    /// past it, its message is redelivered and the job redone (jobs are idempotent).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ops = self.ops.spawn(&shutdown);
        let scheduler = self.settings.jobs.scheduler_enabled.then(|| {
            tokio::spawn(scheduler::run(
                self.publisher.clone(),
                self.settings.jobs.clone(),
                shutdown.clone(),
            ))
        });
        let watch = tokio::spawn(epoch::watch(
            self.sync,
            self.exclusive,
            self.settings.jobs.redis_check_interval,
            shutdown.clone(),
        ));
        let consumed = self.runner.run(shutdown.clone()).await;
        // The runner only returns on shutdown or a fatal error; stop the timers too.
        shutdown.cancel();
        if let Some(scheduler) = scheduler {
            let _ = scheduler.await;
        }
        let _ = watch.await;
        self.publisher.close().await;
        self.probe.close().await;
        ops.stop().await;
        consumed.context("The jobs consumer failed")
    }
}

/// Seed 000's restore, on a Redis connection of its own (it `WATCH`es keys), which
/// is returned for the marker watch.
async fn restore(
    settings: &Settings,
    sync: &SyncJob,
) -> anyhow::Result<(Vec<(Family, RestoreOutcome)>, ConnectionManager)> {
    let mut exclusive: ConnectionManager = connect_redis(&settings.store)
        .await
        .context("Failed to connect to Redis for the restore")?;
    let restored = sync
        .restore(&mut exclusive)
        .await
        .context("Failed to restore Redis from the store")?;
    Ok((restored, exclusive))
}

//! A test stack: fresh names on the shared servers, and workers started in-process.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mongodb::Database;
use mongodb::bson::doc;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use shared_events::consumer::RunnerStats;
use shared_events::events::Job;
use shared_events::{Bus, BusSettings, Publisher};
use shared_store::keys::Family;
use shared_store::{RedisKeys, StoreSettings, connect_mongodb, connect_redis};
use sync_worker::jobs::JobStats;
use sync_worker::jobs::sync::restore::RestoreOutcome;
use sync_worker::{Application, JobSettings, Settings, scheduler, store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Long enough for a loaded two-core machine; tests poll and return as soon as done.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct TestEnv {
    pub settings: Settings,
    pub redis: ConnectionManager,
    pub keys: RedisKeys,
    pub db: Database,
    pub publisher: Publisher,
}

/// A worker running in this process.
pub struct TestApp {
    pub stats: Arc<JobStats>,
    pub runner: Arc<RunnerStats>,
    pub restored: Vec<(Family, RestoreOutcome)>,
    pub caught_up: Vec<(Job, i64)>,
    /// Where the worker serves `/healthz`, `/readyz` and `/metrics`.
    pub ops_addr: std::net::SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestEnv {
    /// A stack whose scheduler is off: tests publish the windows they want.
    pub async fn new() -> Self {
        Self::with_jobs(|_| {}).await
    }

    pub async fn with_jobs(configure: impl FnOnce(&mut JobSettings)) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            shared_events::telemetry::init("tests");
        }
        let id = Uuid::now_v7().simple().to_string();
        let bus = BusSettings {
            url: std::env::var("M2M_TEST_AMQP_URL")
                .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
            replicas: None,
            prefix: format!("test-sw-{id}"),
            retry_delay: Duration::from_millis(300),
            // Waiting out a 1 s lease takes a few retries; stay far from dead letters.
            max_retries: 200,
            timeout: Duration::from_secs(5),
        };
        let store = StoreSettings::from_lookup(|name| match name {
            "M2M_MONGODB_DB" => Some(format!("sw_{id}")),
            "M2M_REDIS_PREFIX" => Some(format!("test-sw:{id}:")),
            other => std::env::var(other).ok(),
        })
        .expect("store settings");
        let mut jobs = JobSettings {
            sync_interval: Duration::from_secs(3600),
            backup_interval: Duration::from_secs(3600),
            lease_ttl: Duration::from_secs(1),
            scheduler_enabled: false,
            ..JobSettings::default()
        };
        configure(&mut jobs);
        let redis = connect_redis(&store).await.expect("redis");
        let db = connect_mongodb(&store, "sync-worker tests")
            .await
            .expect("mongodb");
        store::ensure_indexes(&db).await.expect("indexes");
        let keys = RedisKeys::new(&store.redis_prefix);
        let bus_handle = Bus::new(bus.clone());
        bus_handle
            .declare_topology("test setup")
            .await
            .expect("topology");
        let publisher = Publisher::new(bus_handle, "test publisher");
        Self {
            settings: Settings {
                bus,
                store,
                jobs,
                ops: shared_ops::OpsSettings::for_tests(),
            },
            redis,
            keys,
            db,
            publisher,
        }
    }

    /// Builds a worker on this stack and runs it in the background.
    pub async fn spawn(&self) -> TestApp {
        let app = Application::build(self.settings.clone())
            .await
            .expect("build");
        let stop = CancellationToken::new();
        TestApp {
            stats: app.job_stats(),
            runner: app.runner_stats(),
            restored: app.restored().to_vec(),
            caught_up: app.caught_up().to_vec(),
            ops_addr: app.ops_addr(),
            stop: stop.clone(),
            task: tokio::spawn(app.run_until_stopped(stop)),
        }
    }

    pub async fn publish(&self, job: Job, window: i64) {
        scheduler::publish(&self.publisher, job, window)
            .await
            .expect("publish a timer");
    }

    /// A Redis connection of this stack (prefixed key names via `self.keys`).
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    pub async fn completed_runs(&self, job: Job, window: i64) -> u64 {
        self.db
            .collection::<mongodb::bson::Document>(store::JOB_RUNS)
            .count_documents(doc! { "job": job.as_str(), "window": window })
            .await
            .expect("count job runs")
    }

    pub async fn cleanup(self) {
        let _ = self.db.drop().await;
        self.clear_redis().await;
        self.publisher.close().await;
        delete_bus(self.publisher.bus()).await;
    }

    /// Deletes every key of this stack, as a Redis restart without persistence would.
    pub async fn clear_redis(&self) {
        let mut redis = self.redis.clone();
        let pattern = format!("{}*", self.keys.prefix());
        let mut found: Vec<String> = Vec::new();
        if let Ok(mut iter) = redis.scan_match::<_, String>(&pattern).await {
            while let Some(Ok(key)) = iter.next_item().await {
                found.push(key);
            }
        }
        for key in found {
            let _: Result<(), _> = redis.del(key).await;
        }
    }
}

impl TestApp {
    pub async fn stop(self) {
        self.stop.cancel();
        self.task
            .await
            .expect("worker task")
            .expect("worker ran cleanly");
    }
}

/// Removes a test's queues and exchanges (best effort; they carry the `test-` prefix).
async fn delete_bus(bus: &Bus) {
    bus.delete_topology().await;
}

/// Polls `check` until it holds or `WAIT` passes; returns whether it held.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

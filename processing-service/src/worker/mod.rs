//! The queue worker: consumes `processing.requested`, analyses, saves, reconciles.
//!
//! # Layout
//! - [`settings`]: the worker's configuration (`M2M_*` variables).
//! - `handler`: one delivery: decode, analyse on a blocking thread, save, publish
//!   `reconciliation.ready`; the consumer runner acks only after it returns.
//! - `progress`: counting a game into the patient's running progress (one read,
//!   one conditional write); `progress_state`: where that state is stored.
//! - `results`: the per-game results in MongoDB (provenance, revision).
//!
//! Beside the consumer, a small HTTP server (`M2M_OPS_ADDR`, default
//! `127.0.0.1:9101`) answers `/healthz`, `/readyz` (broker and MongoDB) and
//! `/metrics` (the bus series of `shared_ops`, and `m2m_analysis_seconds`).

mod handler;
mod progress;
mod progress_state;
mod results;
pub mod settings;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use shared_events::{Bus, ConsumerRunner, Publisher, WorkQueue};
use shared_ops::{BrokerProbe, Dependency, Metrics, Ops, OpsServer, Readiness};
use tokio_util::sync::CancellationToken;

pub use handler::AnalyseGame;
pub use progress_state::ProgressStates;
pub use results::ResultsStore;
pub use settings::WorkerSettings;

/// A processing worker, connected and ready to consume.
#[derive(Debug)]
pub struct Worker {
    runner: ConsumerRunner<AnalyseGame>,
    publisher: Publisher,
    probe: Arc<BrokerProbe>,
    ops: OpsServer,
}

impl Worker {
    /// Connects to MongoDB, declares the bus topology and prepares the consumer.
    /// Fails fast (with the reason) when a store is unreachable at start; once
    /// running, outages are ridden out by retries and reconnects.
    pub async fn build(settings: WorkerSettings) -> anyhow::Result<Self> {
        let mut metrics = Metrics::new();
        let series = handler::register_metrics(&mut metrics);
        let commands = shared_store::commands::register(metrics.registry_mut());
        let database = shared_store::connect_mongodb_counted(
            &settings.store,
            "processing-service",
            Some(commands),
        )
        .await
        .context("Failed to connect to MongoDB")?;
        let results = ResultsStore::new(&database);
        let states = ProgressStates::new(&database);
        results
            .ensure_indexes()
            .await
            .context("Failed to create the results indexes")?;
        let bus = Bus::new(settings.bus.clone()).observed_by(metrics.bus_observer());
        bus.declare_topology("processing-service setup")
            .await
            .context("Failed to declare the bus topology")?;
        let probe = Arc::new(BrokerProbe::new(bus.clone(), "processing-service probe"));
        let readiness = Readiness::new(
            vec![
                Dependency::Broker(Arc::clone(&probe)),
                Dependency::MongoDb(database),
            ],
            settings.ops.ready_timeout,
        );
        let ops = OpsServer::bind(settings.ops.addr, Ops::new(metrics, readiness))
            .await
            .with_context(|| format!("Failed to bind M2M_OPS_ADDR {}", settings.ops.addr))?;
        let publisher = Publisher::new(bus, "processing-service publisher");
        let counter = progress::ProgressCounter {
            states,
            results: results.clone(),
            config: crate::analytics::progress::ProgressConfig::default(),
            rebuilds: series.rebuilds,
        };
        let handler = AnalyseGame::new(
            results,
            counter,
            publisher.clone(),
            &settings,
            series.analysis_seconds,
        );
        let runner = ConsumerRunner::new(publisher.clone(), WorkQueue::Processing, handler)
            .concurrency(settings.concurrency)
            .prefetch(settings.prefetch)
            .drain_timeout(settings.ops.shutdown_deadline);
        Ok(Self {
            runner,
            publisher,
            probe,
            ops,
        })
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served (the real port when
    /// `M2M_OPS_ADDR` asked for port 0).
    pub fn ops_addr(&self) -> SocketAddr {
        self.ops.local_addr()
    }

    /// The consumer's counters (handled, retried, dead-lettered, recoveries).
    pub fn stats(&self) -> std::sync::Arc<shared_events::consumer::RunnerStats> {
        self.runner.stats()
    }

    /// Consumes until `shutdown` fires, then finishes the games in hand (within
    /// `M2M_SHUTDOWN_DEADLINE_MS`); `/readyz` answers 503 while it drains.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ops = self.ops.spawn(&shutdown);
        let consumed = self.runner.run(shutdown).await;
        self.publisher.close().await;
        self.probe.close().await;
        ops.stop().await;
        consumed.context("The consumer failed")
    }
}

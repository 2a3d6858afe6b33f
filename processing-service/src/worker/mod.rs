//! The queue worker: consumes `processing.requested`, analyses, saves, reconciles.
//!
//! # Layout
//! - [`settings`]: the worker's configuration (`M2M_*` variables).
//! - `handler`: one delivery: decode, analyse on a blocking thread, save, publish
//!   `reconciliation.ready`; the consumer runner acks only after it returns.
//! - `results`: the results and progress collections in MongoDB.
//! - `metrics`: flattening a report into named scalar metrics for progress.

mod handler;
mod metrics;
mod results;
pub mod settings;

use anyhow::Context as _;
use shared_events::{Bus, ConsumerRunner, Publisher, WorkQueue};
use tokio_util::sync::CancellationToken;

pub use handler::AnalyseGame;
pub use results::ResultsStore;
pub use settings::WorkerSettings;

/// A processing worker, connected and ready to consume.
#[derive(Debug)]
pub struct Worker {
    runner: ConsumerRunner<AnalyseGame>,
    publisher: Publisher,
}

impl Worker {
    /// Connects to MongoDB, declares the bus topology and prepares the consumer.
    /// Fails fast (with the reason) when a store is unreachable at start; once
    /// running, outages are ridden out by retries and reconnects.
    pub async fn build(settings: WorkerSettings) -> anyhow::Result<Self> {
        let database = shared_store::connect_mongodb(&settings.store, "processing-service")
            .await
            .context("Failed to connect to MongoDB")?;
        let results = ResultsStore::new(&database);
        results
            .ensure_indexes()
            .await
            .context("Failed to create the results indexes")?;
        let bus = Bus::new(settings.bus.clone());
        bus.declare_topology("processing-service setup")
            .await
            .context("Failed to declare the bus topology")?;
        let publisher = Publisher::new(bus, "processing-service publisher");
        let handler = AnalyseGame::new(results, publisher.clone(), &settings);
        let runner = ConsumerRunner::new(publisher.clone(), WorkQueue::Processing, handler)
            .concurrency(settings.concurrency)
            .prefetch(settings.prefetch)
            .drain_timeout(settings.shutdown_grace);
        Ok(Self { runner, publisher })
    }

    /// The consumer's counters (handled, retried, dead-lettered, recoveries).
    pub fn stats(&self) -> std::sync::Arc<shared_events::consumer::RunnerStats> {
        self.runner.stats()
    }

    /// Consumes until `shutdown` fires, then finishes the games in hand.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.runner
            .run(shutdown)
            .await
            .context("The consumer failed")?;
        self.publisher.close().await;
        Ok(())
    }
}

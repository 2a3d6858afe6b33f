//! A real processing worker beside a gateway, on the same bus and stores.

use processing_service::analytics::AnalysisConfig;
use processing_service::worker::{Worker, WorkerSettings};
use shared_events::BusSettings;
use shared_store::StoreSettings;
use tokio_util::sync::CancellationToken;

/// A processing worker running on the test's runtime; stops when dropped.
#[derive(Debug)]
pub struct RunningWorker {
    stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningWorker {
    /// Stops the worker and waits for it; the worker's own error if it failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        match self.running.take() {
            Some(running) => running.await?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a worker on `bus` and `store` handling up to `concurrency` games at once,
/// with `prefetch` deliveries unacked.
pub async fn start_worker(
    bus: &BusSettings,
    store: &StoreSettings,
    concurrency: usize,
    prefetch: u16,
) -> anyhow::Result<RunningWorker> {
    let worker = Worker::build(WorkerSettings {
        bus: bus.clone(),
        store: store.clone(),
        concurrency,
        prefetch,
        ops: shared_ops::OpsSettings::for_tests(),
        max_recording_bytes: 16 << 20,
        analysis: AnalysisConfig::default(),
    })
    .await?;
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run_until_stopped(stop.clone()));
    Ok(RunningWorker {
        stop,
        running: Some(running),
    })
}

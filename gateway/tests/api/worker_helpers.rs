//! A real processing worker beside the gateway, for the tests that follow a game
//! past the queue (the `api` binary and `correlation.rs` share it).

use processing_service::analytics::AnalysisConfig;
use processing_service::worker::{Worker, WorkerSettings};
use tokio_util::sync::CancellationToken;

use crate::helpers::TestApp;

/// A processing worker on the app's stack; stops when dropped.
pub struct RunningWorker {
    stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningWorker {
    /// Stops the worker and checks it stopped cleanly.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(running) = self.running.take() {
            running
                .await
                .expect("worker task")
                .expect("the worker stops cleanly");
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a worker handling up to `concurrency` games at once, with `prefetch`
/// deliveries unacked.
pub async fn start_worker(app: &TestApp, concurrency: usize, prefetch: u16) -> RunningWorker {
    let worker = Worker::build(WorkerSettings {
        bus: app.bus.settings().clone(),
        store: app.store.clone(),
        concurrency,
        prefetch,
        ops: shared_ops::OpsSettings::for_tests(),
        max_recording_bytes: 16 << 20,
        analysis: AnalysisConfig::default(),
    })
    .await
    .expect("the worker starts on the gateway's stack");
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run_until_stopped(stop.clone()));
    RunningWorker {
        stop,
        running: Some(running),
    }
}

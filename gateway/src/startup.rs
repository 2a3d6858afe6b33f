//! [`Application`]: builds the whole gateway and runs it until told to stop.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::server::{self, ServerSettings};
use crate::state::AppState;
use crate::{outbox, routes};

/// How long in-flight requests may take to finish after a stop signal.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// A built gateway: stores connected, listener bound, router ready.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    router: axum::Router,
    server: ServerSettings,
    /// Kept for the background tasks (the outbox) that run beside the server.
    state: AppState,
}

impl Application {
    /// Builds the application. Binding here (not in `run`) lets tests ask for port 0
    /// and learn the real port before any request is sent.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let state = AppState::build(&settings).await?;
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("Failed to bind {}", settings.http_addr))?;
        let port = listener
            .local_addr()
            .context("Failed to read the bound address")?
            .port();
        Ok(Self {
            listener,
            port,
            router: routes::router(state.clone()),
            server: settings.server,
            state,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until ctrl-c or SIGTERM, then drains.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shared_events::shutdown::signal()).await
    }

    /// Serves until `shutdown` completes, then stops accepting connections and gives
    /// in-flight requests ten seconds (`DRAIN_DEADLINE`) to finish before dropping them.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let state = self.state.clone();
        let outbox = outbox::spawn(
            state.clone(),
            state.upload.outbox_interval,
            stop.child_token(),
        );
        // `serve` cancels `stop` (and so the outbox) as soon as shutdown begins; games
        // the outbox leaves are published by the next gateway to run it.
        let served = self.serve(stop.clone(), shutdown).await;
        stop.cancel();
        if tokio::time::timeout(DRAIN_DEADLINE, outbox).await.is_err() {
            tracing::warn!("The outbox did not stop in time");
        }
        state.publisher.close().await;
        served
    }

    async fn serve(
        self,
        stop: CancellationToken,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let serve = server::serve(self.listener, self.router, self.server, stop.clone());
        let mut server = tokio::spawn(serve);

        tokio::select! {
            finished = &mut server => {
                return finished.context("The HTTP server task failed")?
                    .context("The HTTP server failed");
            }
            () = shutdown => {}
        }
        tracing::info!("Stopping: draining in-flight requests");
        stop.cancel();
        match tokio::time::timeout(DRAIN_DEADLINE, &mut server).await {
            Ok(finished) => finished
                .context("The HTTP server task failed")?
                .context("The HTTP server failed"),
            Err(_) => {
                tracing::warn!(
                    deadline_secs = DRAIN_DEADLINE.as_secs(),
                    "Requests still running at the drain deadline were dropped"
                );
                server.abort();
                Ok(())
            }
        }
    }
}

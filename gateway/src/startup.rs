//! [`Application`]: builds the whole gateway and runs it until told to stop.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use shared_events::{ConsumerRunner, Publisher, WorkQueue};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::events::ApplyReconciliation;
use crate::notifications::listener;
use crate::server::{self, ServerSettings};
use crate::state::AppState;
use crate::{outbox, routes};

/// A built gateway: stores connected, listener bound, router ready.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    router: axum::Router,
    server: ServerSettings,
    /// Kept for the background tasks (the outbox) that run beside the server.
    state: AppState,
    /// `M2M_SHUTDOWN_DEADLINE_MS`: how long a stop may take, all told.
    shutdown_deadline: Duration,
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
            shutdown_deadline: settings.shutdown_deadline,
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
    /// in-flight requests and the background tasks `M2M_SHUTDOWN_DEADLINE_MS` in all
    /// to finish before dropping them.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let state = self.state.clone();
        let outbox = outbox::sweep::spawn(
            state.outbox.clone(),
            state.upload.outbox_interval,
            stop.child_token(),
        );
        let relay = state.relay.spawn(state.outbox.clone(), stop.child_token());
        let poller = state
            .ops
            .queue_poller
            .clone()
            .map(|poller| poller.spawn(stop.child_token()));
        let background = Background::spawn(&state, &stop, self.shutdown_deadline);
        // The dashboard's record of job runs (admin/job_completed.rs); on even when
        // the dashboard is off.
        let job_runs = state.admin.record_job_runs(
            state.publisher.clone(),
            stop.child_token(),
            self.shutdown_deadline,
        );
        // `serve` cancels `stop` (and so the background tasks) as soon as shutdown
        // begins; games the outbox leaves are published by the next gateway to run it,
        // and events the consumer leaves are redelivered to another instance.
        let (served, deadline) = self.serve(stop.clone(), shutdown).await;
        stop.cancel();
        state.hub.close_all();
        if tokio::time::timeout_at(deadline, outbox).await.is_err() {
            tracing::warn!("The outbox sweep did not stop in time");
        }
        if let Some(relay) = relay
            && tokio::time::timeout_at(deadline, relay).await.is_err()
        {
            tracing::warn!("The outbox relay did not stop in time");
        }
        if let Some(poller) = poller {
            let _ = tokio::time::timeout_at(deadline, poller).await;
        }
        background.join(deadline).await;
        job_runs.join(deadline).await;
        state.publisher.close().await;
        state.ops.probe.close().await;
        served
    }

    /// Serves until `shutdown`, then drains; returns how it ended and the instant
    /// by which the whole stop must be over.
    async fn serve(
        self,
        stop: CancellationToken,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (anyhow::Result<()>, Instant) {
        let deadline_after = self.shutdown_deadline;
        let serve = server::serve(self.listener, self.router, self.server, stop.clone());
        let mut server = tokio::spawn(serve);

        let outcome = |finished: Result<std::io::Result<()>, tokio::task::JoinError>| {
            finished
                .context("The HTTP server task failed")?
                .context("The HTTP server failed")
        };
        tokio::select! {
            finished = &mut server => return (outcome(finished), Instant::now()),
            () = shutdown => {}
        }
        let deadline = Instant::now() + deadline_after;
        tracing::info!(
            deadline_ms = deadline_after.as_millis(),
            "Stopping: draining in-flight requests"
        );
        stop.cancel();
        match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(finished) => (outcome(finished), deadline),
            Err(_) => {
                tracing::warn!(
                    deadline_ms = deadline_after.as_millis(),
                    "Requests still running at the drain deadline were dropped"
                );
                server.abort();
                (Ok(()), deadline)
            }
        }
    }
}

/// The consumers that run beside the HTTP server.
struct Background {
    reconciliation: JoinHandle<Result<(), shared_events::BusError>>,
    listener: JoinHandle<()>,
    publisher: Publisher,
}

impl Background {
    fn spawn(state: &AppState, stop: &CancellationToken, drain: Duration) -> Self {
        // Its own connection: the consumer's acks and the uploads' publishes must not
        // queue behind each other (docs/broker-notes.md item 4).
        let publisher = Publisher::new(state.bus.clone(), "gateway reconciliation");
        let handler = ApplyReconciliation {
            games: state.games.clone(),
            feed: state.feed.clone(),
            progress_cache: state.progress.cache().clone(),
            publisher: publisher.clone(),
        };
        let concurrency = state.notifications.reconciliation_concurrency;
        let runner = ConsumerRunner::new(publisher.clone(), WorkQueue::Reconciliation, handler)
            .concurrency(concurrency)
            .prefetch(u16::try_from(concurrency * 2).unwrap_or(u16::MAX))
            .drain_timeout(drain);
        let listener = listener::run(
            state.bus.clone(),
            state.hub.clone(),
            state.instance_id.clone(),
            stop.child_token(),
        );
        Self {
            reconciliation: tokio::spawn(runner.run(stop.child_token())),
            listener: tokio::spawn(listener),
            publisher,
        }
    }

    /// Waits for the consumers to drain (they were told to stop with the token).
    async fn join(self, deadline: Instant) {
        match tokio::time::timeout_at(deadline, self.reconciliation).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::error!(%error, "The reconciliation consumer failed"),
            Ok(Err(error)) => tracing::error!(%error, "The reconciliation consumer crashed"),
            Err(_) => tracing::warn!("The reconciliation consumer did not stop in time"),
        }
        if tokio::time::timeout_at(deadline, self.listener)
            .await
            .is_err()
        {
            tracing::warn!("The notification listener did not stop in time");
        }
        self.publisher.close().await;
    }
}

//! The gateway's accept loop: HTTP/1.1 on hyper with the bounds `axum::serve` leaves
//! out. `axum::serve` gives hyper no timer, so hyper's header read timeout never
//! runs, and it accepts every connection; a client that opens connections and sends
//! nothing, or sends its headers a byte at a time, would hold memory and a file
//! descriptor for ever. Here:
//!
//! - a client has `M2M_HEADER_READ_TIMEOUT_SECS` to send a request's headers, and an
//!   idle keep-alive connection is closed after as long (hyper restarts the timer
//!   while it waits for the next request);
//! - a request body must arrive within `M2M_BODY_READ_TIMEOUT_SECS` of its headers,
//!   trickled or not, or the request is answered `408` ([`deadline`]);
//! - at most `M2M_MAX_CONNECTIONS` connections are open at once: past that a new one
//!   is closed at once, before anything is read from it.
//!
//! Memory per connection is then bounded by hyper's read buffer (at most ~400 KiB,
//! hyper's default, which also bounds a request's headers) and by the route's body
//! limit while a body is read. Only HTTP/1.1 is served: phones and load balancers
//! speak it, and WebSockets upgrade from it.

mod deadline;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::middleware;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The bounds on connections and request reads (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct ServerSettings {
    /// Time to send a request's headers; also how long an idle connection is kept.
    pub header_read_timeout: Duration,
    /// Time to send a request's whole body, counted from its headers.
    pub body_read_timeout: Duration,
    /// Open connections at most; keep it below the process's file-descriptor limit.
    pub max_connections: usize,
}

/// How long accepting pauses after a failure such as running out of file descriptors
/// (what `axum::serve` does too): retrying at once would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);
/// At most one warning per this long about refused connections, however many.
const REFUSAL_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop` is cancelled, then stops accepting and
/// asks every open connection to finish its request and close; returns when all have.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ServerSettings,
    stop: CancellationToken,
) -> io::Result<()> {
    let router = router.layer(middleware::from_fn_with_state(
        settings.body_read_timeout,
        deadline::body_deadline,
    ));
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let connections = TaskTracker::new();
    let mut refusals = Refusals::default();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "Failed to accept a connection; pausing");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            refusals.note(settings.max_connections);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            serve_connection(stream, peer, router, settings, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    settings: ServerSettings,
    stop: CancellationToken,
) {
    // Handlers read the peer address the way `into_make_service_with_connect_info`
    // gives it to them (login rate limiting).
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move { router.oneshot(request).await }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let finished = tokio::select! {
        finished = connection.as_mut() => finished,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = finished {
        // Timeouts, resets and malformed requests: the client's doing, not ours.
        tracing::debug!(%error, %peer, "A connection ended with an error");
    }
}

/// Counts connections refused at the limit and warns now and then, so a flood of
/// connections does not become a flood of log lines.
#[derive(Debug, Default)]
struct Refusals {
    since_warning: u64,
    warned_at: Option<Instant>,
}

impl Refusals {
    fn note(&mut self, limit: usize) {
        self.since_warning += 1;
        if self
            .warned_at
            .is_none_or(|at| at.elapsed() >= REFUSAL_WARNING_EVERY)
        {
            tracing::warn!(
                refused = self.since_warning,
                limit,
                "Refused connections at the connection limit"
            );
            self.since_warning = 0;
            self.warned_at = Some(Instant::now());
        }
    }
}

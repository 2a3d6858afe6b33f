//! Connecting to the broker, with timeouts, failover between nodes and a
//! reconnect backoff.
//!
//! lapin does not reconnect on its own in a way we rely on (its auto-recovery is
//! young, see `docs/ARCHITECTURE.md`), so every long-lived user of the bus
//! (publisher, consumer runner, stream reader, notification listener, readiness
//! probe) keeps its own loop around [`Bus::connect`] or
//! [`Bus::connect_with_backoff`]. Each connect tries the nodes of `M2M_AMQP_URL` in
//! a fresh shuffled order, those that failed lately last ([`crate::nodes`]), so a
//! process whose node died is on another node at its next connect.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lapin::{Channel, Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use crate::nodes::{NodeUrl, UrlListError, connection_order, fresh_seed};
use crate::observe::BusObserver;
use crate::settings::BusSettings;
use crate::topology::Topology;

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// `M2M_AMQP_URL` cannot be parsed: retrying cannot help.
    #[error("M2M_AMQP_URL cannot be used: {0}")]
    InvalidUrl(#[from] UrlListError),
    /// No node of the list accepted a connection; `failures` names each (redacted)
    /// with its reason.
    #[error("could not connect to the broker ({failures})")]
    Unreachable { failures: String },
    #[error("broker operation failed: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("gave up connecting to the broker: shutting down")]
    Cancelled,
}

/// The broker's address, the stack's topology and the connection policy.
#[derive(Debug, Clone)]
pub struct Bus {
    settings: BusSettings,
    topology: Topology,
    /// Told what publishers and runners built on this bus do (metrics).
    observer: Option<Arc<dyn BusObserver>>,
    /// The nodes of `M2M_AMQP_URL`, parsed once. A list that does not parse (only
    /// possible for settings built in code: `from_env` refuses it) fails every
    /// connect with the reason.
    nodes: Arc<Result<Vec<NodeUrl>, UrlListError>>,
    /// When each node last refused a connection or timed out, shared by every
    /// clone of this bus (every connection of the process).
    failures: Arc<Mutex<Vec<Option<Instant>>>>,
}

/// First and longest pause between reconnect attempts.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a node that failed is tried after the others. Long enough to cover a
/// reconnect storm after a node dies, short enough that a node back from a restart
/// soon gets its share of new connections again.
const FAILED_LATELY: Duration = Duration::from_secs(30);

impl Bus {
    pub fn new(settings: BusSettings) -> Self {
        let topology =
            Topology::new(settings.prefix.clone()).with_replicas(settings.replication_factor());
        let nodes = settings.node_urls();
        let count = nodes.as_ref().map(Vec::len).unwrap_or(0);
        Self {
            settings,
            topology,
            observer: None,
            nodes: Arc::new(nodes),
            failures: Arc::new(Mutex::new(vec![None; count])),
        }
    }

    /// This bus, with every publisher and consumer runner built on it reporting
    /// to `observer`.
    pub fn observed_by(mut self, observer: Arc<dyn BusObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub(crate) fn observer(&self) -> Option<&dyn BusObserver> {
        self.observer.as_deref()
    }

    pub fn settings(&self) -> &BusSettings {
        &self.settings
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// One connection to the first node that accepts it, trying each node of the
    /// list once (in a shuffled order, nodes that failed lately last), each within
    /// the configured timeout. `name` shows in the broker's connection list, so
    /// operators can tell processes apart.
    pub async fn connect(&self, name: &str) -> Result<Connection, BusError> {
        self.connect_to_a_node(name)
            .await
            .map(|(connection, _)| connection)
    }

    /// Like [`Self::connect`]; also the (redacted) URL of the node it reached.
    pub(crate) async fn connect_to_a_node(
        &self,
        name: &str,
    ) -> Result<(Connection, String), BusError> {
        let nodes = self.nodes.as_ref().as_ref().map_err(Clone::clone)?;
        let order = connection_order(nodes.len(), fresh_seed(), &self.failed_lately());
        let mut failures = Vec::with_capacity(nodes.len());
        for index in order {
            let node = &nodes[index];
            match self.connect_node(node, name).await {
                Ok(connection) => {
                    self.record(index, false);
                    return Ok((connection, node.redacted().to_owned()));
                }
                Err(reason) => {
                    self.record(index, true);
                    tracing::debug!(node = node.redacted(), connection = name, %reason,
                        "A broker node did not take the connection; trying the next.");
                    failures.push(format!("{}: {reason}", node.redacted()));
                }
            }
        }
        Err(BusError::Unreachable {
            failures: failures.join("; "),
        })
    }

    async fn connect_node(&self, node: &NodeUrl, name: &str) -> Result<Connection, String> {
        let properties = ConnectionProperties::default().with_connection_name(name.into());
        let timeout = self.settings.timeout;
        let connect = Connection::connect_uri(node.uri().clone(), properties);
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    fn failed_lately(&self) -> Vec<bool> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .iter()
            .map(|at| at.is_some_and(|at| at.elapsed() < FAILED_LATELY))
            .collect()
    }

    fn record(&self, node: usize, failed: bool) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = failures.get_mut(node) {
            *slot = failed.then(Instant::now);
        }
    }

    /// Connects, retrying with exponential backoff until it works or `cancel` fires.
    pub async fn connect_with_backoff(
        &self,
        name: &str,
        cancel: &CancellationToken,
    ) -> Result<Connection, BusError> {
        let mut pause = BACKOFF_START;
        loop {
            match self.connect_to_a_node(name).await {
                Ok((connection, node)) => {
                    tracing::info!(connection = name, %node, "Connected to the broker.");
                    return Ok(connection);
                }
                // A list that does not parse will not parse on the next try either.
                Err(error @ BusError::InvalidUrl(_)) => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?pause, connection = name,
                        "Could not connect to the broker; retrying.");
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return Err(BusError::Cancelled),
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(BACKOFF_MAX);
        }
    }

    /// Opens a channel on `connection` and declares the topology through it.
    pub async fn open_channel(&self, connection: &Connection) -> Result<Channel, BusError> {
        Ok(self.topology.declare(connection).await?)
    }

    /// Connects once and declares the topology: what every process does at start,
    /// so that the first publish of a fresh stack never meets a missing queue.
    pub async fn declare_topology(&self, name: &str) -> Result<(), BusError> {
        let connection = self.connect(name).await?;
        let declared = match self.open_channel(&connection).await {
            Ok(channel) => {
                // Closing the channel before its connection keeps lapin from
                // logging the connection close as a channel error.
                let _ = channel.close(200, "topology declared".into()).await;
                Ok(())
            }
            Err(error) => Err(error),
        };
        close_quietly(&connection, "topology declared").await;
        declared
    }
}

impl Bus {
    /// Deletes the whole stack (see [`Topology::delete`]); best effort.
    pub async fn delete_topology(&self) {
        if let Ok(connection) = self.connect("topology teardown").await {
            self.topology.delete(&connection).await;
            close_quietly(&connection, "topology deleted").await;
        }
    }
}

/// Closes a connection politely, giving up after a second: the broker may be the
/// reason we are closing, and a close that hangs must not hold up a reconnect.
pub async fn close_quietly(connection: &Connection, reason: &str) {
    let close = connection.close(200, reason.into());
    if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(1), close).await {
        tracing::debug!(%error, "Closing a broker connection failed; it is dropped anyway.");
    }
}

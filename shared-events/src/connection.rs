//! Connecting to the broker, with timeouts and a reconnect backoff.
//!
//! lapin does not reconnect on its own in a way we rely on (its auto-recovery is
//! young, see `PITFALLS.md`), so every long-lived user of the bus (publisher,
//! consumer runner) keeps its own loop around [`Bus::connect_with_backoff`].

use std::sync::Arc;
use std::time::Duration;

use lapin::{Channel, Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use crate::observe::BusObserver;
use crate::settings::{BusSettings, redact_url};
use crate::topology::Topology;

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("could not connect to the broker at {url} within {timeout:?}")]
    ConnectTimeout { url: String, timeout: Duration },
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
}

/// First and longest pause between reconnect attempts.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Bus {
    pub fn new(settings: BusSettings) -> Self {
        let topology = Topology::new(settings.prefix.clone());
        Self {
            settings,
            topology,
            observer: None,
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

    /// One attempt to connect, bounded by the configured timeout. `name` shows in
    /// the broker's connection list, so operators can tell processes apart.
    pub async fn connect(&self, name: &str) -> Result<Connection, BusError> {
        let properties = ConnectionProperties::default().with_connection_name(name.into());
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout, Connection::connect(&self.settings.url, properties))
            .await
        {
            Ok(result) => Ok(result?),
            Err(_) => Err(BusError::ConnectTimeout {
                url: redact_url(&self.settings.url),
                timeout,
            }),
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
            match self.connect(name).await {
                Ok(connection) => return Ok(connection),
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
        let channel = connection.create_channel().await?;
        self.topology.declare(&channel).await?;
        Ok(channel)
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

//! [`BrokerProbe`]: one small broker connection for operations.
//!
//! Readiness must check the broker for real, and the queue poller must read
//! depths, without opening a connection per check (the broker logs every one)
//! and without declaring anything: both only look (passive declares). The link
//! is opened on first use and dropped on any error, so the next use reconnects
//! and so re-checks the credentials and the vhost too.

use shared_events::inspect::QueueStat;
use shared_events::lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use shared_events::lapin::types::FieldTable;
use shared_events::lapin::{Channel, Connection, ExchangeKind};
use shared_events::{Bus, BusError, connection::close_quietly};
use tokio::sync::Mutex;

/// A lazily opened, self-healing connection that only looks at the broker.
#[derive(Debug)]
pub struct BrokerProbe {
    bus: Bus,
    name: String,
    link: Mutex<Option<Link>>,
}

#[derive(Debug)]
struct Link {
    connection: Connection,
    channel: Channel,
}

impl BrokerProbe {
    /// A probe of `bus`; `name` labels its connection in the broker's list.
    pub fn new(bus: Bus, name: impl Into<String>) -> Self {
        Self {
            bus,
            name: name.into(),
            link: Mutex::new(None),
        }
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Checks that the broker answers on this process's vhost with its
    /// credentials: a passive declare of the events exchange (which every
    /// process declares at start). The caller bounds it with a timeout.
    pub async fn check(&self) -> Result<(), BusError> {
        let exchange = self.bus.topology().events_exchange();
        self.with_channel(|channel| async move {
            let passive = ExchangeDeclareOptions {
                passive: true,
                ..ExchangeDeclareOptions::default()
            };
            channel
                .exchange_declare(
                    exchange.as_str().into(),
                    ExchangeKind::Topic,
                    passive,
                    FieldTable::default(),
                )
                .await
        })
        .await
    }

    /// The depth and consumers of `queue` (a passive declare: a missing queue is
    /// an error, never a new empty one).
    pub async fn queue_stat(&self, queue: &str) -> Result<QueueStat, BusError> {
        let queue = queue.to_owned();
        self.with_channel(|channel| async move {
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            let declared = channel
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await?;
            Ok(QueueStat {
                ready: declared.message_count(),
                consumers: declared.consumer_count(),
            })
        })
        .await
    }

    /// Closes the connection, if open.
    pub async fn close(&self) {
        if let Some(link) = self.link.lock().await.take() {
            drop_link(link).await;
        }
    }

    /// Runs `operation` on the probe's channel, connecting first if need be. Any
    /// failure drops the link: a channel error (404, 403) closes the channel, and
    /// a half-dead connection is better replaced than trusted.
    async fn with_channel<T, F, Fut>(&self, operation: F) -> Result<T, BusError>
    where
        F: FnOnce(Channel) -> Fut,
        Fut: Future<Output = Result<T, shared_events::lapin::Error>>,
    {
        let mut link = self.link.lock().await;
        let channel = match link.as_ref() {
            Some(l) if l.connection.status().connected() && l.channel.status().connected() => {
                l.channel.clone()
            }
            _ => {
                if let Some(old) = link.take() {
                    drop_link(old).await;
                }
                let connection = self.bus.connect(&self.name).await?;
                let channel = match connection.create_channel().await {
                    Ok(channel) => channel,
                    Err(error) => {
                        close_quietly(&connection, "probe failed").await;
                        return Err(error.into());
                    }
                };
                *link = Some(Link {
                    connection,
                    channel: channel.clone(),
                });
                channel
            }
        };
        match operation(channel).await {
            Ok(value) => Ok(value),
            Err(error) => {
                if let Some(old) = link.take() {
                    drop_link(old).await;
                }
                Err(error.into())
            }
        }
    }
}

async fn drop_link(link: Link) {
    if link.channel.status().connected() {
        let _ = link.channel.close(200, "probe done".into()).await;
    }
    close_quietly(&link.connection, "probe done").await;
}

//! The m2m event contract and the RabbitMQ plumbing that every process shares.
//!
//! No business logic lives here: what an event means is up to its producer and
//! its consumers; this crate says what it looks like on the wire and how it gets
//! there safely. `docs/events.md` documents the JSON for other languages.
//!
//! # Layout
//! - [`envelope`]: the envelope (id, type, version, times, correlation) and its JSON.
//! - [`events`]: every event, one module each, behind one exhaustive enum.
//! - [`recording`]: the glove recording (`sensors` of `POST /game`), parsed and
//!   validated with field paths; what the gateway accepts and the workers analyse.
//! - [`topology`]: the names and arguments of every exchange and queue, declared
//!   idempotently by every process.
//! - [`replication`]: declaring on a cluster: replication factors that only count
//!   at creation, classic queues whose node is down.
//! - [`settings`]: the bus configuration read from `M2M_*` variables.
//! - [`nodes`]: `M2M_AMQP_URL` as a list of cluster nodes, and the order in which a
//!   connection tries them.
//! - [`connection`]: connecting to a live node with timeouts and backoff.
//! - [`publisher`]: confirmed, mandatory publishing that reconnects on demand.
//! - [`consumer`]: the runner that feeds a queue to a handler: acks, retries,
//!   dead letters, reconnects and graceful shutdown.
//! - [`stream`]: reading the history stream from an offset or a time.
//! - [`observe`]: [`BusObserver`], how a process learns what the plumbing does
//!   (published, handled, retried, dead-lettered, reconnected) to export metrics.
//! - [`pipeline`]: many publishes in flight with every confirm checked (bulk work).
//! - [`dead_letters`]: browsing the dead-letter queue and redriving from it.
//! - [`inspect`]: queue depths and consumers by passive declare.
//! - [`header_values`]: reading and rewriting AMQP header values.
//! - `testing` (feature `testing`, for other crates' tests): draining and
//!   counting a queue's messages.
//! - `private_cluster` (feature `testing`): a private RabbitMQ cluster started,
//!   killed and restarted through `scripts/cluster`, for tests and the fault suite.
//! - [`telemetry`], [`shutdown`]: the logging setup and the stop signal every
//!   process uses.

pub mod connection;
pub mod consumer;
pub mod dead_letters;
pub mod envelope;
pub mod events;
pub mod header_values;
pub mod inspect;
pub mod nodes;
pub mod observe;
pub mod pipeline;
#[cfg(feature = "testing")]
pub mod private_cluster;
pub mod publisher;
pub mod recording;
pub mod replication;
pub mod settings;
pub mod shutdown;
pub mod stream;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;

pub use connection::{Bus, BusError};
pub use consumer::{ConsumerRunner, DeliveryContext, Handler, HandlerError};
pub use envelope::Envelope;
pub use events::Event;
pub use observe::{BusObserver, Settled};
pub use publisher::{PublishError, Publisher};
pub use settings::BusSettings;
pub use stream::{StreamReader, StreamRecord, StreamStart};
pub use topology::{QueueRole, Topology, WorkQueue};

/// The AMQP client, for callers that need lower-level access (tools, tests)
/// with the exact version the plumbing uses.
pub use lapin;

//! What the bus plumbing reports as it works, for metrics.
//!
//! The plumbing does not pick a metrics library: a process that wants numbers
//! hands a [`BusObserver`] to [`Bus::observed_by`](crate::Bus::observed_by), and
//! every publisher and consumer runner built on that bus reports to it. The calls
//! sit exactly where the runner counts into [`RunnerStats`](crate::consumer::RunnerStats),
//! so the two never disagree.

use std::fmt;
use std::time::Duration;

/// Receives what the publisher and the consumer runners do. Every method has an
/// empty default, so an observer implements only what it exports. Calls are made
/// on the hot path: keep them cheap and never block.
pub trait BusObserver: Send + Sync + fmt::Debug + 'static {
    /// An event of `event_type` was published and confirmed (`confirmed`), or the
    /// publish failed (unroutable, nacked, timed out, broker down).
    fn published(&self, event_type: &str, confirmed: bool) {
        let _ = (event_type, confirmed);
    }

    /// A delivery from `queue` was settled. `event_type` is the envelope's type
    /// (`undecodable` when the body is not an envelope); `handling` is the time
    /// spent in the handler, zero when it never ran.
    fn settled(&self, queue: &str, event_type: &str, outcome: Settled, handling: Duration) {
        let _ = (queue, event_type, outcome, handling);
    }

    /// The connection named `connection` (a runner's or a publisher's) was lost
    /// and is being re-established.
    fn reconnected(&self, connection: &str) {
        let _ = connection;
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Settled {
    /// The handler succeeded; the message was acked.
    Handled,
    /// A transient failure: a copy waits in the retry queue, the original was acked.
    Retried,
    /// A permanent failure, or retries exhausted: a copy is in the dead-letter
    /// queue, the original was acked.
    DeadLettered,
    /// The retry or dead-letter copy could not be published: the original was
    /// handed back to the broker.
    Requeued,
}

impl Settled {
    pub const ALL: [Settled; 4] = [
        Settled::Handled,
        Settled::Retried,
        Settled::DeadLettered,
        Settled::Requeued,
    ];

    /// The label value metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Settled::Handled => "handled",
            Settled::Retried => "retried",
            Settled::DeadLettered => "dead_lettered",
            Settled::Requeued => "requeued",
        }
    }
}

/// The event type reported for a body that is not an envelope.
pub const UNDECODABLE: &str = "undecodable";

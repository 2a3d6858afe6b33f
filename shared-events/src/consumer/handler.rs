//! What a consumer runner calls for each message, and how a handler says it failed.

use std::future::Future;

use crate::envelope::Envelope;

/// Handles one event. Implementations must be idempotent: a message can arrive
/// more than once (redelivery after a crash, a retry whose ack was lost, a replay).
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        envelope: Envelope,
        context: DeliveryContext,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Facts about a delivery that a handler may want beside the event itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryContext {
    /// The queue the message came from.
    pub queue: String,
    /// The broker delivered this message before (to this or another consumer).
    pub redelivered: bool,
    /// How many transient retries came before this attempt.
    pub retries: u32,
    /// The message was republished by `events replay`.
    pub replay: bool,
}

/// How handling failed, which decides what happens to the message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (database or broker down, timeout): the message goes to
    /// the retry queue and comes back after the retry delay.
    #[error("transient failure: {0:#}")]
    Transient(anyhow::Error),
    /// Will never work (bad data, a bug for this input): the message goes to the
    /// dead-letter queue with this reason, for a human to look at and redrive.
    #[error("permanent failure: {0:#}")]
    Permanent(anyhow::Error),
}

impl HandlerError {
    pub fn transient(error: impl Into<anyhow::Error>) -> Self {
        Self::Transient(error.into())
    }

    pub fn permanent(error: impl Into<anyhow::Error>) -> Self {
        Self::Permanent(error.into())
    }
}

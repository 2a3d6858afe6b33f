//! The dead-letter queue: reading what died and why, and redriving it.
//!
//! One implementation for every reader: `events dlq` on the command line and the
//! gateway's operators' dashboard.
//!
//! - [`letter`]: what a dead letter's headers say (who killed it, why, where, when).
//! - [`browse`]: taking dead letters to look at and handing them back in place.
//! - [`revive`]: the fresh copy a redrive publishes.
//! - [`redrive`]: publishing copies with confirms and removing what was redriven.

pub mod browse;
#[cfg(test)]
mod fixtures;
pub mod letter;
pub mod redrive;
pub mod revive;

pub use browse::{Browse, Taken};
pub use letter::{DeadLetter, Killer};
pub use redrive::{Outcome, redrive};
pub use revive::{DEATH_HEADERS, revived};

use crate::connection::BusError;
use crate::pipeline::PipelineError;

/// Why the dead-letter queue could not be read or a redrive not finished.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(
        "queue `{queue}` does not exist: is M2M_BUS_PREFIX={prefix} right, and has a service \
         declared the bus (they do at start)?"
    )]
    MissingQueue { queue: String, prefix: String },
    #[error("failed to read the dead-letter queue `{queue}`: {source}")]
    Read { queue: String, source: lapin::Error },
    #[error("failed to remove a redriven message from the dead-letter queue: {0}")]
    Ack(lapin::Error),
    #[error("failed to hand dead letters back (closing the connection will): {0}")]
    HandBack(lapin::Error),
    #[error("redriving failed: {0}")]
    Publish(#[from] PipelineError),
}

impl From<lapin::Error> for DeadLetterError {
    fn from(error: lapin::Error) -> Self {
        Self::Bus(BusError::Amqp(error))
    }
}

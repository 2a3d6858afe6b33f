//! Live notifications: a phone's WebSocket hears of each change to its patient's
//! feed, on whichever gateway instance it is connected to.
//!
//! ```text
//! reconciliation handler (any instance) ── feed.appended ──▶ <p>.events
//!     ──▶ <p>.notifications.<instance> (one per instance) ──▶ listener ──▶ Hub ──▶ sockets
//! ```
//! - [`listener`]: the instance's transient queue, reconnecting, feeding the hub;
//! - [`hub`]: the instance's open sockets by patient;
//! - [`socket`]: one phone's socket: ready, live changes, resume by cursor, pings.

pub mod hub;
pub mod listener;
pub mod socket;

pub use hub::Hub;

//! MongoDB collections the gateway reads and writes (besides refresh tokens, which live
//! with their logic in [`crate::auth::refresh`]). Every collection here is the
//! gateway's own: it never reads what processing-service writes (`results`,
//! `progress`); what it shows of an analysis came with the `reconciliation.ready`
//! event.

pub mod analyses;
pub mod feed;
pub mod games;
pub mod progress;
pub mod uploads;
pub mod users;

pub use feed::ChangeFeed;
pub use games::Games;
pub use users::Users;

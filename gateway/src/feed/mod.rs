//! The patient's change feed as the phone sees it: cursors, and the patient's
//! progress (a Redis cache the feed's writer keeps warm, over the snapshots the feed
//! stores). Storage is [`crate::store::feed`] and [`crate::store::progress`]; the
//! writer is the reconciliation handler ([`crate::events::reconciliation`]); the
//! readers are `GET /sync`, `GET /progress`, `GET /games/{id}` and the WebSocket
//! ([`crate::notifications`]).

pub mod cursor;
pub mod progress;
pub mod progress_cache;

pub use cursor::{CursorError, FeedCursor};
pub use progress::PatientProgress;
pub use progress_cache::{ExerciseProgress, ProgressCache};

//! The patient's change feed as the phone sees it: cursors, and the caches the
//! feed's writer keeps warm. Storage is [`crate::store::feed`]; the writer is the
//! reconciliation handler ([`crate::events::reconciliation`]); the readers are
//! `GET /sync`, `GET /progress` and the WebSocket ([`crate::notifications`]).

pub mod cursor;
pub mod progress_cache;

pub use cursor::{CursorError, FeedCursor};
pub use progress_cache::{ExerciseProgress, ProgressCache};

//! `feed.appended`: a gateway added an entry to a patient's change feed.
//!
//! Gateways publish it after applying a ReconciliationEvent; every gateway
//! instance receives it on its own transient queue and tells the patient's
//! phones connected to that instance. It carries the feed position, so a phone
//! can tell a new change from one it has already seen.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A change-feed entry exists at `seq` for `user_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedAppendedV1 {
    pub user_id: Uuid,
    /// The entry's position in the patient's feed: strictly increasing per
    /// patient, starting at 1.
    pub seq: u64,
    pub game_id: Uuid,
    pub exercise: String,
    /// The kind of change, as the phone sees it: `game.processed` or `game.failed`.
    pub change: String,
}

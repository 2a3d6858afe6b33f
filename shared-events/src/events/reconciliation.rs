//! `reconciliation.ready`: a worker has saved a game's analysis (or given up on it).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The analysis of a game is saved; the gateway tells the patient's phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconciliationEventV1 {
    pub user_id: Uuid,
    pub game_id: Uuid,
    pub exercise: String,
    pub outcome: GameOutcome,
    /// The analytics version that produced the result, so a replay with a newer
    /// algorithm can be told apart from a redelivery.
    pub analytics_version: String,
}

/// How the analysis ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GameOutcome {
    /// Metrics and progress are saved in the store under the game id.
    Processed,
    /// The recording cannot be analysed; retrying will not help.
    Failed { reason: String },
}

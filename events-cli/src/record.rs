//! A light look at a message body: just what filters and listings need.
//!
//! Decoding a whole [`shared_events::Envelope`] copies the recording of a
//! `processing.requested` event (hundreds of kilobytes of base64); the fields here
//! are enough to select and route an event, and serde skips the rest unread.

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The envelope fields that selection needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Peek {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(default)]
    pub data: PeekData,
}

/// The ids that events about a patient's game carry in their data.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PeekData {
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub game_id: Option<Uuid>,
}

impl Peek {
    pub fn of(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_events::events::{Job, TimerFiredV1};
    use shared_events::{Envelope, Event};

    #[test]
    fn a_peek_reads_the_ids_of_a_real_envelope() {
        let envelope = Envelope::new(Event::TimerFiredV1(TimerFiredV1 {
            job: Job::Sync,
            window: 7,
        }));
        let peek = Peek::of(&envelope.to_json().expect("encode")).expect("peek");
        assert_eq!(peek.id, envelope.id);
        assert_eq!(peek.event_type, "timer.fired");
        assert_eq!(peek.occurred_at, envelope.occurred_at);
        assert_eq!(peek.data.user_id, None);
    }
}

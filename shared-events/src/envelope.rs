//! The envelope every message on the bus travels in.
//!
//! ```json
//! { "id": "<uuid v7>", "type": "processing.requested", "version": 1,
//!   "occurred_at": "2026-11-22T10:01:00.123Z",
//!   "correlation_id": "<uuid>", "causation_id": "<uuid or null>",
//!   "data": { ... } }
//! ```
//! `type` and `version` sit beside the data (an internally tagged, versioned
//! enum): a reader looks at them first and decodes `data` with the schema they
//! name. `docs/events.md` is the full contract.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::events::{DecodeError, Event};

/// An event and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Unique per message; UUID v7, so ids sort by creation time.
    pub id: Uuid,
    pub occurred_at: OffsetDateTime,
    /// Shared by every event caused, directly or not, by one outside request
    /// (an upload): one grep finds a game's whole path.
    pub correlation_id: Uuid,
    /// The id of the event (or request) that directly caused this one.
    pub causation_id: Option<Uuid>,
    pub event: Event,
}

/// The JSON shape, with the data left undecoded until `type`/`version` are known.
#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: &'a str,
    version: u32,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
    #[serde(borrow)]
    data: &'a RawValue,
}

impl Envelope {
    /// A new event that starts a causal chain (its own correlation id).
    pub fn new(event: Event) -> Self {
        let id = Uuid::now_v7();
        Self {
            id,
            occurred_at: OffsetDateTime::now_utc(),
            correlation_id: id,
            causation_id: None,
            event,
        }
    }

    /// A new event caused by `cause`: same correlation id, causation = cause's id.
    pub fn caused_by(cause: &Envelope, event: Event) -> Self {
        Self {
            correlation_id: cause.correlation_id,
            causation_id: Some(cause.id),
            ..Self::new(event)
        }
    }

    /// Sets the correlation id, e.g. to the HTTP request id that started it all.
    pub fn with_correlation_id(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = correlation_id;
        self
    }

    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let data = self.event.data_to_json()?;
        serde_json::to_vec(&Wire {
            id: self.id,
            event_type: self.event.event_type(),
            version: self.event.version(),
            occurred_at: self.occurred_at,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            data: &data,
        })
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        let wire: Wire<'_> = serde_json::from_slice(bytes).map_err(DecodeError::Envelope)?;
        let event = Event::decode_data(wire.event_type, wire.version, wire.data)?;
        Ok(Self {
            id: wire.id,
            occurred_at: wire.occurred_at,
            correlation_id: wire.correlation_id,
            causation_id: wire.causation_id,
            event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{GameOutcome, Job, ReconciliationEventV1, TimerFiredV1};

    fn reconciliation() -> Event {
        Event::ReconciliationV1(ReconciliationEventV1 {
            user_id: Uuid::now_v7(),
            game_id: Uuid::now_v7(),
            exercise: "piano".into(),
            outcome: GameOutcome::Failed {
                reason: "all channels are constant".into(),
            },
            analytics_version: "1".into(),
        })
    }

    #[test]
    fn an_envelope_round_trips_through_json() {
        let envelope = Envelope::new(reconciliation());
        let json = envelope.to_json().expect("encode");
        let decoded = Envelope::from_json(&json).expect("decode");
        // RFC 3339 keeps nanoseconds, so the whole envelope compares equal.
        assert_eq!(decoded, envelope);
    }

    #[test]
    fn the_wire_shape_is_the_documented_one() {
        let envelope = Envelope::new(Event::TimerFiredV1(TimerFiredV1 {
            job: Job::Backup,
            window: 42,
        }));
        let json: serde_json::Value =
            serde_json::from_slice(&envelope.to_json().expect("encode")).expect("json");
        assert_eq!(json["type"], "timer.fired");
        assert_eq!(json["version"], 1);
        assert_eq!(
            json["data"],
            serde_json::json!({"job": "backup", "window": 42})
        );
        assert_eq!(json["id"], envelope.id.to_string());
        assert_eq!(json["causation_id"], serde_json::Value::Null);
        assert_eq!(envelope.id.get_version_num(), 7);
    }

    #[test]
    fn a_caused_event_keeps_the_correlation_and_names_its_cause() {
        let cause = Envelope::new(reconciliation());
        let effect = Envelope::caused_by(&cause, reconciliation());
        assert_eq!(effect.correlation_id, cause.correlation_id);
        assert_eq!(effect.causation_id, Some(cause.id));
        assert_ne!(effect.id, cause.id);
    }

    fn with_type_and_version(event_type: &str, version: u32) -> Vec<u8> {
        let mut json: serde_json::Value =
            serde_json::from_slice(&Envelope::new(reconciliation()).to_json().expect("encode"))
                .expect("json");
        json["type"] = event_type.into();
        json["version"] = version.into();
        serde_json::to_vec(&json).expect("encode")
    }

    #[test]
    fn a_future_version_is_reported_not_guessed() {
        let error = Envelope::from_json(&with_type_and_version("reconciliation.ready", 3))
            .expect_err("v3 is unknown");
        assert!(matches!(
            error,
            DecodeError::UnsupportedVersion { version: 3, .. }
        ));
        assert!(error.to_string().contains("no schema version 3"));
    }

    #[test]
    fn an_unknown_type_is_reported() {
        let error =
            Envelope::from_json(&with_type_and_version("game.deleted", 1)).expect_err("unknown");
        assert!(matches!(error, DecodeError::UnknownType(t) if t == "game.deleted"));
    }

    #[test]
    fn data_that_breaks_its_schema_is_reported_with_the_type() {
        let json = br#"{"id":"0190f3a2-7c3e-7000-8000-000000000000","type":"timer.fired","version":1,
            "occurred_at":"2026-11-22T10:00:00Z","correlation_id":"0190f3a2-7c3e-7000-8000-000000000000",
            "causation_id":null,"data":{"job":"reindex","window":1}}"#;
        let error = Envelope::from_json(json).expect_err("unknown job");
        assert!(
            matches!(error, DecodeError::Data { ref event_type, .. } if event_type == "timer.fired")
        );
    }

    #[test]
    fn garbage_is_not_an_envelope() {
        assert!(matches!(
            Envelope::from_json(b"\x00\x01 not json"),
            Err(DecodeError::Envelope(_))
        ));
    }
}

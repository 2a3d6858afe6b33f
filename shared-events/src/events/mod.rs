//! The events of the m2m bus: one exhaustive enum, one module per event.
//!
//! Each event has a stable wire name (`type`) and a schema `version`. A new
//! incompatible shape is a new version of the same type: a new variant here,
//! decoded by its own arm in [`Event::decode_data`], so old and new producers
//! can share the bus during a rolling deploy. A consumer that meets a version it
//! does not know gets [`DecodeError::UnsupportedVersion`], which the consumer
//! runner dead-letters with the reason instead of crashing.

mod feed;
mod job;
mod processing;
mod reconciliation;
mod timer;

pub use feed::FeedAppendedV1;
pub use job::JobCompletedV1;
pub use processing::{EncodedRecording, ProcessingEventV1, RecordingError};
pub use reconciliation::{
    GameOutcome, GameResult, MetricProgress, ProgressSnapshot, Provenance, ReconciliationEventV1,
    ReconciliationEventV2,
};
pub use timer::{Job, TimerFiredV1};

use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

/// Every event the system publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `processing.requested` v1: a game to analyse (gateway -> processing).
    ProcessingV1(ProcessingEventV1),
    /// `reconciliation.ready` v1: a game's analysis is saved (processing -> gateway).
    ReconciliationV1(ReconciliationEventV1),
    /// `reconciliation.ready` v2: a game's analysis and the patient's progress, in
    /// full (processing -> gateway).
    ReconciliationV2(ReconciliationEventV2),
    /// `timer.fired` v1: a job's window has come (scheduler or CLI -> sync-worker).
    TimerFiredV1(TimerFiredV1),
    /// `feed.appended` v1: a patient's change feed grew (gateway -> every gateway).
    FeedAppendedV1(FeedAppendedV1),
    /// `job.completed` v1: a job's window ran (sync-worker -> dashboard).
    JobCompletedV1(JobCompletedV1),
}

/// Why an event body could not be turned into an [`Event`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the message is not a JSON event envelope: {0}")]
    Envelope(#[source] serde_json::Error),
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    #[error("event type `{event_type}` has no schema version {version} in this build")]
    UnsupportedVersion { event_type: String, version: u32 },
    #[error("the data of `{event_type}` v{version} does not match its schema: {source}")]
    Data {
        event_type: String,
        version: u32,
        #[source]
        source: serde_json::Error,
    },
}

impl Event {
    pub const PROCESSING_REQUESTED: &'static str = "processing.requested";
    pub const RECONCILIATION_READY: &'static str = "reconciliation.ready";
    pub const TIMER_FIRED: &'static str = "timer.fired";
    pub const FEED_APPENDED: &'static str = "feed.appended";
    pub const JOB_COMPLETED: &'static str = "job.completed";

    /// Every event type, in the order of the data flow (tools list and filter by it).
    pub const TYPES: [&'static str; 5] = [
        Self::PROCESSING_REQUESTED,
        Self::RECONCILIATION_READY,
        Self::FEED_APPENDED,
        Self::TIMER_FIRED,
        Self::JOB_COMPLETED,
    ];

    /// The wire name, carried in the envelope's `type` field.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::ProcessingV1(_) => Self::PROCESSING_REQUESTED,
            Event::ReconciliationV1(_) | Event::ReconciliationV2(_) => Self::RECONCILIATION_READY,
            Event::TimerFiredV1(_) => Self::TIMER_FIRED,
            Event::FeedAppendedV1(_) => Self::FEED_APPENDED,
            Event::JobCompletedV1(_) => Self::JOB_COMPLETED,
        }
    }

    /// The schema version of this variant's data.
    pub fn version(&self) -> u32 {
        match self {
            Event::ProcessingV1(_)
            | Event::ReconciliationV1(_)
            | Event::TimerFiredV1(_)
            | Event::FeedAppendedV1(_)
            | Event::JobCompletedV1(_) => 1,
            Event::ReconciliationV2(_) => 2,
        }
    }

    /// The routing key on the events exchange. Timer messages carry their job, so
    /// a job queue could bind to one job only.
    pub fn routing_key(&self) -> String {
        match self {
            Event::TimerFiredV1(timer) => format!("{}.{}", Self::TIMER_FIRED, timer.job.as_str()),
            other => other.event_type().to_owned(),
        }
    }

    /// The patient the event concerns, if any; copied into a message header so
    /// tools can filter the stream without decoding bodies.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Event::ProcessingV1(e) => Some(e.user_id),
            Event::ReconciliationV1(e) => Some(e.user_id),
            Event::ReconciliationV2(e) => Some(e.user_id),
            Event::FeedAppendedV1(e) => Some(e.user_id),
            Event::TimerFiredV1(_) | Event::JobCompletedV1(_) => None,
        }
    }

    /// The game the event concerns, if any.
    pub fn game_id(&self) -> Option<Uuid> {
        match self {
            Event::ProcessingV1(e) => Some(e.game_id),
            Event::ReconciliationV1(e) => Some(e.game_id),
            Event::ReconciliationV2(e) => Some(e.game_id),
            Event::FeedAppendedV1(e) => Some(e.game_id),
            Event::TimerFiredV1(_) | Event::JobCompletedV1(_) => None,
        }
    }

    pub(crate) fn data_to_json(&self) -> serde_json::Result<Box<RawValue>> {
        fn raw<T: Serialize>(value: &T) -> serde_json::Result<Box<RawValue>> {
            serde_json::value::to_raw_value(value)
        }
        match self {
            Event::ProcessingV1(e) => raw(e),
            Event::ReconciliationV1(e) => raw(e),
            Event::ReconciliationV2(e) => raw(e),
            Event::TimerFiredV1(e) => raw(e),
            Event::FeedAppendedV1(e) => raw(e),
            Event::JobCompletedV1(e) => raw(e),
        }
    }

    /// Decodes `data` as the schema named by `event_type` and `version`.
    pub(crate) fn decode_data(
        event_type: &str,
        version: u32,
        data: &RawValue,
    ) -> Result<Self, DecodeError> {
        let data_error = |source| DecodeError::Data {
            event_type: event_type.to_owned(),
            version,
            source,
        };
        let json = data.get();
        match (event_type, version) {
            (Self::PROCESSING_REQUESTED, 1) => serde_json::from_str(json)
                .map(Event::ProcessingV1)
                .map_err(data_error),
            (Self::RECONCILIATION_READY, 1) => serde_json::from_str(json)
                .map(Event::ReconciliationV1)
                .map_err(data_error),
            (Self::RECONCILIATION_READY, 2) => serde_json::from_str(json)
                .map(Event::ReconciliationV2)
                .map_err(data_error),
            (Self::JOB_COMPLETED, 1) => serde_json::from_str(json)
                .map(Event::JobCompletedV1)
                .map_err(data_error),
            (Self::TIMER_FIRED, 1) => serde_json::from_str(json)
                .map(Event::TimerFiredV1)
                .map_err(data_error),
            (Self::FEED_APPENDED, 1) => serde_json::from_str(json)
                .map(Event::FeedAppendedV1)
                .map_err(data_error),
            (
                Self::PROCESSING_REQUESTED
                | Self::RECONCILIATION_READY
                | Self::TIMER_FIRED
                | Self::FEED_APPENDED
                | Self::JOB_COMPLETED,
                _,
            ) => Err(DecodeError::UnsupportedVersion {
                event_type: event_type.to_owned(),
                version,
            }),
            _ => Err(DecodeError::UnknownType(event_type.to_owned())),
        }
    }
}

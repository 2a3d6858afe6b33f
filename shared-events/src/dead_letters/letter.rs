//! What a dead letter says about its death, from whichever side recorded it.
//!
//! Two things put messages in the dead-letter queue:
//! - the consumer runner, for a permanent failure or an exhausted retry budget: it
//!   publishes a copy with `x-m2m-death-reason`, `-queue`, `-time`,
//!   `-routing-key` and `x-m2m-retries`;
//! - the broker, when a message passes a work queue's delivery limit (consumers
//!   crashed on it): it adds an `x-death` array, newest death first, each entry
//!   with `reason`, `queue`, `time`, `count`, `exchange` and `routing-keys`.
//!
//! The runner's headers win when both are present: a runner's copy of a message
//! that went through a retry queue also carries `x-death` entries (reason
//! `expired`) from the retry delays, which are not why it died.

use lapin::BasicProperties;
use lapin::types::AMQPValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::header_values::{get, get_number, get_text, number, text};
use crate::publisher::headers as names;
use crate::topology::{DELIVERY_LIMIT, Topology, WorkQueue};

/// Who dead-lettered a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Killer {
    /// The consumer runner, with a reason from the handler.
    Runner,
    /// The broker (`x-death`), e.g. past the delivery limit.
    Broker,
    /// No death header at all (published to the dead-letter exchange by hand?).
    Unknown,
}

/// One dead letter, as `events dlq list` and the dashboard show it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// The message id (the envelope id), or `-` if it has none.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// When it died, RFC 3339 (second precision: AMQP timestamps are seconds).
    pub died_at: Option<String>,
    pub reason: String,
    pub by: Killer,
    /// The queue it died in: where a redrive puts it back.
    pub queue: Option<String>,
    /// Attempts at handling it, as far as the headers tell.
    pub tries: Option<i64>,
    pub user_id: Option<String>,
    pub game_id: Option<String>,
}

impl DeadLetter {
    /// What the headers (and, where they are silent, the body) say about a dead letter.
    pub fn read(properties: &BasicProperties, body: &[u8]) -> Self {
        let peek: Option<Peek> = serde_json::from_slice(body).ok();
        let id = properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string())
            .or_else(|| peek.as_ref().map(|p| p.id.to_string()))
            .unwrap_or_else(|| "-".into());
        let event_type = properties
            .kind()
            .as_ref()
            .map(|kind| kind.to_string())
            .or_else(|| peek.as_ref().map(|p| p.event_type.clone()));
        let user_id = get_text(properties, names::USER_ID)
            .or_else(|| peek.as_ref()?.data.user_id.map(|u| u.to_string()));
        let game_id = get_text(properties, names::GAME_ID)
            .or_else(|| peek.as_ref()?.data.game_id.map(|g| g.to_string()));
        let death = runner_death(properties)
            .or_else(|| broker_death(properties))
            .unwrap_or(Death {
                by: Killer::Unknown,
                reason: "no death headers".into(),
                queue: None,
                time: None,
                tries: None,
            });
        Self {
            id,
            event_type,
            died_at: death.time.map(rfc3339),
            reason: death.reason,
            by: death.by,
            queue: death.queue,
            tries: death.tries,
            user_id,
            game_id,
        }
    }

    /// Where a redrive sends it: the queue it died in, or, when no death header
    /// names one, the work queue its event type is bound to.
    pub fn home(&self, topology: &Topology) -> Option<String> {
        self.queue.clone().or_else(|| {
            let queue = WorkQueue::for_event_type(self.event_type.as_deref()?)?;
            Some(topology.queue(queue))
        })
    }

    /// One readable line.
    pub fn line(&self) -> String {
        let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
        format!(
            "{id}  {kind:<20}  {when:<20}  from {queue}  tries {tries}  user {user}  game {game}  by {by:?}: {reason}",
            id = self.id,
            kind = or_dash(&self.event_type),
            when = or_dash(&self.died_at),
            queue = or_dash(&self.queue),
            tries = self.tries.map_or("?".into(), |t| t.to_string()),
            user = or_dash(&self.user_id),
            game = or_dash(&self.game_id),
            by = self.by,
            reason = self.reason,
        )
    }
}

/// The envelope fields a listing needs, read without decoding the whole event
/// (a `processing.requested` body carries a recording).
#[derive(Deserialize)]
struct Peek {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    data: PeekData,
}

#[derive(Default, Deserialize)]
struct PeekData {
    #[serde(default)]
    user_id: Option<Uuid>,
    #[serde(default)]
    game_id: Option<Uuid>,
}

struct Death {
    by: Killer,
    reason: String,
    queue: Option<String>,
    time: Option<OffsetDateTime>,
    tries: Option<i64>,
}

fn runner_death(properties: &BasicProperties) -> Option<Death> {
    let reason = get_text(properties, names::DEATH_REASON)?;
    let retries = get_number(properties, names::RETRIES).unwrap_or(0);
    // Redeliveries after consumer crashes were tries too.
    let crashes = get_number(properties, "x-delivery-count").unwrap_or(0);
    Some(Death {
        by: Killer::Runner,
        reason,
        queue: get_text(properties, names::DEATH_QUEUE),
        time: get_number(properties, names::DEATH_TIME).and_then(unix_time),
        tries: Some(retries + 1 + crashes),
    })
}

fn broker_death(properties: &BasicProperties) -> Option<Death> {
    let AMQPValue::FieldArray(deaths) = get(properties, "x-death")? else {
        return None;
    };
    let AMQPValue::FieldTable(newest) = deaths.as_slice().first()? else {
        return None;
    };
    let field = |name: &str| newest.inner().get(name);
    let reason = field("reason")
        .and_then(text)
        .unwrap_or_else(|| "unknown".into());
    let tries = if reason == "delivery_limit" {
        // Delivered once, then redelivered up to the limit.
        Some(DELIVERY_LIMIT + 1)
    } else {
        field("count").and_then(number)
    };
    Some(Death {
        by: Killer::Broker,
        reason: explain(&reason),
        queue: field("queue").and_then(text),
        time: field("time").and_then(number).and_then(unix_time),
        tries,
    })
}

/// The broker's reason code, with what it means here.
fn explain(reason: &str) -> String {
    match reason {
        "delivery_limit" => format!(
            "delivery_limit: redelivered past the limit of {DELIVERY_LIMIT} (consumers crashed or \
             gave it back each time)"
        ),
        "rejected" => "rejected: a consumer rejected it without requeueing".into(),
        "expired" => "expired: its TTL ran out".into(),
        "maxlen" => "maxlen: the queue was full".into(),
        other => other.to_owned(),
    }
}

fn unix_time(seconds: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letters::fixtures::{long, with, x_death};

    #[test]
    fn the_runners_reason_queue_time_and_tries_are_read() {
        let properties = with(vec![
            (names::DEATH_REASON, long("the recording is corrupt")),
            (names::DEATH_QUEUE, long("m2m.processing")),
            (names::DEATH_TIME, AMQPValue::Timestamp(1_795_341_600)),
            (names::RETRIES, AMQPValue::LongUInt(2)),
            (names::USER_ID, long("u-1")),
        ]);
        let dead = DeadLetter::read(&properties, b"not json");
        assert_eq!(dead.by, Killer::Runner);
        assert_eq!(dead.reason, "the recording is corrupt");
        assert_eq!(dead.queue.as_deref(), Some("m2m.processing"));
        assert_eq!(dead.died_at.as_deref(), Some("2026-11-22T10:00:00Z"));
        assert_eq!(dead.tries, Some(3));
        assert_eq!(
            (dead.id.as_str(), dead.user_id.as_deref()),
            ("m-1", Some("u-1"))
        );
    }

    #[test]
    fn a_broker_death_is_read_from_x_death() {
        let properties = with(vec![("x-death", x_death("delivery_limit", "m2m.jobs"))]);
        let dead = DeadLetter::read(&properties, b"{}");
        assert_eq!(dead.by, Killer::Broker);
        assert!(dead.reason.starts_with("delivery_limit"), "{}", dead.reason);
        assert_eq!(dead.queue.as_deref(), Some("m2m.jobs"));
        assert_eq!(dead.tries, Some(DELIVERY_LIMIT + 1));
    }

    #[test]
    fn the_runners_headers_win_over_retry_expiries() {
        let properties = with(vec![
            ("x-death", x_death("expired", "m2m.processing.retry")),
            (names::DEATH_REASON, long("still failing after 2 retries")),
            (names::DEATH_QUEUE, long("m2m.processing")),
        ]);
        let dead = DeadLetter::read(&properties, b"{}");
        assert_eq!(dead.by, Killer::Runner);
        assert_eq!(dead.queue.as_deref(), Some("m2m.processing"));
    }

    #[test]
    fn without_headers_the_body_names_the_letter_and_its_type_names_its_home() {
        use crate::events::{Job, TimerFiredV1};
        use crate::{Envelope, Event};
        let envelope = Envelope::new(Event::TimerFiredV1(TimerFiredV1 {
            job: Job::Backup,
            window: 3,
        }));
        let body = envelope.to_json().expect("encode");
        let dead = DeadLetter::read(&BasicProperties::default(), &body);
        assert_eq!(dead.by, Killer::Unknown);
        assert_eq!(dead.id, envelope.id.to_string());
        assert_eq!(dead.event_type.as_deref(), Some("timer.fired"));
        assert_eq!(dead.queue, None);
        assert_eq!(
            dead.home(&Topology::new("blue")).as_deref(),
            Some("blue.jobs")
        );
    }

    #[test]
    fn the_recorded_queue_is_home_whatever_the_type() {
        let properties = with(vec![
            (names::DEATH_REASON, long("boom")),
            (names::DEATH_QUEUE, long("blue.processing")),
        ]);
        let dead = DeadLetter::read(&properties, b"not json");
        assert_eq!(
            dead.home(&Topology::new("blue")).as_deref(),
            Some("blue.processing")
        );
        let nameless = DeadLetter::read(&BasicProperties::default(), b"not json");
        assert_eq!(
            (nameless.id.as_str(), nameless.home(&Topology::new("blue"))),
            ("-", None)
        );
    }
}

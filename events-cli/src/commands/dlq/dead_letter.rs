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

use serde::Serialize;
use shared_events::lapin::BasicProperties;
use shared_events::lapin::types::{AMQPValue, FieldTable};
use shared_events::publisher::headers as names;
use shared_events::topology::DELIVERY_LIMIT;
use time::OffsetDateTime;

use crate::headers::{get, get_number, get_text, number, text};
use crate::position::rfc3339;
use crate::record::Peek;

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

/// One dead letter, as `dlq list` shows it.
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
    /// The queue it died in: where `redrive` puts it back.
    pub queue: Option<String>,
    /// Attempts at handling it, as far as the headers tell.
    pub tries: Option<i64>,
    pub user_id: Option<String>,
    pub game_id: Option<String>,
}

impl DeadLetter {
    pub fn read(properties: &BasicProperties, body: &[u8]) -> Self {
        let peek = Peek::of(body).ok();
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

/// Headers a redriven message must not keep: its death, its retry count, and the
/// broker's delivery count, so it starts over as a fresh message.
pub const DEATH_HEADERS: [&str; 6] = [
    "x-death",
    "x-first-death-*",
    "x-last-death-*",
    "x-m2m-death-*",
    names::RETRIES,
    "x-delivery-count",
];

/// The properties of a redriven copy: death headers and any TTL removed, the
/// rest (ids, type, timestamp, content type, persistence) kept. `user_id` is
/// dropped too: the broker refuses a publish whose `user_id` is not the
/// connection's user.
pub fn revived(properties: &BasicProperties) -> BasicProperties {
    let headers: FieldTable = crate::headers::without(properties, &DEATH_HEADERS);
    let mut fresh = BasicProperties::default().with_headers(headers);
    if let Some(v) = properties.content_type() {
        fresh = fresh.with_content_type(v.clone());
    }
    if let Some(v) = properties.content_encoding() {
        fresh = fresh.with_content_encoding(v.clone());
    }
    if let Some(v) = properties.delivery_mode() {
        fresh = fresh.with_delivery_mode(*v);
    }
    if let Some(v) = properties.priority() {
        fresh = fresh.with_priority(*v);
    }
    if let Some(v) = properties.correlation_id() {
        fresh = fresh.with_correlation_id(v.clone());
    }
    if let Some(v) = properties.reply_to() {
        fresh = fresh.with_reply_to(v.clone());
    }
    if let Some(v) = properties.message_id() {
        fresh = fresh.with_message_id(v.clone());
    }
    if let Some(v) = properties.timestamp() {
        fresh = fresh.with_timestamp(*v);
    }
    if let Some(v) = properties.kind() {
        fresh = fresh.with_type(v.clone());
    }
    if let Some(v) = properties.app_id() {
        fresh = fresh.with_app_id(v.clone());
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_events::lapin::types::{FieldArray, LongString};

    fn long(value: &str) -> AMQPValue {
        AMQPValue::LongString(LongString::from(value))
    }

    fn with(entries: Vec<(&str, AMQPValue)>) -> BasicProperties {
        let mut headers = FieldTable::default();
        for (name, value) in entries {
            headers.insert(name.into(), value);
        }
        BasicProperties::default()
            .with_message_id("m-1".into())
            .with_type("reconciliation.ready".into())
            .with_headers(headers)
    }

    fn x_death(reason: &str, queue: &str) -> AMQPValue {
        let mut entry = FieldTable::default();
        entry.insert("reason".into(), long(reason));
        entry.insert("queue".into(), long(queue));
        entry.insert("count".into(), AMQPValue::LongLongInt(1));
        entry.insert("time".into(), AMQPValue::Timestamp(1_795_341_600));
        let mut deaths = FieldArray::default();
        deaths.push(AMQPValue::FieldTable(entry));
        AMQPValue::FieldArray(deaths)
    }

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
    fn a_revived_copy_has_no_death_no_retries_and_no_ttl() {
        let properties = with(vec![
            ("x-death", x_death("delivery_limit", "m2m.jobs")),
            ("x-first-death-queue", long("m2m.jobs")),
            (names::DEATH_REASON, long("boom")),
            (names::RETRIES, AMQPValue::LongUInt(2)),
            (names::USER_ID, long("u-1")),
        ])
        .with_expiration("300".into());
        let copy = revived(&properties);
        let headers = copy.headers().clone().unwrap_or_default();
        let names: Vec<_> = headers
            .inner()
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect();
        assert_eq!(names, [names::USER_ID]);
        assert_eq!(copy.expiration(), &None);
        assert_eq!(copy.message_id(), properties.message_id());
        assert_eq!(copy.kind(), properties.kind());
    }
}

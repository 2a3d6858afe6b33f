//! A dead letter made fresh again: what a redrive publishes.

use lapin::BasicProperties;
use lapin::types::FieldTable;

use crate::header_values::without;
use crate::publisher::headers as names;

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
    let headers: FieldTable = without(properties, &DEATH_HEADERS);
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
    use crate::dead_letters::fixtures::{long, with, x_death};
    use lapin::types::AMQPValue;

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

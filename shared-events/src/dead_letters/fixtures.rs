//! Message properties for the dead-letter modules' unit tests.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString};

pub fn long(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// A `reconciliation.ready` message `m-1` with these headers.
pub fn with(entries: Vec<(&str, AMQPValue)>) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in entries {
        headers.insert(name.into(), value);
    }
    BasicProperties::default()
        .with_message_id("m-1".into())
        .with_type("reconciliation.ready".into())
        .with_headers(headers)
}

/// An `x-death` header as the broker writes it, with one death.
pub fn x_death(reason: &str, queue: &str) -> AMQPValue {
    let mut entry = FieldTable::default();
    entry.insert("reason".into(), long(reason));
    entry.insert("queue".into(), long(queue));
    entry.insert("count".into(), AMQPValue::LongLongInt(1));
    entry.insert("time".into(), AMQPValue::Timestamp(1_795_341_600));
    let mut deaths = FieldArray::default();
    deaths.push(AMQPValue::FieldTable(entry));
    AMQPValue::FieldArray(deaths)
}

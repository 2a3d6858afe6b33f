//! Reading and rewriting AMQP header values, whichever types the sender chose.
//!
//! The broker and other clients pick different string and integer types for the
//! same header (`x-death` counts are `long`, ours `long long`...), so readers ask
//! for text or a number and get it from any of them.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};

/// The header `name`, if present.
pub fn get<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(name)
}

/// A header as text, whichever string type the sender used.
pub fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(text) => Some(text.to_string()),
        AMQPValue::ShortString(text) => Some(text.to_string()),
        _ => None,
    }
}

/// A header as a number, whichever integer type the sender used (the broker and
/// other clients pick different widths for the same header).
pub fn number(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

pub fn get_text(properties: &BasicProperties, name: &str) -> Option<String> {
    get(properties, name).and_then(text)
}

pub fn get_number(properties: &BasicProperties, name: &str) -> Option<i64> {
    get(properties, name).and_then(number)
}

/// A header value as people read it: text as text, tables and arrays nested.
pub fn show(value: &AMQPValue) -> String {
    match value {
        AMQPValue::FieldArray(items) => {
            let items: Vec<_> = items.as_slice().iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        AMQPValue::FieldTable(table) => {
            let entries: Vec<_> = table
                .into_iter()
                .map(|(name, value)| format!("{name}: {}", show(value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => text(other)
            .or_else(|| number(other).map(|n| n.to_string()))
            .unwrap_or_else(|| format!("{other:?}")),
    }
}

/// The headers without those `drop` names (exactly, or by prefix when it ends in `*`).
pub fn without(properties: &BasicProperties, drop: &[&str]) -> FieldTable {
    let mut kept = FieldTable::default();
    if let Some(headers) = properties.headers() {
        for (name, value) in headers {
            let name_str = name.as_str();
            let dropped = drop.iter().any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name_str.starts_with(prefix),
                None => name_str == *pattern,
            });
            if !dropped {
                kept.insert(name.clone(), value.clone());
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::LongString;

    #[test]
    fn without_drops_exact_names_and_prefixes() {
        let mut headers = FieldTable::default();
        for name in [
            "x-death",
            "x-m2m-death-reason",
            "x-m2m-death-queue",
            "x-m2m-user-id",
        ] {
            headers.insert(name.into(), AMQPValue::LongString(LongString::from("v")));
        }
        let properties = BasicProperties::default().with_headers(headers);
        let kept = without(&properties, &["x-death", "x-m2m-death-*"]);
        let names: Vec<_> = kept.inner().keys().map(|k| k.as_str().to_owned()).collect();
        assert_eq!(names, ["x-m2m-user-id"]);
    }

    #[test]
    fn numbers_of_any_width_are_read() {
        assert_eq!(number(&AMQPValue::LongUInt(3)), Some(3));
        assert_eq!(number(&AMQPValue::LongLongInt(-4)), Some(-4));
        assert_eq!(number(&AMQPValue::Boolean(true)), None);
    }
}

//! Property tests of everything a consumer decodes from the bus: the envelope and
//! its events, the base64 + zstd recording, and the `sensors` JSON inside it.
//!
//! A message body is input nobody vouches for (a replay of an old stream, a buggy
//! producer, a hand-made `events` publish), so each decoder must answer any bytes
//! with a value or an error, never a panic, and never allocate past its limit.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;
use serde_json::{Value, json};
use shared_events::events::{
    EncodedRecording, GameOutcome, Job, ProcessingEventV1, ReconciliationEventV1, TimerFiredV1,
};
use shared_events::recording::{Recording, SAMPLE_RATE_RANGE_HZ};
use shared_events::{Envelope, Event};
use time::OffsetDateTime;
use uuid::Uuid;

/// Enough cases to reach the decoders' branches, few enough to take a second or two.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Non-finite doubles become `null` in serde_json, which is fine here.
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A value that is sometimes right for an envelope field and often not.
fn field_or_junk(good: Value) -> impl Strategy<Value = Value> {
    prop_oneof![12 => Just(good), 1 => json_value()]
}

fn uuid_value() -> impl Strategy<Value = Value> {
    any::<u128>().prop_map(|n| Value::from(Uuid::from_u128(n).to_string()))
}

/// An envelope-shaped object whose fields are each valid, junk or missing, with a
/// type and version that name a real schema often enough to reach `data` decoding.
fn envelope_like() -> impl Strategy<Value = Value> {
    // A real event's type and data, each then kept, swapped or damaged.
    let type_and_data = (any_event(), 0u8..10, json_value(), any::<String>()).prop_flat_map(
        |(event, choice, junk, other_type)| {
            let event_type = Value::from(event.event_type());
            let data = data_of(event);
            match choice {
                0 => Just((event_type, junk)).boxed(),
                1 => Just((Value::from(other_type), data)).boxed(),
                2..=3 => drop_or_corrupt_a_field(data)
                    .prop_map(move |data| (event_type.clone(), data))
                    .boxed(),
                _ => Just((event_type, data)).boxed(),
            }
        },
    );
    let version = prop_oneof![
        12 => Just(json!(1)),
        1 => any::<i64>().prop_map(Value::from),
        1 => json_value(),
    ];
    (
        uuid_value().prop_flat_map(field_or_junk),
        type_and_data,
        version,
        field_or_junk(json!("2026-11-22T10:01:00.123Z")),
        uuid_value().prop_flat_map(field_or_junk),
        field_or_junk(Value::Null),
        // Most fields are kept; a dropped one exercises "missing field".
        prop::collection::vec(prop::bool::weighted(0.97), 7),
    )
        .prop_map(
            |(id, (event_type, data), version, at, correlation, causation, keep)| {
                let fields = [
                    ("id", id),
                    ("type", event_type),
                    ("version", version),
                    ("occurred_at", at),
                    ("correlation_id", correlation),
                    ("causation_id", causation),
                    ("data", data),
                ];
                let object = fields
                    .into_iter()
                    .zip(keep)
                    .filter(|(_, keep)| *keep)
                    .map(|((name, value), _)| (name.to_owned(), value))
                    .collect();
                Value::Object(object)
            },
        )
}

/// The `data` of an event, as JSON.
fn data_of(event: Event) -> Value {
    let json = Envelope::new(event)
        .to_json()
        .expect("a valid event encodes");
    let mut value: Value = serde_json::from_slice(&json).expect("valid JSON");
    value["data"].take()
}

/// `data` with one field removed or replaced by junk.
fn drop_or_corrupt_a_field(data: Value) -> impl Strategy<Value = Value> {
    let names: Vec<String> = data
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let count = names.len().max(1);
    (0..count, json_value(), any::<bool>()).prop_map(move |(i, junk, drop)| {
        let mut data = data.clone();
        if let (Some(object), Some(name)) = (data.as_object_mut(), names.get(i)) {
            if drop {
                object.remove(name);
            } else {
                object.insert(name.clone(), junk);
            }
        }
        data
    })
}

fn any_time() -> impl Strategy<Value = OffsetDateTime> {
    // Years 0001-9999, the range RFC 3339 can write, with nanoseconds.
    (-62_135_596_800_i64..253_402_300_799, 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
        OffsetDateTime::from_unix_timestamp(secs)
            .expect("in range")
            .replace_nanosecond(nanos)
            .expect("valid nanoseconds")
    })
}

fn any_uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn any_event() -> impl Strategy<Value = Event> {
    let processing = (
        any_uuid(),
        any_uuid(),
        any::<String>(),
        any::<i64>(),
        any_time(),
        any_time(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(user_id, game_id, exercise, score, started_at, ended_at, frame)| {
                Event::ProcessingV1(ProcessingEventV1 {
                    user_id,
                    game_id,
                    exercise,
                    score,
                    started_at,
                    ended_at,
                    recording: EncodedRecording::from_compressed(&frame),
                })
            },
        );
    let reconciliation = (
        any_uuid(),
        any_uuid(),
        any::<String>(),
        prop::option::of(any::<String>()),
        any::<String>(),
    )
        .prop_map(|(user_id, game_id, exercise, failure, analytics_version)| {
            Event::ReconciliationV1(ReconciliationEventV1 {
                user_id,
                game_id,
                exercise,
                outcome: match failure {
                    None => GameOutcome::Processed,
                    Some(reason) => GameOutcome::Failed { reason },
                },
                analytics_version,
            })
        });
    let timer = (any::<bool>(), any::<i64>()).prop_map(|(sync, window)| {
        Event::TimerFiredV1(TimerFiredV1 {
            job: if sync { Job::Sync } else { Job::Backup },
            window,
        })
    });
    prop_oneof![processing, reconciliation, timer]
}

fn an_envelope() -> impl Strategy<Value = Envelope> {
    (
        any_event(),
        any_time(),
        any_uuid(),
        prop::option::of(any_uuid()),
    )
        .prop_map(
            |(event, occurred_at, correlation_id, causation_id)| Envelope {
                id: Uuid::now_v7(),
                occurred_at,
                correlation_id,
                causation_id,
                event,
            },
        )
}

/// A valid envelope's bytes with a few bytes overwritten and maybe truncated.
fn damaged_envelope() -> impl Strategy<Value = Vec<u8>> {
    (
        an_envelope(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(envelope, edits, cut, truncate)| {
            let mut bytes = envelope.to_json().expect("encodes");
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_decode_to_an_envelope_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::from_json(&bytes);
    }

    #[test]
    fn arbitrary_json_decodes_to_an_envelope_or_an_error(value in json_value()) {
        let bytes = serde_json::to_vec(&value).expect("a value serialises");
        prop_assert!(Envelope::from_json(&bytes).is_err(), "not an envelope: {value}");
    }

    #[test]
    fn envelope_shaped_json_decodes_to_an_envelope_or_an_error(value in envelope_like()) {
        let bytes = serde_json::to_vec(&value).expect("a value serialises");
        if let Ok(envelope) = Envelope::from_json(&bytes) {
            // Whatever decodes re-encodes and decodes to the same envelope.
            let again = Envelope::from_json(&envelope.to_json().expect("encodes"));
            prop_assert_eq!(again.ok(), Some(envelope));
        }
    }

    #[test]
    fn a_damaged_envelope_decodes_to_an_envelope_or_an_error(bytes in damaged_envelope()) {
        let _ = Envelope::from_json(&bytes);
    }

    #[test]
    fn every_event_survives_the_wire(envelope in an_envelope()) {
        let bytes = envelope.to_json().expect("encodes");
        prop_assert_eq!(Envelope::from_json(&bytes).expect("decodes"), envelope);
    }

    #[test]
    fn an_arbitrary_recording_decodes_within_its_limit_or_fails(
        content_type in prop_oneof![Just(EncodedRecording::CONTENT_TYPE.to_owned()), any::<String>()],
        content_encoding in prop_oneof![Just(EncodedRecording::CONTENT_ENCODING.to_owned()), any::<String>()],
        data in prop_oneof![any::<String>(), prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| BASE64.encode(b))],
        limit in 0usize..4096,
    ) {
        let recording = EncodedRecording { content_type, content_encoding, data };
        let _ = recording.compressed_bytes();
        if let Ok(json) = recording.to_json(limit) {
            prop_assert!(json.len() <= limit);
        }
    }

    #[test]
    fn a_zstd_frame_decodes_exactly_when_it_fits_the_limit(
        content in prop::collection::vec(any::<u8>(), 0..2048),
        limit in 0usize..3000,
    ) {
        let recording = EncodedRecording::from_json(&content).expect("compresses");
        match recording.to_json(limit) {
            Ok(json) => prop_assert_eq!(json, content),
            Err(_) => prop_assert!(content.len() > limit, "{} bytes fit {limit}", content.len()),
        }
    }

    #[test]
    fn a_damaged_zstd_frame_fails_or_stays_within_the_limit(
        content in prop::collection::vec(any::<u8>(), 1..2048),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        limit in 1usize..4096,
    ) {
        let mut frame = zstd::bulk::compress(&content, 3).expect("compresses");
        for (at, byte) in edits {
            let i = at.index(frame.len());
            frame[i] = byte;
        }
        if let Ok(json) = EncodedRecording::from_compressed(&frame).to_json(limit) {
            prop_assert!(json.len() <= limit);
        }
    }

    #[test]
    fn arbitrary_bytes_parse_to_a_recording_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Recording::parse_sensors_json(&bytes);
        let _ = Recording::parse_json(&bytes);
    }

    #[test]
    fn a_parsed_recording_keeps_every_promise(value in sensors_like()) {
        let bytes = serde_json::to_vec(&value).expect("serialises");
        if let Ok(recording) = Recording::parse_sensors_json(&bytes) {
            prop_assert!(SAMPLE_RATE_RANGE_HZ.contains(&recording.sample_rate_hz()));
            prop_assert!(!recording.is_empty());
            let len = recording.len();
            let mut channels: Vec<&[f64]> =
                recording.angles_deg().values().map(Vec::as_slice).collect();
            for sensor in [recording.gyro_dps(), recording.accel_ms2()].into_iter().flatten() {
                channels.extend(sensor.axes());
            }
            channels.extend(recording.grip_force_n());
            prop_assert!(!recording.angles_deg().is_empty());
            for channel in channels {
                prop_assert_eq!(channel.len(), len);
                prop_assert!(channel.iter().all(|v| v.is_finite()));
            }
        }
    }
}

/// A `sensors` object whose parts are each right, wrong or missing: rates around and
/// outside the accepted range, known and unknown joints, channels of unequal lengths,
/// and numbers from tiny to the edge of a double.
fn sensors_like() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        4 => -360.0f64..360.0,
        1 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        1 => Just(f64::MAX),
        1 => Just(f64::MIN_POSITIVE),
    ];
    let channel = move |len: usize| prop::collection::vec(number.clone(), len..=len);
    let joint = prop_oneof![
        3 => Just("index_mcp".to_owned()),
        3 => Just("thumb_ip".to_owned()),
        3 => Just("little_dip".to_owned()),
        1 => "[a-z_]{0,12}",
    ];
    let rate = prop_oneof![
        2 => Just(json!(20)),
        2 => Just(json!(1000)),
        4 => (0.0f64..2000.0).prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => json_value(),
    ];
    let skew = prop_oneof![4 => Just(0usize), 1 => 1usize..3];
    (0usize..40, skew, rate).prop_flat_map(move |(len, skew, rate)| {
        let other = len + skew; // Unequal lengths when skew > 0.
        (
            Just(rate),
            prop::collection::btree_map(joint.clone(), channel(len), 0..4),
            prop::option::of((channel(other), channel(len), channel(len))),
            prop::option::of(channel(len)),
            prop::option::weighted(0.2, json_value()),
        )
            .prop_map(|(rate, angles, gyro, grip, extra)| {
                let mut sensors = json!({ "sample_rate_hz": rate, "angles_deg": angles });
                if let Some((x, y, z)) = gyro {
                    sensors["gyro_dps"] = json!({ "x": x, "y": y, "z": z });
                }
                if let Some(grip) = grip {
                    sensors["grip_force_n"] = json!(grip);
                }
                if let Some(extra) = extra {
                    // Unknown fields are refused; so is junk in place of a channel.
                    sensors["accel_ms2"] = extra;
                }
                sensors
            })
    })
}

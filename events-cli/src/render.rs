//! How events are printed: one JSON object per line, or one readable line.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared_events::events::GameOutcome;
use shared_events::{Envelope, Event};
use uuid::Uuid;

use crate::position::rfc3339;

/// The JSON line of one event: its stream offset, then the envelope's fields in
/// the documented order (`docs/events.md`).
#[derive(Serialize)]
struct Line<'a> {
    offset: u64,
    #[serde(flatten)]
    envelope: WireEnvelope,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing_key: Option<&'a str>,
}

#[derive(Serialize, Deserialize)]
struct WireEnvelope {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    version: u32,
    occurred_at: String,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
    data: Value,
}

/// A body that is not an envelope still gets a line, so a tail never stops on it.
#[derive(Serialize)]
struct Undecodable {
    offset: u64,
    undecodable: String,
    body_bytes: usize,
}

/// The JSON line for the event in `body` at `offset`. Unless `full`, the
/// recording's base64 data is replaced by a placeholder giving its length:
/// a terminal full of base64 helps nobody.
pub fn json_line(offset: u64, body: &[u8], full: bool) -> String {
    let line = match serde_json::from_slice::<WireEnvelope>(body) {
        Ok(mut envelope) => {
            if !full {
                shorten_recording(&mut envelope.data);
            }
            serde_json::to_string(&Line {
                offset,
                envelope,
                routing_key: None,
            })
        }
        Err(error) => serde_json::to_string(&Undecodable {
            offset,
            undecodable: error.to_string(),
            body_bytes: body.len(),
        }),
    };
    // Serialising these plain structs cannot fail; say so rather than panic.
    line.unwrap_or_else(|error| format!(r#"{{"offset":{offset},"error":"{error}"}}"#))
}

/// The body as pretty JSON (for `dlq show`), recording shortened unless `full`.
pub fn pretty_body(body: &[u8], full: bool) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            if !full && let Some(data) = value.get_mut("data") {
                shorten_recording(data);
            }
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }
        Err(_) => format!(
            "({} bytes, not JSON) {}",
            body.len(),
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ),
    }
}

fn shorten_recording(data: &mut Value) {
    if let Some(recording) = data.get_mut("recording").and_then(Value::as_object_mut)
        && let Some(Value::String(base64)) = recording.get("data")
    {
        let placeholder = format!("<{} bytes of base64; --full to show>", base64.len());
        recording.insert("data".into(), Value::String(placeholder));
    }
}

/// One readable line: offset, time, type, ids, and what the event says.
pub fn pretty_line(offset: u64, body: &[u8]) -> String {
    let envelope = match Envelope::from_json(body) {
        Ok(envelope) => envelope,
        Err(error) => return format!("#{offset:<8} undecodable ({} bytes): {error}", body.len()),
    };
    let what = match &envelope.event {
        Event::ProcessingV1(e) => format!(
            "user={} game={} exercise={} score={} recording={}B",
            e.user_id,
            e.game_id,
            e.exercise,
            e.score,
            e.recording.data.len()
        ),
        Event::ReconciliationV1(e) => {
            let outcome = match &e.outcome {
                GameOutcome::Processed => "processed".to_owned(),
                GameOutcome::Failed { reason } => format!("failed ({reason})"),
            };
            format!(
                "user={} game={} exercise={} outcome={outcome} analytics={}",
                e.user_id, e.game_id, e.exercise, e.analytics_version
            )
        }
        Event::ReconciliationV2(e) => format!(
            "user={} game={} exercise={} outcome={} analytics={} revision={} sessions={}",
            e.user_id,
            e.game_id,
            e.exercise,
            match &e.result.outcome {
                GameOutcome::Processed => "processed".to_owned(),
                GameOutcome::Failed { reason } => format!("failed ({reason})"),
            },
            e.result.analytics_version,
            e.result.revision,
            e.progress.as_ref().map_or(0, |p| p.session_count)
        ),
        Event::TimerFiredV1(e) => format!("job={} window={}", e.job.as_str(), e.window),
        Event::JobCompletedV1(e) => format!("job={} window={}", e.job.as_str(), e.window),
        Event::FeedAppendedV1(e) => format!(
            "user={} game={} exercise={} seq={} change={}",
            e.user_id, e.game_id, e.exercise, e.seq, e.change
        ),
    };
    format!(
        "#{offset:<8} {} {:<21} id={} {what}",
        rfc3339(envelope.occurred_at),
        format!(
            "{} v{}",
            envelope.event.event_type(),
            envelope.event.version()
        ),
        envelope.id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_events::events::{EncodedRecording, ProcessingEventV1};
    use time::OffsetDateTime;

    fn processing() -> Envelope {
        Envelope::new(Event::ProcessingV1(ProcessingEventV1 {
            user_id: Uuid::now_v7(),
            game_id: Uuid::now_v7(),
            exercise: "piano".into(),
            score: 10,
            started_at: OffsetDateTime::now_utc(),
            ended_at: OffsetDateTime::now_utc(),
            recording: EncodedRecording::from_json(&[b'1'; 4000]).expect("compress"),
        }))
    }

    #[test]
    fn a_json_line_carries_the_offset_and_the_envelope_but_not_the_recording() {
        let envelope = processing();
        let body = envelope.to_json().expect("encode");
        let line: Value = serde_json::from_str(&json_line(7, &body, false)).expect("json");
        assert_eq!(line["offset"], 7);
        assert_eq!(line["id"], envelope.id.to_string());
        assert_eq!(line["type"], "processing.requested");
        let data = line["data"]["recording"]["data"].as_str().expect("text");
        assert!(data.contains("bytes of base64"), "{data}");
    }

    #[test]
    fn full_keeps_the_recording() {
        let envelope = processing();
        let body = envelope.to_json().expect("encode");
        let Event::ProcessingV1(event) = &envelope.event else {
            unreachable!("built as processing")
        };
        let line: Value = serde_json::from_str(&json_line(7, &body, true)).expect("json");
        assert_eq!(line["data"]["recording"]["data"], event.recording.data);
    }

    #[test]
    fn garbage_gets_a_line_too() {
        let line: Value = serde_json::from_str(&json_line(3, b"\x00nope", false)).expect("json");
        assert_eq!(line["offset"], 3);
        assert_eq!(line["body_bytes"], 5);
        assert!(pretty_line(3, b"nope").contains("undecodable"));
    }

    #[test]
    fn a_pretty_line_says_what_happened() {
        let line = pretty_line(12, &processing().to_json().expect("encode"));
        assert!(line.starts_with("#12"), "{line}");
        assert!(
            line.contains("processing.requested v1") && line.contains("score=10"),
            "{line}"
        );
    }
}

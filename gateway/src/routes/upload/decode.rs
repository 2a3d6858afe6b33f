//! Turning a `POST /game` body into a validated upload: gunzip (bounded), parse,
//! validate, hash and compress. The body is read twice: once for its fields with
//! `sensors` left as text, once to check the recording without keeping its values
//! (`Recording::check_sensors_json`); the text is what gets compressed. CPU work on ~1 MB, so the handler runs it on a
//! blocking thread (`docs/broker-notes.md` item 7).

use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use shared_events::events::EncodedRecording;
use shared_events::recording::Recording;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::scores::is_valid_exercise;

/// zstd level 1, not the contract's default 3: compression was ~45% of the gateway's
/// CPU per upload at level 3 (profiled under `benches/upload_load.rs`), and level 1
/// makes a frame any zstd reader decodes the same way.
const ZSTD_LEVEL: i32 = 1;

/// The body as sent; `sensors` stays raw JSON text until the recording validates it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadBody<'a> {
    exercise: String,
    score: i64,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    ended_at: OffsetDateTime,
    #[serde(borrow)]
    sensors: &'a RawValue,
}

/// A valid upload, ready to store and publish.
#[derive(Debug)]
pub struct Upload {
    pub exercise: String,
    pub score: i64,
    pub started_at: OffsetDateTime,
    pub ended_at: OffsetDateTime,
    /// Hex SHA-256 of the decompressed body.
    pub request_hash: String,
    pub recording: EncodedRecording,
    /// The compressed recording, for the store.
    pub recording_bytes: Vec<u8>,
}

/// Decodes and validates a body; `gzip` when it came with `Content-Encoding: gzip`.
pub fn decode(body: &[u8], gzip: bool, limit: usize) -> Result<Upload, ApiError> {
    let inflated;
    let json = if gzip {
        inflated = gunzip(body, limit)?;
        &inflated[..]
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let parsed: UploadBody<'_> = serde_path_to_error::deserialize(&mut de).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::Validation {
                field: (path != ".").then_some(path),
                message: inner.to_string(),
            },
            _ => ApiError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;

    if !is_valid_exercise(&parsed.exercise) {
        return Err(ApiError::validation(
            "exercise",
            "exercise is 1-64 of a-z, 0-9, _ and -, starting with a letter",
        ));
    }
    if parsed.score < 0 {
        return Err(ApiError::validation("score", "score is not negative"));
    }
    if parsed.started_at > parsed.ended_at {
        return Err(ApiError::validation(
            "ended_at",
            "ended_at is not before started_at",
        ));
    }
    let sensors = parsed.sensors.get().as_bytes();
    Recording::check_sensors_json(sensors).map_err(|error| {
        ApiError::validation(
            error.path(),
            format!("{}: {}", error.path(), error.reason()),
        )
    })?;
    let request_hash = hex(&Sha256::digest(json));
    let recording_bytes = zstd::bulk::compress(sensors, ZSTD_LEVEL).map_err(|e| {
        ApiError::Unexpected(anyhow::Error::new(e).context("Failed to compress a recording"))
    })?;
    let recording = EncodedRecording::from_compressed(&recording_bytes);
    Ok(Upload {
        exercise: parsed.exercise,
        score: parsed.score,
        started_at: parsed.started_at,
        ended_at: parsed.ended_at,
        request_hash,
        recording,
        recording_bytes,
    })
}

/// Gunzips `body`, refusing (413) output past `limit` bytes without ever holding
/// more than `limit` bytes: the output grows by chunks and its capacity is reserved
/// exactly, so a gzip bomb costs at most `limit` of memory.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut decoder = flate2::read::MultiGzDecoder::new(body);
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = decoder
            .read(&mut chunk)
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid gzip: {e}")))?;
        if read == 0 {
            return Ok(out);
        }
        let needed = out.len() + read;
        if needed > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        if needed > out.capacity() {
            let target = (out.capacity() * 2).max(needed).min(limit);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..read]);
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("compress");
        encoder.finish().expect("finish")
    }

    fn body(sensors: &str) -> String {
        format!(
            r#"{{"exercise":"piano","score":5,"started_at":"2026-11-22T10:00:00Z",
            "ended_at":"2026-11-22T10:01:00Z","sensors":{sensors}}}"#
        )
    }

    const SENSORS: &str = r#"{"sample_rate_hz":100,"angles_deg":{"index_mcp":[1,2,3]}}"#;

    fn field_of(error: ApiError) -> Option<String> {
        match error {
            ApiError::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_body_decodes_and_its_recording_round_trips() {
        let upload = decode(body(SENSORS).as_bytes(), false, 1 << 20).expect("valid");
        assert_eq!(upload.exercise, "piano");
        assert_eq!(
            upload.recording.to_json(1 << 20).expect("zstd"),
            SENSORS.as_bytes()
        );
        assert_eq!(upload.request_hash.len(), 64);
    }

    #[test]
    fn a_gzip_body_hashes_like_its_plain_text() {
        let plain = decode(body(SENSORS).as_bytes(), false, 1 << 20).expect("plain");
        let zipped = decode(&gzip(body(SENSORS).as_bytes()), true, 1 << 20).expect("gzip");
        assert_eq!(plain.request_hash, zipped.request_hash);
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_limit() {
        let bomb = gzip(&vec![b' '; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        assert!(matches!(
            gunzip(&bomb, 1 << 20),
            Err(ApiError::PayloadTooLarge)
        ));
    }

    #[test]
    fn output_capacity_never_exceeds_the_limit() {
        let data = vec![b'x'; 300_000];
        let out = gunzip(&gzip(&data), 300_000).expect("fits exactly");
        assert!(out.capacity() <= 300_000);
    }

    #[test]
    fn broken_gzip_and_broken_json_are_bad_requests() {
        assert!(matches!(
            decode(b"not gzip", true, 1 << 20),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            decode(b"{\"exercise\": ", false, 1 << 20),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn schema_errors_name_their_field() {
        let wrong_type = body(r#"{"sample_rate_hz":100,"angles_deg":{"index_mcp":[1,"x",3]}}"#);
        let error = decode(wrong_type.as_bytes(), false, 1 << 20).expect_err("refused");
        assert_eq!(
            field_of(error).as_deref(),
            Some("sensors.angles_deg.index_mcp[1]")
        );
        let bad_score = body(SENSORS).replace("\"score\":5", "\"score\":\"five\"");
        let error = decode(bad_score.as_bytes(), false, 1 << 20).expect_err("refused");
        assert_eq!(field_of(error).as_deref(), Some("score"));
        let bad_exercise = body(SENSORS).replace("piano", "Piano!");
        let error = decode(bad_exercise.as_bytes(), false, 1 << 20).expect_err("refused");
        assert_eq!(field_of(error).as_deref(), Some("exercise"));
    }

    #[test]
    fn a_number_too_large_for_a_double_is_refused_with_its_path() {
        let infinite = body(r#"{"sample_rate_hz":100,"angles_deg":{"index_mcp":[1,1e999,3]}}"#);
        let error = decode(infinite.as_bytes(), false, 1 << 20).expect_err("refused");
        assert_eq!(
            field_of(error).as_deref(),
            Some("sensors.angles_deg.index_mcp[1]")
        );
    }

    #[test]
    fn a_game_cannot_end_before_it_starts() {
        let reversed = body(SENSORS).replace("10:01:00Z", "09:59:00Z");
        let error = decode(reversed.as_bytes(), false, 1 << 20).expect_err("refused");
        assert_eq!(field_of(error).as_deref(), Some("ended_at"));
    }
}

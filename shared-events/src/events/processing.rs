//! `processing.requested`: the gateway asks a worker to analyse one game.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A game to analyse, with its recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingEventV1 {
    pub user_id: Uuid,
    pub game_id: Uuid,
    pub exercise: String,
    pub score: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    pub recording: EncodedRecording,
}

/// The glove recording as it travels on the bus and rests in the store.
///
/// `data` is the `sensors` object of `POST /game`, as JSON text, compressed with
/// zstd and written in base64. Why not plain JSON arrays: a 60 s, 100 Hz recording
/// is ~0.7 MB of JSON, and quorum queues slow sharply with message size
/// (`docs/broker-notes.md`, broker ceilings: ~240 msg/s at 1 MiB, ~2.3k at 100 KiB); zstd shrinks decimal
/// text several times and costs a few milliseconds. Why not binary doubles:
/// 8 bytes a sample compress poorly and lose nothing the JSON text did not have.
/// Every language has base64, zstd and JSON, so the contract stays readable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedRecording {
    /// Always `application/json` in version 1: what `data` holds once decompressed.
    pub content_type: String,
    /// Always `zstd` in version 1.
    pub content_encoding: String,
    /// base64 (standard alphabet, padded) of the compressed bytes.
    pub data: String,
}

/// Why a recording could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording encoding `{content_type}`/`{content_encoding}` is not supported")]
    UnsupportedEncoding {
        content_type: String,
        content_encoding: String,
    },
    #[error("recording data is not valid base64")]
    Base64(#[from] base64::DecodeError),
    #[error("recording data is not a valid zstd frame or is larger than {limit} bytes")]
    Zstd { limit: usize },
    #[error("compressing the recording failed")]
    Compress(#[source] std::io::Error),
}

impl EncodedRecording {
    pub const CONTENT_TYPE: &'static str = "application/json";
    pub const CONTENT_ENCODING: &'static str = "zstd";
    /// Level 3 is zstd's default: on recordings it compresses nearly as well as
    /// level 9 at a fraction of the time the gateway spends per upload.
    const LEVEL: i32 = 3;

    /// Compresses the JSON text of a `sensors` object.
    pub fn from_json(sensors_json: &[u8]) -> Result<Self, RecordingError> {
        let compressed =
            zstd::bulk::compress(sensors_json, Self::LEVEL).map_err(RecordingError::Compress)?;
        Ok(Self::from_compressed(&compressed))
    }

    /// Wraps a zstd frame of the `sensors` JSON compressed elsewhere (at another
    /// level, or kept for the store as well): any level decodes the same way.
    pub fn from_compressed(compressed: &[u8]) -> Self {
        Self {
            content_type: Self::CONTENT_TYPE.to_owned(),
            content_encoding: Self::CONTENT_ENCODING.to_owned(),
            data: BASE64.encode(compressed),
        }
    }

    /// The compressed bytes, e.g. to store them as BSON binary without base64.
    pub fn compressed_bytes(&self) -> Result<Vec<u8>, RecordingError> {
        self.check_encoding()?;
        Ok(BASE64.decode(&self.data)?)
    }

    /// The JSON text of the `sensors` object. `limit` bounds the decompressed size,
    /// so a hostile or corrupt message cannot make a worker allocate without bound.
    pub fn to_json(&self, limit: usize) -> Result<Vec<u8>, RecordingError> {
        let compressed = self.compressed_bytes()?;
        zstd::bulk::decompress(&compressed, limit).map_err(|_| RecordingError::Zstd { limit })
    }

    fn check_encoding(&self) -> Result<(), RecordingError> {
        if self.content_type == Self::CONTENT_TYPE
            && self.content_encoding == Self::CONTENT_ENCODING
        {
            Ok(())
        } else {
            Err(RecordingError::UnsupportedEncoding {
                content_type: self.content_type.clone(),
                content_encoding: self.content_encoding.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_survives_compression_byte_for_byte() {
        let sensors = br#"{"sample_rate_hz":100,"angles_deg":{"index_mcp":[0.1,2.5e-3,-7]}}"#;
        let encoded = EncodedRecording::from_json(sensors).expect("compress");
        assert_eq!(encoded.to_json(1 << 20).expect("decompress"), sensors);
    }

    #[test]
    fn a_frame_compressed_at_another_level_decodes_the_same() {
        let sensors = br#"{"sample_rate_hz":100,"angles_deg":{"index_mcp":[1,2,3]}}"#;
        let frame = zstd::bulk::compress(sensors, 1).expect("compress");
        let encoded = EncodedRecording::from_compressed(&frame);
        assert_eq!(encoded.compressed_bytes().expect("bytes"), frame);
        assert_eq!(encoded.to_json(1 << 20).expect("decompress"), sensors);
    }

    #[test]
    fn decompression_beyond_the_limit_is_refused() {
        let sensors = vec![b' '; 10_000];
        let encoded = EncodedRecording::from_json(&sensors).expect("compress");
        assert!(matches!(
            encoded.to_json(1_000),
            Err(RecordingError::Zstd { limit: 1_000 })
        ));
    }

    #[test]
    fn an_unknown_encoding_is_refused() {
        let mut encoded = EncodedRecording::from_json(b"{}").expect("compress");
        encoded.content_encoding = "brotli".into();
        assert!(matches!(
            encoded.to_json(100),
            Err(RecordingError::UnsupportedEncoding { .. })
        ));
    }
}

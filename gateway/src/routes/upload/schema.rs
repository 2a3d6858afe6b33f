//! The `POST /game` body as the OpenAPI description shows it. Parsing does not use
//! these types (see `decode.rs` and `shared_events::recording`); they only describe
//! what those accept, for clients.
#![allow(dead_code, reason = "types that describe the body; never built")]

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// A finished game and its glove recording. Unknown fields are refused.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadBody {
    /// 1-64 of `a-z 0-9 _ -`, starting with a letter (not `updated_time`).
    #[schema(example = "piano", pattern = "^[a-z][a-z0-9_-]{0,63}$")]
    exercise: String,
    /// The game's score, a non-negative integer.
    #[schema(minimum = 0, example = 1234)]
    score: i64,
    /// RFC 3339.
    #[schema(format = DateTime, example = "2026-11-22T10:00:00Z")]
    started_at: String,
    /// RFC 3339, not before `started_at`.
    #[schema(format = DateTime, example = "2026-11-22T10:01:00Z")]
    ended_at: String,
    sensors: Sensors,
}

/// The glove's channels. Every channel has the same length and only finite numbers;
/// the recording lasts at most 30 minutes. Unknown fields are refused.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sensors {
    #[schema(minimum = 20, maximum = 1000, example = 100)]
    sample_rate_hz: f64,
    /// Joint angles in degrees by joint, named `<finger>_<joint>` with finger in
    /// thumb/index/middle/ring/little and joint in mcp/pip/dip/ip (e.g. `index_mcp`).
    /// At least one channel.
    angles_deg: BTreeMap<String, Vec<f64>>,
    /// Gyroscope, degrees per second.
    gyro_dps: Option<Triaxial>,
    /// Accelerometer, m/s².
    accel_ms2: Option<Triaxial>,
    /// Grip force in newtons.
    grip_force_n: Option<Vec<f64>>,
}

#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Triaxial {
    x: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
}

/// The request headers of `POST /game` besides `Authorization` and `Content-Type`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct UploadHeaders {
    /// 1-255 printable ASCII characters (spaces only inside) chosen by the client; a
    /// retry reuses it.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]([ -~]*[!-~])?$"
    )]
    idempotency_key: String,
    /// `gzip` or `identity` (case-insensitive); absent means `identity`.
    // Not an `Option`: utoipa would describe an optional header as nullable, and a
    // header cannot be null.
    #[param(rename = "Content-Encoding", required = false)]
    content_encoding: ContentEncoding,
}

/// The `Content-Encoding` of the body (case-insensitive); absent means `identity`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ContentEncoding {
    Gzip,
    Identity,
}

//! The glove recording: the `sensors` object of `POST /game`, parsed and validated.
//!
//! It is part of the event contract: the gateway validates an upload with it
//! (refusing bad input with the offending field path) and a processing worker
//! parses the recording of a `processing.requested` event with it, so both agree
//! on what a valid recording is.

mod rules;
mod shape;
mod synthetic;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use rules::{ChannelStats, Shape};
pub use synthetic::synthetic_sensors_json;

/// Why a recording was refused, with the path of the offending field
/// (`sensors.angles_deg.index_mcp[17]`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordingError {
    /// The JSON does not have the expected shape or types.
    #[error("{path}: {message}")]
    Json { path: String, message: String },
    /// The recording parsed but its values break a rule (lengths, ranges, names).
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl RecordingError {
    /// The offending field's path.
    pub fn path(&self) -> &str {
        match self {
            RecordingError::Json { path, .. } | RecordingError::Invalid { path, .. } => path,
        }
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        match self {
            RecordingError::Json { message, .. } => message,
            RecordingError::Invalid { reason, .. } => reason,
        }
    }
}

/// The longest recording accepted: a game lasts minutes, and a bound keeps one
/// upload from tying up a worker for long.
pub const MAX_DURATION_S: f64 = 30.0 * 60.0;

/// The accepted sample rates, in Hz. Below 20 Hz the 0.2 s segments have four
/// samples and the tremor band passes Nyquist (section C: fs > 24 Hz for 12 Hz).
pub const SAMPLE_RATE_RANGE_HZ: std::ops::RangeInclusive<f64> = 20.0..=1000.0;

/// A finger, in anatomical order (the order of the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Finger {
    Thumb,
    Index,
    Middle,
    Ring,
    Little,
}

impl Finger {
    pub const ALL: [Finger; 5] = [
        Self::Thumb,
        Self::Index,
        Self::Middle,
        Self::Ring,
        Self::Little,
    ];

    /// The lower-case name used in joint names and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Thumb => "thumb",
            Self::Index => "index",
            Self::Middle => "middle",
            Self::Ring => "ring",
            Self::Little => "little",
        }
    }
}

/// A finger joint, proximal to distal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Joint {
    Mcp,
    Pip,
    Dip,
    Ip,
}

impl Joint {
    pub const ALL: [Joint; 4] = [Self::Mcp, Self::Pip, Self::Dip, Self::Ip];

    pub fn name(self) -> &'static str {
        match self {
            Self::Mcp => "mcp",
            Self::Pip => "pip",
            Self::Dip => "dip",
            Self::Ip => "ip",
        }
    }
}

/// An instrumented joint, named `<finger>_<joint>` on the wire (e.g. `index_pip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JointId {
    pub finger: Finger,
    pub joint: Joint,
}

impl JointId {
    /// Parses `<finger>_<joint>`; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        let (finger, joint) = name.split_once('_')?;
        let finger = Finger::ALL.into_iter().find(|f| f.name() == finger)?;
        let joint = Joint::ALL.into_iter().find(|j| j.name() == joint)?;
        Some(Self { finger, joint })
    }
}

impl fmt::Display for JointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.finger.name(), self.joint.name())
    }
}

/// Three equally long axes of one sensor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triaxial {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub z: Vec<f64>,
}

impl Triaxial {
    pub fn axes(&self) -> [&[f64]; 3] {
        [&self.x, &self.y, &self.z]
    }
}

/// The `sensors` object of a `POST /game` body, as sent (not yet validated).
///
/// Unknown fields are rejected so that a misspelt channel is an error rather than a
/// silently missing section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorsInput {
    pub sample_rate_hz: f64,
    /// Joint name → angle in degrees (flexion positive, 0 = neutral).
    pub angles_deg: BTreeMap<String, Vec<f64>>,
    /// Hand angular velocity, deg/s.
    pub gyro_dps: Option<Triaxial>,
    /// Hand acceleration, m/s² (gravity included).
    pub accel_ms2: Option<Triaxial>,
    /// Grip force, N.
    pub grip_force_n: Option<Vec<f64>>,
}

/// A validated recording: a sample rate in range, known joint names, finite values,
/// and every channel the same length (at least one sample).
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    sample_rate_hz: f64,
    angles_deg: BTreeMap<JointId, Vec<f64>>,
    gyro_dps: Option<Triaxial>,
    accel_ms2: Option<Triaxial>,
    grip_force_n: Option<Vec<f64>>,
    len: usize,
}

impl Recording {
    /// Validates `input`; error paths start with `path` (e.g. `"sensors"`).
    pub fn from_input(input: SensorsInput, path: &str) -> Result<Self, RecordingError> {
        let axes = |t: &Triaxial| t.axes().map(ChannelStats::of);
        let shape = Shape {
            sample_rate_hz: input.sample_rate_hz,
            angles_deg: input
                .angles_deg
                .iter()
                .map(|(name, values)| (name.as_str(), ChannelStats::of(values)))
                .collect(),
            gyro_dps: input.gyro_dps.as_ref().map(axes),
            accel_ms2: input.accel_ms2.as_ref().map(axes),
            grip_force_n: input.grip_force_n.as_deref().map(ChannelStats::of),
        };
        let len = shape.check(path)?;
        let angles_deg = input
            .angles_deg
            .into_iter()
            .filter_map(|(name, values)| Some((JointId::parse(&name)?, values)))
            .collect();
        Ok(Self {
            sample_rate_hz: input.sample_rate_hz,
            angles_deg,
            gyro_dps: input.gyro_dps,
            accel_ms2: input.accel_ms2,
            grip_force_n: input.grip_force_n,
            len,
        })
    }

    /// Checks a `sensors` object against every rule `parse_sensors_json` applies,
    /// without keeping its values: what the gateway needs to accept an upload, at a
    /// fraction of the cost (no path tracking unless it is refused, no vectors).
    pub fn check_sensors_json(bytes: &[u8]) -> Result<(), RecordingError> {
        match serde_json::from_slice::<shape::SensorsShape>(bytes) {
            Ok(sensors) => sensors.shape().check("sensors").map(|_| ()),
            Err(error) => Err(sensors_json_error(bytes, &error)),
        }
    }

    /// Parses and validates a `sensors` object.
    pub fn parse_sensors_json(bytes: &[u8]) -> Result<Self, RecordingError> {
        match serde_json::from_slice::<SensorsInput>(bytes) {
            Ok(input) => Self::from_input(input, "sensors"),
            Err(error) => Err(sensors_json_error(bytes, &error)),
        }
    }

    /// Parses and validates either a whole `POST /game` body (an object with a
    /// `sensors` field) or a bare `sensors` object.
    pub fn parse_json(bytes: &[u8]) -> Result<Self, RecordingError> {
        let mut value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| RecordingError::Json {
                path: "$".into(),
                message: e.to_string(),
            })?;
        let (sensors, path) = match value.get_mut("sensors") {
            Some(sensors) => (sensors.take(), "sensors"),
            None => (value, ""),
        };
        let input: SensorsInput =
            serde_path_to_error::deserialize(sensors).map_err(|e| json_error(path, &e))?;
        Self::from_input(input, path)
    }

    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// The number of samples of every channel.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a validated recording has at least one sample.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn angles_deg(&self) -> &BTreeMap<JointId, Vec<f64>> {
        &self.angles_deg
    }

    pub fn gyro_dps(&self) -> Option<&Triaxial> {
        self.gyro_dps.as_ref()
    }

    pub fn accel_ms2(&self) -> Option<&Triaxial> {
        self.accel_ms2.as_ref()
    }

    pub fn grip_force_n(&self) -> Option<&[f64]> {
        self.grip_force_n.as_deref()
    }
}

/// The error of a `sensors` object serde refused, with the offending field's path.
/// Tracking the path slows parsing by half, so only a refused recording pays for
/// it: parsed again with `serde_path_to_error`, it fails at the same place.
fn sensors_json_error(bytes: &[u8], plain: &serde_json::Error) -> RecordingError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let tracked: Result<SensorsInput, _> = serde_path_to_error::deserialize(&mut de);
    let message = match tracked {
        Err(error) => return json_error("sensors", &error),
        Ok(_) => match de.end() {
            Err(error) => error.to_string(),
            Ok(()) => plain.to_string(),
        },
    };
    RecordingError::Json {
        path: "sensors".into(),
        message,
    }
}

fn invalid(path: String, reason: String) -> RecordingError {
    RecordingError::Invalid { path, reason }
}

fn json_error<E: fmt::Display>(prefix: &str, e: &serde_path_to_error::Error<E>) -> RecordingError {
    let inner = e.path().to_string();
    let path = match (prefix.is_empty(), inner == ".") {
        (true, true) => "$".to_owned(),
        (true, false) => inner,
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{inner}"),
    };
    RecordingError::Json {
        path,
        message: e.inner().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Recording, RecordingError> {
        Recording::parse_json(json.as_bytes())
    }

    #[test]
    fn joint_names_are_finger_underscore_joint() {
        let id = JointId::parse("index_pip").expect("a known joint");
        assert_eq!((id.finger, id.joint), (Finger::Index, Joint::Pip));
        assert_eq!(id.to_string(), "index_pip");
        assert_eq!(JointId::parse("index_cmc"), None);
        assert_eq!(JointId::parse("pinky_mcp"), None);
        assert_eq!(JointId::parse("index"), None);
    }

    #[test]
    fn a_game_body_and_a_bare_sensors_object_both_parse() {
        let sensors = r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1.0, 2.0]}, "grip_force_n": [0.5, 0.25]}"#;
        let body = format!(r#"{{"exercise": "grasp", "score": 3, "sensors": {sensors}}}"#);
        let a = parse(sensors).expect("valid sensors");
        let b = parse(&body).expect("valid body");
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn floats_parse_correctly_rounded() {
        let r = parse(r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [0.1, 2.2250738585072014e-308]}}"#)
            .expect("valid");
        let x = &r.angles_deg()[&JointId {
            finger: Finger::Index,
            joint: Joint::Mcp,
        }];
        assert_eq!(x[0].to_bits(), 0.1_f64.to_bits());
        assert_eq!(x[1], f64::MIN_POSITIVE);
    }

    #[test]
    fn unequal_channel_lengths_name_the_field() {
        let err = parse(r#"{"sensors": {"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, 2]}, "gyro_dps": {"x": [1, 2], "y": [1], "z": [1, 2]}}}"#)
            .expect_err("y is short");
        assert!(
            err.to_string()
                .starts_with("sensors.gyro_dps.y: has 1 samples"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_joint_names_the_field() {
        let err = parse(r#"{"sample_rate_hz": 100, "angles_deg": {"index_knuckle": [1]}}"#)
            .expect_err("bad name");
        assert!(
            err.to_string()
                .starts_with("angles_deg.index_knuckle: unknown joint"),
            "{err}"
        );
    }

    #[test]
    fn a_sample_rate_out_of_range_is_rejected() {
        let err = parse(r#"{"sensors": {"sample_rate_hz": 10, "angles_deg": {"index_mcp": [1]}}}"#)
            .expect_err("10 Hz");
        assert!(
            err.to_string().starts_with("sensors.sample_rate_hz:"),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_element() {
        let err =
            parse(r#"{"sensors": {"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, "x"]}}}"#)
                .expect_err("a string");
        assert!(
            err.to_string()
                .starts_with("sensors.angles_deg.index_mcp[1]:"),
            "{err}"
        );
    }

    #[test]
    fn a_misspelt_channel_is_rejected() {
        let err = parse(
            r#"{"sample_rate_hz": 100, "angles_deg": {}, "gyro": {"x": [], "y": [], "z": []}}"#,
        )
        .expect_err("unknown field");
        assert!(err.to_string().contains("gyro"), "{err}");
    }

    #[test]
    fn the_synthetic_recording_is_valid_and_has_every_channel() {
        let json = synthetic_sensors_json(2, 50);
        let recording = Recording::parse_sensors_json(&json).expect("valid");
        assert_eq!(recording.len(), 100);
        assert_eq!(recording.angles_deg().len(), 10);
        assert!(recording.gyro_dps().is_some() && recording.accel_ms2().is_some());
        assert_eq!(synthetic_sensors_json(2, 50), json, "deterministic");
    }

    #[test]
    fn a_recording_needs_a_joint_angle_channel() {
        let err = parse(r#"{"sample_rate_hz": 100, "angles_deg": {}, "grip_force_n": [1, 2]}"#)
            .expect_err("no joints");
        assert_eq!(err.path(), "angles_deg");
        assert!(err.reason().contains("at least one joint"), "{err}");
    }

    #[test]
    fn a_recording_longer_than_thirty_minutes_is_rejected() {
        let samples = vec!["0"; 1801 * 20].join(",");
        let json =
            format!(r#"{{"sample_rate_hz": 20, "angles_deg": {{"index_mcp": [{samples}]}}}}"#);
        let err = parse(&json).expect_err("too long");
        assert_eq!(err.path(), "angles_deg.index_mcp");
        let exactly = vec!["0"; 1800 * 20].join(",");
        let json =
            format!(r#"{{"sample_rate_hz": 20, "angles_deg": {{"index_mcp": [{exactly}]}}}}"#);
        assert!(parse(&json).is_ok(), "30 minutes is allowed");
    }

    #[test]
    fn a_non_finite_value_names_its_index() {
        // JSON has no NaN; a number too large for f64 is how one arrives.
        let err = Recording::parse_sensors_json(
            br#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, 2, 1e999]}}"#,
        )
        .expect_err("infinite");
        assert_eq!(err.path(), "sensors.angles_deg.index_mcp[2]", "{err}");
    }

    #[test]
    fn a_recording_without_samples_is_rejected() {
        assert!(parse(r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": []}}"#).is_err());
        assert!(parse(r#"{"sample_rate_hz": 100, "angles_deg": {}}"#).is_err());
    }

    #[test]
    fn checking_a_recording_agrees_with_parsing_it() {
        let long = vec!["0"; 1801 * 20].join(",");
        let cases = [
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, 2.5], "thumb_ip": [0, -1e3]}, "gyro_dps": {"x": [1, 2], "y": [1, 2], "z": [1, 2]}, "grip_force_n": [0, 1]}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, 2]}, "accel_ms2": {"x": [1, 2], "y": [1], "z": [1, 2]}}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, "x"]}}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, 1e999]}}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_knuckle": [1]}}"#.to_owned(),
            r#"{"sample_rate_hz": 10, "angles_deg": {"index_mcp": [1]}}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {}, "grip_force_n": [1]}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": []}}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1]}, "gyro": {}}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1]}, "gyro_dps": {"x": [1], "y": [1]}}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1]}, "grip_force_n": null}"#.to_owned(),
            r#"{"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1]}} trailing"#.to_owned(),
            r#"{"angles_deg": {"index_mcp": [1]}}"#.to_owned(),
            r#"[1, 2]"#.to_owned(),
            format!(r#"{{"sample_rate_hz": 20, "angles_deg": {{"index_mcp": [{long}]}}}}"#),
        ];
        for case in &cases {
            let checked = Recording::check_sensors_json(case.as_bytes());
            let parsed = Recording::parse_sensors_json(case.as_bytes()).map(|_| ());
            assert_eq!(checked, parsed, "{case}");
        }
        assert!(Recording::check_sensors_json(cases[0].as_bytes()).is_ok());
        assert_eq!(
            Recording::check_sensors_json(cases[2].as_bytes())
                .expect_err("a string")
                .path(),
            "sensors.angles_deg.index_mcp[1]"
        );
        assert!(Recording::check_sensors_json(&synthetic_sensors_json(60, 100)).is_ok());
    }
}

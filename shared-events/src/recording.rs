//! The glove recording: the `sensors` object of `POST /game`, parsed and validated.
//!
//! It is part of the event contract: the gateway validates an upload with it
//! (refusing bad input with the offending field path) and a processing worker
//! parses the recording of a `processing.requested` event with it, so both agree
//! on what a valid recording is.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

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
        let at = |field: &str| {
            if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            }
        };
        let fs = input.sample_rate_hz;
        if !(fs.is_finite() && SAMPLE_RATE_RANGE_HZ.contains(&fs)) {
            return Err(invalid(
                at("sample_rate_hz"),
                format!("must be between 20 and 1000 Hz, got {fs}"),
            ));
        }

        let mut channels: Vec<(String, &[f64])> = Vec::new();
        let mut angles_deg = BTreeMap::new();
        for (name, values) in &input.angles_deg {
            let field = at(&format!("angles_deg.{name}"));
            let Some(id) = JointId::parse(name) else {
                return Err(invalid(
                    field,
                    "unknown joint; expected <finger>_<joint> with finger in thumb|index|middle|ring|little and joint in mcp|pip|dip|ip".into(),
                ));
            };
            channels.push((field, values));
            angles_deg.insert(id, Vec::new());
        }
        for (name, sensor) in [
            ("gyro_dps", &input.gyro_dps),
            ("accel_ms2", &input.accel_ms2),
        ] {
            if let Some(t) = sensor {
                for (axis, values) in ["x", "y", "z"].into_iter().zip(t.axes()) {
                    channels.push((at(&format!("{name}.{axis}")), values));
                }
            }
        }
        if let Some(grip) = &input.grip_force_n {
            channels.push((at("grip_force_n"), grip));
        }

        // Angles come first in `channels`: at least one joint is required, since
        // every finger metric and the game itself are about joint motion.
        if input.angles_deg.is_empty() {
            return Err(invalid(
                at("angles_deg"),
                "at least one joint angle channel is required".into(),
            ));
        }
        let Some((first_field, first)) = channels.first() else {
            return Err(invalid(
                at("angles_deg"),
                "the recording has no channels".into(),
            ));
        };
        let len = first.len();
        if len == 0 {
            return Err(invalid(
                first_field.clone(),
                "the recording has no samples".into(),
            ));
        }
        let duration_s = len as f64 / fs;
        if duration_s > MAX_DURATION_S {
            return Err(invalid(
                first_field.clone(),
                format!(
                    "{len} samples at {fs} Hz last {duration_s:.0} s; at most {MAX_DURATION_S:.0} s are accepted"
                ),
            ));
        }
        for (field, values) in &channels {
            if values.len() != len {
                return Err(invalid(
                    field.clone(),
                    format!("has {} samples but {first_field} has {len}", values.len()),
                ));
            }
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(invalid(
                    format!("{field}[{i}]"),
                    "not a finite number".into(),
                ));
            }
        }

        for (name, values) in input.angles_deg {
            if let Some(id) = JointId::parse(&name) {
                angles_deg.insert(id, values);
            }
        }
        Ok(Self {
            sample_rate_hz: fs,
            angles_deg,
            gyro_dps: input.gyro_dps,
            accel_ms2: input.accel_ms2,
            grip_force_n: input.grip_force_n,
            len,
        })
    }

    /// Parses and validates a `sensors` object.
    pub fn parse_sensors_json(bytes: &[u8]) -> Result<Self, RecordingError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let input: SensorsInput =
            serde_path_to_error::deserialize(&mut de).map_err(|e| json_error("sensors", &e))?;
        de.end().map_err(|e| RecordingError::Json {
            path: "sensors".into(),
            message: e.to_string(),
        })?;
        Self::from_input(input, "sensors")
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

/// A synthetic `sensors` object with every channel (10 joints, gyro, accel, grip):
/// smooth finger motion with a little noise, a 6 Hz tremor on the inertial axes
/// and grip episodes, printed with 3 decimals as a phone sends them. Deterministic.
/// For benchmarks and load generators, which need realistic recordings of any
/// length without shipping large files.
pub fn synthetic_sensors_json(seconds: usize, fs: usize) -> Vec<u8> {
    let n = fs * seconds;
    let mut noise = 0x2545_f491_4f6c_dd1d_u64;
    let mut jitter = move || {
        noise ^= noise << 13;
        noise ^= noise >> 7;
        noise ^= noise << 17;
        (noise % 1000) as f64 / 1000.0 - 0.5
    };
    let mut channel = |f: &dyn Fn(f64) -> f64, scale: f64| -> String {
        let values: Vec<String> = (0..n)
            .map(|i| format!("{:.3}", f(i as f64 / fs as f64) + scale * jitter()))
            .collect();
        format!("[{}]", values.join(","))
    };
    let tau = std::f64::consts::TAU;
    let angles: Vec<String> = Finger::ALL
        .iter()
        .flat_map(|finger| {
            let second = if *finger == Finger::Thumb {
                Joint::Ip
            } else {
                Joint::Pip
            };
            [Joint::Mcp, second].map(|joint| JointId {
                finger: *finger,
                joint,
            })
        })
        .enumerate()
        .map(|(k, joint)| {
            let phase = k as f64 * 0.3;
            let curve = move |t: f64| 40.0 * (1.0 - (tau * 0.25 * t + phase).cos());
            format!("\"{joint}\":{}", channel(&curve, 0.1))
        })
        .collect();
    let mut axes = |amplitude: f64| {
        let x = channel(&|t| amplitude * (tau * 6.0 * t).sin(), 0.2);
        let y = channel(&|t| 0.5 * amplitude * (tau * 6.0 * t).cos(), 0.2);
        let z = channel(&|t| 9.81 + 0.2 * (tau * 0.5 * t).sin(), 0.05);
        format!(r#"{{"x":{x},"y":{y},"z":{z}}}"#)
    };
    let gyro = axes(8.0);
    let accel = axes(0.5);
    let grip = channel(&|t| (30.0 * (tau * 0.2 * t).sin()).max(0.0), 0.2);
    format!(
        r#"{{"sample_rate_hz":{fs},"angles_deg":{{{}}},"gyro_dps":{gyro},"accel_ms2":{accel},"grip_force_n":{grip}}}"#,
        angles.join(",")
    )
    .into_bytes()
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
}

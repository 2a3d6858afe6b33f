//! The rules of a valid recording, applied to what they look at: the sample rate,
//! the channel names, and each channel's length and first non-finite value. Both
//! ways to read a recording (`Recording::from_input`, which keeps the values, and
//! `Recording::check_sensors_json`, which does not) go through [`Shape::check`], so
//! they accept exactly the same recordings.

use super::{JointId, MAX_DURATION_S, RecordingError, SAMPLE_RATE_RANGE_HZ, invalid};

/// What the rules need of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct ChannelStats {
    pub len: usize,
    /// The index of the first value that is not a finite number.
    pub non_finite: Option<usize>,
}

impl ChannelStats {
    pub fn of(values: &[f64]) -> Self {
        Self {
            len: values.len(),
            non_finite: values.iter().position(|v| !v.is_finite()),
        }
    }

    /// Counts one more value.
    pub fn push(&mut self, value: f64) {
        if !value.is_finite() && self.non_finite.is_none() {
            self.non_finite = Some(self.len);
        }
        self.len += 1;
    }
}

/// A `sensors` object as the rules see it. `angles_deg` is in name order.
#[derive(Debug)]
pub(super) struct Shape<'a> {
    pub sample_rate_hz: f64,
    pub angles_deg: Vec<(&'a str, ChannelStats)>,
    pub gyro_dps: Option<[ChannelStats; 3]>,
    pub accel_ms2: Option<[ChannelStats; 3]>,
    pub grip_force_n: Option<ChannelStats>,
}

impl Shape<'_> {
    /// Applies every rule; the number of samples of each channel when valid. Error
    /// paths start with `path` (e.g. `"sensors"`).
    pub fn check(&self, path: &str) -> Result<usize, RecordingError> {
        let at = |field: &str| {
            if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            }
        };
        let fs = self.sample_rate_hz;
        if !(fs.is_finite() && SAMPLE_RATE_RANGE_HZ.contains(&fs)) {
            return Err(invalid(
                at("sample_rate_hz"),
                format!("must be between 20 and 1000 Hz, got {fs}"),
            ));
        }

        let mut channels: Vec<(String, ChannelStats)> = Vec::new();
        for (name, stats) in &self.angles_deg {
            let field = at(&format!("angles_deg.{name}"));
            if JointId::parse(name).is_none() {
                return Err(invalid(
                    field,
                    "unknown joint; expected <finger>_<joint> with finger in thumb|index|middle|ring|little and joint in mcp|pip|dip|ip".into(),
                ));
            }
            channels.push((field, *stats));
        }
        for (name, sensor) in [("gyro_dps", &self.gyro_dps), ("accel_ms2", &self.accel_ms2)] {
            if let Some(axes) = sensor {
                for (axis, stats) in ["x", "y", "z"].into_iter().zip(axes) {
                    channels.push((at(&format!("{name}.{axis}")), *stats));
                }
            }
        }
        if let Some(grip) = self.grip_force_n {
            channels.push((at("grip_force_n"), grip));
        }

        // Angles come first in `channels`: at least one joint is required, since
        // every finger metric and the game itself are about joint motion.
        if self.angles_deg.is_empty() {
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
        let len = first.len;
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
        for (field, stats) in &channels {
            if stats.len != len {
                return Err(invalid(
                    field.clone(),
                    format!("has {} samples but {first_field} has {len}", stats.len),
                ));
            }
            if let Some(i) = stats.non_finite {
                return Err(invalid(
                    format!("{field}[{i}]"),
                    "not a finite number".into(),
                ));
            }
        }
        Ok(len)
    }
}

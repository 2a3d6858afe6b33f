//! A `sensors` object read for its shape only: the same JSON that `SensorsInput`
//! accepts (the same fields, `deny_unknown_fields`, each channel a sequence of
//! `f64` read one by one as `Vec<f64>` reads it), but each channel is counted
//! instead of kept.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};

use super::rules::{ChannelStats, Shape};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SensorsShape {
    sample_rate_hz: f64,
    angles_deg: BTreeMap<String, ChannelStats>,
    gyro_dps: Option<TriaxialShape>,
    accel_ms2: Option<TriaxialShape>,
    grip_force_n: Option<ChannelStats>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriaxialShape {
    x: ChannelStats,
    y: ChannelStats,
    z: ChannelStats,
}

impl TriaxialShape {
    fn axes(&self) -> [ChannelStats; 3] {
        [self.x, self.y, self.z]
    }
}

impl SensorsShape {
    pub fn shape(&self) -> Shape<'_> {
        Shape {
            sample_rate_hz: self.sample_rate_hz,
            angles_deg: self
                .angles_deg
                .iter()
                .map(|(name, stats)| (name.as_str(), *stats))
                .collect(),
            gyro_dps: self.gyro_dps.as_ref().map(TriaxialShape::axes),
            accel_ms2: self.accel_ms2.as_ref().map(TriaxialShape::axes),
            grip_force_n: self.grip_force_n,
        }
    }
}

impl<'de> Deserialize<'de> for ChannelStats {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counter;

        impl<'de> Visitor<'de> for Counter {
            type Value = ChannelStats;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChannelStats, A::Error> {
                let mut stats = ChannelStats::default();
                while let Some(value) = seq.next_element::<f64>()? {
                    stats.push(value);
                }
                Ok(stats)
            }
        }

        deserializer.deserialize_seq(Counter)
    }
}

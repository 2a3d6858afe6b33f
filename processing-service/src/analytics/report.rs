//! The whole-recording analysis: every metric of the contract, in the report shape
//! the CLI prints and the worker stores.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AnalyticsError;
use super::filter::LowPass;
use super::grip::{GripMetrics, grip_metrics};
use super::kinematics::{
    abs_velocity_stats, count_repetitions, gradient, joint_space_speed, range_of_motion,
    total_active_motion,
};
use super::ldlj::{VectorKind, log_dimensionless_jerk_vector};
use super::recording::{Finger, Recording};
use super::segmentation::{
    MOVEMENT_UNIT_AMP_TH_DPS, MOVEMENT_UNIT_MIN_DT_S, movement_segments, movement_units,
};
use super::sparc::sparc;
use super::tremor::{TremorMetrics, tremor_metrics};

/// How a recording is prepared before the metric stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisConfig {
    /// The zero-phase low-pass applied to joint angles, or `None` to analyse the
    /// angles exactly as given (`--raw`). Gyro, accelerometer and grip force are never
    /// filtered: the tremor band (3-12 Hz) lies above an angle cut-off.
    pub angle_lowpass: Option<LowPass>,
}

/// The production default low-pass cut-off for angles: the middle of the 6-10 Hz
/// range section C recommends; finger motion in these games lies below 5 Hz.
pub const DEFAULT_ANGLE_CUTOFF_HZ: f64 = 8.0;

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            angle_lowpass: Some(LowPass {
                cutoff_hz: DEFAULT_ANGLE_CUTOFF_HZ,
            }),
        }
    }
}

impl AnalysisConfig {
    /// The metric stage on the signals exactly as given.
    pub fn raw() -> Self {
        Self {
            angle_lowpass: None,
        }
    }
}

/// B3, B5, B8 for one joint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct JointReport {
    pub rom_deg: f64,
    pub peak_abs_vel_dps: f64,
    pub mean_abs_vel_dps: f64,
    pub n_reps: usize,
}

/// B2, B4, B6, B7 and the per-segment smoothness means for one finger.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FingerReport {
    pub tam_partial_deg: f64,
    pub peak_joint_space_speed_dps: f64,
    pub n_segments: usize,
    /// Mean SPARC (A1 defaults) of the segments' joint-space speed.
    pub sparc_mean: f64,
    /// Mean LDLJ-V (`[S21]`, 'vel') of the segments' joint angular-velocity vector.
    pub ldlj_mean: f64,
    pub movement_units_mean: f64,
}

/// B9 for each tri-axial sensor present.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TremorReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gyro: Option<TremorMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accel: Option<TremorMetrics>,
}

/// The analysis of one recording. Absent sensors give absent sections; non-finite
/// numbers serialise as `null` (serde_json's rule for NaN and ±∞).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub joints: BTreeMap<String, JointReport>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fingers: BTreeMap<String, FingerReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tremor: Option<TremorReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grip: Option<GripMetrics>,
}

/// Analyses a validated recording. Fails only on an invalid configuration (a
/// low-pass cut-off at or above Nyquist); a validated recording's channels are
/// equally long, so the joint-space speed cannot fail here.
pub fn analyze(recording: &Recording, config: &AnalysisConfig) -> Result<Report, AnalyticsError> {
    let fs = recording.sample_rate_hz();

    // Angles (filtered or not) and their B1 velocities, per joint, in joint order.
    let mut joints_data = Vec::with_capacity(recording.angles_deg().len());
    for (id, raw) in recording.angles_deg() {
        let angle = match config.angle_lowpass {
            Some(lowpass) => lowpass.apply(raw, fs)?,
            None => raw.clone(),
        };
        let velocity = gradient(&angle, fs);
        joints_data.push((*id, angle, velocity));
    }

    let joints = joints_data
        .iter()
        .map(|(id, angle, velocity)| {
            let (peak, mean) = abs_velocity_stats(velocity);
            let report = JointReport {
                rom_deg: range_of_motion(angle),
                peak_abs_vel_dps: peak,
                mean_abs_vel_dps: mean,
                n_reps: count_repetitions(angle),
            };
            (id.to_string(), report)
        })
        .collect();

    let mut fingers = BTreeMap::new();
    for finger in Finger::ALL {
        let mine: Vec<_> = joints_data
            .iter()
            .filter(|(id, _, _)| id.finger == finger)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let angles: Vec<&[f64]> = mine.iter().map(|(_, a, _)| a.as_slice()).collect();
        let velocities: Vec<&[f64]> = mine.iter().map(|(_, _, v)| v.as_slice()).collect();
        fingers.insert(
            finger.name().to_owned(),
            finger_report(&angles, &velocities, fs)?,
        );
    }

    let tremor = match (recording.gyro_dps(), recording.accel_ms2()) {
        (None, None) => None,
        (gyro, accel) => Some(TremorReport {
            gyro: gyro.map(|g| tremor_metrics(g.axes(), fs)),
            accel: accel.map(|a| tremor_metrics(a.axes(), fs)),
        }),
    };
    let grip = recording.grip_force_n().map(|f| grip_metrics(f, fs));

    Ok(Report {
        joints,
        fingers,
        tremor,
        grip,
    })
}

/// One finger: B4 TAM, B2 speed, B6 segments, and per segment A1, A2 [S21], B7.
fn finger_report(
    angles: &[&[f64]],
    velocities: &[&[f64]],
    fs: f64,
) -> Result<FingerReport, AnalyticsError> {
    let speed = joint_space_speed(velocities)?;
    let peak = speed.iter().copied().fold(f64::NEG_INFINITY, |m, v| {
        if v.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(v)
        }
    });
    let segments = movement_segments(&speed, fs);

    let (mut sparc_sum, mut ldlj_sum, mut units_sum) = (0.0, 0.0, 0.0);
    for segment in &segments {
        // A failed SPARC (an all-zero segment, possible only for a still finger whose
        // 10 % threshold is 0) is NaN, as `[S21]` wraps it.
        sparc_sum += sparc(&speed[segment.clone()], fs).unwrap_or(f64::NAN);
        let columns: Vec<&[f64]> = velocities.iter().map(|v| &v[segment.clone()]).collect();
        ldlj_sum += log_dimensionless_jerk_vector(&columns, fs, VectorKind::Velocity, false)
            .unwrap_or(f64::NAN);
        units_sum += movement_units(
            &speed[segment.clone()],
            fs,
            MOVEMENT_UNIT_AMP_TH_DPS,
            MOVEMENT_UNIT_MIN_DT_S,
        ) as f64;
    }
    let count = segments.len() as f64;
    let mean = |sum: f64| {
        if segments.is_empty() {
            f64::NAN
        } else {
            sum / count
        }
    };
    Ok(FingerReport {
        tam_partial_deg: total_active_motion(angles),
        peak_joint_space_speed_dps: if speed.is_empty() { f64::NAN } else { peak },
        n_segments: segments.len(),
        sparc_mean: mean(sparc_sum),
        ldlj_mean: mean(ldlj_sum),
        movement_units_mean: mean(units_sum),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::recording::{SensorsInput, Triaxial};
    use crate::analytics::testing::sine;

    fn recording(
        angles: &[(&str, Vec<f64>)],
        gyro: Option<Triaxial>,
        grip: Option<Vec<f64>>,
    ) -> Recording {
        let input = SensorsInput {
            sample_rate_hz: 100.0,
            angles_deg: angles
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            gyro_dps: gyro,
            accel_ms2: None,
            grip_force_n: grip,
        };
        Recording::from_input(input, "sensors").expect("a valid test recording")
    }

    /// Two 1 s flexion-extension cycles of `amplitude` degrees with rest between.
    fn flexions(amplitude: f64) -> Vec<f64> {
        (0..400)
            .map(|i| {
                let t = (i % 200) as f64 / 100.0;
                if t < 1.0 {
                    amplitude * 0.5 * (1.0 - (2.0 * std::f64::consts::PI * t).cos())
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn absent_sensors_give_absent_sections() {
        let r = recording(&[("index_mcp", flexions(60.0))], None, None);
        let json = serde_json::to_value(analyze(&r, &AnalysisConfig::raw()).expect("valid"))
            .expect("serialises");
        assert!(json.get("joints").is_some() && json.get("fingers").is_some());
        assert!(json.get("tremor").is_none() && json.get("grip").is_none());
    }

    #[test]
    fn each_flexion_is_a_repetition_and_a_segment() {
        let r = recording(
            &[("index_mcp", flexions(60.0)), ("index_pip", flexions(80.0))],
            None,
            None,
        );
        let report = analyze(&r, &AnalysisConfig::raw()).expect("valid");
        let mcp = report.joints["index_mcp"];
        assert!((mcp.rom_deg - 60.0).abs() < 1e-9);
        assert_eq!(mcp.n_reps, 2);
        let index = report.fingers["index"];
        assert!((index.tam_partial_deg - 140.0).abs() < 1e-9);
        // Each cycle is a flexion then an extension, two speed bells per cycle.
        assert_eq!(index.n_segments, 4);
        assert_eq!(index.movement_units_mean, 1.0);
        assert!(
            index.sparc_mean < -1.0 && index.sparc_mean > -2.0,
            "{index:?}"
        );
    }

    #[test]
    fn a_gyro_tremor_shows_in_the_tremor_section() {
        let n = 400;
        let gyro = Triaxial {
            x: sine(n, 100.0, 6.0, 4.0),
            y: vec![0.0; n],
            z: vec![0.0; n],
        };
        let r = recording(&[("thumb_ip", flexions(30.0))], Some(gyro), None);
        let report = analyze(&r, &AnalysisConfig::default()).expect("valid");
        let tremor = report.tremor.and_then(|t| t.gyro).expect("a gyro section");
        assert_eq!(tremor.peak_freq_hz, 6.0);
    }

    #[test]
    fn non_finite_values_serialise_as_null() {
        let r = recording(&[("ring_mcp", vec![5.0; 100])], None, Some(vec![0.0; 100]));
        let json = serde_json::to_value(analyze(&r, &AnalysisConfig::raw()).expect("valid"))
            .expect("serialises");
        // An all-zero force has threshold 0, so the whole recording is one episode
        // (B6 taken literally) whose hold CV is 0/0.
        assert_eq!(json["grip"]["n_grips"], 1);
        assert!(json["grip"]["mean_hold_cv"].is_null());
        // A still finger likewise: one segment whose SPARC fails and LDLJ is NaN.
        assert_eq!(json["fingers"]["ring"]["n_segments"], 1);
        assert!(json["fingers"]["ring"]["sparc_mean"].is_null());
        assert!(json["fingers"]["ring"]["ldlj_mean"].is_null());
    }
}

//! Property tests of the analytics on arbitrary input: no panic, whatever the signal.
//!
//! A worker that panics on one recording would be restarted and handed the same
//! message again, so every recording the contract accepts must end in a report or
//! an error. The whole analysis gets every valid recording (any accepted rate, one
//! sample to many, constant, extreme and tiny values); each metric alone also gets
//! what validation would refuse (NaN, ±∞, empty channels, any sample rate), since
//! they are a public library.

use std::collections::BTreeMap;

use processing_service::analytics::filter::LowPass;
use processing_service::analytics::grip::grip_metrics;
use processing_service::analytics::kinematics::{
    abs_velocity_stats, count_repetitions, gradient, joint_space_speed, min_max, range_of_motion,
    total_active_motion,
};
use processing_service::analytics::ldlj::{
    ProfileKind, VectorKind, dimensionless_jerk2, log_dimensionless_jerk,
    log_dimensionless_jerk_imu, log_dimensionless_jerk_vector, log_dimensionless_jerk2,
};
use processing_service::analytics::progress::{ProgressConfig, SemSource, SessionValue, progress};
use processing_service::analytics::recording::{SensorsInput, Triaxial};
use processing_service::analytics::segmentation::{movement_segments, movement_units};
use processing_service::analytics::sparc::{SparcParams, sparc, sparc_with};
use processing_service::analytics::tremor::{tremor_metrics, welch};
use processing_service::analytics::{AnalysisConfig, Recording, analyze};
use proptest::prelude::*;

/// A few hundred cases each: every property runs in well under a second.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(128)
}

/// Any double, with the awkward ones (NaN, ±∞, ±0, extremes, subnormals) often.
fn any_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -500.0f64..500.0,
        2 => any::<f64>(),
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, f64::MAX, f64::MIN,
            f64::MIN_POSITIVE, 5e-324, 1e300, -1e300,
        ]),
    ]
}

/// A finite double as a phone could send it: ordinary angles, or extreme magnitudes.
fn finite_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -180.0f64..180.0,
        1 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        1 => prop::sample::select(vec![0.0, -0.0, f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324]),
    ]
}

/// A channel of `len` samples: arbitrary, constant, or a sine with noise.
fn channel(len: usize, value: BoxedStrategy<f64>) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        2 => prop::collection::vec(value.clone(), len..=len),
        1 => value.clone().prop_map(move |v| vec![v; len]),
        1 => (0.1f64..20.0, -90.0f64..90.0, 0.0f64..60.0).prop_map(move |(hz, offset, amplitude)| {
            (0..len)
                .map(|i| offset + amplitude * (i as f64 * hz / 50.0).sin())
                .collect()
        }),
    ]
}

/// Any sample rate, including zero, negative, non-finite and absurd ones.
fn any_rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 20.0f64..=1000.0,
        1 => any_number(),
        1 => prop::sample::select(vec![1e-300, 1e300, 0.5, 1.0, 24.0, 20_000.0]),
    ]
}

fn signal() -> impl Strategy<Value = Vec<f64>> {
    (0usize..160).prop_flat_map(|len| channel(len, any_number().boxed()))
}

const JOINTS: [&str; 14] = [
    "thumb_mcp",
    "thumb_ip",
    "thumb_pip",
    "index_mcp",
    "index_pip",
    "index_dip",
    "middle_mcp",
    "middle_pip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "little_mcp",
    "little_pip",
    "little_dip",
];

/// A recording the contract accepts: an accepted rate, 1-300 samples, 1-5 joints,
/// any of the optional sensors, finite values of any size.
fn valid_recording() -> impl Strategy<Value = Recording> {
    let rate = prop_oneof![
        1 => Just(20.0),
        1 => Just(1000.0),
        4 => 20.0f64..=1000.0,
    ];
    (rate, 1usize..300).prop_flat_map(|(fs, len)| {
        let channel = move || channel(len, finite_number().boxed());
        let triaxial =
            move || (channel(), channel(), channel()).prop_map(|(x, y, z)| Triaxial { x, y, z });
        (
            prop::collection::btree_map(prop::sample::select(JOINTS.to_vec()), channel(), 1..5),
            prop::option::of(triaxial()),
            prop::option::of(triaxial()),
            prop::option::of(channel()),
        )
            .prop_map(move |(angles, gyro_dps, accel_ms2, grip_force_n)| {
                let angles_deg: BTreeMap<String, Vec<f64>> = angles
                    .into_iter()
                    .map(|(name, values)| (name.to_owned(), values))
                    .collect();
                let input = SensorsInput {
                    sample_rate_hz: fs,
                    angles_deg,
                    gyro_dps,
                    accel_ms2,
                    grip_force_n,
                };
                Recording::from_input(input, "sensors").expect("built to be valid")
            })
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_valid_recording_gets_a_report_that_serialises(recording in valid_recording()) {
        for config in [AnalysisConfig::default(), AnalysisConfig::raw()] {
            match analyze(&recording, &config) {
                // What the worker stores: the report as JSON (NaN and ±∞ become null).
                Ok(report) => {
                    prop_assert!(serde_json::to_value(&report).is_ok());
                }
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn an_analysis_with_any_low_pass_is_a_report_or_an_error(
        recording in valid_recording(),
        cutoff_hz in any_rate(),
    ) {
        let config = AnalysisConfig { angle_lowpass: Some(LowPass { cutoff_hz }) };
        let _ = analyze(&recording, &config);
    }

    #[test]
    fn smoothness_measures_take_any_signal_and_rate(
        x in signal(),
        fs in any_rate(),
        fc_hz in any_number(),
        amp_th in any_number(),
        padlevel in 0u32..6,
    ) {
        let _ = sparc(&x, fs);
        let _ = sparc_with(&x, fs, SparcParams { padlevel, fc_hz, amp_th });
        for kind in [ProfileKind::Speed, ProfileKind::Accel, ProfileKind::Jerk] {
            let _ = dimensionless_jerk2(&x, fs, kind);
            let _ = log_dimensionless_jerk2(&x, fs, kind);
        }
        let _ = log_dimensionless_jerk(&x, fs);
        if x.is_empty() {
            prop_assert!(sparc(&x, fs).is_err(), "an empty signal has no SPARC");
        }
    }

    #[test]
    fn vector_and_imu_jerk_take_any_columns(
        columns in prop::collection::vec(signal(), 0..4),
        gyro in prop::option::of((signal(), signal(), signal())),
        acc in (signal(), signal(), signal()),
        fs in any_rate(),
        gravity in prop::array::uniform3(any_number()),
        rem_mean in any::<bool>(),
    ) {
        let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        for kind in [VectorKind::Velocity, VectorKind::Acceleration] {
            let result = log_dimensionless_jerk_vector(&columns, fs, kind, rem_mean);
            let lengths: Vec<usize> = columns.iter().map(|c| c.len()).collect();
            if lengths.windows(2).any(|w| w[0] != w[1]) {
                prop_assert!(result.is_err(), "columns of lengths {lengths:?} accepted");
            }
        }
        let acc = [acc.0.as_slice(), acc.1.as_slice(), acc.2.as_slice()];
        let gyro = gyro.as_ref().map(|(x, y, z)| [x.as_slice(), y.as_slice(), z.as_slice()]);
        let _ = log_dimensionless_jerk_imu(acc, gyro, gravity, fs);
    }

    #[test]
    fn kinematics_take_any_signal(
        x in signal(),
        others in prop::collection::vec(signal(), 0..4),
        fs in any_rate(),
    ) {
        let velocity = gradient(&x, fs);
        prop_assert_eq!(velocity.len(), x.len());
        let _ = min_max(&x);
        let _ = range_of_motion(&x);
        let _ = count_repetitions(&x);
        let _ = abs_velocity_stats(&velocity);
        let mut columns: Vec<&[f64]> = vec![&x];
        columns.extend(others.iter().map(Vec::as_slice));
        let _ = total_active_motion(&columns);
        match joint_space_speed(&columns) {
            Ok(speed) => prop_assert_eq!(speed.len(), x.len()),
            Err(_) => prop_assert!(columns.iter().any(|c| c.len() != x.len())),
        }
    }

    #[test]
    fn segmentation_takes_any_signal_rate_and_threshold(
        x in signal(),
        fs in any_rate(),
        amp_th in any_number(),
        min_dt_s in any_number(),
    ) {
        for run in movement_segments(&x, fs) {
            prop_assert!(run.start < run.end && run.end <= x.len());
        }
        let units = movement_units(&x, fs, amp_th, min_dt_s);
        prop_assert!(units <= x.len());
    }

    #[test]
    fn tremor_grip_and_filter_take_any_signal_and_rate(
        x in signal(),
        y in signal(),
        z in signal(),
        fs in any_rate(),
        cutoff_hz in any_rate(),
    ) {
        if let Some(psd) = welch(&x, fs) {
            prop_assert_eq!(psd.freqs_hz.len(), psd.power.len());
        }
        let _ = tremor_metrics([&x, &y, &z], fs);
        let _ = grip_metrics(&x, fs);
        if let Ok(filtered) = (LowPass { cutoff_hz }).apply(&x, fs) {
            prop_assert_eq!(filtered.len(), x.len());
        }
    }

    #[test]
    fn progress_takes_any_sessions_and_settings(
        sessions in prop::collection::vec((any_number(), any_number()), 0..12),
        baseline_sessions in 0usize..6,
        fixed in prop::option::of(any_number()),
        icc in any_number(),
        metric in prop_oneof![Just("sparc_mean".to_owned()), Just("rom_deg".to_owned()), any::<String>()],
    ) {
        let sessions: Vec<SessionValue> =
            sessions.into_iter().map(|(x, value)| SessionValue { x, value }).collect();
        let sem = match fixed {
            Some(sem) => SemSource::Fixed(sem),
            None => SemSource::BaselineSd { icc },
        };
        let result = progress(&metric, &sessions, &ProgressConfig { baseline_sessions, sem });
        if sessions.is_empty() || baseline_sessions == 0 {
            prop_assert!(result.is_err());
        } else if let Ok(p) = result {
            prop_assert!(serde_json::to_value(p).is_ok());
        }
    }
}

//! `processing-service analyze` on the sample recording and on bad files.

use crate::helpers::{TempFile, analyze, assert_close, run_cli, sample_recording};

const JOINTS: [&str; 10] = [
    "thumb_mcp",
    "thumb_ip",
    "index_mcp",
    "index_pip",
    "middle_mcp",
    "middle_pip",
    "ring_mcp",
    "ring_pip",
    "little_mcp",
    "little_pip",
];
const FINGERS: [&str; 5] = ["thumb", "index", "middle", "ring", "little"];

fn keys(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[test]
fn analyze_prints_the_report_shape_for_a_full_recording() {
    let report = analyze(&sample_recording(), &["--raw"]);
    assert_eq!(
        keys(&report),
        sorted(&["fingers", "grip", "joints", "tremor"])
    );
    assert_eq!(keys(&report["joints"]), sorted(&JOINTS));
    for joint in JOINTS {
        assert_eq!(
            keys(&report["joints"][joint]),
            sorted(&["mean_abs_vel_dps", "n_reps", "peak_abs_vel_dps", "rom_deg"])
        );
    }
    assert_eq!(keys(&report["fingers"]), sorted(&FINGERS));
    for finger in FINGERS {
        assert_eq!(
            keys(&report["fingers"][finger]),
            sorted(&[
                "ldlj_mean",
                "movement_units_mean",
                "n_segments",
                "peak_joint_space_speed_dps",
                "sparc_mean",
                "tam_partial_deg",
            ])
        );
    }
    let tremor_keys = sorted(&[
        "band_power",
        "peak_freq_hz",
        "power_ratio",
        "total_power",
        "tremor_rms",
    ]);
    assert_eq!(keys(&report["tremor"]), sorted(&["accel", "gyro"]));
    assert_eq!(keys(&report["tremor"]["gyro"]), tremor_keys);
    assert_eq!(keys(&report["tremor"]["accel"]), tremor_keys);
    assert_eq!(
        keys(&report["grip"]),
        sorted(&[
            "mean_duration_s",
            "mean_ep_peak",
            "mean_hold_cv",
            "mean_hold_mean",
            "mean_max_rfd",
            "mean_time_to_peak_s",
            "n_grips",
            "peak_force",
        ])
    );
}

#[test]
fn raw_analysis_of_the_sample_matches_the_reference_values() {
    // Values from `bench/glove_metrics.py analyze --raw` on the same file.
    let r = analyze(&sample_recording(), &["--raw"]);
    let pip = &r["joints"]["index_pip"];
    assert_close(&pip["rom_deg"], 87.94, 1e-12);
    assert_close(&pip["peak_abs_vel_dps"], 215.0000000000002, 1e-12);
    assert_close(&pip["mean_abs_vel_dps"], 54.4045, 1e-12);
    assert_eq!(pip["n_reps"], 3);
    let index = &r["fingers"]["index"];
    assert_close(&index["tam_partial_deg"], 152.12, 1e-12);
    assert_close(
        &index["peak_joint_space_speed_dps"],
        273.77956461357735,
        1e-12,
    );
    assert_eq!(index["n_segments"], 6);
    assert_close(&index["sparc_mean"], -1.5237880763153242, 1e-9);
    assert_close(&index["ldlj_mean"], -12.589156655775525, 1e-9);
    assert_close(&index["movement_units_mean"], 3.8333333333333335, 1e-12);
    let gyro = &r["tremor"]["gyro"];
    assert_close(&gyro["band_power"], 6.521509226922132, 1e-9);
    assert_close(&gyro["tremor_rms"], 2.553724579300229, 1e-9);
    assert_eq!(gyro["peak_freq_hz"], 6.0);
    assert_eq!(r["tremor"]["accel"]["peak_freq_hz"], 6.0);
    let grip = &r["grip"];
    assert_close(&grip["peak_force"], 25.627, 0.0);
    assert_eq!(grip["n_grips"], 3);
    assert_close(&grip["mean_time_to_peak_s"], 0.61, 1e-12);
    assert_close(&grip["mean_hold_cv"], 0.04062633654858338, 1e-9);
}

#[test]
fn the_default_low_pass_tames_noise_in_ldlj_and_movement_units() {
    // Section C: LDLJ and movement units need filtering; SPARC barely moves.
    let raw = analyze(&sample_recording(), &["--raw"]);
    let filtered = analyze(&sample_recording(), &[]);
    let (raw, filtered) = (&raw["fingers"]["index"], &filtered["fingers"]["index"]);
    assert_close(&filtered["ldlj_mean"], -5.163509694789889, 1e-9);
    assert_eq!(filtered["movement_units_mean"], 1.0);
    assert!(raw["ldlj_mean"].as_f64() < Some(-10.0));
    let sparc_shift = raw["sparc_mean"]
        .as_f64()
        .zip(filtered["sparc_mean"].as_f64())
        .map(|(a, b)| (a - b).abs());
    assert!(sparc_shift < Some(0.05), "{sparc_shift:?}");
}

#[test]
fn a_bare_sensors_object_gives_only_the_sections_it_has() {
    let file = TempFile::with_contents(
        "sensors.json",
        r#"{"sample_rate_hz": 50, "angles_deg": {"ring_dip": [0, 10, 30, 10, 0, 10, 30, 10, 0, 0, 0, 0]}}"#,
    );
    let report = analyze(&file.0, &["--raw"]);
    assert_eq!(keys(&report), sorted(&["fingers", "joints"]));
    assert_eq!(report["joints"]["ring_dip"]["rom_deg"], 30.0);
}

#[test]
fn a_bad_file_exits_non_zero_with_the_field_path() {
    let file = TempFile::with_contents(
        "bad.json",
        r#"{"exercise": "x", "sensors": {"sample_rate_hz": 100, "angles_deg": {"index_mcp": [1, 2, 3]}, "grip_force_n": [1, 2]}}"#,
    );
    let output = run_cli(&["analyze", file.0.to_str().expect("UTF-8")]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("sensors.grip_force_n: has 2 samples but sensors.angles_deg.index_mcp has 3"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_joint_exits_non_zero_naming_it() {
    let file = TempFile::with_contents(
        "joint.json",
        r#"{"sample_rate_hz": 100, "angles_deg": {"index_cmc": [1]}}"#,
    );
    let output = run_cli(&["analyze", file.0.to_str().expect("UTF-8")]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("angles_deg.index_cmc: unknown joint")
    );
}

#[test]
fn a_missing_file_exits_non_zero() {
    let output = run_cli(&["analyze", "/nonexistent/recording.json"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("Failed to read /nonexistent/recording.json")
    );
}

#[test]
fn no_arguments_starts_the_worker_which_names_an_unreachable_store() {
    // Nothing listens on port 1: the worker must fail fast and say why.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_processing-service"))
        .env("M2M_MONGODB_URL", "mongodb://127.0.0.1:1")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Failed to connect to MongoDB"), "{stderr}");
}

//! Realistic recordings of any length for benchmarks and load generators.

use super::{Finger, Joint, JointId};

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

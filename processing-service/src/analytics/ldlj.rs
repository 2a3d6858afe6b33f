//! A2: the (log) dimensionless jerk, ported from `[S15]` (1-D) and `[S21]` (vector, IMU).

use super::AnalyticsError;

/// What a 1-D profile holds, for `[S15] dimensionless_jerk2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// Speed: jerk is the 2nd difference, the duration exponent is 3.
    Speed,
    /// Acceleration: jerk is the 1st difference, the duration exponent is 1.
    Accel,
    /// Jerk itself: no difference, the duration exponent is −1.
    Jerk,
}

impl ProfileKind {
    /// (duration exponent, number of differences), A2 `dimensionless_jerk2`.
    fn exponents(self) -> (i32, usize) {
        match self {
            Self::Speed => (3, 2),
            Self::Accel => (1, 1),
            Self::Jerk => (-1, 0),
        }
    }
}

/// `[S15] dimensionless_jerk`: DJ of a 1-D speed profile.
///
/// `DJ = -(N·dt)³ / max|v|² · Σ(Δ²v/dt²)² · dt`. A constant input gives −0 (so
/// LDLJ = +∞), an all-zero input gives NaN, fewer than 3 samples give −0.
pub fn dimensionless_jerk(speed: &[f64], fs: f64) -> f64 {
    dimensionless_jerk2(speed, fs, ProfileKind::Speed)
}

/// `[S15] log_dimensionless_jerk`: `-ln|DJ|` of a 1-D speed profile.
pub fn log_dimensionless_jerk(speed: &[f64], fs: f64) -> f64 {
    log_dimensionless_jerk2(speed, fs, ProfileKind::Speed)
}

/// `[S15] dimensionless_jerk2(movement, fs, data_type)`.
pub fn dimensionless_jerk2(movement: &[f64], fs: f64, kind: ProfileKind) -> f64 {
    // A2: "N < 3 gives +∞" for LDLJ. The reference raises on an empty array (max of
    // nothing); the contract's rule covers N = 0 too, so DJ is −0 there.
    if movement.is_empty() {
        return -0.0;
    }
    let (duration_exp, differences) = kind.exponents();
    let peak = movement.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let dt = 1.0 / fs;
    // A2: the duration is N·dt, not (N−1)·dt.
    let duration = movement.len() as f64 * dt;
    let scale = duration.powi(duration_exp) / peak.powi(2);
    let denominator = dt.powi(differences as i32);
    // Sequential sum, as Python's builtin `sum` over the numpy array.
    let jerk_sq: f64 = differences_of(movement, differences)
        .map(|d| {
            let j = d / denominator;
            j * j
        })
        .sum();
    -scale * jerk_sq * dt
}

/// `[S15] log_dimensionless_jerk2`: `-ln|dimensionless_jerk2|`.
pub fn log_dimensionless_jerk2(movement: &[f64], fs: f64, kind: ProfileKind) -> f64 {
    -dimensionless_jerk2(movement, fs, kind).abs().ln()
}

/// The n-th forward differences of `x` (n ∈ {0, 1, 2}), like `np.diff(x, n)`.
fn differences_of(x: &[f64], n: usize) -> impl Iterator<Item = f64> + '_ {
    let len = x.len().saturating_sub(n);
    (0..len).map(move |i| match n {
        0 => x[i],
        1 => x[i + 1] - x[i],
        // np.diff applied twice: (x[i+2]-x[i+1]) - (x[i+1]-x[i]).
        _ => (x[i + 2] - x[i + 1]) - (x[i + 1] - x[i]),
    })
}

/// What a vector profile holds, for `[S21] log_dimensionless_jerk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorKind {
    /// Velocity ('vel'): jerk is the 2nd difference, `T = (N·dt)³`.
    Velocity,
    /// Acceleration ('accl'): jerk is the 1st difference, `T = N·dt`.
    Acceleration,
}

/// `[S21] log_dimensionless_jerk(M, fs, data_type, rem_mean)` on an `N × D` profile
/// given as `D` columns of equal length `N`.
///
/// `LDLJ = -ln T + ln A - ln J` with `A = max_i ||M_i||²`, `J = Σ_i ||Δⁿ M_i||²/dt²ⁿ · dt`.
/// `rem_mean` (remove each column's mean first) applies only to acceleration, as in
/// the reference. Errors below 3 samples, as the reference raises.
pub fn log_dimensionless_jerk_vector(
    columns: &[&[f64]],
    fs: f64,
    kind: VectorKind,
    rem_mean: bool,
) -> Result<f64, AnalyticsError> {
    let n = columns.first().map_or(0, |c| c.len());
    if columns.iter().any(|c| c.len() != n) {
        return Err(AnalyticsError::InvalidArgument(
            "the columns of a vector profile differ in length".into(),
        ));
    }
    if n < 3 {
        return Err(AnalyticsError::TooShort { len: n, min: 3 });
    }
    let means: Vec<f64> = columns
        .iter()
        .map(|c| {
            if kind == VectorKind::Acceleration && rem_mean {
                c.iter().sum::<f64>() / n as f64
            } else {
                0.0
            }
        })
        .collect();
    let (duration_exp, differences) = match kind {
        VectorKind::Velocity => (3, 2),
        VectorKind::Acceleration => (1, 1),
    };
    let dt = 1.0 / fs;
    let denominator = dt.powi(differences);

    let mut jerk_cost = 0.0;
    for i in 0..n - differences as usize {
        let norm_sq: f64 = columns
            .iter()
            .map(|c| {
                // The mean cancels in a difference, so it is not subtracted here.
                let d = if differences == 2 {
                    (c[i + 2] - c[i + 1]) - (c[i + 1] - c[i])
                } else {
                    c[i + 1] - c[i]
                };
                d * d
            })
            .sum();
        let jerk = norm_sq.sqrt() / denominator;
        jerk_cost += jerk * jerk;
    }
    jerk_cost *= dt;

    let duration = (n as f64 * dt).powi(duration_exp);
    let amplitude = (0..n)
        .map(|i| {
            columns
                .iter()
                .zip(&means)
                .map(|(c, m)| (c[i] - m) * (c[i] - m))
                .sum::<f64>()
        })
        .fold(f64::NEG_INFINITY, f64::max)
        .sqrt()
        .powi(2);
    Ok(-duration.ln() + amplitude.ln() - jerk_cost.ln())
}

/// `[S21] log_dimensionless_jerk_imu(acc, gyro, g, fs)`: LDLJ-A from an IMU.
///
/// `acc` in m/s² and, when given, `gyro_rad_s` in rad/s (the caller converts deg/s).
/// `A = ||acc||_F²/N − ||g||²` (gravity removed only when the gyroscope is given);
/// jerk `= Δacc·fs − acc × ω`, its first row 0; `LDLJ = −ln(N·dt) + ln A − ln J`.
pub fn log_dimensionless_jerk_imu(
    acc: [&[f64]; 3],
    gyro_rad_s: Option<[&[f64]; 3]>,
    gravity: [f64; 3],
    fs: f64,
) -> Result<f64, AnalyticsError> {
    let n = acc[0].len();
    let lengths_ok = acc.iter().all(|c| c.len() == n)
        && gyro_rad_s.is_none_or(|g| g.iter().all(|c| c.len() == n));
    if !lengths_ok {
        return Err(AnalyticsError::InvalidArgument(
            "IMU channels differ in length".into(),
        ));
    }
    if n == 0 {
        return Err(AnalyticsError::EmptySignal);
    }
    let dt = 1.0 / fs;
    let duration = n as f64 * dt;
    let frobenius_sq: f64 = acc.iter().flat_map(|c| c.iter()).map(|v| v * v).sum();
    let mut amplitude = frobenius_sq / n as f64;
    if gyro_rad_s.is_some() {
        amplitude -= gravity.iter().map(|g| g * g).sum::<f64>();
    }

    let mut jerk_cost = 0.0;
    for i in 0..n {
        let a = [acc[0][i], acc[1][i], acc[2][i]];
        // The derivative is `np.diff(acc) * fs` with a zero row prepended.
        let mut j = if i == 0 {
            [0.0; 3]
        } else {
            [
                (a[0] - acc[0][i - 1]) * fs,
                (a[1] - acc[1][i - 1]) * fs,
                (a[2] - acc[2][i - 1]) * fs,
            ]
        };
        if let Some(g) = gyro_rad_s {
            let w = [g[0][i], g[1][i], g[2][i]];
            let cross = [
                a[1] * w[2] - a[2] * w[1],
                a[2] * w[0] - a[0] * w[2],
                a[0] * w[1] - a[1] * w[0],
            ];
            for (jk, ck) in j.iter_mut().zip(cross) {
                *jk -= ck;
            }
        }
        jerk_cost += j.iter().map(|v| v * v).sum::<f64>();
    }
    jerk_cost *= dt;
    Ok(-duration.ln() + amplitude.ln() - jerk_cost.ln())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testing::{gaussian_doctest, min_jerk_reach};

    #[test]
    fn the_published_doctest_gives_dj_minus_335_74684_and_ldlj_minus_5_81636() {
        let x = gaussian_doctest();
        assert_eq!(
            format!("{:.5}", dimensionless_jerk(&x, 100.0)),
            "-335.74684"
        );
        assert_eq!(
            format!("{:.5}", log_dimensionless_jerk(&x, 100.0)),
            "-5.81636"
        );
        assert!((log_dimensionless_jerk(&x, 100.0) - -5.816357414756398).abs() < 1e-12);
    }

    #[test]
    fn the_vector_form_matches_its_doctest_for_one_and_three_columns() {
        let x = gaussian_doctest();
        let one = log_dimensionless_jerk_vector(&[&x], 100.0, VectorKind::Velocity, false)
            .expect("200 samples");
        let three =
            log_dimensionless_jerk_vector(&[&x, &x, &x], 100.0, VectorKind::Velocity, false)
                .expect("200 samples");
        assert_eq!(format!("{one:.5}"), "-5.81636");
        assert!((one - three).abs() < 1e-12);
    }

    #[test]
    fn for_a_given_sample_array_the_sample_rate_cancels() {
        let x = gaussian_doctest();
        assert!(
            (log_dimensionless_jerk(&x, 100.0) - log_dimensionless_jerk(&x, 1000.0)).abs() < 1e-9
        );
    }

    #[test]
    fn a_constant_input_gives_plus_infinity() {
        assert_eq!(log_dimensionless_jerk(&[2.0; 20], 100.0), f64::INFINITY);
    }

    #[test]
    fn an_all_zero_input_gives_nan() {
        assert!(log_dimensionless_jerk(&[0.0; 20], 100.0).is_nan());
    }

    #[test]
    fn fewer_than_three_samples_give_plus_infinity() {
        assert_eq!(log_dimensionless_jerk(&[], 100.0), f64::INFINITY);
        assert_eq!(log_dimensionless_jerk(&[1.0], 100.0), f64::INFINITY);
        assert_eq!(log_dimensionless_jerk(&[1.0, 2.0], 100.0), f64::INFINITY);
    }

    #[test]
    fn the_vector_form_raises_below_three_samples() {
        let x = [1.0, 2.0];
        assert_eq!(
            log_dimensionless_jerk_vector(&[&x], 100.0, VectorKind::Velocity, false),
            Err(AnalyticsError::TooShort { len: 2, min: 3 })
        );
    }

    #[test]
    fn the_min_jerk_reach_ldlj_drifts_from_minus_6_495_to_minus_6_526() {
        let at = |fs: f64| log_dimensionless_jerk(&min_jerk_reach(fs), fs);
        assert_eq!(format!("{:.3}", at(50.0)), "-6.495");
        assert_eq!(format!("{:.3}", at(200.0)), "-6.526");
        // Verified against the numpy reference.
        assert!((at(50.0) - MJT_LDLJ[0]).abs() < 1e-9);
        assert!((at(100.0) - MJT_LDLJ[1]).abs() < 1e-9);
        assert!((at(200.0) - MJT_LDLJ[2]).abs() < 1e-9);
    }
    const MJT_LDLJ: [f64; 3] = [-6.495302935259238, -6.513116527184717, -6.5258510675533845];

    #[test]
    fn dimensionless_jerk2_scales_duration_by_the_profile_kind() {
        let x = gaussian_doctest();
        assert_eq!(
            dimensionless_jerk2(&x, 100.0, ProfileKind::Speed),
            dimensionless_jerk(&x, 100.0)
        );
        assert!(
            (dimensionless_jerk2(&x, 100.0, ProfileKind::Accel) - DJ2_ACCL).abs()
                < 1e-9 * DJ2_ACCL.abs()
        );
        assert!(
            (dimensionless_jerk2(&x, 100.0, ProfileKind::Jerk) - DJ2_JERK).abs()
                < 1e-9 * DJ2_JERK.abs()
        );
    }
    const DJ2_ACCL: f64 = -5.6032405891158215;
    const DJ2_JERK: f64 = -0.2802473829442727;

    #[test]
    fn the_imu_form_matches_the_reference() {
        let n = 150;
        let fs = 100.0;
        let ax: Vec<f64> = (0..n).map(|i| (i as f64 * 0.05).sin()).collect();
        let ay: Vec<f64> = (0..n).map(|i| 0.5 * (i as f64 * 0.03).cos()).collect();
        let az: Vec<f64> = (0..n)
            .map(|i| 9.81 + 0.1 * (i as f64 * 0.07).sin())
            .collect();
        let wx: Vec<f64> = (0..n).map(|i| 0.2 * (i as f64 * 0.02).sin()).collect();
        let wy: Vec<f64> = (0..n).map(|i| 0.1 * (i as f64 * 0.04).cos()).collect();
        let wz: Vec<f64> = (0..n).map(|i| 0.05 * i as f64 / n as f64).collect();
        let acc = [ax.as_slice(), ay.as_slice(), az.as_slice()];
        let gyro = [wx.as_slice(), wy.as_slice(), wz.as_slice()];
        let with_gyro =
            log_dimensionless_jerk_imu(acc, Some(gyro), [0.0, 0.0, 9.81], fs).expect("valid");
        let without = log_dimensionless_jerk_imu(acc, None, [0.0, 0.0, 9.81], fs).expect("valid");
        assert!((with_gyro - IMU_REFERENCE[0]).abs() < 1e-9, "{with_gyro}");
        assert!((without - IMU_REFERENCE[1]).abs() < 1e-9, "{without}");
    }
    const IMU_REFERENCE: [f64; 2] = [-4.0155771719949875, 1.102784362569857];
}

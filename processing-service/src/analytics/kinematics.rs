//! B1-B5 and B8: angular velocity, joint-space speed, ROM, partial TAM, repetitions,
//! and peak/mean angular velocity.

use super::AnalyticsError;

/// B1: `numpy.gradient(x, h)` with `h = 1/fs`.
///
/// Central differences inside, one-sided first differences at both ends. Below two
/// samples the derivative is undefined: every output sample is NaN.
pub fn gradient(x: &[f64], fs: f64) -> Vec<f64> {
    let n = x.len();
    if n < 2 {
        return vec![f64::NAN; n];
    }
    let h = 1.0 / fs;
    let mut out = Vec::with_capacity(n);
    out.push((x[1] - x[0]) / h);
    out.extend(x.windows(3).map(|w| (w[2] - w[0]) / (2.0 * h)));
    out.push((x[n - 1] - x[n - 2]) / h);
    out
}

/// B2: the joint-space speed `s_i = sqrt(Σ_j ω_ij²)` of a finger's joints.
///
/// Errors when the columns differ in length (a validated recording never does).
pub fn joint_space_speed(velocities: &[&[f64]]) -> Result<Vec<f64>, AnalyticsError> {
    let n = velocities.first().map_or(0, |c| c.len());
    if velocities.iter().any(|c| c.len() != n) {
        return Err(AnalyticsError::InvalidArgument(
            "the joint velocities of a finger differ in length".into(),
        ));
    }
    Ok((0..n)
        .map(|i| velocities.iter().map(|c| c[i] * c[i]).sum::<f64>().sqrt())
        .collect())
}

/// The minimum and maximum of `x`, NaN-propagating like numpy (NaN for empty input).
pub fn min_max(x: &[f64]) -> (f64, f64) {
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    x.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            if v.is_nan() || lo.is_nan() {
                (f64::NAN, f64::NAN)
            } else {
                (lo.min(v), hi.max(v))
            }
        })
}

/// B3: active range of motion, `max − min` in degrees.
pub fn range_of_motion(angle: &[f64]) -> f64 {
    let (lo, hi) = min_max(angle);
    hi - lo
}

/// B4: the ASSH total active motion over the given joints, `Σ [max − max(min, 0)]`.
///
/// Hyperextension (a negative minimum) is not an extension deficit, hence the
/// `max(min, 0)`. With MCP+PIP only this is a partial TAM.
pub fn total_active_motion(angles: &[&[f64]]) -> f64 {
    angles
        .iter()
        .map(|a| {
            let (lo, hi) = min_max(a);
            hi - lo.max(0.0)
        })
        .sum()
}

/// B5: the number of flexion repetitions of one joint angle, by hysteresis.
///
/// A repetition is a visit below 30 % of the range followed by one above 70 %;
/// the hysteresis ignores wobble around a single threshold. Below 5° of range the
/// joint is considered still and the count is 0.
pub fn count_repetitions(angle: &[f64]) -> usize {
    let (lo, hi) = min_max(angle);
    let range = hi - lo;
    // `!(range >= 5)` also catches NaN (empty input).
    if range.is_nan() || range < 5.0 {
        return 0;
    }
    let low = lo + 0.3 * range;
    let high = lo + 0.7 * range;
    let mut armed = false;
    let mut count = 0;
    for &v in angle {
        if v <= low {
            armed = true;
        } else if v >= high && armed {
            count += 1;
            armed = false;
        }
    }
    count
}

/// B8: `(max|ω|, mean|ω|)` of one joint's angular velocity (NaN when empty).
pub fn abs_velocity_stats(velocity: &[f64]) -> (f64, f64) {
    if velocity.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let (peak, sum) = velocity
        .iter()
        .fold((f64::NEG_INFINITY, 0.0), |(peak, sum), v| {
            let a = v.abs();
            (
                if a.is_nan() || peak.is_nan() {
                    f64::NAN
                } else {
                    peak.max(a)
                },
                sum + a,
            )
        });
    (peak, sum / velocity.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_uses_central_differences_inside_and_one_sided_at_the_ends() {
        let x = [0.0, 1.0, 4.0, 9.0];
        assert_eq!(gradient(&x, 10.0), vec![10.0, 20.0, 40.0, 50.0]);
    }

    #[test]
    fn gradient_of_fewer_than_two_samples_is_nan() {
        assert!(gradient(&[1.0], 100.0)[0].is_nan());
        assert!(gradient(&[], 100.0).is_empty());
    }

    #[test]
    fn joint_space_speed_is_the_euclidean_norm_across_joints() {
        let a = [3.0, 0.0];
        let b = [4.0, -2.0];
        assert_eq!(joint_space_speed(&[&a, &b]), Ok(vec![5.0, 2.0]));
    }

    #[test]
    fn rom_is_max_minus_min() {
        assert_eq!(range_of_motion(&[-5.0, 20.0, 80.0, 10.0]), 85.0);
    }

    #[test]
    fn tam_does_not_count_hyperextension_as_a_deficit() {
        let mcp = [-10.0, 85.0];
        let pip = [5.0, 100.0];
        // MCP: 85 − max(−10, 0) = 85; PIP: 100 − 5 = 95.
        assert_eq!(total_active_motion(&[&mcp, &pip]), 180.0);
    }

    #[test]
    fn repetitions_count_each_low_then_high_crossing_once() {
        let x = [
            0.0, 50.0, 100.0, 60.0, 50.0, 100.0, 10.0, 100.0, 90.0, 100.0,
        ];
        // Armed at 0, count at 100; 60/50 do not re-arm (lo = 30); re-armed at 10.
        assert_eq!(count_repetitions(&x), 2);
    }

    #[test]
    fn repetitions_are_zero_below_five_degrees_of_range() {
        assert_eq!(count_repetitions(&[0.0, 4.9, 0.0, 4.9, 0.0]), 0);
        assert_eq!(count_repetitions(&[]), 0);
    }

    #[test]
    fn velocity_stats_are_peak_and_mean_of_the_absolute_value() {
        assert_eq!(abs_velocity_stats(&[-3.0, 1.0, 2.0]), (3.0, 2.0));
    }
}

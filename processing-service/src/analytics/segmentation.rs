//! B6 and B7: movement segmentation and movement units (velocity peaks).

use std::ops::Range;

/// B6: the minimum number of samples of a segment lasting `seconds` at `fs` Hz,
/// `ceil(seconds·fs − 1e-9)`: the epsilon keeps 0.2·100 = 20.000000000000004 at 20.
pub fn min_samples(seconds: f64, fs: f64) -> usize {
    (seconds * fs - 1e-9).ceil().max(0.0) as usize
}

/// B6: the maximal runs `[start, stop)` of `x >= threshold` with at least `min_len`
/// samples. NaN samples are never in a run.
pub fn runs_at_or_above(x: &[f64], threshold: f64, min_len: usize) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, &v) in x.iter().enumerate() {
        match (v >= threshold, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s >= min_len {
                    runs.push(s..i);
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start
        && x.len() - s >= min_len
    {
        runs.push(s..x.len());
    }
    runs
}

/// B6: the movement segments of a speed profile: runs of `s >= 0.10·max(s)` lasting
/// at least 0.2 s.
pub fn movement_segments(speed: &[f64], fs: f64) -> Vec<Range<usize>> {
    let peak = speed.iter().copied().fold(f64::NEG_INFINITY, |m, v| {
        if v.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(v)
        }
    });
    runs_at_or_above(speed, 0.10 * peak, min_samples(0.2, fs))
}

/// B7: the number of movement units (Alt Murphy velocity peaks) in a speed profile.
///
/// A unit is a local maximum rising at least `amp_th` above the last local minimum,
/// at least `min_dt_s` after the previous counted peak. This spec uses
/// `amp_th` = 10 deg/s and `min_dt_s` = 0.15 s.
pub fn movement_units(speed: &[f64], fs: f64, amp_th: f64, min_dt_s: f64) -> usize {
    let n = speed.len();
    if n < 3 {
        return 0;
    }
    let min_gap = min_samples(min_dt_s, fs);
    let mut prev_min = speed[0];
    let mut last_peak: Option<usize> = None;
    let mut count = 0;
    // B7 "for i in 1..N−2": every sample with both neighbours, i.e. range(1, N-1).
    for i in 1..n - 1 {
        let (before, here, after) = (speed[i - 1], speed[i], speed[i + 1]);
        if here < before && here <= after {
            prev_min = here;
        } else if here > before
            && here >= after
            && here - prev_min >= amp_th
            && last_peak.is_none_or(|last| i - last >= min_gap)
        {
            count += 1;
            last_peak = Some(i);
        }
    }
    count
}

/// The amplitude threshold of B7 in this spec, in deg/s.
pub const MOVEMENT_UNIT_AMP_TH_DPS: f64 = 10.0;
/// The minimum time between two counted peaks in B7, in seconds.
pub const MOVEMENT_UNIT_MIN_DT_S: f64 = 0.15;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_samples_does_not_round_up_float_noise() {
        assert_eq!(min_samples(0.2, 100.0), 20);
        assert_eq!(min_samples(0.2, 50.0), 10);
        assert_eq!(min_samples(0.15, 100.0), 15);
        assert_eq!(min_samples(0.2, 33.0), 7);
    }

    #[test]
    fn runs_shorter_than_the_minimum_are_dropped() {
        let x = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(runs_at_or_above(&x, 0.5, 3), vec![4..7, 8..11]);
    }

    #[test]
    fn segments_use_ten_percent_of_the_peak_speed() {
        let fs = 10.0; // two samples make 0.2 s
        let s = [0.0, 9.0, 100.0, 0.0, 10.0, 10.0, 0.0];
        assert_eq!(movement_segments(&s, fs), vec![4..6]);
    }

    #[test]
    fn one_smooth_bell_is_one_movement_unit() {
        let s: Vec<f64> = (0..100)
            .map(|i| 100.0 * (std::f64::consts::PI * i as f64 / 99.0).sin())
            .collect();
        assert_eq!(movement_units(&s, 100.0, 10.0, 0.15), 1);
    }

    #[test]
    fn peaks_closer_than_the_minimum_gap_count_once() {
        // Two peaks 5 samples apart at 100 Hz (50 ms < 150 ms), each rising ≥ 10.
        let s = [0.0, 20.0, 0.0, 0.0, 0.0, 0.0, 20.0, 0.0];
        assert_eq!(movement_units(&s, 100.0, 10.0, 0.15), 1);
        assert_eq!(movement_units(&s, 10.0, 10.0, 0.15), 2);
    }

    #[test]
    fn small_ripples_are_not_movement_units() {
        let s = [0.0, 20.0, 15.0, 24.0, 0.0];
        // The ripple rises 9 above its minimum: not a unit.
        assert_eq!(movement_units(&s, 10.0, 10.0, 0.0), 1);
    }
}

//! B10: grip-force episodes.

use serde::Serialize;

use super::kinematics::gradient;
use super::segmentation::{min_samples, runs_at_or_above};

/// The B10 summary of a grip-force channel. Means are over episodes (NaN when there
/// is none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GripMetrics {
    /// `max F` over the recording, in N.
    pub peak_force: f64,
    /// The number of grip episodes.
    pub n_grips: usize,
    /// Mean of each episode's peak force, in N.
    pub mean_ep_peak: f64,
    /// Mean time from episode start to its first maximum, in s.
    pub mean_time_to_peak_s: f64,
    /// Mean of each episode's maximum rate of force development `max dF/dt`, in N/s.
    pub mean_max_rfd: f64,
    /// Mean episode duration, in s.
    pub mean_duration_s: f64,
    /// Mean of each episode's hold-phase mean force (samples ≥ 80 % of its peak), in N.
    pub mean_hold_mean: f64,
    /// Mean of each episode's hold-phase coefficient of variation (`std(ddof=0)/mean`).
    pub mean_hold_cv: f64,
}

/// B10: episodes are runs of `F ≥ 0.1·max F` lasting at least 0.2 s; `dF/dt` is the
/// B1 gradient of the whole signal, restricted to each episode.
pub fn grip_metrics(force: &[f64], fs: f64) -> GripMetrics {
    let peak_force = force.iter().copied().fold(f64::NEG_INFINITY, |m, v| {
        if v.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(v)
        }
    });
    let peak_force = if force.is_empty() {
        f64::NAN
    } else {
        peak_force
    };
    let episodes = runs_at_or_above(force, 0.1 * peak_force, min_samples(0.2, fs));
    let rate = gradient(force, fs);

    let mut sums = [0.0; 6];
    for episode in &episodes {
        let f = &force[episode.clone()];
        // The first maximum (first index on ties), as `np.argmax`.
        let (peak_at, ep_peak) =
            f.iter()
                .copied()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, v)| {
                    if v > best.1 { (i, v) } else { best }
                });
        let max_rfd = rate[episode.clone()]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let hold: Vec<f64> = f.iter().copied().filter(|&v| v >= 0.8 * ep_peak).collect();
        let hold_mean = hold.iter().sum::<f64>() / hold.len() as f64;
        let hold_var =
            hold.iter().map(|v| (v - hold_mean).powi(2)).sum::<f64>() / hold.len() as f64;
        let values = [
            ep_peak,
            peak_at as f64 / fs,
            max_rfd,
            f.len() as f64 / fs,
            hold_mean,
            hold_var.sqrt() / hold_mean,
        ];
        for (s, v) in sums.iter_mut().zip(values) {
            *s += v;
        }
    }
    let count = episodes.len() as f64;
    let mean = |i: usize| {
        if episodes.is_empty() {
            f64::NAN
        } else {
            sums[i] / count
        }
    };
    GripMetrics {
        peak_force,
        n_grips: episodes.len(),
        mean_ep_peak: mean(0),
        mean_time_to_peak_s: mean(1),
        mean_max_rfd: mean(2),
        mean_duration_s: mean(3),
        mean_hold_mean: mean(4),
        mean_hold_cv: mean(5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_square_grip_has_its_plateau_as_hold() {
        let fs = 10.0;
        let mut f = vec![0.0; 10];
        f.extend([10.0, 20.0, 20.0, 20.0, 20.0, 10.0]);
        f.extend(vec![0.0; 10]);
        let m = grip_metrics(&f, fs);
        assert_eq!(m.peak_force, 20.0);
        assert_eq!(m.n_grips, 1);
        assert_eq!(m.mean_ep_peak, 20.0);
        assert_eq!(m.mean_time_to_peak_s, 0.1);
        // The steepest central difference is at the episode's first sample:
        // (20 − 0) / (2 · 0.1 s) = 100 N/s.
        assert_eq!(m.mean_max_rfd, 100.0);
        assert_eq!(m.mean_duration_s, 0.6);
        assert_eq!(m.mean_hold_mean, 20.0);
        assert_eq!(m.mean_hold_cv, 0.0);
    }

    #[test]
    fn brief_touches_are_not_grips() {
        let fs = 100.0;
        let mut f = vec![0.0; 50];
        f.extend(vec![30.0; 19]); // 0.19 s < 0.2 s
        f.extend(vec![0.0; 50]);
        f.extend(vec![25.0; 20]); // exactly 0.2 s
        f.extend(vec![0.0; 10]);
        let m = grip_metrics(&f, fs);
        assert_eq!(m.peak_force, 30.0);
        assert_eq!(m.n_grips, 1);
        assert_eq!(m.mean_ep_peak, 25.0);
    }

    #[test]
    fn no_grip_gives_nan_means() {
        let m = grip_metrics(&[5.0; 10], 100.0);
        assert_eq!(m.n_grips, 0);
        assert!(m.mean_ep_peak.is_nan());
    }
}

//! B9: tremor from a tri-axial gyroscope or accelerometer (per-axis Welch PSDs, summed).

use serde::Serialize;

use super::fft::rfft;

/// The tremor band of B9, in Hz (inclusive at both ends).
pub const TREMOR_BAND_HZ: (f64, f64) = (3.0, 12.0);

/// A one-sided power spectral density on the grid `freqs_hz[k] = k·df`.
#[derive(Debug, Clone, PartialEq)]
pub struct Psd {
    /// Bin frequencies as `np.fft.rfftfreq(L, 1/fs)` computes them.
    pub freqs_hz: Vec<f64>,
    /// Power per Hz in each bin (units² / Hz).
    pub power: Vec<f64>,
    /// The bin width `fs / L`, in Hz.
    pub df_hz: f64,
}

/// B9: `scipy.signal.welch(x, fs, window='hann', nperseg=L, noverlap=L//2)` with
/// `L = min(N, round(4·fs))`: periodic Hann, per-segment mean removed, trailing
/// partial segment dropped, density scaling, one-sided bins doubled except DC and
/// Nyquist, segments averaged. `None` for an empty signal.
pub fn welch(x: &[f64], fs: f64) -> Option<Psd> {
    let n = x.len();
    // Python's `round` rounds halves to even.
    let len = n.min((4.0 * fs).round_ties_even() as usize);
    if len == 0 {
        return None;
    }
    let hop = len - len / 2;
    let window = periodic_hann(len);
    let window_energy: f64 = window.iter().map(|w| w * w).sum();
    let scale = 1.0 / (fs * window_energy);
    let bins = len / 2 + 1;

    let mut power = vec![0.0; bins];
    let mut segments = 0usize;
    let mut buffer = vec![0.0; len];
    let mut start = 0;
    while start + len <= n {
        let segment = &x[start..start + len];
        let mean = segment.iter().sum::<f64>() / len as f64;
        for ((b, v), w) in buffer.iter_mut().zip(segment).zip(&window) {
            *b = (v - mean) * w;
        }
        for (p, c) in power.iter_mut().zip(rfft(&mut buffer)) {
            *p += c.norm_sqr();
        }
        segments += 1;
        start += hop;
    }

    let nyquist_bin = len.is_multiple_of(2).then_some(len / 2);
    for (k, p) in power.iter_mut().enumerate() {
        *p = *p * scale / segments as f64;
        if k != 0 && Some(k) != nyquist_bin {
            *p *= 2.0;
        }
    }
    // `rfftfreq(L, d)`: k · (1 / (L·d)) with d = 1/fs.
    let val = 1.0 / (len as f64 * (1.0 / fs));
    let freqs_hz = (0..bins).map(|k| k as f64 * val).collect();
    Some(Psd {
        freqs_hz,
        power,
        df_hz: fs / len as f64,
    })
}

/// scipy's `get_window('hann', L)` (periodic): `0.5 − 0.5·cos(2πn/L)`; a 1-sample
/// window is `[1]` as scipy's length guard returns.
fn periodic_hann(len: usize) -> Vec<f64> {
    if len == 1 {
        return vec![1.0];
    }
    (0..len)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos())
        .collect()
}

/// The B9 tremor measures of one tri-axial sensor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TremorMetrics {
    /// `Σ_{3≤f≤12 Hz} P·df` of the summed per-axis PSD.
    pub band_power: f64,
    /// `√band_power`, in the sensor's units.
    pub tremor_rms: f64,
    /// `Σ_{k≥1} P·df`: all power except DC.
    pub total_power: f64,
    /// `band_power / total_power` (NaN when there is no power).
    pub power_ratio: f64,
    /// The first arg-max bin inside the band; NaN when the band holds no power.
    pub peak_freq_hz: f64,
}

/// B9 on three axes: per-axis Welch PSDs summed, then band, total and peak.
///
/// Never on `||x||`: rectification moves a single-axis tremor's fundamental to 2f.
pub fn tremor_metrics(axes: [&[f64]; 3], fs: f64) -> TremorMetrics {
    let mut summed: Option<Psd> = None;
    for axis in axes {
        let Some(psd) = welch(axis, fs) else { continue };
        match summed.as_mut() {
            None => summed = Some(psd),
            Some(total) => total
                .power
                .iter_mut()
                .zip(&psd.power)
                .for_each(|(t, p)| *t += p),
        }
    }
    match summed {
        Some(psd) => metrics_of(&psd),
        None => TremorMetrics {
            band_power: f64::NAN,
            tremor_rms: f64::NAN,
            total_power: f64::NAN,
            power_ratio: f64::NAN,
            peak_freq_hz: f64::NAN,
        },
    }
}

/// B9 band, total and peak of one (summed) PSD.
pub fn metrics_of(psd: &Psd) -> TremorMetrics {
    let (lo, hi) = TREMOR_BAND_HZ;
    let mut band_power = 0.0;
    let mut peak: Option<(usize, f64)> = None;
    for (k, (&f, &p)) in psd.freqs_hz.iter().zip(&psd.power).enumerate() {
        if (lo..=hi).contains(&f) {
            band_power += p * psd.df_hz;
            // Strictly greater: the first bin wins ties.
            if peak.is_none_or(|(_, best)| p > best) {
                peak = Some((k, p));
            }
        }
    }
    let total_power: f64 = psd.power.iter().skip(1).map(|p| p * psd.df_hz).sum();
    let peak_freq_hz = match peak {
        Some((k, _)) if band_power > 0.0 => psd.freqs_hz[k],
        _ => f64::NAN,
    };
    TremorMetrics {
        band_power,
        tremor_rms: band_power.sqrt(),
        total_power,
        power_ratio: band_power / total_power,
        peak_freq_hz,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testing::sine;

    #[test]
    fn welch_matches_scipy_on_a_noisy_sine() {
        // Reference: scipy.signal.welch(x, 100, 'hann', nperseg=400, noverlap=200).
        let x: Vec<f64> = sine(1000, 100.0, 6.0, 2.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.3 * ((i * i % 17) as f64 - 8.0) / 8.0)
            .collect();
        let psd = welch(&x, 100.0).expect("non-empty");
        assert_eq!(psd.power.len(), 201);
        for (k, expected) in WELCH_REFERENCE {
            let got = psd.power[k];
            assert!(
                (got - expected).abs() <= 1e-9 * expected.abs() + 1e-12,
                "bin {k}: {got} vs {expected}"
            );
        }
    }
    const WELCH_REFERENCE: [(usize, f64); 6] = [
        (0, 3.3911395193310344e-06),
        (23, 1.3745215913105533),
        (24, 5.391595532657961),
        (30, 5.704466274276607e-08),
        (57, 4.668860542246226e-10),
        (200, 1.4422818092403136e-13),
    ];

    #[test]
    fn a_6_hz_tremor_is_found_at_6_hz() {
        let fs = 100.0;
        let x = sine(1000, fs, 6.0, 5.0);
        let zero = vec![0.0; 1000];
        let m = tremor_metrics([&x, &zero, &zero], fs);
        assert_eq!(m.peak_freq_hz, 6.0);
        // A sine of amplitude 5 carries 12.5 units² of power, nearly all in the band.
        assert!((m.tremor_rms - 12.5_f64.sqrt()).abs() < 0.05, "{m:?}");
        assert!(m.power_ratio > 0.99);
    }

    #[test]
    fn the_magnitude_of_a_single_axis_tremor_peaks_at_twice_its_frequency() {
        // B9 pitfall: ||ω|| of a one-axis 6 Hz oscillation is |sin|, whose fundamental
        // is 12 Hz; the per-axis spectrum keeps 6 Hz.
        let fs = 100.0;
        let x = sine(1000, fs, 6.0, 5.0);
        let zero = vec![0.0; 1000];
        let per_axis = tremor_metrics([&x, &zero, &zero], fs);
        let magnitude: Vec<f64> = x.iter().map(|v| v.abs()).collect();
        let norm = tremor_metrics([&magnitude, &zero, &zero], fs);
        assert_eq!(per_axis.peak_freq_hz, 6.0);
        assert_eq!(norm.peak_freq_hz, 12.0);
    }

    #[test]
    fn a_still_sensor_has_no_peak_frequency() {
        let still = vec![1.0; 500];
        let m = tremor_metrics([&still, &still, &still], 100.0);
        assert_eq!(m.band_power, 0.0);
        assert!(m.peak_freq_hz.is_nan());
        assert!(m.power_ratio.is_nan());
    }

    #[test]
    fn a_short_signal_uses_one_segment_of_its_own_length() {
        let x = sine(50, 100.0, 6.0, 1.0);
        let psd = welch(&x, 100.0).expect("non-empty");
        assert_eq!(psd.power.len(), 26);
        assert_eq!(psd.df_hz, 2.0);
    }

    #[test]
    fn a_one_sample_signal_has_zero_power() {
        let psd = welch(&[3.0], 100.0).expect("non-empty");
        assert_eq!(psd.power, vec![0.0]);
    }
}

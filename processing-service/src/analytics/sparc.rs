//! A1: the spectral arc length (SPARC), ported from `[S15] sparc()`.

use super::AnalyticsError;
use super::fft::padded_power;

/// The parameters of A1, with the published defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparcParams {
    /// Extra powers of two of zero padding (A1 step 1).
    pub padlevel: u32,
    /// The maximum cut-off frequency `ωc_max`, in Hz.
    pub fc_hz: f64,
    /// The amplitude threshold `V̄` on the normalised spectrum.
    pub amp_th: f64,
}

impl Default for SparcParams {
    fn default() -> Self {
        Self {
            padlevel: 4,
            fc_hz: 10.0,
            amp_th: 0.05,
        }
    }
}

impl SparcParams {
    /// The 2012 TBME spectral arc length (SAL): a fixed 20 Hz cut-off, no threshold.
    pub fn sal() -> Self {
        Self {
            padlevel: 4,
            fc_hz: 20.0,
            amp_th: 0.0,
        }
    }
}

/// SPARC of a speed profile with the default parameters (`padlevel=4, fc=10, amp_th=0.05`).
pub fn sparc(speed: &[f64], fs: f64) -> Result<f64, AnalyticsError> {
    sparc_with(speed, fs, SparcParams::default())
}

/// SPARC of `movement` sampled at `fs` Hz, exactly as `[S15] sparc()` computes it.
///
/// Errors: an empty signal, and a spectrum with no bin up to `fc` at or above
/// `amp_th` (an all-zero signal, whose normalised spectrum is 0/0 = NaN).
pub fn sparc_with(movement: &[f64], fs: f64, params: SparcParams) -> Result<f64, AnalyticsError> {
    let n = movement.len();
    if n == 0 {
        return Err(AnalyticsError::EmptySignal);
    }
    // A1 step 1: nfft = 2^(ceil(log2 N) + padlevel); `next_power_of_two` is 2^ceil(log2 N).
    let nfft = n.next_power_of_two() << params.padlevel;
    let power = padded_power(movement, nfft);

    // A1 step 2: normalise by the maximum over the whole spectrum. For real input the
    // negative-frequency half mirrors the positive one, so the one-sided max is the
    // max; and since sqrt is monotonic, max |X| = sqrt(max |X|²). NaN bins (from a
    // non-finite input) need no special care: every Mf is then NaN and step 4 fails.
    let peak = power
        .iter()
        .fold(0.0_f64, |m, &p| if p > m { p } else { m })
        .sqrt();
    // `np.arange(0, fs, fs/nfft)`: k * step, where step = fs/nfft is exact (nfft is a
    // power of two), so this is bit-identical to the reference's frequency grid.
    let step = fs / nfft as f64;
    let freq = |k: usize| k as f64 * step;
    // Bin k of the full two-sided spectrum, mirrored for k > nfft/2 (A1 edge case
    // "fc >= fs/2": the mirrored negative frequencies are then included).
    let mag = |k: usize| {
        let p = if k <= nfft / 2 {
            power[k]
        } else {
            power[nfft - k]
        };
        p.sqrt() / peak
    };

    // A1 step 3: the bins with f[k] <= fc form a prefix 0..kept (f is increasing).
    let kept = bins_at_or_below(params.fc_hz, step, nfft);

    // A1 step 4: the first and last kept bin with Mf >= amp_th; everything between
    // them is used, including bins that dip below the threshold.
    let above = |k: &usize| mag(*k) >= params.amp_th;
    let no_bin = AnalyticsError::NoSpectrumAboveThreshold {
        fc_hz: params.fc_hz,
        amp_th: params.amp_th,
    };
    let i0 = (0..kept).find(above).ok_or_else(|| no_bin.clone())?;
    let i1 = (0..kept).rev().find(above).ok_or(no_bin)?;

    // A1 step 5: the arc length of the normalised (f, Mf) curve, frequency normalised
    // by the selected band's width. One bin selected → an empty sum → 0 (not NaN).
    let width = freq(i1) - freq(i0);
    let mut arc = 0.0;
    let mut prev = mag(i0);
    for k in i0..i1 {
        let next = mag(k + 1);
        let df = (freq(k + 1) - freq(k)) / width;
        let dm = next - prev;
        arc += (df * df + dm * dm).sqrt();
        prev = next;
    }
    // `-sum([])` is integer 0 in Python; return +0.0 rather than -0.0.
    Ok(if arc == 0.0 { 0.0 } else { -arc })
}

/// The number of bins `k < nfft` with `k·step <= fc`: an estimate from the division,
/// corrected against the exact comparison the reference makes.
fn bins_at_or_below(fc: f64, step: f64, nfft: usize) -> usize {
    if fc.is_nan() || fc < 0.0 {
        return 0;
    }
    let mut kept = ((fc / step).floor() as usize).saturating_add(1).min(nfft);
    while kept > 0 && (kept - 1) as f64 * step > fc {
        kept -= 1;
    }
    while kept < nfft && kept as f64 * step <= fc {
        kept += 1;
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testing::{gaussian_doctest, min_jerk_reach};

    #[test]
    fn the_published_doctest_gives_minus_1_41403() {
        let value = sparc(&gaussian_doctest(), 100.0).expect("a non-zero signal has a spectrum");
        assert_eq!(format!("{value:.5}"), "-1.41403");
        // Verified against the reference (numpy) implementation.
        assert!((value - -1.414031261710479).abs() < 1e-12);
    }

    #[test]
    fn a_constant_input_gives_the_rectangular_window_value() {
        let value = sparc(&[3.0; 200], 100.0).expect("a constant non-zero signal has a spectrum");
        assert_eq!(format!("{value:.3}"), "-2.401");
        assert!((value - -2.4011977610185444).abs() < 1e-12);
    }

    #[test]
    fn one_selected_bin_gives_zero_not_nan() {
        // 1 sample at 1 kHz: nfft = 16, bin 1 sits at 62.5 Hz > fc, so only DC is kept.
        assert_eq!(sparc(&[1.0], 1000.0), Ok(0.0));
    }

    #[test]
    fn an_empty_signal_is_an_error() {
        assert_eq!(sparc(&[], 100.0), Err(AnalyticsError::EmptySignal));
    }

    #[test]
    fn an_all_zero_signal_is_an_error() {
        assert!(matches!(
            sparc(&[0.0; 50], 100.0),
            Err(AnalyticsError::NoSpectrumAboveThreshold { .. })
        ));
    }

    #[test]
    fn a_cut_off_above_nyquist_includes_the_mirrored_bins() {
        // fs = 16 Hz, fc = 10 Hz > fs/2: bins up to 10 Hz include mirrored negative
        // frequencies. Reference value from numpy's full two-sided FFT.
        let x: Vec<f64> = (0..5).map(|i| 1.0 + i as f64).collect();
        let value = sparc_with(
            &x,
            16.0,
            SparcParams {
                amp_th: 0.0,
                ..SparcParams::default()
            },
        )
        .expect("a non-zero signal has a spectrum");
        assert!((value - MIRRORED_REFERENCE).abs() < 1e-12, "{value}");
    }
    const MIRRORED_REFERENCE: f64 = -1.5261685500742728;

    #[test]
    fn the_min_jerk_reach_gives_the_same_sparc_at_50_100_and_200_hz() {
        let values: Vec<f64> = [50.0, 100.0, 200.0]
            .iter()
            .map(|&fs| sparc(&min_jerk_reach(fs), fs).expect("the reach moves"))
            .collect();
        for v in &values {
            assert_eq!(format!("{v:.6}"), "-1.405916", "{values:?}");
        }
        // Verified against the numpy reference.
        for (v, want) in values.iter().zip(MJT_SPARC) {
            assert!((v - want).abs() < 1e-12, "{v} vs {want}");
        }
        let spread = values.iter().copied().fold(f64::MIN, f64::max)
            - values.iter().copied().fold(f64::MAX, f64::min);
        assert!(spread < 1e-6, "{values:?}");
    }

    const MJT_SPARC: [f64; 3] = [
        -1.4059158184581924,
        -1.4059164642943425,
        -1.4059164240268567,
    ];

    #[test]
    fn a_smoother_profile_has_a_higher_sparc() {
        // One bell versus the same bell with a second sub-movement: less smooth.
        let fs = 100.0;
        let one = min_jerk_reach(fs);
        let two: Vec<f64> = one
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.6 * one.get(i + 30).copied().unwrap_or(0.0))
            .collect();
        let smooth = sparc(&one, fs).expect("moves");
        let jerky = sparc(&two, fs).expect("moves");
        assert!(smooth > jerky, "{smooth} <= {jerky}");
    }

    #[test]
    fn sal_uses_a_20_hz_cut_off_and_no_threshold() {
        let value = sparc_with(&gaussian_doctest(), 100.0, SparcParams::sal()).expect("moves");
        assert!(value < sparc(&gaussian_doctest(), 100.0).expect("moves"));
    }
}

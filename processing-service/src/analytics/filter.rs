//! The optional production pre-filter: a zero-phase Butterworth low-pass on angles.
//!
//! Section C: LDLJ, peak velocity, movement units and ROM are noise-sensitive and
//! need a low-pass first; a zero-phase Butterworth around 6-10 Hz is the common
//! choice. This is `scipy.signal.filtfilt(*butter(2, fc/(fs/2)), x)` with scipy's
//! defaults (odd extension of 3·3 samples, steady-state initial conditions), so the
//! reference implementation under `bench/` agrees with it to rounding.

use super::AnalyticsError;

/// A 2nd-order Butterworth low-pass run forward and backward (4th order magnitude,
/// zero phase; the −3 dB point of one pass becomes −6 dB at `cutoff_hz`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LowPass {
    pub cutoff_hz: f64,
}

/// Transfer function coefficients `b`, `a` (with `a[0] = 1`) of a biquad.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 3],
}

/// scipy's default `filtfilt` edge: `3 · max(len(a), len(b))` samples.
const EDGE: usize = 9;

impl LowPass {
    /// Filters `x` sampled at `fs`. Signals of at most [`EDGE`] samples are returned
    /// unchanged: scipy refuses them, and there is no useful low-pass of 0.09 s.
    pub fn apply(&self, x: &[f64], fs: f64) -> Result<Vec<f64>, AnalyticsError> {
        let filter = butterworth2(self.cutoff_hz, fs)?;
        if x.len() <= EDGE {
            return Ok(x.to_vec());
        }
        Ok(filtfilt(&filter, x))
    }
}

/// `scipy.signal.butter(2, cutoff/(fs/2))` by the bilinear transform with prewarping.
fn butterworth2(cutoff_hz: f64, fs: f64) -> Result<Biquad, AnalyticsError> {
    if !(cutoff_hz > 0.0 && cutoff_hz < fs / 2.0) {
        return Err(AnalyticsError::InvalidArgument(format!(
            "low-pass cut-off {cutoff_hz} Hz must lie strictly between 0 and Nyquist ({} Hz)",
            fs / 2.0
        )));
    }
    let k = (std::f64::consts::PI * cutoff_hz / fs).tan();
    let k2 = k * k;
    let sqrt2 = std::f64::consts::SQRT_2;
    let norm = 1.0 / (1.0 + sqrt2 * k + k2);
    let b0 = k2 * norm;
    Ok(Biquad {
        b: [b0, 2.0 * b0, b0],
        a: [1.0, 2.0 * (k2 - 1.0) * norm, (1.0 - sqrt2 * k + k2) * norm],
    })
}

/// `scipy.signal.filtfilt(b, a, x)` with `padtype='odd'`, `padlen=9`.
fn filtfilt(f: &Biquad, x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let (first, last) = (x[0], x[n - 1]);
    // Odd extension: 2·x[0] − x[EDGE..0:-1], x, 2·x[-1] − x[-2:-(EDGE+2):-1].
    let mut ext = Vec::with_capacity(n + 2 * EDGE);
    ext.extend((1..=EDGE).rev().map(|i| 2.0 * first - x[i]));
    ext.extend_from_slice(x);
    ext.extend((2..EDGE + 2).map(|i| 2.0 * last - x[n - i]));

    let zi = steady_state(f);
    let x0 = ext[0];
    run(f, &mut ext, [zi[0] * x0, zi[1] * x0]);
    ext.reverse();
    let y0 = ext[0];
    run(f, &mut ext, [zi[0] * y0, zi[1] * y0]);
    ext.reverse();
    ext[EDGE..EDGE + n].to_vec()
}

/// `scipy.signal.lfilter_zi` for a biquad: the state of a step response at rest.
fn steady_state(f: &Biquad) -> [f64; 2] {
    let [b0, b1, b2] = f.b;
    let [_, a1, a2] = f.a;
    let (r0, r1) = (b1 - a1 * b0, b2 - a2 * b0);
    let z0 = (r0 + r1) / (1.0 + a1 + a2);
    [z0, r1 - a2 * z0]
}

/// `scipy.signal.lfilter` (direct form II transposed) in place, from state `z`.
fn run(f: &Biquad, x: &mut [f64], mut z: [f64; 2]) {
    let [b0, b1, b2] = f.b;
    let [_, a1, a2] = f.a;
    for v in x.iter_mut() {
        let input = *v;
        let y = b0 * input + z[0];
        z[0] = b1 * input - a1 * y + z[1];
        z[1] = b2 * input - a2 * y;
        *v = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testing::sine;

    #[test]
    fn the_coefficients_match_scipy_butter() {
        let f = butterworth2(8.0, 100.0).expect("8 Hz is below Nyquist");
        // scipy.signal.butter(2, 8/50)
        for (got, want) in f.b.iter().chain(&f.a).zip(BUTTER_8_OF_100) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
    }
    const BUTTER_8_OF_100: [f64; 6] = [
        0.04613180209331293,
        0.09226360418662587,
        0.04613180209331293,
        1.0,
        -1.3072850288493236,
        0.4918122372225753,
    ];

    #[test]
    fn filtfilt_matches_scipy() {
        let x: Vec<f64> = sine(60, 100.0, 2.0, 30.0)
            .iter()
            .zip(sine(60, 100.0, 30.0, 3.0))
            .map(|(a, b)| a + b + 5.0)
            .collect();
        let y = LowPass { cutoff_hz: 8.0 }
            .apply(&x, 100.0)
            .expect("valid cut-off");
        for (k, want) in FILTFILT_REFERENCE {
            assert!((y[k] - want).abs() < 1e-9, "sample {k}: {} vs {want}", y[k]);
        }
    }
    const FILTFILT_REFERENCE: [(usize, f64); 4] = [
        (0, 4.902759513506382),
        (17, 30.240749713813635),
        (42, -20.24665536178093),
        (59, 29.71114323544027),
    ];

    #[test]
    fn a_constant_passes_unchanged() {
        let y = LowPass { cutoff_hz: 6.0 }
            .apply(&[4.0; 40], 100.0)
            .expect("valid");
        assert!(y.iter().all(|v| (v - 4.0).abs() < 1e-12));
    }

    #[test]
    fn a_cut_off_at_nyquist_is_rejected() {
        assert!(
            LowPass { cutoff_hz: 50.0 }
                .apply(&[0.0; 40], 100.0)
                .is_err()
        );
    }
}

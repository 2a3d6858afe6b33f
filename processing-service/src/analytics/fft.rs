//! Real-input FFTs through one cached planner per thread.
//!
//! Planning an FFT (choosing the algorithm, computing twiddles) costs far more than
//! running a small one, and a recording needs dozens of transforms of a handful of
//! sizes. realfft's planner caches plans by length, so each worker thread keeps one.

use std::cell::RefCell;

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

thread_local! {
    static PLANNER: RefCell<RealFftPlanner<f64>> = RefCell::new(RealFftPlanner::new());
}

/// The one-sided spectrum `X[0..=n/2]` of `input` (whose length `n` is the FFT size).
///
/// `input` is used as scratch and left in an unspecified state. For real input the
/// full spectrum is this one mirrored: `X[n-k] = conj(X[k])`.
pub(crate) fn rfft(input: &mut [f64]) -> Vec<Complex<f64>> {
    let n = input.len();
    let plan = PLANNER.with(|planner| planner.borrow_mut().plan_fft_forward(n));
    let mut output = plan.make_output_vec();
    // The only failures are buffer-length mismatches, which `plan_fft_forward(n)` and
    // `make_output_vec()` rule out by construction.
    plan.process(input, &mut output)
        .expect("buffers are sized by the plan itself");
    output
}

/// `|FFT(x, nfft)|²` for bins `0..=nfft/2`, zero-padding `x` to `nfft` (numpy's
/// `np.fft.fft(x, nfft)` truncates when `nfft < len(x)`; so do we).
///
/// Squared magnitudes, because callers need the square root of few bins only, and
/// `Complex::norm` (a `hypot` call per bin) dominated the whole analysis.
pub(crate) fn padded_power(x: &[f64], nfft: usize) -> Vec<f64> {
    let mut buffer = vec![0.0; nfft];
    let used = x.len().min(nfft);
    buffer[..used].copy_from_slice(&x[..used]);
    rfft(&mut buffer).iter().map(|c| c.norm_sqr()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitudes_of_an_impulse_are_flat() {
        let m = padded_power(&[1.0], 16);
        assert_eq!(m.len(), 9);
        assert!(m.iter().all(|v| (v - 1.0).abs() < 1e-15));
    }

    #[test]
    fn a_cosine_on_a_bin_puts_half_its_energy_in_that_bin() {
        let n = 64;
        let x: Vec<f64> = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * 4.0 * i as f64 / n as f64).cos())
            .collect();
        let m = padded_power(&x, n);
        assert!((m[4].sqrt() - n as f64 / 2.0).abs() < 1e-9);
        assert!(m[3].abs() < 1e-9 && m[5].abs() < 1e-9);
    }
}

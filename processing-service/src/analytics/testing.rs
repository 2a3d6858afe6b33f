//! Signals shared by the unit tests: the contract's worked examples.

/// `np.arange(start, stop, step)` as numpy fills it: `start + i*delta` with
/// `delta = (start + step) - start`, so the samples match the reference bit for bit.
pub(crate) fn arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let n = ((stop - start) / step).ceil() as usize;
    let delta = (start + step) - start;
    (0..n).map(|i| start + i as f64 * delta).collect()
}

/// The published doctest signal: `exp(-5 t²)`, `t = arange(-1, 1, 0.01)` (200 samples).
pub(crate) fn gaussian_doctest() -> Vec<f64> {
    arange(-1.0, 1.0, 0.01)
        .iter()
        .map(|t| (-5.0 * t * t).exp())
        .collect()
}

/// The minimum-jerk reach of section C's findings, as a speed profile.
///
/// Worked out from the contract's numbers: a 1 s minimum-jerk reach centred in a
/// 1.5 s window (0.25 s of rest on each side), sampled at `t = arange(0, 1.5, 1/fs)`,
/// speed `30τ² − 60τ³ + 30τ⁴` with `τ = t − 0.25` (unit amplitude; SPARC and LDLJ are
/// amplitude-free). This reproduces SPARC −1.405916 at 50/100/200 Hz and LDLJ −6.495
/// (50 Hz) → −6.526 (200 Hz); other windows and grids we tried do not.
pub(crate) fn min_jerk_reach(fs: f64) -> Vec<f64> {
    arange(0.0, 1.5, 1.0 / fs)
        .iter()
        .map(|t| {
            let tau = t - 0.25;
            if (0.0..=1.0).contains(&tau) {
                30.0 * tau.powi(2) - 60.0 * tau.powi(3) + 30.0 * tau.powi(4)
            } else {
                0.0
            }
        })
        .collect()
}

/// `n` samples of `amplitude · sin(2π f t)` at `fs` Hz.
pub(crate) fn sine(n: usize, fs: f64, freq_hz: f64, amplitude: f64) -> Vec<f64> {
    (0..n)
        .map(|i| amplitude * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / fs).sin())
        .collect()
}

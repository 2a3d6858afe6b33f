//! The one error type of the analytics library.

/// Why an analysis (or one metric) could not be computed.
///
/// Metrics whose contract defines a numeric result for degenerate input (NaN, ±∞,
/// 0) return that number instead of an error; these variants are the cases the
/// contract (or the authors' code) treats as failures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    /// A1: SPARC of an empty signal (`np.fft.fft(x, 0)` raises in the reference).
    #[error("the signal is empty")]
    EmptySignal,
    /// A1 step 4: no bin up to `fc` reaches `amp_th`, e.g. an all-zero signal whose
    /// normalised spectrum is 0/0.
    #[error(
        "no spectral bin at or below {fc_hz} Hz reaches the amplitude threshold {amp_th} (all-zero or non-finite signal)"
    )]
    NoSpectrumAboveThreshold { fc_hz: f64, amp_th: f64 },
    /// A2 [S21]: the vector LDLJ raises below three samples.
    #[error("the signal has {len} samples but at least {min} are needed")]
    TooShort { len: usize, min: usize },
    /// A function was called with inconsistent arguments (mismatched lengths, a
    /// non-positive sample rate, a filter cut-off at or above Nyquist, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The recording is not valid (see [`shared_events::recording`]).
    #[error(transparent)]
    Recording(#[from] shared_events::recording::RecordingError),
}

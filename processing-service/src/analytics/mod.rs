//! The glove analytics of `docs/glove-metrics.md`: pure functions, no I/O, no async.
//!
//! Every metric follows the contract's discrete algorithm to about 1e-9 of the
//! reference (`bench/glove_metrics.py`), edge cases included; section numbers in
//! comments (A1, B6, ...) point into `docs/glove-metrics.md`. The entry point for a whole
//! recording is [`analyze`]; the single metrics are public for tests and reuse.

mod error;
mod fft;
pub mod filter;
pub mod grip;
pub mod kinematics;
pub mod ldlj;
pub mod named;
pub mod progress;
pub mod report;
pub mod running;
pub mod segmentation;
pub mod sparc;
pub mod tremor;

#[cfg(test)]
mod testing;

pub use error::AnalyticsError;
pub use report::{AnalysisConfig, Report, analyze};
/// The recording schema lives in the event contract; re-exported where the
/// analytics have always found it.
pub use shared_events::recording::{self, Recording};

/// The version of the analytics stored with every result. Bump it whenever any
/// metric's output may change for the same input, so stored results can be told
/// apart and re-analysed.
pub const ANALYTICS_VERSION: u32 = 1;

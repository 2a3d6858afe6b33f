//! The processing service: turns uploaded glove recordings into metrics.
//!
//! # Layout
//!
//! - [`analytics`]: the metrics of `docs/glove-metrics.md` as a pure library (no I/O,
//!   no async), entered through [`analytics::analyze`] on a validated
//!   [`analytics::Recording`]; the queue worker calls it on a blocking thread.
//!   - `recording`: the validated sensor input, re-exported from `shared_events::recording`.
//!   - `report`: the whole-recording analysis and its JSON shape.
//!   - `sparc`, `ldlj`: the smoothness measures of section A (SPARC; LDLJ 1-D, vector, IMU).
//!   - `kinematics`: angular velocity, joint-space speed, ROM, TAM, repetitions, peak/mean velocity (B1-B5, B8).
//!   - `segmentation`: movement segments and movement units (B6, B7).
//!   - `tremor`: Welch spectra and tremor band measures (B9).
//!   - `grip`: grip-force episodes (B10).
//!   - `progress`: baseline, trend and real change across sessions (B11).
//!   - `filter`: the optional zero-phase low-pass applied to angles before the metrics.
//! - [`worker`]: the queue worker: consume, analyse on blocking threads, save, reconcile.
//! - [`cli`]: the command line (`processing-service analyze FILE [--raw]`).

pub mod analytics;
pub mod cli;
pub mod worker;

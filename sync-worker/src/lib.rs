//! The sync-worker: the timer jobs of the m2m backend, run as queue consumers.
//!
//! Timer messages (`TimerFired { job, window }`) arrive on the jobs queue; every
//! replica publishes them on schedule, and each window runs once across replicas. The
//! `sync` job is seed 000's Sync Service (snapshot the Redis bookkeeping into the
//! store, restore it at start unless Redis is newer); the `backup` job is seed 001's
//! BackupDataManager made crash-safe (move the Redis journal into the store with no
//! entry lost or duplicated).
//!
//! # Layout
//! - [`startup`]: [`Application`]: build (connect, index, restore, catch up) and run
//!   until stopped; what `main` and the tests call.
//! - [`config`]: the job settings and their `M2M_*` variables.
//! - [`cli`]: the command line: run, `trigger <job>`, `journal --user --since`.
//! - [`contract`]: the Redis keys only the worker touches (those it shares with the
//!   gateway are [`shared_store::keys`]).
//! - [`jobs`]: the timer handler (once per window: `job_runs` + a lease), and one
//!   module per job: [`jobs::sync`], [`jobs::backup`].
//! - [`scheduler`]: publishing each window as it starts, and catching up at start.
//! - [`lease`]: a job's Redis lease, renewed while the run lives.
//! - [`runs`]: `job_runs`, the record of completed windows (and the outbox of their
//!   announcements).
//! - [`announce`]: publishing `job.completed` for each completed run.
//! - [`store`]: the MongoDB collections and indexes.
//! - [`journal`]: reading the archived journal.
//! - [`error`]: [`JobError`] and how it maps to retry or dead letter.
//! - [`ops`]: the job series on the operations server (`/healthz`, `/readyz`, `/metrics`).

pub mod announce;
pub mod cli;
pub mod config;
pub mod contract;
pub mod error;
pub mod jobs;
pub mod journal;
pub mod lease;
pub mod ops;
pub mod runs;
pub mod scheduler;
pub mod startup;
pub mod store;

pub use config::{JobSettings, Settings};
pub use error::JobError;
pub use startup::Application;

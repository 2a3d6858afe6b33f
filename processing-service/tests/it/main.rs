//! The processing service's one integration-test binary.
//!
//! - `analytics_props`: property tests of the analytics on arbitrary input (no panic).
//! - `cli`: the built `processing-service` binary on the committed sample recording
//!   and on bad files.
//! - `progress_props`: the running progress against the full computation on random
//!   histories (duplicates, late games, failures, re-analyses).
//! - `reference`: the same analyses against the NumPy/SciPy reference under
//!   `bench/` (skipped, with a message, when python3 with numpy and scipy is absent).
//! - `worker`: the queue worker on real RabbitMQ and MongoDB: analyse, save, reconcile.
//! - `worker_ops`: the worker's `/readyz` and `/metrics` after real traffic.
//! - `worker_process`: the worker binary killed (SIGKILL) or stopped (SIGTERM) mid-game.

mod analytics_props;
mod cli;
mod helpers;
mod progress_props;
mod reference;
mod worker;
mod worker_ops;
mod worker_process;

//! The m2m backend end to end: a real gateway and a real processing worker
//! together, over the real broker, MongoDB-compatible server and Redis.
//!
//! Each service's own tests stop at its boundary, the events: the gateway's tests
//! publish the `reconciliation.ready` events a worker would, the worker's tests read
//! the events it publishes. What only holds with both running (an upload comes back
//! to the phone analysed, one correlation id across every process's logs, the
//! latency from upload to notification) is checked here.
//!
//! # Layout
//! - [`worker`]: a processing worker run in-process on a test's stack.
//! - `tests/end_to_end.rs`: an upload, analysed, read back and notified.
//! - `tests/correlation.rs`: one game's log lines all carry its correlation id (a
//!   binary of its own: it installs the process-wide log subscriber).
//! - `tests/try_it.rs`: the README's "Try it" commands, run with bash against a
//!   gateway and worker, and every recording in `examples/recordings/` analysed.
//! - `benches/notify_latency.rs`: from the `202` of an upload to its notification.
//! - `benches/constant_cost.rs`: a game's latency, CPU and store commands against
//!   the patient's history (`BENCH_MODE=history`), and the drain rate of a backlog
//!   (`BENCH_MODE=drain`).
//!
//! The tests and the bench reuse the gateway's test and bench helpers by path
//! (`gateway/tests/api/*helpers.rs`, `gateway/benches/common/`), so the phone's
//! side of the API is written once.

pub mod worker;

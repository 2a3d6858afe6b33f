//! The fault-injection suite (issue 10, `RELIABILITY.md`): the whole system as real
//! processes against private servers, a steady load of simulated phones, and one
//! fault at a time, each followed by a check that every upload answered `202` ended
//! processed exactly once: one result, one change-feed entry, one notification per
//! connected phone, nothing stuck, the services recovered by themselves.
//!
//! # Layout
//! - [`cli`]: the options and the two presets (full local run, `--ci`).
//! - [`suite`]: a run: servers, services, phones, the phases, the final checks.
//! - [`phase`]: one phase: load, fault, recovery, drain, checks.
//! - [`faults`]: the faults, injected and undone.
//! - [`servers`]: the private RabbitMQ node, Redis and SecantusDB.
//! - [`system`]: gateway, two processing workers and the sync-worker as processes.
//! - [`process`]: starting, killing and restarting a child process by its pid.
//! - [`phone`]: simulated phones: uploads retried under one `Idempotency-Key`, and
//!   notification sockets that resume from their cursor.
//! - [`ledger`]: what phones sent, were answered and heard.
//! - [`tally`]: the promise, checked: the ledger against the store.
//! - [`inspect`]: reading the store; [`synced_keys`]: the sync job's Redis snapshot;
//!   [`logs`]: analyses per game from the workers' logs.
//! - [`recovery`]: time to recover; [`report`]: the table.

pub mod cli;
pub mod faults;
pub mod inspect;
pub mod ledger;
pub mod logs;
pub mod phase;
pub mod phone;
pub mod process;
pub mod recovery;
pub mod report;
pub mod servers;
pub mod suite;
pub mod synced_keys;
pub mod system;
pub mod tally;

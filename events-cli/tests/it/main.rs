//! Integration tests of the `events` binary against a real RabbitMQ.
//!
//! Each test declares the topology under a random prefix and runs the built
//! binary with that prefix in its environment, so tests run in parallel on one
//! broker without seeing each other's messages. No assertion depends on how fast
//! anything ran.

mod dlq;
mod helpers;
mod misc;
mod replay;
mod tail;

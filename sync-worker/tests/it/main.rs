//! The sync-worker against real RabbitMQ, Redis and a MongoDB-compatible server.
//!
//! Every test gets its own bus prefix, database and Redis key prefix, so they run in
//! parallel on shared servers. `TEST_LOG=1` shows the workers' logs.

mod announce;
mod backup;
mod helpers;
mod once;
mod ops;
mod redis_loss;
mod restore;
mod scheduler;

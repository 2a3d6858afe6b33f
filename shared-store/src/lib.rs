//! Shared persistence plumbing for every m2m service: where the stores are, how to
//! connect to them, and the few helpers every caller of MongoDB or Redis needs.
//!
//! No business logic lives here: collections and documents belong to the service
//! that owns them. The one exception is [`keys`]: the Redis keys one service writes
//! and another moves are named here, once, because both sides must import the same
//! names (`docs/ARCHITECTURE.md`, "Who owns what").
//!
//! # Layout
//! - [`settings`]: [`StoreSettings`], read from `M2M_*` environment variables with defaults
//!   that work on one machine; URLs are secrets (they may carry passwords).
//! - [`mongo`]: [`connect_mongodb`] builds a `mongodb::Database` with bounded connect and
//!   server-selection timeouts; [`is_duplicate_key`] recognises error 11000.
//! - [`redis`](mod@crate::redis): [`connect_redis`] builds a reconnecting `ConnectionManager`
//!   with explicit timeouts; [`RedisKeys`] applies the deployment's key prefix.
//! - [`commands`]: counting the commands sent to MongoDB by command and collection
//!   (`m2m_store_commands_total`).
//! - [`keys`]: the Redis keys the gateway writes and the sync-worker moves, and the
//!   key families the `sync` job snapshots.
//! - [`error`]: [`StoreError`], what can go wrong while configuring or connecting.

pub mod commands;
pub mod error;
pub mod keys;
pub mod mongo;
pub mod redis;
pub mod settings;

pub use commands::StoreCommands;
pub use error::StoreError;
pub use mongo::{connect_mongodb, connect_mongodb_counted, is_duplicate_key};
pub use redis::{RedisKeys, connect_redis};
pub use settings::StoreSettings;

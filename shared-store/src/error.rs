//! Errors raised while reading store settings or connecting to a store.

/// What can go wrong before a store connection is usable.
///
/// Messages never include connection URLs: they may carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A setting is present but unusable; `name` is the environment variable.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },

    /// The MongoDB URL could not be parsed, or the client could not be built from it.
    #[error("invalid MongoDB configuration")]
    MongoConfig(#[source] mongodb::error::Error),

    /// The MongoDB server did not answer a ping in time.
    #[error("MongoDB did not answer a ping")]
    MongoUnreachable(#[source] mongodb::error::Error),

    /// The Redis URL could not be parsed.
    #[error("invalid Redis configuration")]
    RedisConfig(#[source] ::redis::RedisError),

    /// Redis refused or failed the first connection.
    #[error("Redis could not be reached")]
    RedisUnreachable(#[source] ::redis::RedisError),

    /// A connection attempt took longer than the configured connect timeout.
    #[error("{store} did not answer within {timeout_ms} ms")]
    Timeout {
        store: &'static str,
        timeout_ms: u128,
    },
}

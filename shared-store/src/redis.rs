//! Redis connection and key naming.

use std::sync::Arc;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::{StoreError, StoreSettings};

/// Connects to Redis through a [`ConnectionManager`], which reconnects in the background
/// (the command in flight when a connection drops still fails: callers decide whether to
/// retry). Fails if the first connection is not up within the connect timeout.
pub async fn connect_redis(settings: &StoreSettings) -> Result<ConnectionManager, StoreError> {
    let client =
        redis::Client::open(settings.redis_url.expose_secret()).map_err(StoreError::RedisConfig)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(settings.redis_response_timeout)
        // Bounded, so a start-up against a dead Redis gives up instead of retrying forever.
        .set_number_of_retries(3);
    let timeout = settings.connect_timeout;
    tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config))
        .await
        .map_err(|_| StoreError::Timeout {
            store: "Redis",
            timeout_ms: timeout.as_millis(),
        })?
        .map_err(StoreError::RedisUnreachable)
}

/// Builds Redis key names with the deployment's prefix (`M2M_REDIS_PREFIX`).
///
/// Every service must name keys through this, so that the gateway, the sync job and the
/// backup job agree on them and parallel tests stay apart. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RedisKeys {
    prefix: Arc<str>,
}

impl RedisKeys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The full name of the key `name`, e.g. `users` -> `<prefix>users`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A `SCAN MATCH` pattern for every key whose name starts with `name_prefix`
    /// (e.g. `c:`), with the deployment prefix escaped so its glob characters
    /// match literally.
    pub fn scan_pattern(&self, name_prefix: &str) -> String {
        let mut pattern = String::with_capacity(self.prefix.len() + name_prefix.len() + 1);
        for c in self.prefix.chars().chain(name_prefix.chars()) {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_pattern_matches_its_prefix_literally() {
        let keys = RedisKeys::new("t[1]*:");
        assert_eq!(keys.scan_pattern("c:"), "t\\[1\\]\\*:c:*");
    }

    #[test]
    fn keys_carry_the_prefix() {
        assert_eq!(RedisKeys::new("t42:").key("users"), "t42:users");
        assert_eq!(RedisKeys::default().key("c:login"), "c:login");
    }
}

//! Where the stores are, read from the environment.

use std::time::Duration;

use secrecy::SecretString;

use crate::StoreError;

/// Connection settings shared by every service.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `M2M_MONGODB_URL` | `mongodb://127.0.0.1:27017` | MongoDB connection string (secret) |
/// | `M2M_MONGODB_DB` | `m2m` | database name |
/// | `M2M_REDIS_URL` | `redis://127.0.0.1:6379` | Redis URL (secret), may select a DB index |
/// | `M2M_REDIS_PREFIX` | empty | prepended to every Redis key, see [`crate::RedisKeys`] |
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Kept secret because connection strings routinely embed a password.
    pub mongodb_url: SecretString,
    pub mongodb_db: String,
    /// Kept secret for the same reason as `mongodb_url`.
    pub redis_url: SecretString,
    /// Lets several deployments, or parallel tests, share one Redis without colliding.
    pub redis_prefix: String,
    /// Bounds the first connection and MongoDB server selection, so a service whose
    /// store is down fails at start with a clear error instead of hanging.
    pub connect_timeout: Duration,
    /// Bounds each Redis command. The redis crate's own default is 500 ms, which is
    /// tight on a loaded two-core machine; `None` disables it, which blocking commands
    /// such as `BLMOVE` need.
    pub redis_response_timeout: Option<Duration>,
}

impl StoreSettings {
    pub const DEFAULT_MONGODB_URL: &str = "mongodb://127.0.0.1:27017";
    pub const DEFAULT_MONGODB_DB: &str = "m2m";
    pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, StoreError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process
    /// environment (mutating it is `unsafe` in edition 2024).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let get = |name: &str, default: &str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let mongodb_db = get("M2M_MONGODB_DB", Self::DEFAULT_MONGODB_DB);
        validate_db_name(&mongodb_db)?;
        Ok(Self {
            mongodb_url: get("M2M_MONGODB_URL", Self::DEFAULT_MONGODB_URL).into(),
            mongodb_db,
            redis_url: get("M2M_REDIS_URL", Self::DEFAULT_REDIS_URL).into(),
            redis_prefix: lookup("M2M_REDIS_PREFIX").unwrap_or_default(),
            connect_timeout: Duration::from_secs(5),
            redis_response_timeout: Some(Duration::from_secs(2)),
        })
    }
}

/// MongoDB refuses these characters in database names (and names over 63 bytes);
/// checking here turns a confusing first-write failure into a start-up error.
fn validate_db_name(name: &str) -> Result<(), StoreError> {
    let invalid = |reason: &str| StoreError::InvalidSetting {
        name: "M2M_MONGODB_DB",
        reason: reason.to_owned(),
    };
    if name.len() > 63 {
        return Err(invalid("longer than 63 bytes"));
    }
    if name.chars().any(|c| "/\\. \"$\0".contains(c)) {
        return Err(invalid("contains one of / \\ . space \" $ or NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = StoreSettings::from_lookup(|_| None).expect("defaults are valid");
        assert_eq!(
            settings.mongodb_url.expose_secret(),
            "mongodb://127.0.0.1:27017"
        );
        assert_eq!(settings.mongodb_db, "m2m");
        assert_eq!(settings.redis_url.expose_secret(), "redis://127.0.0.1:6379");
        assert_eq!(settings.redis_prefix, "");
    }

    #[test]
    fn environment_values_override_defaults() {
        let settings = StoreSettings::from_lookup(|name| match name {
            "M2M_MONGODB_DB" => Some("other".into()),
            "M2M_REDIS_PREFIX" => Some("t1:".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(settings.mongodb_db, "other");
        assert_eq!(settings.redis_prefix, "t1:");
    }

    #[test]
    fn a_database_name_with_a_dot_is_refused() {
        let result =
            StoreSettings::from_lookup(|name| (name == "M2M_MONGODB_DB").then(|| "a.b".to_owned()));
        assert!(matches!(result, Err(StoreError::InvalidSetting { .. })));
    }

    #[test]
    fn debug_output_hides_the_urls() {
        let settings = StoreSettings::from_lookup(|name| {
            (name == "M2M_MONGODB_URL").then(|| "mongodb://u:hunter2@db".to_owned())
        })
        .expect("valid");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}

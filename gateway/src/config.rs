//! Typed, layered configuration: defaults in code, overridden by `M2M_*` environment
//! variables, validated once at start.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `M2M_ENV` | `development` | `development` or `production`; production refuses weak secrets |
//! | `M2M_HTTP_ADDR` | `127.0.0.1:8080` | listen address (port 0 picks a free port) |
//! | `M2M_TRUST_FORWARDED_FOR` | `false` | take the client address from the last `X-Forwarded-For` entry (only behind a proxy that appends it) |
//! | `M2M_JWT_SECRET` | dev-only value | HS256 key, at least 32 bytes; required in production |
//! | `M2M_JWT_PREVIOUS_SECRET` | none | a second key accepted when verifying, never used to sign: rotating the secret logs no one out (`docs/OPERATIONS.md`) |
//! | `M2M_ACCESS_TOKEN_TTL_SECS` | `900` | access token lifetime |
//! | `M2M_REFRESH_TOKEN_TTL_DAYS` | `30` | refresh token lifetime |
//! | `M2M_HASH_CONCURRENCY` | cores - 1 (min 1) | argon2 hashes running at once |
//! | `M2M_HASH_LOW_PRIORITY` | `true` | run hashing threads at lowered OS priority (nice ~10) |
//! | `M2M_HASH_WAIT_MS` | `3000` | how long a login (or registration) queues for a hashing slot before `503`: a burst of phones reconnecting is served at the argon2 rate instead of refused |
//! | `M2M_LOGIN_MAX_FAILURES` | `5` | failed logins per username per window before `429` |
//! | `M2M_LOGIN_MAX_FAILURES_PER_CLIENT` | `50` | failed logins per client address per window |
//! | `M2M_LOGIN_FAILURE_WINDOW_SECS` | `900` | the failure-counting window |
//! | `M2M_MAX_BODY_BYTES` | `16777216` | largest `POST /game` body, on the wire and after gunzip |
//! | `M2M_OUTBOX_INTERVAL_MS` | `2000` | how often the outbox looks for stored games left unpublished |
//! | `M2M_WS_PING_INTERVAL_MS` | `20000` | WebSocket ping period; a phone silent for two periods is dropped |
//! | `M2M_RECONCILIATION_CONCURRENCY` | `8` | ReconciliationEvents applied at once by this instance |
//! | `M2M_SHUTDOWN_DEADLINE_MS` | `25000` | after SIGTERM, how long in-flight requests may take before they are dropped |
//! | `M2M_READY_TIMEOUT_MS` | `2000` | bound on each `/readyz` check (broker, MongoDB, Redis) |
//! | `M2M_QUEUE_POLL_MS` | `5000` | how often queue depths are read into `/metrics`; `0` turns it off |
//! | `M2M_HEADER_READ_TIMEOUT_SECS` | `75` | time to send a request's headers; idle connections close after it |
//! | `M2M_BODY_READ_TIMEOUT_SECS` | `60` | time to send a request's body once its headers are in (else `408`) |
//! | `M2M_MAX_CONNECTIONS` | `4096` | open connections at most; more are closed at once |
//! | `M2M_ADMIN_TOKEN` | unset | the operators' dashboard's token (`/admin`), at least 24 characters; unset, the dashboard is off (404) |
//!
//! Store settings (`M2M_MONGODB_URL`, `M2M_MONGODB_DB`, `M2M_REDIS_URL`,
//! `M2M_REDIS_PREFIX`) are read by [`shared_store::StoreSettings`], bus settings
//! (`M2M_AMQP_URL`, `M2M_BUS_PREFIX`, ...) by [`shared_events::BusSettings`].

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared_events::BusSettings;
use shared_store::{StoreError, StoreSettings};

use crate::server::ServerSettings;

/// Used only in development so `cargo run` works out of the box; production refuses it.
pub const DEVELOPMENT_JWT_SECRET: &str = "m2m-development-only-jwt-secret-do-not-deploy";
/// 256 bits: the HS256 key should be at least as long as the hash output (RFC 7518 3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The admin token is typed or pasted by people, but guards the whole bus: long
/// enough that guessing it over HTTP is hopeless.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub http_addr: SocketAddr,
    /// Behind a load balancer every peer address is the balancer's; the client's own is
    /// the last `X-Forwarded-For` entry, which only a trusted proxy may be allowed to set.
    pub trust_forwarded_for: bool,
    pub auth: AuthSettings,
    pub login_limit: LoginLimitSettings,
    pub upload: UploadSettings,
    pub notifications: NotificationSettings,
    /// Bounds on connections and on reading requests (see `crate::server`).
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub bus: BusSettings,
    /// How long a stop waits for in-flight requests and background tasks.
    pub shutdown_deadline: Duration,
    /// Bound on each readiness check.
    pub ready_timeout: Duration,
    /// How often the queue poller runs; `None` when it is off.
    pub queue_poll: Option<Duration>,
    pub admin: AdminSettings,
}

/// The operators' dashboard (`crate::admin`).
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// The shared secret operators present; `None` turns the dashboard off.
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    /// Accepted for verification only, during a rotation of `jwt_secret`.
    pub jwt_previous_secret: Option<SecretString>,
    /// `iss` of issued tokens; tokens with another issuer are refused.
    pub jwt_issuer: String,
    /// `aud` of issued tokens; tokens for another audience are refused.
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Bounds CPU and memory spent on argon2 (19 MiB per running hash). Leaving a core
    /// free keeps the async runtime responsive while logins saturate the pool.
    pub hash_concurrency: usize,
    /// Lets request handling win contended cores over argon2; see `auth::hash_pool`.
    pub hash_low_priority: bool,
    /// How long a hash queues for a slot (first come, first served) before the client
    /// is told to retry (`503`). Seconds, not milliseconds: after an outage every phone
    /// logs in again at once, and a queue that lasts a few hashes' worth of time serves
    /// that burst at the argon2 rate where a short one refused most of it. Waiting costs
    /// no CPU and little memory (the 19 MiB is taken only once a slot is held), so the
    /// other endpoints' latency does not depend on it.
    pub hash_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct LoginLimitSettings {
    pub max_failures_per_username: u64,
    /// Higher than the per-username limit: many phones can share one address (NAT).
    pub max_failures_per_client: u64,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Bounds both the request body and its gunzipped size, so a gzip bomb cannot
    /// allocate past it.
    pub max_body_bytes: usize,
    /// The outbox's polling period (see `crate::outbox`).
    pub outbox_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// Pings keep idle connections open through NATs and find dead phones.
    pub ping_interval: Duration,
    /// ReconciliationEvents applied at once (each is a few small database writes).
    pub reconciliation_concurrency: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("M2M_JWT_SECRET {0} in production")]
    WeakSecret(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] shared_events::settings::SettingsError),
    #[error(transparent)]
    Ops(#[from] shared_ops::settings::SettingsError),
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (tests pass a closure instead of mutating
    /// the process environment) and validates them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let environment = match var("M2M_ENV").as_deref().map(str::trim) {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid("M2M_ENV", format!("unknown environment {other:?}")));
            }
        };
        let default_concurrency = std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .max(1);
        let settings = Self {
            environment,
            http_addr: parse(&var, "M2M_HTTP_ADDR", "127.0.0.1:8080".parse().ok())?,
            trust_forwarded_for: parse(&var, "M2M_TRUST_FORWARDED_FOR", Some(false))?,
            auth: AuthSettings {
                jwt_secret: var("M2M_JWT_SECRET")
                    .unwrap_or_else(|| DEVELOPMENT_JWT_SECRET.to_owned())
                    .into(),
                jwt_previous_secret: var("M2M_JWT_PREVIOUS_SECRET").map(SecretString::from),
                jwt_issuer: "m2m-gateway".to_owned(),
                jwt_audience: "m2m-app".to_owned(),
                access_token_ttl: secs(parse(&var, "M2M_ACCESS_TOKEN_TTL_SECS", Some(900))?),
                refresh_token_ttl: secs(
                    parse::<u64>(&var, "M2M_REFRESH_TOKEN_TTL_DAYS", Some(30))? * 86_400,
                ),
                hash_concurrency: parse(&var, "M2M_HASH_CONCURRENCY", Some(default_concurrency))?,
                hash_low_priority: parse(&var, "M2M_HASH_LOW_PRIORITY", Some(true))?,
                hash_wait: Duration::from_millis(parse(&var, "M2M_HASH_WAIT_MS", Some(3000))?),
            },
            login_limit: LoginLimitSettings {
                max_failures_per_username: parse(&var, "M2M_LOGIN_MAX_FAILURES", Some(5))?,
                max_failures_per_client: parse(
                    &var,
                    "M2M_LOGIN_MAX_FAILURES_PER_CLIENT",
                    Some(50),
                )?,
                window: secs(parse(&var, "M2M_LOGIN_FAILURE_WINDOW_SECS", Some(900))?),
            },
            upload: UploadSettings {
                max_body_bytes: parse(&var, "M2M_MAX_BODY_BYTES", Some(16 << 20))?,
                outbox_interval: Duration::from_millis(parse(
                    &var,
                    "M2M_OUTBOX_INTERVAL_MS",
                    Some(2_000),
                )?),
            },
            notifications: NotificationSettings {
                ping_interval: Duration::from_millis(parse(
                    &var,
                    "M2M_WS_PING_INTERVAL_MS",
                    Some(20_000),
                )?),
                reconciliation_concurrency: parse(&var, "M2M_RECONCILIATION_CONCURRENCY", Some(8))?,
            },
            // The header timeout also closes idle keep-alive connections, so it
            // outlasts the idle timeout of the load balancer in front (60 s on
            // common ones): the balancer, not the gateway, closes an idle pooled
            // connection, and never sends on one the gateway is closing. A gzipped
            // game of a few hundred kilobytes needs far less than 60 s even on a
            // poor mobile link.
            server: ServerSettings {
                header_read_timeout: secs(parse(&var, "M2M_HEADER_READ_TIMEOUT_SECS", Some(75))?),
                body_read_timeout: secs(parse(&var, "M2M_BODY_READ_TIMEOUT_SECS", Some(60))?),
                max_connections: parse(&var, "M2M_MAX_CONNECTIONS", Some(4096))?,
            },
            store: StoreSettings::from_lookup(&lookup)?,
            bus: BusSettings::from_lookup(&lookup)?,
            shutdown_deadline: shared_ops::settings::shutdown_deadline(&var)?,
            ready_timeout: shared_ops::settings::ready_timeout(&var)?,
            queue_poll: shared_ops::settings::queue_poll_interval(&var)?,
            admin: AdminSettings {
                token: var("M2M_ADMIN_TOKEN").map(|token| token.trim().to_owned().into()),
            },
        };
        settings.validate(var("M2M_JWT_SECRET").is_some())?;
        Ok(settings)
    }

    /// Checks what parsing alone cannot: a production deployment must not run with the
    /// development secret, without a secret, or with one short enough to brute-force.
    fn validate(&self, secret_was_set: bool) -> Result<(), ConfigError> {
        let secret = self.auth.jwt_secret.expose_secret();
        if self.environment == Environment::Production {
            if !secret_was_set {
                return Err(ConfigError::WeakSecret("is missing"));
            }
            if secret == DEVELOPMENT_JWT_SECRET {
                return Err(ConfigError::WeakSecret("is the development default"));
            }
            if secret.len() < MIN_JWT_SECRET_BYTES {
                return Err(ConfigError::WeakSecret("is shorter than 32 bytes"));
            }
            // A weak previous key would be as good as a weak current one to a forger.
            if let Some(previous) = &self.auth.jwt_previous_secret {
                let previous = previous.expose_secret();
                if previous == DEVELOPMENT_JWT_SECRET || previous.len() < MIN_JWT_SECRET_BYTES {
                    return Err(ConfigError::WeakSecret(
                        "(previous) is the development default or shorter than 32 bytes",
                    ));
                }
            }
        }
        if self.auth.hash_concurrency == 0 {
            return Err(invalid("M2M_HASH_CONCURRENCY", "must be at least 1".into()));
        }
        if self.auth.access_token_ttl.is_zero() || self.auth.refresh_token_ttl.is_zero() {
            return Err(invalid("M2M_*_TOKEN_TTL_*", "must be positive".into()));
        }
        if self.upload.max_body_bytes == 0 || self.upload.outbox_interval.is_zero() {
            return Err(invalid(
                "M2M_MAX_BODY_BYTES / M2M_OUTBOX_INTERVAL_MS",
                "must be positive".into(),
            ));
        }
        if self.notifications.ping_interval.is_zero()
            || self.notifications.reconciliation_concurrency == 0
        {
            return Err(invalid(
                "M2M_WS_PING_INTERVAL_MS / M2M_RECONCILIATION_CONCURRENCY",
                "must be positive".into(),
            ));
        }
        let server = &self.server;
        if server.header_read_timeout.is_zero()
            || server.body_read_timeout.is_zero()
            || server.max_connections == 0
        {
            return Err(invalid(
                "M2M_HEADER_READ_TIMEOUT_SECS / M2M_BODY_READ_TIMEOUT_SECS / M2M_MAX_CONNECTIONS",
                "must be positive".into(),
            ));
        }
        if let Some(token) = &self.admin.token
            && token.expose_secret().len() < MIN_ADMIN_TOKEN_BYTES
        {
            return Err(invalid(
                "M2M_ADMIN_TOKEN",
                format!("must be at least {MIN_ADMIN_TOKEN_BYTES} characters"),
            ));
        }
        if self.login_limit.window.is_zero() {
            return Err(invalid(
                "M2M_LOGIN_FAILURE_WINDOW_SECS",
                "must be positive".into(),
            ));
        }
        Ok(())
    }

    /// True when the development secret is in use, so start-up can warn about it.
    pub fn uses_development_secret(&self) -> bool {
        self.auth.jwt_secret.expose_secret() == DEVELOPMENT_JWT_SECRET
    }
}

fn parse<T: FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Option<T>,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e: T::Err| invalid(name, e.to_string())),
        None => default.ok_or_else(|| invalid(name, "is required".into())),
    }
}

fn invalid(name: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { name, reason }
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn development_starts_with_defaults_only() {
        let settings = settings_with(&[]).expect("defaults are valid in development");
        assert_eq!(settings.environment, Environment::Development);
        assert_eq!(settings.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.auth.access_token_ttl, Duration::from_secs(900));
        assert!(settings.uses_development_secret());
    }

    #[test]
    fn production_refuses_a_missing_secret() {
        let result = settings_with(&[("M2M_ENV", "production")]);
        assert!(matches!(result, Err(ConfigError::WeakSecret("is missing"))));
    }

    #[test]
    fn production_refuses_the_development_secret() {
        let result = settings_with(&[
            ("M2M_ENV", "production"),
            ("M2M_JWT_SECRET", DEVELOPMENT_JWT_SECRET),
        ]);
        assert!(matches!(result, Err(ConfigError::WeakSecret(_))));
    }

    #[test]
    fn production_refuses_a_short_secret() {
        let result = settings_with(&[("M2M_ENV", "production"), ("M2M_JWT_SECRET", "short")]);
        assert!(matches!(result, Err(ConfigError::WeakSecret(_))));
    }

    #[test]
    fn production_accepts_a_long_random_secret() {
        let secret = "f".repeat(48);
        let settings = settings_with(&[("M2M_ENV", "production"), ("M2M_JWT_SECRET", &secret)])
            .expect("a long secret is fine");
        assert!(!settings.uses_development_secret());
    }

    #[test]
    fn production_refuses_a_weak_previous_secret() {
        let secret = "f".repeat(48);
        let result = settings_with(&[
            ("M2M_ENV", "production"),
            ("M2M_JWT_SECRET", &secret),
            ("M2M_JWT_PREVIOUS_SECRET", "short"),
        ]);
        assert!(matches!(result, Err(ConfigError::WeakSecret(_))));
    }

    #[test]
    fn the_shutdown_deadline_and_the_poller_are_configurable() {
        let settings = settings_with(&[
            ("M2M_SHUTDOWN_DEADLINE_MS", "1200"),
            ("M2M_QUEUE_POLL_MS", "0"),
        ])
        .expect("valid");
        assert_eq!(settings.shutdown_deadline, Duration::from_millis(1200));
        assert_eq!(settings.queue_poll, None);
        let defaults = settings_with(&[]).expect("valid");
        assert_eq!(defaults.shutdown_deadline, Duration::from_secs(25));
        assert_eq!(defaults.queue_poll, Some(Duration::from_secs(5)));
    }

    #[test]
    fn the_secret_never_appears_in_debug_output() {
        let secret = "s3cr3t-".repeat(8);
        let previous = "pr3v10us-".repeat(8);
        let settings = settings_with(&[
            ("M2M_JWT_SECRET", &secret),
            ("M2M_JWT_PREVIOUS_SECRET", &previous),
        ])
        .expect("valid");
        let printed = format!("{settings:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(!printed.contains("pr3v10us"), "{printed}");
    }

    #[test]
    fn server_bounds_default_and_must_be_positive() {
        let settings = settings_with(&[]).expect("defaults are valid");
        assert_eq!(settings.server.max_connections, 4096);
        assert!(settings.server.header_read_timeout > Duration::from_secs(60));
        for name in [
            "M2M_HEADER_READ_TIMEOUT_SECS",
            "M2M_BODY_READ_TIMEOUT_SECS",
            "M2M_MAX_CONNECTIONS",
        ] {
            assert!(settings_with(&[(name, "0")]).is_err(), "{name}=0 accepted");
        }
    }

    #[test]
    fn the_dashboard_is_off_without_a_token_and_refuses_a_short_one() {
        assert!(settings_with(&[]).expect("valid").admin.token.is_none());
        let short = settings_with(&[("M2M_ADMIN_TOKEN", "letmein")]);
        assert!(matches!(
            short,
            Err(ConfigError::Invalid {
                name: "M2M_ADMIN_TOKEN",
                ..
            })
        ));
        let token = "admin-".repeat(5);
        let settings = settings_with(&[("M2M_ADMIN_TOKEN", &token)]).expect("long enough");
        assert!(settings.admin.token.is_some());
        assert!(!format!("{settings:?}").contains("admin-admin"));
    }

    #[test]
    fn an_unparsable_number_names_its_variable() {
        let result = settings_with(&[("M2M_HASH_CONCURRENCY", "many")]);
        assert!(matches!(
            result,
            Err(ConfigError::Invalid {
                name: "M2M_HASH_CONCURRENCY",
                ..
            })
        ));
    }
}

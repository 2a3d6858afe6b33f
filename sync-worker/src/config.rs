//! The worker's settings, read from `M2M_*` variables over defaults that work on one
//! machine.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `M2M_SYNC_INTERVAL_SECS` | `3600` | length of a `sync` window (seed 000: hourly) |
//! | `M2M_BACKUP_INTERVAL_SECS` | `10` | length of a `backup` window (seed 001: every 10 s) |
//! | `M2M_JOB_LEASE_MS` | `30000` | how long a job's Redis lease lives without renewal; a crashed run blocks its job this long at most |
//! | `M2M_BACKUP_BATCH_SIZE` | `500` | journal entries moved, archived and freed per step |
//! | `M2M_BACKUP_MAX_BATCHES` | `200` | steps per backup run, so a journal that never empties (steady appends) cannot keep one run going for ever |
//! | `M2M_SCHEDULER_ENABLED` | `true` | whether this process publishes timer messages (set `false` for a consumer-only replica) |
//! | `M2M_REDIS_CHECK_MS` | `1000` | how often the worker checks that Redis still has its data (the sync marker), to restore it without a restart |
//!
//! The operations server and the shutdown deadline (`M2M_OPS_ADDR`, default
//! `127.0.0.1:9102`; `M2M_SHUTDOWN_DEADLINE_MS`) are read by [`shared_ops::OpsSettings`];
//! the bus (`M2M_AMQP_URL`, `M2M_BUS_PREFIX`, ...) and the stores (`M2M_MONGODB_URL`,
//! `M2M_MONGODB_DB`, `M2M_REDIS_URL`, `M2M_REDIS_PREFIX`) are read by
//! [`shared_events::BusSettings`] and [`shared_store::StoreSettings`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use shared_events::BusSettings;
use shared_events::events::Job;
use shared_ops::OpsSettings;
use shared_store::StoreSettings;

/// The sync-worker's own operations port.
pub const DEFAULT_OPS_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9102);

/// Everything a sync-worker process needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bus: BusSettings,
    pub store: StoreSettings,
    pub jobs: JobSettings,
    /// Where `/healthz`, `/readyz` and `/metrics` are served, and how long
    /// SIGTERM waits for a running job.
    pub ops: OpsSettings,
}

/// How the jobs are scheduled and run.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub sync_interval: Duration,
    pub backup_interval: Duration,
    /// Time-to-live of a job's lease; it is renewed every third of it while the job
    /// runs, so only a dead (or frozen) run lets it expire.
    pub lease_ttl: Duration,
    pub backup_batch_size: usize,
    pub backup_max_batches: usize,
    pub scheduler_enabled: bool,
    /// How soon a Redis that lost its data is noticed and restored (one `GET`).
    pub redis_check_interval: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            sync_interval: Duration::from_secs(3600),
            backup_interval: Duration::from_secs(10),
            lease_ttl: Duration::from_secs(30),
            backup_batch_size: 500,
            backup_max_batches: 200,
            scheduler_enabled: true,
            redis_check_interval: Duration::from_secs(1),
        }
    }
}

impl JobSettings {
    /// The length of `job`'s windows.
    pub fn interval(&self, job: Job) -> Duration {
        match job {
            Job::Sync => self.sync_interval,
            Job::Backup => self.backup_interval,
        }
    }
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let lookup = |name: &str| std::env::var(name).ok();
        Ok(Self {
            bus: BusSettings::from_lookup(lookup).context("Failed to read the bus settings")?,
            store: StoreSettings::from_lookup(lookup)
                .context("Failed to read the store settings")?,
            jobs: JobSettings::from_lookup(lookup).context("Failed to read the job settings")?,
            ops: OpsSettings::from_lookup(lookup, DEFAULT_OPS_ADDR)
                .context("Failed to read the operations settings")?,
        })
    }
}

impl JobSettings {
    /// Reads the variables in the module doc through `lookup` (tests need not touch
    /// the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let secs = |name, default: Duration| {
            positive(&lookup, name, default.as_secs()).map(Duration::from_secs)
        };
        Ok(Self {
            sync_interval: secs("M2M_SYNC_INTERVAL_SECS", defaults.sync_interval)?,
            backup_interval: secs("M2M_BACKUP_INTERVAL_SECS", defaults.backup_interval)?,
            lease_ttl: positive(&lookup, "M2M_JOB_LEASE_MS", 30_000).map(Duration::from_millis)?,
            backup_batch_size: positive(&lookup, "M2M_BACKUP_BATCH_SIZE", 500)?,
            backup_max_batches: positive(&lookup, "M2M_BACKUP_MAX_BATCHES", 200)?,
            scheduler_enabled: parse(&lookup, "M2M_SCHEDULER_ENABLED", true)?,
            redis_check_interval: positive(&lookup, "M2M_REDIS_CHECK_MS", 1_000)
                .map(Duration::from_millis)?,
        })
    }
}

fn parse<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|e: T::Err| ConfigError {
            name,
            reason: e.to_string(),
            value,
        }),
    }
}

/// A count or duration where zero makes no sense (a zero interval would spin).
fn positive<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + Default + fmt::Display,
    T::Err: fmt::Display,
{
    let value = parse(lookup, name, default)?;
    if value <= T::default() {
        return Err(ConfigError {
            name,
            value: value.to_string(),
            reason: "must be greater than zero".into(),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<JobSettings, ConfigError> {
        JobSettings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn no_variables_give_hourly_sync_and_ten_second_backup() {
        let settings = from(&[]).expect("defaults are valid");
        assert_eq!(settings.interval(Job::Sync), Duration::from_secs(3600));
        assert_eq!(settings.interval(Job::Backup), Duration::from_secs(10));
        assert!(settings.scheduler_enabled);
    }

    #[test]
    fn variables_override_the_defaults() {
        let settings = from(&[
            ("M2M_SYNC_INTERVAL_SECS", "60"),
            ("M2M_SCHEDULER_ENABLED", "false"),
        ])
        .expect("valid");
        assert_eq!(settings.sync_interval, Duration::from_secs(60));
        assert!(!settings.scheduler_enabled);
    }

    #[test]
    fn a_zero_interval_is_refused() {
        let error = from(&[("M2M_BACKUP_INTERVAL_SECS", "0")]).expect_err("zero");
        assert_eq!(error.name, "M2M_BACKUP_INTERVAL_SECS");
    }
}

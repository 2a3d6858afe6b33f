//! Operations settings, from `M2M_*` variables over defaults that work on one machine.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `M2M_OPS_ADDR` | `127.0.0.1:9101` (processing-service), `127.0.0.1:9102` (sync-worker) | where a worker serves `/healthz`, `/readyz`, `/metrics` (the gateway serves them on its HTTP port) |
//! | `M2M_SHUTDOWN_DEADLINE_MS` | `25000` | after SIGTERM, how long in-flight work may take before it is abandoned (to redelivery) |
//! | `M2M_READY_TIMEOUT_MS` | `2000` | bound on each readiness check |
//! | `M2M_QUEUE_POLL_MS` | `5000` | how often the gateway reads queue depths; `0` turns the poller off |

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// Below Kubernetes' default 30 s grace period, so a drain that uses all of its
/// deadline still exits before the SIGKILL.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(25);
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_QUEUE_POLL: Duration = Duration::from_secs(5);

/// A worker's operations settings.
#[derive(Debug, Clone)]
pub struct OpsSettings {
    /// `M2M_OPS_ADDR`; port 0 picks a free port (tests read it back).
    pub addr: SocketAddr,
    /// `M2M_SHUTDOWN_DEADLINE_MS`.
    pub shutdown_deadline: Duration,
    /// `M2M_READY_TIMEOUT_MS`.
    pub ready_timeout: Duration,
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct SettingsError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl OpsSettings {
    /// Reads the process environment; `default_addr` is the service's own port.
    pub fn from_env(default_addr: SocketAddr) -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok(), default_addr)
    }

    /// Reads the variables through `lookup` (tests need not touch the environment).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_addr: SocketAddr,
    ) -> Result<Self, SettingsError> {
        Ok(Self {
            addr: parse(&lookup, "M2M_OPS_ADDR", default_addr)?,
            shutdown_deadline: shutdown_deadline(&lookup)?,
            ready_timeout: ready_timeout(&lookup)?,
        })
    }

    /// Settings for tests: a free port, short deadlines.
    pub fn for_tests() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            shutdown_deadline: Duration::from_secs(10),
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }
}

/// `M2M_SHUTDOWN_DEADLINE_MS`, shared by every process.
pub fn shutdown_deadline(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Duration, SettingsError> {
    millis(
        lookup,
        "M2M_SHUTDOWN_DEADLINE_MS",
        DEFAULT_SHUTDOWN_DEADLINE,
    )
}

/// `M2M_READY_TIMEOUT_MS`; zero would make every check fail.
pub fn ready_timeout(lookup: &impl Fn(&str) -> Option<String>) -> Result<Duration, SettingsError> {
    let timeout = millis(lookup, "M2M_READY_TIMEOUT_MS", DEFAULT_READY_TIMEOUT)?;
    if timeout.is_zero() {
        return Err(SettingsError {
            name: "M2M_READY_TIMEOUT_MS",
            value: "0".into(),
            reason: "must be greater than zero".into(),
        });
    }
    Ok(timeout)
}

/// `M2M_QUEUE_POLL_MS`; `None` (from `0`) turns the poller off.
pub fn queue_poll_interval(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, SettingsError> {
    let interval = millis(lookup, "M2M_QUEUE_POLL_MS", DEFAULT_QUEUE_POLL)?;
    Ok((!interval.is_zero()).then_some(interval))
}

fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, SettingsError> {
    let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    parse(lookup, name, default_ms).map(Duration::from_millis)
}

fn parse<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, SettingsError>
where
    T::Err: fmt::Display,
{
    match lookup(name).filter(|value| !value.trim().is_empty()) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|e: T::Err| SettingsError {
            name,
            reason: e.to_string(),
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<OpsSettings, SettingsError> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        OpsSettings::from_lookup(lookup, SocketAddr::from(([127, 0, 0, 1], 9101)))
    }

    #[test]
    fn no_variables_give_the_service_port_and_the_documented_deadline() {
        let settings = from(&[]).expect("defaults are valid");
        assert_eq!(settings.addr.to_string(), "127.0.0.1:9101");
        assert_eq!(settings.shutdown_deadline, Duration::from_secs(25));
        assert_eq!(settings.ready_timeout, Duration::from_secs(2));
    }

    #[test]
    fn variables_override_the_defaults() {
        let settings = from(&[
            ("M2M_OPS_ADDR", "0.0.0.0:9200"),
            ("M2M_SHUTDOWN_DEADLINE_MS", "1500"),
        ])
        .expect("valid");
        assert_eq!(settings.addr.to_string(), "0.0.0.0:9200");
        assert_eq!(settings.shutdown_deadline, Duration::from_millis(1500));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let error = from(&[("M2M_OPS_ADDR", "nowhere")]).expect_err("not an address");
        assert_eq!(error.name, "M2M_OPS_ADDR");
        let error = from(&[("M2M_READY_TIMEOUT_MS", "0")]).expect_err("zero");
        assert_eq!(error.name, "M2M_READY_TIMEOUT_MS");
    }

    #[test]
    fn a_zero_poll_interval_turns_the_poller_off() {
        let off = |name: &str| (name == "M2M_QUEUE_POLL_MS").then(|| "0".to_owned());
        assert_eq!(queue_poll_interval(&off).expect("valid"), None);
        assert_eq!(
            queue_poll_interval(&|_: &str| None).expect("valid"),
            Some(DEFAULT_QUEUE_POLL)
        );
    }
}

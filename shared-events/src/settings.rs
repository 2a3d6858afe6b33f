//! Bus settings, read from the environment with defaults that work on one machine.

use std::fmt;
use std::time::Duration;

use crate::nodes::{NodeUrl, UrlListError, parse_node_urls, redact_list};

/// How to reach the broker and how the plumbing behaves.
#[derive(Clone)]
pub struct BusSettings {
    /// `M2M_AMQP_URL`: one node's URL, or the comma-separated URLs of a cluster's
    /// nodes (one vhost, one set of credentials; see [`crate::nodes`]). Its vhost
    /// is honoured, so stacks can share one broker. It carries the broker password,
    /// hence the redacting `Debug`.
    pub url: String,
    /// `M2M_AMQP_REPLICAS`: how many nodes hold a copy of each quorum queue and of
    /// the history stream, when this process is the one that creates them. `None`:
    /// as many as the list has URLs, at most 3, or with a single URL the broker's
    /// own default (every node of the cluster on RabbitMQ 3.x). See
    /// [`Self::replication_factor`] and `docs/OPERATIONS.md`.
    pub replicas: Option<u16>,
    /// `M2M_BUS_PREFIX`: the first part of every exchange and queue name, so
    /// several stacks (or tests) can share one vhost.
    pub prefix: String,
    /// `M2M_AMQP_TIMEOUT_MS`: bound on connecting and on waiting for a publish confirm.
    pub timeout: Duration,
    /// `M2M_RETRY_DELAY_MS`: how long a transiently failed message waits before
    /// it is tried again.
    pub retry_delay: Duration,
    /// `M2M_MAX_RETRIES`: transient retries before a message is dead-lettered.
    pub max_retries: u32,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            replicas: None,
            prefix: "m2m".into(),
            timeout: Duration::from_secs(10),
            retry_delay: Duration::from_secs(5),
            // 5 s x 120 = 10 minutes of outage ridden out before a human is needed.
            max_retries: 120,
        }
    }
}

/// A variable that is set but cannot be used. `value` is printed, so it never
/// holds a password: a bad `M2M_AMQP_URL` shows its redacted form.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct SettingsError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl BusSettings {
    /// Reads `M2M_*` variables over the defaults.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Self::from_env`], reading variables through `lookup` (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let millis = |name: &'static str, default: Duration| -> Result<Duration, SettingsError> {
            parse_var(&lookup, name, default.as_millis() as u64).map(Duration::from_millis)
        };
        let settings = Self {
            url: lookup("M2M_AMQP_URL").unwrap_or(defaults.url),
            replicas: match lookup("M2M_AMQP_REPLICAS") {
                None => None,
                Some(value) if value.trim().is_empty() => None,
                Some(_) => Some(parse_var(&lookup, "M2M_AMQP_REPLICAS", 0u16)?),
            },
            prefix: lookup("M2M_BUS_PREFIX").unwrap_or(defaults.prefix),
            timeout: millis("M2M_AMQP_TIMEOUT_MS", defaults.timeout)?,
            retry_delay: millis("M2M_RETRY_DELAY_MS", defaults.retry_delay)?,
            max_retries: parse_var(&lookup, "M2M_MAX_RETRIES", defaults.max_retries)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if let Err(error) = self.node_urls() {
            return Err(SettingsError {
                name: "M2M_AMQP_URL",
                value: redact_url(&self.url),
                reason: error.to_string(),
            });
        }
        if self.replicas == Some(0) {
            return Err(SettingsError {
                name: "M2M_AMQP_REPLICAS",
                value: "0".into(),
                reason: "a queue needs at least one replica".into(),
            });
        }
        let valid_prefix = !self.prefix.is_empty()
            && self.prefix.len() <= 100
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid_prefix {
            return Err(SettingsError {
                name: "M2M_BUS_PREFIX",
                value: self.prefix.clone(),
                reason: "must be 1-100 of a-z A-Z 0-9 - _ .".into(),
            });
        }
        Ok(())
    }
}

impl BusSettings {
    /// The nodes of `M2M_AMQP_URL`, parsed and checked.
    pub fn node_urls(&self) -> Result<Vec<NodeUrl>, UrlListError> {
        parse_node_urls(&self.url)
    }

    /// How many replicas the quorum queues and the history stream are created
    /// with (`x-quorum-initial-group-size`, `x-initial-cluster-size`), or `None`
    /// to leave it to the broker.
    ///
    /// Three copies survive the loss of any one node and cost a third of what
    /// five would in replication traffic, hence the cap when the factor comes from
    /// the length of the list. A single URL may be a load balancer in front of a
    /// whole cluster, so it says nothing about the cluster's size: the broker's
    /// default applies, as it did before lists existed.
    pub fn replication_factor(&self) -> Option<u16> {
        if self.replicas.is_some() {
            return self.replicas;
        }
        let nodes = self.node_urls().map(|nodes| nodes.len()).unwrap_or(1);
        (nodes > 1).then(|| nodes.min(3) as u16)
    }
}

fn parse_var<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, SettingsError>
where
    T::Err: fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|e: T::Err| SettingsError {
            name,
            reason: e.to_string(),
            value,
        }),
    }
}

/// The URL, or list of URLs, with every password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    redact_list(url)
}

impl fmt::Debug for BusSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusSettings")
            .field("url", &redact_url(&self.url))
            .field("replicas", &self.replicas)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("retry_delay", &self.retry_delay)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<BusSettings, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        BusSettings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn no_variables_give_the_documented_defaults() {
        let settings = from(&[]).expect("defaults are valid");
        assert_eq!(settings.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(settings.prefix, "m2m");
        assert_eq!(settings.retry_delay, Duration::from_secs(5));
    }

    #[test]
    fn variables_override_the_defaults() {
        let settings = from(&[
            ("M2M_AMQP_URL", "amqp://u:p@broker:5672/staging"),
            ("M2M_BUS_PREFIX", "blue"),
            ("M2M_RETRY_DELAY_MS", "250"),
            ("M2M_MAX_RETRIES", "3"),
        ])
        .expect("valid");
        assert_eq!(settings.url, "amqp://u:p@broker:5672/staging");
        assert_eq!(settings.prefix, "blue");
        assert_eq!(settings.retry_delay, Duration::from_millis(250));
        assert_eq!(settings.max_retries, 3);
    }

    #[test]
    fn a_bad_number_names_the_variable() {
        let error = from(&[("M2M_MAX_RETRIES", "many")]).expect_err("not a number");
        assert_eq!(error.name, "M2M_MAX_RETRIES");
    }

    #[test]
    fn a_bad_prefix_or_url_is_refused() {
        assert!(from(&[("M2M_BUS_PREFIX", "a b")]).is_err());
        assert!(from(&[("M2M_AMQP_URL", "http://x")]).is_err());
    }

    #[test]
    fn a_malformed_url_in_the_list_is_refused_with_its_position_and_never_its_password() {
        let error = from(&[(
            "M2M_AMQP_URL",
            "amqp://app:s3cret@a:5672/%2f,amqp://app:s3cret@b:notaport/%2f",
        )])
        .expect_err("URL 2 is malformed");
        assert_eq!(error.name, "M2M_AMQP_URL");
        let printed = format!("{error} {error:?}");
        assert!(printed.contains("URL 2 of 2"), "{printed}");
        assert!(printed.contains("invalid port"), "{printed}");
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn the_replication_factor_follows_the_list_up_to_three_unless_set() {
        let list = |n: usize| {
            (1..=n)
                .map(|i| format!("amqp://u:p@node{i}:5672/%2f"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let factor = |vars: &[(&str, &str)]| from(vars).expect("valid").replication_factor();
        assert_eq!(factor(&[("M2M_AMQP_URL", &list(1))]), None);
        assert_eq!(factor(&[("M2M_AMQP_URL", &list(2))]), Some(2));
        assert_eq!(factor(&[("M2M_AMQP_URL", &list(3))]), Some(3));
        assert_eq!(factor(&[("M2M_AMQP_URL", &list(5))]), Some(3));
        assert_eq!(
            factor(&[("M2M_AMQP_URL", &list(1)), ("M2M_AMQP_REPLICAS", "3")]),
            Some(3)
        );
        assert_eq!(
            factor(&[("M2M_AMQP_URL", &list(5)), ("M2M_AMQP_REPLICAS", "5")]),
            Some(5)
        );
        assert_eq!(factor(&[("M2M_AMQP_REPLICAS", "")]), None);
        assert!(from(&[("M2M_AMQP_REPLICAS", "0")]).is_err());
        assert!(from(&[("M2M_AMQP_REPLICAS", "three")]).is_err());
    }

    #[test]
    fn the_password_never_prints() {
        let settings = from(&[(
            "M2M_AMQP_URL",
            "amqp://app:s3cret@broker/%2f,amqp://app:s3cret@broker2/%2f",
        )])
        .expect("valid");
        let printed = format!("{settings:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(
            printed.contains("amqp://app:***@broker:5672/%2f,amqp://app:***@broker2:5672/%2f"),
            "{printed}"
        );
    }
}

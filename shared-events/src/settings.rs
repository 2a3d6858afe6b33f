//! Bus settings, read from the environment with defaults that work on one machine.

use std::fmt;
use std::time::Duration;

/// How to reach the broker and how the plumbing behaves.
#[derive(Clone)]
pub struct BusSettings {
    /// `M2M_AMQP_URL`; its vhost is honoured, so stacks can share one broker.
    /// It carries the broker password, hence the redacting `Debug`.
    pub url: String,
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
            prefix: "m2m".into(),
            timeout: Duration::from_secs(10),
            retry_delay: Duration::from_secs(5),
            // 5 s x 120 = 10 minutes of outage ridden out before a human is needed.
            max_retries: 120,
        }
    }
}

/// A variable that is set but cannot be used.
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
            prefix: lookup("M2M_BUS_PREFIX").unwrap_or(defaults.prefix),
            timeout: millis("M2M_AMQP_TIMEOUT_MS", defaults.timeout)?,
            retry_delay: millis("M2M_RETRY_DELAY_MS", defaults.retry_delay)?,
            max_retries: parse_var(&lookup, "M2M_MAX_RETRIES", defaults.max_retries)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if !self.url.starts_with("amqp://") && !self.url.starts_with("amqps://") {
            return Err(SettingsError {
                name: "M2M_AMQP_URL",
                value: redact_url(&self.url),
                reason: "must start with amqp:// or amqps://".into(),
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

/// The URL with any password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for BusSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusSettings")
            .field("url", &redact_url(&self.url))
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
    fn the_password_never_prints() {
        let settings = from(&[("M2M_AMQP_URL", "amqp://app:s3cret@broker/%2f")]).expect("valid");
        let printed = format!("{settings:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("amqp://app:***@broker/%2f"), "{printed}");
    }
}

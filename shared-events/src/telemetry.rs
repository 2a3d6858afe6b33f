//! One place that sets up logging for every process.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` filters (default `info`); logs are
/// one JSON object per line for log shippers with `M2M_LOG_FORMAT=json` or in
/// production (`M2M_ENV=production`, unless `M2M_LOG_FORMAT=text`), and
/// human-readable lines otherwise. Calling it twice is harmless (tests).
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = std::env::var("M2M_LOG_FORMAT").ok();
    let production = std::env::var("M2M_ENV").is_ok_and(|env| env == "production");
    let json = match format.as_deref() {
        Some("json") => true,
        Some("text") => false,
        _ => production,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() {
        tracing::debug!(service, "Logging initialised.");
    }
}

//! One place that sets up logging for every process.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` filters (default `info`), and
/// `M2M_LOG_FORMAT=json` switches from human-readable lines to one JSON object
/// per line for log shippers. Calling it twice is harmless (tests).
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("M2M_LOG_FORMAT").is_ok_and(|format| format == "json");
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

//! One place that sets up logging for every process.
//!
//! In JSON, each line carries the fields of the spans it was logged in (`span`,
//! the innermost; `spans`, all of them). The gateway's request span and the
//! consumer runner's delivery span both carry `correlation_id`, so every line of
//! one game's path, on every process, holds its id: `grep <id>` finds them all.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber: `RUST_LOG` filters (default `info`); logs are
/// one JSON object per line for log shippers with `M2M_LOG_FORMAT=json` or in
/// production (`M2M_ENV=production`, unless `M2M_LOG_FORMAT=text`), and
/// human-readable lines otherwise. Calling it twice is harmless (tests).
pub fn init(service: &str) {
    let format = std::env::var("M2M_LOG_FORMAT").ok();
    let production = std::env::var("M2M_ENV").is_ok_and(|env| env == "production");
    let json = match format.as_deref() {
        Some("json") => true,
        Some("text") => false,
        _ => production,
    };
    let installed = if json {
        init_json(std::io::stdout)
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .try_init()
            .is_ok()
    };
    if installed {
        tracing::debug!(service, "Logging initialised.");
    }
}

/// Installs the production JSON format writing to `writer` (tests capture the
/// lines this way). Returns false if a global subscriber was already installed.
pub fn init_json<W>(writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .try_init()
        .is_ok()
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

//! The one place that sets up tracing.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber: `RUST_LOG` if set, else `default_filter`; JSON lines
/// when `json` (production, for log shippers), human-readable otherwise. Fails if a
/// subscriber is already installed.
pub fn init_subscriber<W>(default_filter: &str, json: bool, writer: W) -> anyhow::Result<()>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|e| anyhow::anyhow!("Failed to install the tracing subscriber: {e}"))
}

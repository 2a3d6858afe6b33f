//! The gateway binary: read the settings, set up logging, build, serve until stopped.

use anyhow::Context;
use gateway::config::Settings;
use gateway::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env().context("Failed to read the configuration")?;
    shared_events::telemetry::init("gateway");
    if settings.uses_development_secret() {
        tracing::warn!("Using the development JWT secret; set M2M_JWT_SECRET outside development");
    }
    let application = Application::build(settings)
        .await
        .context("Failed to build the gateway")?;
    tracing::info!(port = application.port(), "The gateway is listening");
    application.run_until_stopped().await
}

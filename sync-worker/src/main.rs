//! `sync-worker`: see the library's documentation.

use anyhow::Context as _;
use clap::Parser as _;
use sync_worker::cli::Cli;
use sync_worker::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    shared_events::telemetry::init("sync-worker");
    let settings = Settings::from_env().context("Invalid configuration")?;
    cli.run(settings).await
}

//! `events dlq`: the dead-letter queue, one file per verb. Reading dead letters
//! and redriving them is [`shared_events::dead_letters`], shared with the
//! gateway's dashboard; these modules add the command line's output.

mod list;
mod purge;
mod redrive;
mod show;

use anyhow::Context as _;
use shared_events::Bus;
use shared_events::dead_letters::Browse;

use crate::cli::DlqCommand;

/// The name the broker lists the CLI's browsing connection under.
const BROWSER: &str = "events dlq";

/// Takes every dead letter, with the CLI's context on failure.
async fn take_all(bus: &Bus) -> anyhow::Result<Browse> {
    Browse::take_all(bus, BROWSER)
        .await
        .context("Failed to browse the dead-letter queue")
}

pub async fn run(bus: &Bus, command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List(args) => list::run(bus, args).await,
        DlqCommand::Show(args) => show::run(bus, args).await,
        DlqCommand::Redrive(args) => redrive::run(bus, args).await,
        DlqCommand::Purge(args) => purge::run(bus, args).await,
    }
}

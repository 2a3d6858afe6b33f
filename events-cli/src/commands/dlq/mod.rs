//! `events dlq`: the dead-letter queue, one file per verb.

mod browse;
mod dead_letter;
mod list;
mod purge;
mod redrive;
mod show;

use shared_events::Bus;

use crate::cli::DlqCommand;

pub async fn run(bus: &Bus, command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List(args) => list::run(bus, args).await,
        DlqCommand::Show(args) => show::run(bus, args).await,
        DlqCommand::Redrive(args) => redrive::run(bus, args).await,
        DlqCommand::Purge(args) => purge::run(bus, args).await,
    }
}

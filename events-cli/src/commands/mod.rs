//! One module per subcommand, dispatched by one exhaustive match.

mod dlq;
mod replay;
mod stats;
mod tail;
mod trigger;

use shared_events::Bus;

use crate::cli::Command;

pub async fn run(bus: &Bus, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Tail(args) => tail::run(bus, args).await,
        Command::Replay(args) => replay::run(bus, args).await,
        Command::Dlq(command) => dlq::run(bus, command).await,
        Command::Trigger(args) => trigger::run(bus, args).await,
        Command::Stats(args) => stats::run(bus, args).await,
    }
}

//! `events`: the developers' and operators' tool for the m2m bus.
//!
//! ```text
//! events tail    [--type T] [--user U] [--from first|last|next|<offset>|<time>] [--pretty] [--limit N]
//! events replay  --from <offset|time> [--to <offset|time>] [--type T] [--user U] [--game G] [--dry-run] [--rate N/s]
//! events dlq     list | show <id> | redrive [<id>|--all] [--to <queue>] | purge --yes
//! events trigger sync|backup
//! events stats
//! ```
//! It is configured like the services (`M2M_AMQP_URL`, `M2M_BUS_PREFIX`, ...,
//! through [`shared_events::BusSettings`]) and uses the shared plumbing (the
//! topology's names, [`shared_events::StreamReader`], [`shared_events::Publisher`]).
//! Data goes to stdout (JSON lines unless `--pretty`), progress and summaries to
//! stderr; any failure is one message on stderr and a non-zero exit.
//!
//! # Layout
//! - [`cli`]: the command line (clap), with its values parsed and checked.
//! - [`commands`]: one module per subcommand (`dlq` has one per verb).
//! - [`broker`]: connecting with clear errors; passive checks that never create queues.
//! - [`stream_end`]: finding the end of the history stream without waiting forever;
//!   [`read_ahead`]: reading it in a task of its own, overlapped with publishing.
//! - [`position`], [`range`], [`rate`]: where to read from and to, and how fast.
//! - [`filter`], [`record`]: selecting events, from a light read of their body.
//! - [`render`], [`out`], [`progress`]: what is printed, and how.
//!
//! Publishing many messages with pipelined confirms, browsing and redriving dead
//! letters, and reading header values are shared with the gateway's dashboard:
//! they live in [`shared_events`] (`pipeline`, `dead_letters`, `header_values`).

pub mod broker;
pub mod cli;
pub mod commands;
pub mod filter;
pub mod out;
pub mod position;
pub mod progress;
pub mod range;
pub mod rate;
pub mod read_ahead;
pub mod record;
pub mod render;
pub mod stream_end;

/// Header reading, as the commands and the tests use it.
pub use shared_events::header_values as headers;

use cli::Cli;

/// Runs one command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let bus = broker::bus_from_env()?;
    commands::run(&bus, cli.command).await
}

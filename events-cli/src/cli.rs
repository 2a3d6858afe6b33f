//! The command line: every subcommand and its options, parsed by clap.
//!
//! Values that need checking beyond their type (positions, rates, event types)
//! are parsed here too, so a bad argument is a usage error before any broker
//! connection is made.

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::filter::EventType;
use crate::position::{Bound, Position};
use crate::rate::Rate;

/// The m2m bus from the command line: follow the event history, replay a range of
/// it, look at and redrive dead letters, fire a job's timer, and see queue depths.
///
/// Configured like the services: M2M_AMQP_URL, M2M_BUS_PREFIX, M2M_AMQP_TIMEOUT_MS.
#[derive(Debug, Parser)]
#[command(name = "events", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print events from the history stream, then follow new ones.
    Tail(TailArgs),
    /// Republish a range of the history to the work queues, marked as replays.
    Replay(ReplayArgs),
    /// Look at, redrive or purge the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Publish a job's timer message by hand, so the job runs now.
    Trigger(TriggerArgs),
    /// Queue depths and consumers, and the history stream's offsets.
    Stats(StatsArgs),
}

/// Which events to select; shared by `tail` and `replay`.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Only events of this type (repeatable): processing.requested,
    /// reconciliation.ready, timer.fired.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<EventType>,
    /// Only events about this patient (user id).
    #[arg(long, value_name = "USER_ID")]
    pub user: Option<Uuid>,
    /// Only events about this game.
    #[arg(long, value_name = "GAME_ID")]
    pub game: Option<Uuid>,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Where to start: first, last, next, an offset, or an RFC 3339 time.
    #[arg(long, default_value = "next", value_name = "POSITION")]
    pub from: Position,
    /// A readable line per event instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Keep the recording's base64 data instead of a short placeholder.
    #[arg(long)]
    pub full: bool,
    /// Stop after this many matching events (default: follow until ctrl-c).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The start of the range: an offset, an RFC 3339 time (events that occurred
    /// at or after it), or `first`.
    #[arg(long, value_name = "OFFSET|TIME")]
    pub from: Position,
    /// The end of the range: the last offset to replay, or a time before which
    /// events occurred. Default: the end of the stream when the replay starts.
    #[arg(long, value_name = "OFFSET|TIME")]
    pub to: Option<Bound>,
    /// Only count and list the matching events; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: a readable line per event instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Republish at most this many events per second (`500` or `500/s`).
    #[arg(long, value_name = "N/s")]
    pub rate: Option<Rate>,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// One line per dead letter: id, type, when, why, from where, tries, user, game.
    List(DlqListArgs),
    /// Everything about the dead letters with this id, body included.
    Show(DlqShowArgs),
    /// Put dead letters back on their original queue (or --to), death headers
    /// and retry count cleared.
    Redrive(DlqRedriveArgs),
    /// Delete every dead letter (asks for --yes).
    Purge(DlqPurgeArgs),
}

#[derive(Debug, Args)]
pub struct DlqListArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DlqShowArgs {
    /// The message (envelope) id.
    pub id: String,
    /// Keep the recording's base64 data instead of a short placeholder.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all"])))]
pub struct DlqRedriveArgs {
    /// The message (envelope) id to redrive.
    pub id: Option<String>,
    /// Redrive every dead letter.
    #[arg(long)]
    pub all: bool,
    /// A queue to send them to instead of their original one (a full queue name,
    /// or processing, reconciliation, jobs).
    #[arg(long, value_name = "QUEUE")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct DlqPurgeArgs {
    /// Yes, delete every dead letter for good.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The job to run: sync or backup.
    #[arg(value_parser = parse_job)]
    pub job: shared_events::events::Job,
    /// Publish this window instead of a fresh manual one (a window that already
    /// ran is skipped by the workers).
    #[arg(long, allow_negative_numbers = true)]
    pub window: Option<i64>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_job(name: &str) -> Result<shared_events::events::Job, String> {
    shared_events::events::Job::parse(name).ok_or_else(|| {
        let known: Vec<_> = shared_events::events::Job::ALL
            .iter()
            .map(|job| job.as_str())
            .collect();
        format!("unknown job `{name}`; known jobs: {}", known.join(", "))
    })
}

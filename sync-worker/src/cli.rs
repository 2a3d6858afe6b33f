//! The command line: no subcommand runs the worker; the others are operator tools.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use shared_events::events::{Job, TimerFiredV1};
use shared_events::{Bus, Publisher};
use shared_store::connect_mongodb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Settings;
use crate::journal::{self, JournalQuery};
use crate::scheduler;
use crate::startup::Application;

/// Runs the m2m timer jobs (sync, backup). Configured by `M2M_*` variables.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publishes one timer message by hand (until the `events` CLI does it).
    Trigger {
        /// `sync` or `backup`.
        #[arg(value_parser = parse_job)]
        job: Job,
        /// The window to run; by default a manual window of its own, so the job
        /// runs even if the scheduled window of now already has.
        #[arg(long)]
        window: Option<i64>,
    },
    /// Prints archived journal entries as JSON lines, oldest first.
    Journal {
        /// Only this user's entries.
        #[arg(long)]
        user: Option<String>,
        /// Only entries at or after this time (RFC 3339, e.g. 2026-11-22T10:00:00Z).
        #[arg(long, value_parser = parse_time)]
        since: Option<OffsetDateTime>,
        #[arg(long, default_value_t = 10_000)]
        limit: i64,
    },
}

fn parse_job(name: &str) -> Result<Job, String> {
    Job::parse(name).ok_or_else(|| format!("unknown job `{name}` (sync, backup)"))
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

impl Cli {
    pub async fn run(self, settings: Settings) -> anyhow::Result<()> {
        match self.command {
            None => {
                let shutdown = shared_events::shutdown::token_on_signal();
                let app = Application::build(settings).await?;
                app.run_until_stopped(shutdown).await
            }
            Some(Command::Trigger { job, window }) => {
                let window = window
                    .unwrap_or_else(|| TimerFiredV1::manual_window(OffsetDateTime::now_utc()));
                let publisher = Publisher::new(Bus::new(settings.bus), "sync-worker trigger");
                let published = scheduler::publish(&publisher, job, window).await;
                publisher.close().await;
                published.context("Failed to publish the timer")?;
                println!(
                    "Published timer.fired for `{}`, window {window}.",
                    job.as_str()
                );
                Ok(())
            }
            Some(Command::Journal { user, since, limit }) => {
                let db = connect_mongodb(&settings.store, "sync-worker journal")
                    .await
                    .context("Failed to connect to MongoDB")?;
                let query = JournalQuery {
                    user_id: user,
                    since,
                    limit: Some(limit),
                };
                let entries = journal::query(&db, &query)
                    .await
                    .context("Failed to read the archived journal")?;
                for entry in entries {
                    println!("{entry}");
                }
                Ok(())
            }
        }
    }
}

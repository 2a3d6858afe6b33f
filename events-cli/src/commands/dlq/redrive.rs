//! `events dlq redrive`: put dead letters back where they died, once fixed.
//!
//! Each copy goes to its original queue (or `--to`) with its death headers,
//! retry count and TTL removed; a dead letter is removed only after its copy is
//! confirmed ([`shared_events::dead_letters::redrive`]).

use anyhow::{Context as _, bail};
use shared_events::Bus;
use shared_events::dead_letters::{self, Browse, Outcome, Taken};

use crate::cli::DlqRedriveArgs;
use crate::{broker, out};

pub async fn run(bus: &Bus, args: DlqRedriveArgs) -> anyhow::Result<()> {
    let to = match &args.to {
        Some(queue) => Some(resolve_queue(bus, queue).await?),
        None => None,
    };
    let browse = super::take_all(bus).await?;
    let result = redrive(bus, &browse, &args, to.as_deref()).await;
    // Hand back whatever was not redriven, whatever happened.
    let handed = browse.hand_back().await;
    let report = result?;
    handed.context("Failed to hand the other dead letters back")?;
    for line in &report.lines {
        out::line(line).context("Failed to write to stdout")?;
    }
    if report.failed > 0 {
        bail!(
            "{} of {} dead letters could not be redriven and stay in the dead-letter queue",
            report.failed,
            report.failed + report.redriven
        );
    }
    Ok(())
}

struct Report {
    redriven: usize,
    failed: usize,
    lines: Vec<String>,
}

async fn redrive(
    bus: &Bus,
    browse: &Browse,
    args: &DlqRedriveArgs,
    to: Option<&str>,
) -> anyhow::Result<Report> {
    let chosen: Vec<&Taken> = browse
        .taken
        .iter()
        .filter(|t| args.all || args.id.as_deref() == Some(t.dead.id.as_str()))
        .collect();
    let mut report = Report {
        redriven: 0,
        failed: 0,
        lines: Vec::new(),
    };
    if chosen.is_empty() {
        match &args.id {
            Some(id) => bail!("No dead letter with id `{id}`"),
            None => {
                report.lines.push("No dead letters to redrive.".into());
                return Ok(report);
            }
        }
    }
    let outcomes = dead_letters::redrive(bus, browse, &chosen, to)
        .await
        .context("Failed to redrive")?;
    for (taken, outcome) in chosen.iter().zip(outcomes) {
        let id = &taken.dead.id;
        let line = match outcome {
            Outcome::Redriven { queue } => {
                report.redriven += 1;
                format!("{id}: redriven to `{queue}`")
            }
            Outcome::Homeless => {
                report.failed += 1;
                format!("{id}: no original queue recorded and no known type; give one with --to")
            }
            Outcome::Refused { queue, why } => {
                report.failed += 1;
                format!("{id}: not redriven to `{queue}`: {why}")
            }
        };
        report.lines.push(line);
    }
    report.lines.push(format!(
        "Redrove {} dead letters; {} stay in `{}`.",
        report.redriven,
        browse.taken.len() - report.redriven,
        browse.queue
    ));
    Ok(report)
}

/// `--to` as a queue name: a work queue's short name, or a full name that exists.
async fn resolve_queue(bus: &Bus, name: &str) -> anyhow::Result<String> {
    let topology = bus.topology();
    let full = shared_events::WorkQueue::ALL
        .into_iter()
        .map(|queue| topology.queue(queue))
        .find(|full| full.rsplit('.').next() == Some(name))
        .unwrap_or_else(|| name.to_owned());
    let connection = broker::connect(bus, "dlq redrive check").await?;
    let exists = broker::queue_stat(&connection, &full).await;
    broker::close(connection).await;
    if exists?.is_none() {
        bail!("--to: queue `{full}` does not exist");
    }
    Ok(full)
}

//! `events dlq redrive`: put dead letters back where they died, once fixed.
//!
//! Each copy goes to its original queue (or `--to`) through the default exchange,
//! with its death headers, retry count and TTL removed, so the workers treat it
//! as a fresh message. A dead letter is removed only after its copy is
//! confirmed; one whose copy fails stays in the dead-letter queue. The worst a
//! crash can do is a duplicate, which idempotent handlers absorb.

use anyhow::{Context as _, bail};
use shared_events::Bus;

use super::browse::{Browse, Taken};
use super::dead_letter::revived;
use crate::cli::DlqRedriveArgs;
use crate::pipeline::{ConfirmPipeline, DEFAULT_WINDOW};
use crate::{broker, out};

pub async fn run(bus: &Bus, args: DlqRedriveArgs) -> anyhow::Result<()> {
    let to = match &args.to {
        Some(queue) => Some(resolve_queue(bus, queue).await?),
        None => None,
    };
    let browse = Browse::take_all(bus).await?;
    let result = redrive(bus, &browse, &args, to.as_deref()).await;
    // Hand back whatever was not redriven, whatever happened.
    let handed = browse.hand_back().await;
    let report = result?;
    handed?;
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
    if chosen.is_empty() {
        match &args.id {
            Some(id) => bail!("No dead letter with id `{id}`"),
            None => {
                return Ok(Report {
                    redriven: 0,
                    failed: 0,
                    lines: vec!["No dead letters to redrive.".into()],
                });
            }
        }
    }
    let mut report = Report {
        redriven: 0,
        failed: 0,
        lines: Vec::new(),
    };
    let mut pipeline = ConfirmPipeline::<usize>::open(bus, "dlq redrive", DEFAULT_WINDOW).await?;
    let mut settled = Vec::new();
    for (index, taken) in chosen.iter().enumerate() {
        let Some(queue) = to.or(taken.dead.queue.as_deref()) else {
            report.failed += 1;
            report.lines.push(format!(
                "{}: no original queue recorded; give one with --to",
                taken.dead.id
            ));
            continue;
        };
        let properties = revived(&taken.properties);
        let done = pipeline
            .publish("", queue, &taken.body, properties, index)
            .await
            .context("Failed to publish a redriven copy")?;
        settled.extend(done);
    }
    while let Some(outcome) = pipeline
        .next_settled()
        .await
        .context("Failed to confirm redriven copies")?
    {
        settled.push(outcome);
    }
    pipeline.close().await;
    for (index, outcome) in settled {
        let taken = chosen[index];
        let queue = to.or(taken.dead.queue.as_deref()).unwrap_or_default();
        match outcome {
            Ok(()) => {
                browse.ack(taken.delivery_tag).await?;
                report.redriven += 1;
                report
                    .lines
                    .push(format!("{}: redriven to `{queue}`", taken.dead.id));
            }
            Err(refused) => {
                report.failed += 1;
                report
                    .lines
                    .push(format!("{}: not redriven: {refused}", taken.dead.id));
            }
        }
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

//! Putting dead letters back where they died, once the fault is fixed.
//!
//! Each copy goes to its queue through the default exchange, with its death
//! headers, retry count and TTL removed ([`revived`]), so the workers treat it as
//! a fresh message. A dead letter is removed only after its copy is confirmed;
//! one whose copy fails stays in the dead-letter queue. The worst a crash can do
//! is a duplicate, which idempotent handlers absorb.

use super::{Browse, DeadLetterError, Taken, revived};
use crate::connection::Bus;
use crate::pipeline::{ConfirmPipeline, DEFAULT_WINDOW, Refused};

/// What became of one dead letter chosen for a redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its copy is confirmed on `queue`, and the dead letter is gone.
    Redriven { queue: String },
    /// Nowhere to send it: no death header names its queue and its event type
    /// is unknown. It stays.
    Homeless,
    /// The broker did not take the copy (e.g. `queue` does not exist). It stays.
    Refused { queue: String, why: Refused },
}

/// Redrives `chosen` (taken by `browse`) to `to`, or each to its
/// [`home`](super::DeadLetter::home). Outcomes come in the order of `chosen`.
/// An error means the publishing connection failed: dead letters whose copies
/// may have arrived are not removed, and are handed back with the rest.
pub async fn redrive(
    bus: &Bus,
    browse: &Browse,
    chosen: &[&Taken],
    to: Option<&str>,
) -> Result<Vec<Outcome>, DeadLetterError> {
    let topology = bus.topology();
    let targets: Vec<Option<String>> = chosen
        .iter()
        .map(|taken| to.map(str::to_owned).or_else(|| taken.dead.home(topology)))
        .collect();
    let mut outcomes: Vec<Outcome> = vec![Outcome::Homeless; chosen.len()];
    if targets.iter().all(Option::is_none) {
        return Ok(outcomes);
    }
    let mut pipeline =
        ConfirmPipeline::<usize>::open(bus, "dead-letter redrive", DEFAULT_WINDOW).await?;
    let published = publish_all(&mut pipeline, chosen, &targets).await;
    pipeline.close().await;
    for (index, result) in published? {
        let queue = targets[index].clone().unwrap_or_default();
        outcomes[index] = match result {
            Ok(()) => {
                browse.ack(chosen[index].delivery_tag).await?;
                Outcome::Redriven { queue }
            }
            Err(why) => Outcome::Refused { queue, why },
        };
    }
    Ok(outcomes)
}

/// Publishes every copy that has a target, many in flight, and waits for all.
async fn publish_all(
    pipeline: &mut ConfirmPipeline<usize>,
    chosen: &[&Taken],
    targets: &[Option<String>],
) -> Result<Vec<(usize, Result<(), Refused>)>, DeadLetterError> {
    let mut settled = Vec::new();
    for (index, (taken, target)) in chosen.iter().zip(targets).enumerate() {
        let Some(queue) = target else { continue };
        let properties = revived(&taken.properties);
        let done = pipeline
            .publish("", queue, &taken.body, properties, index)
            .await?;
        settled.extend(done);
    }
    while let Some(outcome) = pipeline.next_settled().await? {
        settled.push(outcome);
    }
    Ok(settled)
}

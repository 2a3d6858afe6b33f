//! Time to recover: from the moment the broken part is back until the system is whole
//! again, which is when both hold:
//! 1. every upload of the phase answered `202` before that moment is `processed`
//!    (the backlog the fault left is worked off);
//! 2. an upload *sent* after that moment has been answered and is `processed` (new
//!    work goes through end to end).
//!
//! Polled every 100 ms from the store while the load keeps running, so the figure
//! includes the ordinary pipeline latency (see the baseline row) and the poll step.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mongodb::Database;

use crate::inspect;
use crate::ledger::Ledger;

const POLL: Duration = Duration::from_millis(100);

/// How long after `back` the system was whole again; `None` if not within `timeout`.
pub async fn measure(
    db: &Database,
    ledger: &Ledger,
    phase: usize,
    back: Instant,
    timeout: Duration,
) -> Option<Duration> {
    let mut done: HashSet<String> = HashSet::new();
    loop {
        let uploads = ledger.uploads_of(phase);
        let backlog: Vec<String> = uploads
            .iter()
            .filter(|u| u.accepted_at.is_some_and(|at| at <= back))
            .filter_map(|u| u.game_id().map(str::to_owned))
            .collect();
        let fresh: Vec<String> = uploads
            .iter()
            .filter(|u| u.sent_at >= back)
            .filter_map(|u| u.game_id().map(str::to_owned))
            .collect();
        let unknown: Vec<String> = backlog
            .iter()
            .chain(&fresh)
            .filter(|game| !done.contains(*game))
            .cloned()
            .collect();
        // The store may be the part that is down: then nothing is known yet.
        if let Ok(processed) = inspect::processed(db, &unknown).await {
            done.extend(processed);
        }
        let looked = Instant::now();
        let backlog_done = backlog.iter().all(|game| done.contains(game));
        if backlog_done && fresh.iter().any(|game| done.contains(game)) {
            return Some(looked.saturating_duration_since(back));
        }
        if looked.duration_since(back) > timeout {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

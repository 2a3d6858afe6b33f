//! `GET /admin/api/dead-letters` lists the oldest dead letters;
//! `POST /admin/api/dead-letters/{id}/redrive` sends one back to its queue.
//!
//! Both go through [`shared_events::dead_letters`], as `events dlq` does:
//! browsing takes messages and hands them back in place, and a redrive removes
//! the dead letter only once its fresh copy is confirmed. While a browse holds
//! messages, other readers do not see them; this gateway runs one browse at a
//! time (so its own listing never hides a message it is redriving), lists only
//! the first [`LISTED`], and a redrive searches at most [`SEARCHED`] deep.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::Path;
use serde::Serialize;
use shared_events::dead_letters::{self, Browse, DeadLetter, DeadLetterError, Outcome};

use super::Dashboard;
use super::access::{AdminError, Operator};
use crate::error::ApiError;

/// Dead letters listed: the oldest, which have waited longest for a human.
pub const LISTED: usize = 50;
/// How deep a redrive looks for its message. Bodies of the messages passed over
/// are dropped as it goes, so this bounds time more than memory.
pub const SEARCHED: usize = 10_000;
/// The name the broker lists the dashboard's browsing connection under.
const BROWSER: &str = "gateway admin dead letters";
/// A browse or redrive still running after this has met a half-dead broker
/// connection: it answers 503 rather than hold the browse lock. Messages it had
/// taken return to the queue when the broker drops the connection.
const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize)]
pub struct Listing {
    queue: String,
    /// Ready dead letters in all, listed or not.
    total: u64,
    letters: Vec<DeadLetter>,
}

pub async fn list(Operator(dashboard): Operator) -> Result<Json<Listing>, AdminError> {
    let _one_at_a_time = dashboard.dead_letters.lock().await;
    within_deadline(listing(&dashboard)).await
}

async fn listing(dashboard: &Dashboard) -> Result<Json<Listing>, AdminError> {
    let browse = Browse::take_first(&dashboard.bus, BROWSER, LISTED)
        .await
        .map_err(failed)?;
    let letters: Vec<DeadLetter> = browse.taken.iter().map(|t| t.dead.clone()).collect();
    let total = letters.len() as u64 + u64::from(browse.left);
    let queue = browse.queue.clone();
    browse.hand_back().await.map_err(failed)?;
    Ok(Json(Listing {
        queue,
        total,
        letters,
    }))
}

#[derive(Debug, Serialize)]
pub struct Redriven {
    id: String,
    /// The queue the fresh copy is on.
    queue: String,
}

pub async fn redrive(
    Operator(dashboard): Operator,
    Path(id): Path<String>,
) -> Result<Json<Redriven>, AdminError> {
    let _one_at_a_time = dashboard.dead_letters.lock().await;
    within_deadline(redrive_one(&dashboard, id)).await
}

async fn redrive_one(dashboard: &Dashboard, id: String) -> Result<Json<Redriven>, AdminError> {
    let mut browse = Browse::open(&dashboard.bus, BROWSER)
        .await
        .map_err(failed)?;
    let outcome = find_and_redrive(&dashboard.bus, &mut browse, &id).await;
    // Whatever happened, the other messages go back where they were.
    let handed = browse.hand_back().await;
    let queue = outcome?;
    if let Err(error) = handed {
        // The redriven one is gone; the rest return when the connection closes.
        tracing::warn!(%error, "Dead letters were not handed back explicitly");
    }
    tracing::info!(%id, %queue, "An operator redrove a dead letter");
    Ok(Json(Redriven { id, queue }))
}

async fn find_and_redrive(
    bus: &shared_events::Bus,
    browse: &mut Browse,
    id: &str,
) -> Result<String, AdminError> {
    let mut found = None;
    while found.is_none() && browse.taken.len() < SEARCHED {
        let matched = browse
            .take_next()
            .await
            .map_err(failed)?
            .map(|taken| taken.dead.id == id);
        match matched {
            None => break,
            Some(true) => found = Some(browse.taken.len() - 1),
            Some(false) => {
                if let Some(passed) = browse.taken.last_mut() {
                    passed.body = Vec::new();
                }
            }
        }
    }
    let Some(index) = found else {
        return Err(AdminError::NoSuchLetter(format!(
            "no dead letter with id `{id}` among the first {SEARCHED} (another reader, such as \
             `events dlq`, may be holding it: try again)"
        )));
    };
    let chosen = [&browse.taken[index]];
    let outcomes = dead_letters::redrive(bus, browse, &chosen, None)
        .await
        .map_err(failed)?;
    match outcomes.into_iter().next() {
        Some(Outcome::Redriven { queue }) => Ok(queue),
        Some(Outcome::Refused { queue, why }) => Err(AdminError::CannotRedrive(format!(
            "the broker did not take the copy for `{queue}`: {why}; the dead letter stays"
        ))),
        Some(Outcome::Homeless) | None => Err(AdminError::CannotRedrive(
            "the dead letter names no queue and its event type is unknown; redrive it with \
             `events dlq redrive <id> --to <queue>`"
                .into(),
        )),
    }
}

async fn within_deadline<T>(
    work: impl Future<Output = Result<T, AdminError>>,
) -> Result<T, AdminError> {
    tokio::time::timeout(DEADLINE, work)
        .await
        .unwrap_or_else(|_| {
            Err(AdminError::unavailable(anyhow::anyhow!(
                "the dead-letter queue did not answer within {DEADLINE:?}"
            )))
        })
}

/// The broker unreachable is a 503 like the rest of the API; anything else is
/// logged and a 500.
fn failed(error: DeadLetterError) -> AdminError {
    match error {
        DeadLetterError::Bus(_) => AdminError::unavailable(error.into()),
        other => ApiError::Unexpected(anyhow::Error::new(other)).into(),
    }
}

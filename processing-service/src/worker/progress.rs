//! Counting one game into the patient's progress: read the running state, apply
//! the game, write it back if it changed (conditional on the revision read).
//!
//! The usual cost is one read and one write. Two cases read the patient's history
//! instead (`results`), and are counted in `m2m_progress_rebuilds_total`: the
//! first game of a patient's exercise with no state yet (a new patient, or history
//! from before the running state existed), and a game the state cannot place
//! (older than its window, see `analytics::running`).

use std::collections::BTreeMap;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use shared_events::events::{MetricProgress, ProgressSnapshot};
use time::OffsetDateTime;
use uuid::Uuid;

use super::progress_state::{ProgressStates, StateError, StateKey, Stored};
use super::results::{ResultsStore, session_values};
use crate::analytics::ANALYTICS_VERSION;
use crate::analytics::progress::{Direction, Progress, ProgressConfig};
use crate::analytics::running::{Applied, RunningProgress, Session, SessionKey};

/// How often a write may lose the race to another worker before the game is
/// retried later (the consumer's transient retry).
const ATTEMPTS: usize = 8;

/// `m2m_progress_rebuilds_total{reason}`: rebuilds of a running state from the
/// patient's whole history, by `reason` = `missing` or `out_of_window`.
pub type Rebuilds = Family<RebuildLabels, Counter>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct RebuildLabels {
    reason: &'static str,
}

/// The game being counted.
#[derive(Debug, Clone)]
pub struct Game<'a> {
    pub user_id: Uuid,
    pub exercise: &'a str,
    pub key: SessionKey,
    /// `Some` for a processed game, `None` for a failed one.
    pub values: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Clone)]
pub struct ProgressCounter {
    pub states: ProgressStates,
    pub results: ResultsStore,
    pub config: ProgressConfig,
    pub rebuilds: Rebuilds,
}

impl ProgressCounter {
    /// Counts `game` and returns the patient's progress on the exercise after it
    /// (`None` while no game of the exercise was processed).
    pub async fn count(&self, game: &Game<'_>) -> Result<Option<ProgressSnapshot>, StateError> {
        let key = StateKey {
            user_id: game.user_id.to_string(),
            exercise: game.exercise.to_owned(),
        };
        let id = key.id();
        for _ in 0..ATTEMPTS {
            let stored = self.states.load(&id).await?;
            let (revision, state) = match stored {
                Some(Stored {
                    revision,
                    updated_at,
                    mut state,
                }) if state.fits(&self.config) => {
                    match state.apply(game.key.clone(), game.values.clone()) {
                        Applied::Unchanged => {
                            return Ok(self.snapshot(revision, &state, updated_at));
                        }
                        Applied::Changed => (revision + 1, state),
                        Applied::NeedsRecompute => {
                            // Usually a game counted long ago, delivered again (a
                            // replay, a redrive): its stored result says so, at the
                            // cost of one read instead of the whole history.
                            if self.already_counted(game).await? {
                                return Ok(self.snapshot(revision, &state, updated_at));
                            }
                            (revision + 1, self.rebuild(game, "out_of_window").await?)
                        }
                    }
                }
                Some(stored) => (stored.revision + 1, self.rebuild(game, "missing").await?),
                None => (1, self.rebuild(game, "missing").await?),
            };
            let now = OffsetDateTime::now_utc();
            if self
                .states
                .save(&key, revision, &state, &self.config, now)
                .await?
            {
                return Ok(self.snapshot(revision, &state, now));
            }
            tracing::debug!(%id, "Another worker updated the progress first; reading again.");
        }
        Err(StateError::Codec(format!(
            "the progress of {id} kept changing under {ATTEMPTS} attempts"
        )))
    }

    /// Whether the stored result of `game` is what it is now: the game was counted
    /// as it is (a result is saved only after its game is counted).
    async fn already_counted(&self, game: &Game<'_>) -> Result<bool, StateError> {
        let Ok(game_id) = Uuid::parse_str(&game.key.game_id) else {
            return Ok(false);
        };
        let Some(stored) = self.results.result(game_id).await? else {
            return Ok(game.values.is_none());
        };
        let stored_values = match stored.get_str("status") {
            Ok("processed") => {
                let metrics = stored
                    .get("metrics")
                    .map(|m| m.clone().into_relaxed_extjson())
                    .unwrap_or(serde_json::Value::Null);
                let score = stored.get("score").and_then(mongodb::bson::Bson::as_i64);
                Some(session_values(&metrics, score))
            }
            _ => None,
        };
        Ok(stored_values == game.values)
    }

    /// The state from every stored session, with `game` as given now (its stored
    /// result may be older, or not written yet).
    async fn rebuild(
        &self,
        game: &Game<'_>,
        reason: &'static str,
    ) -> Result<RunningProgress, StateError> {
        self.rebuilds.get_or_create(&RebuildLabels { reason }).inc();
        let mut sessions = self.results.sessions(game.user_id, game.exercise).await?;
        sessions.retain(|s| s.key.game_id != game.key.game_id);
        if let Some(values) = &game.values {
            sessions.push(Session {
                key: game.key.clone(),
                values: values.clone(),
            });
        }
        Ok(RunningProgress::from_sessions(sessions, &self.config))
    }

    fn snapshot(
        &self,
        revision: u64,
        state: &RunningProgress,
        updated_at: OffsetDateTime,
    ) -> Option<ProgressSnapshot> {
        (state.session_count() > 0).then(|| ProgressSnapshot {
            revision,
            session_count: state.session_count(),
            analytics_version: ANALYTICS_VERSION.to_string(),
            updated_at,
            metrics: state
                .progress(&self.config)
                .into_iter()
                .map(|(metric, progress)| metric_progress(metric, &progress))
                .collect(),
        })
    }
}

/// One metric's B11 as it travels: undefined figures (NaN) become `None`.
pub fn metric_progress(metric: String, p: &Progress) -> MetricProgress {
    let defined = |x: f64| x.is_finite().then_some(x);
    MetricProgress {
        metric,
        n_sessions: p.n_sessions as u64,
        baseline: defined(p.baseline),
        latest: defined(p.latest),
        change: defined(p.change),
        pct_change: defined(p.pct_change),
        slope: defined(p.slope),
        intercept: defined(p.intercept),
        r_squared: defined(p.r_squared),
        direction: p.direction.map(|d| {
            match d {
                Direction::HigherIsBetter => "higher_is_better",
                Direction::LowerIsBetter => "lower_is_better",
            }
            .to_owned()
        }),
        improved: p.improved,
        sem: defined(p.sem),
        mdc95: defined(p.mdc95),
        real_change: p.real_change,
    }
}

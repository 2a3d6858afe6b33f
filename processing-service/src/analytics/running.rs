//! B11 progress kept as a running state, so counting a game costs the same for a
//! patient's 1,000th game as for the 1st.
//!
//! # The session index
//! A patient's processed games of one exercise, ordered by when they were played
//! (`started_at`, then game id to break ties), are sessions 0, 1, 2, ...: the `x`
//! of the trend. A failed game is not a session. This is the order of the full
//! computation ([`super::progress::progress`] over every session), and the running
//! state gives the same figures (to rounding, about 1e-12 relative).
//!
//! # What is kept
//! Per metric: the count and the sums behind the OLS fit (Σx, Σu, Σx², Σxu, Σu²,
//! with `u = value − shift` and the shift the metric's first value, so the sums of
//! squares do not cancel), the first `k` sessions' values (the baseline and its SD,
//! hence SEM and MDC95) and the newest value. Beside them, the newest
//! [`RunningProgress::WINDOW`] sessions with all their values.
//!
//! # Applying a game
//! - A game newer than the window's oldest session (the common case: the newest
//!   game, or one a few sessions late because another worker finished first) is
//!   inserted at its place; the sessions after it move up one index, and they are
//!   all in the window, so the sums are corrected exactly.
//! - A game already counted with the same values (a redelivery, a duplicate event)
//!   changes nothing; a re-analysis of a game in the window with other values, or a
//!   failure of a game in the window, replaces or removes it the same way.
//! - Anything else (a game older than the whole window, or a change that touches a
//!   metric's baseline sessions) answers [`Applied::NeedsRecompute`]: the caller
//!   rebuilds the state from every session ([`RunningProgress::from_sessions`]).
//!   That path reads the patient's history and is meant to be rare; it is counted
//!   in the worker's metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::progress::{Progress, ProgressConfig, Summary, finish};

/// Where a session sits in a patient's history: when it was played, then its game.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionKey {
    /// `started_at` in Unix milliseconds.
    pub started_at_ms: i64,
    pub game_id: String,
}

/// One processed game: its place and its metric values (the report's finite
/// numbers by dotted path, and `score`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub key: SessionKey,
    pub values: BTreeMap<String, f64>,
}

/// What [`RunningProgress::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The game was already counted as it is (or is a failure that never counted).
    Unchanged,
    /// The state now counts the game as given.
    Changed,
    /// The state cannot place the game exactly; rebuild it from every session.
    NeedsRecompute,
}

/// The running sums of one metric's sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MetricSums {
    n: u64,
    /// Subtracted from every value before it is summed.
    shift: f64,
    sx: f64,
    su: f64,
    sxx: f64,
    sxu: f64,
    suu: f64,
    /// The first `min(k, n)` sessions having the metric, oldest first.
    head: Vec<(SessionKey, f64)>,
    /// The newest session having the metric.
    last: (SessionKey, f64),
}

impl MetricSums {
    fn new(key: &SessionKey, value: f64) -> Self {
        Self {
            n: 0,
            shift: value,
            sx: 0.0,
            su: 0.0,
            sxx: 0.0,
            sxu: 0.0,
            suu: 0.0,
            head: Vec::new(),
            last: (key.clone(), value),
        }
    }

    /// Adds (sign 1) or removes (sign −1) the point `(x, value)` from the sums.
    fn add(&mut self, x: f64, value: f64, sign: f64) {
        let u = value - self.shift;
        if sign > 0.0 {
            self.n += 1;
        } else {
            self.n -= 1;
        }
        self.sx += sign * x;
        self.su += sign * u;
        self.sxx += sign * x * x;
        self.sxu += sign * x * u;
        self.suu += sign * u * u;
    }

    /// Moves the point with `value` from `x` to `x + by` (by = ±1).
    fn shift_x(&mut self, x: f64, value: f64, by: f64) {
        let u = value - self.shift;
        self.sx += by;
        self.sxx += 2.0 * x * by + by * by;
        self.sxu += by * u;
    }

    /// OLS of value on x from the sums: (slope, intercept, R²); NaN below two
    /// distinct x, and R² NaN when the values do not vary, as the full fit.
    fn trend(&self) -> (f64, f64, f64) {
        let n = self.n as f64;
        let sxx = self.sxx - self.sx * self.sx / n;
        if self.n < 2 || sxx == 0.0 {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        let sxy = self.sxu - self.sx * self.su / n;
        let syy = self.suu - self.su * self.su / n;
        let slope = sxy / sxx;
        let intercept = (self.su / n + self.shift) - slope * (self.sx / n);
        let ss_res = syy - slope * sxy;
        (slope, intercept, 1.0 - ss_res / syy)
    }
}

/// A patient's progress on one exercise, as running sums (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningProgress {
    /// `k`, the baseline's length, the state was built with.
    baseline_sessions: usize,
    session_count: u64,
    /// The newest sessions, oldest first: every session when there are at most
    /// [`Self::WINDOW`], else a suffix of at least one.
    recent: Vec<Session>,
    metrics: BTreeMap<String, MetricSums>,
}

impl RunningProgress {
    /// The newest sessions kept whole: how late (in sessions) a game may arrive and
    /// still be placed without a recompute.
    pub const WINDOW: usize = 32;

    /// No session yet.
    pub fn empty(config: &ProgressConfig) -> Self {
        Self {
            baseline_sessions: config.baseline_sessions,
            session_count: 0,
            recent: Vec::new(),
            metrics: BTreeMap::new(),
        }
    }

    /// The state of `sessions` (any order; a game given twice counts once, the
    /// last given wins).
    pub fn from_sessions(
        sessions: impl IntoIterator<Item = Session>,
        config: &ProgressConfig,
    ) -> Self {
        let mut by_key: BTreeMap<SessionKey, Session> = BTreeMap::new();
        let mut key_of_game: BTreeMap<String, SessionKey> = BTreeMap::new();
        for session in sessions {
            if let Some(old) = key_of_game.insert(session.key.game_id.clone(), session.key.clone())
            {
                by_key.remove(&old);
            }
            by_key.insert(session.key.clone(), session);
        }
        let mut state = Self::empty(config);
        for session in by_key.into_values() {
            state.append(session);
        }
        state
    }

    /// Processed games counted.
    pub fn session_count(&self) -> u64 {
        self.session_count
    }

    /// Whether the state was built for `config` (a changed `k` needs a rebuild).
    pub fn fits(&self, config: &ProgressConfig) -> bool {
        self.baseline_sessions == config.baseline_sessions
    }

    /// Counts the game `key` with `values` (`Some`: processed), or as failed (`None`).
    /// [`Applied::NeedsRecompute`] leaves the state as it was.
    pub fn apply(&mut self, key: SessionKey, values: Option<BTreeMap<String, f64>>) -> Applied {
        let whole = self.recent.len() as u64 == self.session_count;
        let found = self
            .recent
            .iter()
            .position(|s| s.key.game_id == key.game_id);
        match (found, values) {
            (Some(at), Some(values))
                if self.recent[at].values == values && self.recent[at].key == key =>
            {
                Applied::Unchanged
            }
            (None, None) if whole || self.recent.first().is_some_and(|first| key > first.key) => {
                // Every session newer than the window's oldest is in the window:
                // a failure not in it never counted.
                Applied::Unchanged
            }
            (found, values) if whole => {
                let mut sessions = std::mem::take(&mut self.recent);
                if let Some(at) = found {
                    sessions.remove(at);
                }
                sessions.extend(values.map(|values| Session { key, values }));
                let config = ProgressConfig {
                    baseline_sessions: self.baseline_sessions,
                    ..ProgressConfig::default()
                };
                *self = Self::from_sessions(sessions, &config);
                Applied::Changed
            }
            (Some(at), values) => {
                // A game of the window analysed again: take it out and, if it is
                // still a session, put it back at the same place (its key is its
                // start time, which does not change).
                if self.recent[at].key != key || !self.removable(at) {
                    return Applied::NeedsRecompute;
                }
                self.remove_at(at);
                if let Some(values) = values {
                    self.insert_at(at, Session { key, values });
                }
                Applied::Changed
            }
            (None, Some(values)) => {
                // Newer than the window's oldest session: its place is in the window.
                match self.recent.first() {
                    Some(first) if key > first.key => {
                        let at = self.recent.partition_point(|s| s.key < key);
                        self.insert_at(at, Session { key, values });
                        Applied::Changed
                    }
                    _ => Applied::NeedsRecompute,
                }
            }
            (None, None) => Applied::NeedsRecompute,
        }
    }

    /// B11 per metric, by metric name.
    pub fn progress(&self, config: &ProgressConfig) -> Vec<(String, Progress)> {
        self.metrics
            .iter()
            .filter_map(|(name, sums)| {
                let baseline: Vec<f64> = sums.head.iter().map(|(_, value)| *value).collect();
                let summary = Summary {
                    n_sessions: usize::try_from(sums.n).ok()?,
                    baseline_values: &baseline,
                    latest: sums.last.1,
                    trend: sums.trend(),
                };
                let metric = super::named::leaf(name);
                finish(metric, &summary, config)
                    .ok()
                    .map(|progress| (name.clone(), progress))
            })
            .collect()
    }

    /// The index `x` of `recent[at]`.
    fn x_of(&self, at: usize) -> f64 {
        (self.session_count - self.recent.len() as u64 + at as u64) as f64
    }

    /// Whether `recent[at]` can be taken out exactly: it is in no metric's full
    /// baseline (the next session would have to come from outside the window), and
    /// every metric it is the newest value of has an older value in the window.
    fn removable(&self, at: usize) -> bool {
        let session = &self.recent[at];
        session.values.keys().all(|name| {
            let Some(sums) = self.metrics.get(name) else {
                return true;
            };
            let in_baseline = sums.head.iter().any(|(key, _)| *key == session.key);
            let newest = sums.last.0 == session.key;
            let older_in_window = self.recent[..at]
                .iter()
                .any(|s| s.values.contains_key(name));
            // With at most k sessions the baseline is every session: it just shrinks.
            let baseline_ok = !in_baseline || sums.n as usize <= self.baseline_sessions;
            baseline_ok && (!newest || older_in_window || sums.n == 1)
        })
    }

    /// The newest session, appended after every other.
    fn append(&mut self, session: Session) {
        let at = self.recent.len();
        self.recent.push(session);
        self.session_count += 1;
        self.count_at(at);
        self.trim();
    }

    /// Inserts `session` at position `at` of the window, where it belongs by key:
    /// the sessions after it move up one index, so their sums move with them.
    fn insert_at(&mut self, at: usize, session: Session) {
        for later in at..self.recent.len() {
            let x = self.x_of(later);
            for (name, value) in &self.recent[later].values {
                if let Some(sums) = self.metrics.get_mut(name) {
                    sums.shift_x(x, *value, 1.0);
                }
            }
        }
        self.recent.insert(at, session);
        self.session_count += 1;
        self.count_at(at);
        self.trim();
    }

    /// Adds `recent[at]`'s values to the sums, the baselines and the latest values.
    fn count_at(&mut self, at: usize) {
        let x = self.x_of(at);
        let k = self.baseline_sessions;
        let session = &self.recent[at];
        for (name, value) in &session.values {
            let sums = self
                .metrics
                .entry(name.clone())
                .or_insert_with(|| MetricSums::new(&session.key, *value));
            sums.add(x, *value, 1.0);
            let place = sums.head.partition_point(|(key, _)| *key < session.key);
            if place < k {
                sums.head.insert(place, (session.key.clone(), *value));
                sums.head.truncate(k);
            }
            if session.key >= sums.last.0 {
                sums.last = (session.key.clone(), *value);
            }
        }
    }

    /// Removes `recent[at]` from the window and the sums ([`Self::removable`] first).
    fn remove_at(&mut self, at: usize) {
        let x = self.x_of(at);
        let session = self.recent.remove(at);
        // The sessions after it move down one index. Until the count drops below,
        // `x_of` still gives their old index.
        for later in at..self.recent.len() {
            let x = self.x_of(later);
            for (name, value) in &self.recent[later].values {
                if let Some(sums) = self.metrics.get_mut(name) {
                    sums.shift_x(x, *value, -1.0);
                }
            }
        }
        self.session_count -= 1;
        for (name, value) in &session.values {
            let Some(sums) = self.metrics.get_mut(name) else {
                continue;
            };
            sums.add(x, *value, -1.0);
            sums.head.retain(|(key, _)| *key != session.key);
            if sums.n == 0 {
                self.metrics.remove(name);
                continue;
            }
            if sums.last.0 == session.key
                && let Some(last) = self
                    .recent
                    .iter()
                    .rev()
                    .find_map(|s| s.values.get(name).map(|value| (s.key.clone(), *value)))
            {
                sums.last = last;
            }
        }
    }

    /// Keeps at most [`Self::WINDOW`] sessions whole.
    fn trim(&mut self) {
        let excess = self.recent.len().saturating_sub(Self::WINDOW);
        self.recent.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::progress::{SessionValue, progress};

    fn session(t: i64, game: &str, values: &[(&str, f64)]) -> Session {
        Session {
            key: SessionKey {
                started_at_ms: t,
                game_id: game.into(),
            },
            values: values.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect(),
        }
    }

    fn full(sessions: &[Session], metric: &str) -> Progress {
        let mut sorted = sessions.to_vec();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let series: Vec<SessionValue> = sorted
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.values.get(metric).map(|v| SessionValue {
                    x: i as f64,
                    value: *v,
                })
            })
            .collect();
        progress(metric, &series, &ProgressConfig::default()).expect("sessions")
    }

    #[test]
    fn a_constant_metric_has_no_r_squared_as_in_the_full_fit() {
        let config = ProgressConfig::default();
        let sessions: Vec<Session> = (0..6)
            .map(|i| session(i, &format!("g{i}"), &[("rom_deg", 42.5)]))
            .collect();
        let state = RunningProgress::from_sessions(sessions.clone(), &config);
        let running = &state.progress(&config)[0].1;
        let reference = full(&sessions, "rom_deg");
        assert!(running.r_squared.is_nan() && reference.r_squared.is_nan());
        assert_eq!(running.slope, reference.slope);
        assert_eq!(running.baseline, 42.5);
    }

    #[test]
    fn a_late_game_inside_the_window_is_placed_without_a_recompute() {
        let config = ProgressConfig::default();
        let mut sessions: Vec<Session> = (0..40)
            .map(|i| {
                session(
                    i * 10,
                    &format!("g{i:02}"),
                    &[("rom_deg", 50.0 + (i % 7) as f64)],
                )
            })
            .collect();
        let mut state = RunningProgress::from_sessions(sessions.clone(), &config);
        let late = session(385, "late", &[("rom_deg", 99.0)]);
        assert_eq!(
            state.apply(late.key.clone(), Some(late.values.clone())),
            Applied::Changed
        );
        sessions.push(late);
        let reference = full(&sessions, "rom_deg");
        let running = &state.progress(&config)[0].1;
        assert!((running.slope - reference.slope).abs() < 1e-12 * reference.slope.abs().max(1.0));
        assert_eq!(running.latest, reference.latest);
        assert_eq!(state.session_count(), 41);
    }

    #[test]
    fn a_game_older_than_the_window_asks_for_a_recompute() {
        let config = ProgressConfig::default();
        let sessions: Vec<Session> = (0..40)
            .map(|i| session(i * 10, &format!("g{i:02}"), &[("rom_deg", 50.0)]))
            .collect();
        let mut state = RunningProgress::from_sessions(sessions, &config);
        let old = session(5, "old", &[("rom_deg", 1.0)]);
        assert_eq!(
            state.apply(old.key, Some(old.values)),
            Applied::NeedsRecompute
        );
    }

    #[test]
    fn a_duplicate_changes_nothing() {
        let config = ProgressConfig::default();
        let first = session(1, "a", &[("rom_deg", 1.0)]);
        let mut state = RunningProgress::from_sessions([first.clone()], &config);
        let before = state.clone();
        assert_eq!(
            state.apply(first.key, Some(first.values)),
            Applied::Unchanged
        );
        assert_eq!(state, before);
    }
}

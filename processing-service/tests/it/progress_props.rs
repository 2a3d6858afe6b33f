//! The running progress against the full computation, on random histories.
//!
//! A history is a sequence of what a worker sees: new games (mostly in play order,
//! some late by a few sessions, a few older than the whole window), failed games,
//! duplicate deliveries, and re-analyses that change a game's values or fail it.
//! After every step the running state, applied game by game exactly as the worker
//! applies it (rebuilding from every session when it asks to), must give the same
//! B11 figures as `progress` over every processed session sorted by play time, to
//! 1e-9 relative.

use std::collections::BTreeMap;

use processing_service::analytics::named::leaf;
use processing_service::analytics::progress::{Progress, ProgressConfig, SessionValue, progress};
use processing_service::analytics::running::{Applied, RunningProgress, Session, SessionKey};
use proptest::prelude::*;

/// One thing a worker sees.
#[derive(Debug, Clone)]
enum Step {
    /// A game `lag` sessions behind the newest (0: the newest), processed with
    /// `values` or failed.
    New { lag: usize, values: Option<Values> },
    /// The game `back` games before the newest delivered again, unchanged.
    Redeliver { back: usize },
    /// The `which`-th known game analysed again with other values (or failed).
    Reanalyse {
        which: usize,
        values: Option<Values>,
    },
}

/// A game's metric values: ROM always, tremor sometimes, the score always.
#[derive(Debug, Clone)]
struct Values {
    rom: f64,
    tremor: Option<f64>,
    score: i64,
}

impl Values {
    fn map(&self) -> BTreeMap<String, f64> {
        let mut map = BTreeMap::new();
        map.insert("fingers.index.rom_deg".to_owned(), self.rom);
        if let Some(tremor) = self.tremor {
            map.insert("tremor.gyro.tremor_rms".to_owned(), tremor);
        }
        map.insert("score".to_owned(), self.score as f64);
        map
    }
}

fn values() -> impl Strategy<Value = Values> {
    (
        20.0f64..90.0,
        prop::option::weighted(0.7, 0.001f64..2.0),
        0i64..100,
    )
        .prop_map(|(rom, tremor, score)| Values { rom, tremor, score })
}

fn step() -> impl Strategy<Value = Step> {
    let lag = prop_oneof![8 => Just(0usize), 3 => 1usize..6, 1 => 6usize..80];
    prop_oneof![
        10 => (lag, prop::option::weighted(0.85, values()))
            .prop_map(|(lag, values)| Step::New { lag, values }),
        2 => prop_oneof![3 => 0usize..4, 1 => any::<usize>()].prop_map(|back| Step::Redeliver { back }),
        1 => (any::<usize>(), prop::option::weighted(0.7, values()))
            .prop_map(|(which, values)| Step::Reanalyse { which, values }),
    ]
}

/// The truth: every game's key and current analysis.
#[derive(Debug, Default)]
struct History {
    games: Vec<(SessionKey, Option<BTreeMap<String, f64>>)>,
}

impl History {
    fn sessions(&self) -> Vec<Session> {
        self.games
            .iter()
            .filter_map(|(key, values)| {
                values.clone().map(|values| Session {
                    key: key.clone(),
                    values,
                })
            })
            .collect()
    }

    /// A start time `lag` processed sessions before the newest (between two
    /// existing ones, so keys stay distinct).
    fn start_time(&self, lag: usize) -> i64 {
        let mut times: Vec<i64> = self.games.iter().map(|(k, _)| k.started_at_ms).collect();
        times.sort_unstable();
        match times.len().checked_sub(lag + 1) {
            _ if lag == 0 || times.is_empty() => times.last().map_or(1_000, |t| t + 1_000),
            Some(at) => {
                times[at]
                    + 1
                    + (times
                        .get(at + 1)
                        .map_or(1_000, |next| (next - times[at]) / 2))
            }
            None => times[0] - 1_000,
        }
    }
}

/// The full computation over every processed session, oldest first.
fn reference(sessions: &[Session], config: &ProgressConfig) -> BTreeMap<String, Progress> {
    let mut sorted = sessions.to_vec();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut series: BTreeMap<String, Vec<SessionValue>> = BTreeMap::new();
    for (index, session) in sorted.iter().enumerate() {
        for (name, value) in &session.values {
            series.entry(name.clone()).or_default().push(SessionValue {
                x: index as f64,
                value: *value,
            });
        }
    }
    series
        .iter()
        .map(|(name, values)| {
            (
                name.clone(),
                progress(leaf(name), values, config).expect("at least one session"),
            )
        })
        .collect()
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12 * scale
}

fn assert_same(running: &Progress, full: &Progress, metric: &str) {
    let scale = full.latest.abs().max(full.baseline.abs()).max(1.0);
    let fields = [
        ("baseline", running.baseline, full.baseline, scale),
        ("latest", running.latest, full.latest, scale),
        ("change", running.change, full.change, scale),
        ("pct_change", running.pct_change, full.pct_change, 100.0),
        ("slope", running.slope, full.slope, scale),
        ("intercept", running.intercept, full.intercept, scale),
        ("r_squared", running.r_squared, full.r_squared, 1.0),
        ("sem", running.sem, full.sem, scale),
        ("mdc95", running.mdc95, full.mdc95, scale),
    ];
    for (field, a, b, scale) in fields {
        assert!(
            close(a, b, scale),
            "{metric}.{field}: running {a} vs full {b}"
        );
    }
    assert_eq!(running.n_sessions, full.n_sessions, "{metric}.n_sessions");
    assert_eq!(running.direction, full.direction, "{metric}.direction");
    assert_eq!(running.improved, full.improved, "{metric}.improved");
    if (full.change.abs() - full.mdc95).abs() > 1e-9 * full.mdc95.abs().max(1.0) {
        assert_eq!(
            running.real_change, full.real_change,
            "{metric}.real_change"
        );
    }
}

/// Runs `steps` through a running state as the worker does; checks after each.
/// Returns how many steps needed a rebuild.
fn check(steps: &[Step]) -> usize {
    let config = ProgressConfig::default();
    let mut history = History::default();
    let mut state = RunningProgress::empty(&config);
    let mut rebuilds = 0;
    for (n, step) in steps.iter().enumerate() {
        let (key, values) = match step {
            Step::New { lag, values } => {
                let key = SessionKey {
                    started_at_ms: history.start_time(*lag),
                    game_id: format!("game-{n:04}"),
                };
                let values = values.as_ref().map(Values::map);
                history.games.push((key.clone(), values.clone()));
                (key, values)
            }
            Step::Redeliver { back } if !history.games.is_empty() => {
                let len = history.games.len();
                history.games[len - 1 - back % len].clone()
            }
            Step::Reanalyse { which, values } if !history.games.is_empty() => {
                let at = which % history.games.len();
                history.games[at].1 = values.as_ref().map(Values::map);
                history.games[at].clone()
            }
            _ => continue,
        };
        let before = state.clone();
        if state.apply(key, values) == Applied::NeedsRecompute {
            assert_eq!(state, before, "a refused game leaves the state as it was");
            rebuilds += 1;
            state = RunningProgress::from_sessions(history.sessions(), &config);
        }
        let full = reference(&history.sessions(), &config);
        let running: BTreeMap<String, Progress> = state.progress(&config).into_iter().collect();
        assert_eq!(
            running.keys().collect::<Vec<_>>(),
            full.keys().collect::<Vec<_>>(),
            "the same metrics after step {n} ({step:?})"
        );
        for (metric, full) in &full {
            assert_same(&running[metric], full, metric);
        }
        assert_eq!(state.session_count() as usize, history.sessions().len());
    }
    rebuilds
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn running_progress_matches_the_full_computation(steps in prop::collection::vec(step(), 1..120)) {
        check(&steps);
    }
}

#[test]
fn games_in_play_order_never_need_a_rebuild() {
    let steps: Vec<Step> = (0..300)
        .map(|i| Step::New {
            lag: 0,
            values: Some(Values {
                rom: 40.0 + (i % 13) as f64 * 0.7,
                tremor: (i % 4 != 0).then_some(0.1 + (i % 5) as f64 * 0.01),
                score: i % 50,
            }),
        })
        .collect();
    assert_eq!(check(&steps), 0);
}

#[test]
fn late_games_and_redeliveries_of_recent_games_need_no_rebuild() {
    let mut steps = Vec::new();
    for i in 0..200usize {
        let values = Some(Values {
            rom: 50.0 + (i % 11) as f64,
            tremor: Some(0.2 + (i % 3) as f64 * 0.05),
            score: (i % 40) as i64,
        });
        // Every fifth game finishes after the next three (another worker was faster).
        let lag = if i % 5 == 4 { 3 } else { 0 };
        steps.push(Step::New { lag, values });
        steps.push(Step::Redeliver { back: i % 3 });
    }
    assert_eq!(check(&steps), 0);
}

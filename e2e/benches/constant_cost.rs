//! Does a game cost the same whatever the patient's history?
//!
//! Runs the real gateway in-process (its own runtime) and two processing workers
//! (each on a runtime of its own, as two processes would be) against the local
//! RabbitMQ, MongoDB-compatible server and Redis, on a fresh stack. Two modes
//! (`BENCH_MODE`):
//!
//! - `history` (default): one patient plays `BENCH_GAMES` games (default 1,000) one
//!   after another: upload, wait for the `game.processed` notification on the
//!   patient's socket, next. Reports the upload -> notification latency and the CPU
//!   of each part per game, and the store commands per game by service and
//!   collection (`m2m_store_commands_total`, where the build exports it), for the
//!   first and last windows of `BENCH_WINDOW` games (default 50) and two in between.
//! - `drain`: `BENCH_PATIENTS` patients (default 32) first play `BENCH_HISTORY`
//!   games each (default 100); then, with the workers stopped, `BENCH_BACKLOG`
//!   games (default 1,000) are uploaded round robin; then two workers start and the
//!   time until the last of them is notified gives the drain rate.
//!
//! Each recording is `SECONDS` long at 100 Hz with every channel. `cargo bench -p
//! e2e --bench constant_cost`; without `--bench` it exits at once. The stack is
//! removed at the end.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

// The gateway benches' switches, stack and in-process gateway, shared by path.
#[path = "../../gateway/benches/common/mod.rs"]
mod common;

use anyhow::Context;
use axum::body::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use processing_service::analytics::AnalysisConfig;
use processing_service::worker::{Worker, WorkerSettings};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use common::cpu::{CpuSample, server_runtime, worker_runtime};
use common::phones::{SECONDS, on_each_processed, post_game, sign_up, upload_body};
use common::{env_or, invoked_as_bench, private_settings, start_gateway, teardown};

const FS: usize = 100;
const WORKERS: usize = 2;
const WAIT: Duration = Duration::from_secs(120);

/// When each game was notified processed.
#[derive(Debug, Default)]
struct Notified {
    at: Mutex<HashMap<String, Instant>>,
    changed: Notify,
}

impl Notified {
    fn record(&self, game_id: &str) {
        self.at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(game_id.to_owned())
            .or_insert_with(Instant::now);
        self.changed.notify_waiters();
    }

    /// Waits until every one of `games` is notified; the instant of the last.
    async fn all(&self, games: &[String], within: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + within;
        loop {
            let changed = self.changed.notified();
            {
                let at = self.at.lock().unwrap_or_else(PoisonError::into_inner);
                if games.iter().all(|g| at.contains_key(g)) {
                    return games
                        .iter()
                        .filter_map(|g| at.get(g).copied())
                        .max()
                        .context("no game");
                }
            }
            anyhow::ensure!(Instant::now() < deadline, "games not notified in time");
            let _ = tokio::time::timeout(Duration::from_millis(200), changed).await;
        }
    }
}

/// The processing workers, each on a runtime of its own.
struct Workers {
    stop: CancellationToken,
    runtimes: Vec<tokio::runtime::Runtime>,
    metrics: Vec<String>,
}

impl Workers {
    fn start(settings: &gateway::config::Settings) -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let (mut runtimes, mut metrics) = (Vec::new(), Vec::new());
        for _ in 0..WORKERS {
            let runtime = worker_runtime()?;
            let worker = runtime.block_on(Worker::build(WorkerSettings {
                bus: settings.bus.clone(),
                store: settings.store.clone(),
                concurrency: 1,
                prefetch: 2,
                ops: shared_ops::OpsSettings::for_tests(),
                max_recording_bytes: 16 << 20,
                analysis: AnalysisConfig::default(),
            }))?;
            metrics.push(format!("http://{}/metrics", worker.ops_addr()));
            runtime.spawn(worker.run_until_stopped(stop.clone()));
            runtimes.push(runtime);
        }
        Ok(Self {
            stop,
            runtimes,
            metrics,
        })
    }

    /// Where to read store commands: the gateway's and each worker's `/metrics`.
    fn sources(&self, base: &str) -> Vec<(String, String)> {
        std::iter::once(("gateway".to_owned(), format!("{base}/metrics")))
            .chain(
                self.metrics
                    .iter()
                    .map(|url| ("processing".to_owned(), url.clone())),
            )
            .collect()
    }

    fn stop(self) {
        self.stop.cancel();
        for runtime in self.runtimes {
            runtime.shutdown_timeout(Duration::from_secs(30));
        }
    }
}

/// Store commands by (service, collection), summed over commands.
type Commands = BTreeMap<(String, String), f64>;

async fn store_commands(http: &reqwest::Client, sources: &[(String, String)]) -> Commands {
    let mut totals = Commands::new();
    for (service, url) in sources {
        let Ok(response) = http.get(url).send().await else {
            continue;
        };
        let text = response.text().await.unwrap_or_default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("m2m_store_commands_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let collection = labels
                .split(',')
                .find_map(|l| l.strip_prefix("collection=\""))
                .map(|c| c.trim_end_matches('"').to_owned())
                .unwrap_or_default();
            if collection.is_empty() {
                continue; // ping and other database commands
            }
            *totals.entry((service.clone(), collection)).or_default() +=
                value.trim().parse::<f64>().unwrap_or(0.0);
        }
    }
    totals
}

fn commands_per_game(before: &Commands, after: &Commands, games: usize) -> String {
    if after.is_empty() {
        return "not exported by this build".to_owned();
    }
    let mut total = 0.0;
    let mut parts = Vec::new();
    for (key, value) in after {
        let per = (value - before.get(key).copied().unwrap_or(0.0)) / games.max(1) as f64;
        if per > 0.0 {
            total += per;
            parts.push(format!("{} {} {per:.2}", key.0, key.1));
        }
    }
    format!("{total:.2} ({})", parts.join(", "))
}

fn main() -> anyhow::Result<()> {
    if !invoked_as_bench("constant_cost") {
        return Ok(());
    }
    let settings = private_settings()?;
    let server = server_runtime()?;
    let base = start_gateway(&server, settings.clone())?;
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mode = std::env::var("BENCH_MODE").unwrap_or_else(|_| "history".to_owned());
    let report = match mode.as_str() {
        "drain" => drain(&client, &base, &settings),
        _ => history(&client, &base, &settings),
    };
    client.block_on(teardown(&settings))?;
    println!(
        "cores={}; {WORKERS} workers; recordings of {SECONDS} s at {FS} Hz",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!("{}", report?);
    Ok(())
}

/// Opens a patient's socket; records each `game.processed` it hears.
async fn listen(base: &str, token: &str, notified: Arc<Notified>) -> anyhow::Result<()> {
    on_each_processed(base, token, move |game_id| notified.record(game_id)).await
}

/// One upload (retrying a `503`); the game id of its `202`.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Bytes,
) -> anyhow::Result<String> {
    for _ in 0..100 {
        let response = post_game(http, base, token, body).await?;
        match response.status().as_u16() {
            202 => {
                let answer: Value = response.json().await?;
                return answer["game_id"]
                    .as_str()
                    .map(str::to_owned)
                    .context("no game id");
            }
            503 => tokio::time::sleep(Duration::from_millis(200)).await,
            other => anyhow::bail!("POST /game answered {other}"),
        }
    }
    anyhow::bail!("POST /game kept answering 503")
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn history(
    client: &tokio::runtime::Runtime,
    base: &str,
    settings: &gateway::config::Settings,
) -> anyhow::Result<String> {
    let games: usize = env_or("BENCH_GAMES", 1000);
    let window: usize = env_or("BENCH_WINDOW", 50).min(games / 4).max(1);
    let workers = Workers::start(settings)?;
    let sources = workers.sources(base);
    let windows = [
        (0, window),
        (window, 2 * window),
        (games / 2 - window / 2, games / 2 - window / 2 + window),
        (games - window, games),
    ];
    let report = client.block_on(async {
        let http = reqwest::Client::new();
        let token = sign_up(&http, base).await?;
        let notified = Arc::new(Notified::default());
        listen(base, &token, Arc::clone(&notified)).await?;
        let body = upload_body(&shared_events::recording::synthetic_sensors_json(
            SECONDS, FS,
        ));
        let mut latencies = Vec::with_capacity(games);
        let mut samples: BTreeMap<usize, (CpuSample, Commands)> = BTreeMap::new();
        for n in 0..=games {
            if windows.iter().any(|(from, to)| *from == n || *to == n) {
                samples.insert(n, (CpuSample::now(), store_commands(&http, &sources).await));
            }
            if n == games {
                break;
            }
            let started = Instant::now();
            let game_id = upload(&http, base, &token, &body).await?;
            let done = notified.all(std::slice::from_ref(&game_id), WAIT).await?;
            latencies.push((done - started).as_secs_f64() * 1e3);
        }
        let mut lines = vec![format!("one patient, {games} games in sequence")];
        for (from, to) in windows {
            let mut slice: Vec<f64> = latencies[from..to].to_vec();
            slice.sort_by(f64::total_cmp);
            let mut line = format!(
                "games {}-{}: upload -> notified p50 {:.1} ms, p90 {:.1} ms",
                from + 1,
                to,
                quantile(&slice, 0.5),
                quantile(&slice, 0.9)
            );
            if let (Some((cpu0, ops0)), Some((cpu1, ops1))) = (samples.get(&from), samples.get(&to))
            {
                line.push_str(&format!(
                    "\n  CPU per game (ms): {}\n  store commands per game: {}",
                    cpu0.per_item_ms(cpu1, to - from).line(),
                    commands_per_game(ops0, ops1, to - from)
                ));
            }
            lines.push(line);
        }
        anyhow::Ok(lines.join("\n"))
    });
    workers.stop();
    report
}

fn drain(
    client: &tokio::runtime::Runtime,
    base: &str,
    settings: &gateway::config::Settings,
) -> anyhow::Result<String> {
    let patients: usize = env_or("BENCH_PATIENTS", 32);
    let played: usize = env_or("BENCH_HISTORY", 100);
    let backlog: usize = env_or("BENCH_BACKLOG", 1000);
    let http = reqwest::Client::new();
    let body = upload_body(&shared_events::recording::synthetic_sensors_json(
        SECONDS, FS,
    ));
    let notified = Arc::new(Notified::default());

    // The history: every patient plays `played` games, one after another.
    let workers = Workers::start(settings)?;
    let (tokens, history_secs) = client.block_on(async {
        let mut tokens = Vec::with_capacity(patients);
        for _ in 0..patients {
            let token = sign_up(&http, base).await?;
            listen(base, &token, Arc::clone(&notified)).await?;
            tokens.push(token);
        }
        let started = Instant::now();
        let mut plays = FuturesUnordered::new();
        for token in &tokens {
            let (http, body, notified) = (&http, &body, Arc::clone(&notified));
            plays.push(async move {
                for _ in 0..played {
                    let game_id = upload(http, base, token, body).await?;
                    notified.all(std::slice::from_ref(&game_id), WAIT).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = plays.next().await {
            done?;
        }
        drop(plays);
        anyhow::Ok((tokens, started.elapsed().as_secs_f64()))
    })?;
    workers.stop();

    // The backlog, uploaded while no worker runs.
    let queued = client.block_on(async {
        let mut queued = Vec::with_capacity(backlog);
        for n in 0..backlog {
            queued.push(upload(&http, base, &tokens[n % tokens.len()], &body).await?);
        }
        anyhow::Ok(queued)
    })?;

    // Two workers drain it.
    let cpu = CpuSample::now();
    let started = Instant::now();
    let workers = Workers::start(settings)?;
    let sources = workers.sources(base);
    let ops_before = client.block_on(store_commands(&http, &sources));
    let last = client.block_on(notified.all(&queued, WAIT * 10))?;
    let secs = (last - started).as_secs_f64();
    let cpu = cpu.per_item_ms(&CpuSample::now(), backlog);
    let ops_after = client.block_on(store_commands(&http, &sources));
    workers.stop();
    Ok(format!(
        "{patients} patients x {played} games of history ({history_secs:.0} s, {:.1} games/s); \
         a backlog of {backlog} drained by {WORKERS} workers in {secs:.1} s: {:.1} games/s\n\
         CPU per game while draining (ms): {}\n\
         store commands per game while draining (gateway from then, workers from their start): {}",
        (patients * played) as f64 / history_secs,
        backlog as f64 / secs,
        cpu.line(),
        commands_per_game(&ops_before, &ops_after, backlog),
    ))
}

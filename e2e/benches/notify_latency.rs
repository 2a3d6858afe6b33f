//! End-to-end latency: from the `202` of `POST /game` to the phone's WebSocket
//! notification that the game is processed.
//!
//! Runs the real gateway in-process (its own runtime) and two processing workers
//! (each on a runtime of its own, as two processes would be) against the local
//! RabbitMQ, MongoDB-compatible server and Redis, on a fresh stack. `BENCH_PHONES`
//! patients (default 32) each hold a notification socket; uploads are started open
//! loop at `BENCH_RATE` games/s (default 50, half the gateway's saturation rate in
//! BENCHMARKS.md's upload figures) for `BENCH_SECS` (default 20), round robin over
//! the patients, each a 60 s, 100 Hz recording with every channel. A game's latency
//! is the time from its `202` to its `game.processed` message on its patient's
//! socket; the report gives p50, p99 and the maximum, and counts games accepted,
//! notified and never notified. It also gives the CPU each game cost each part of
//! the system (`/proc`, from the first upload until the last notification), and so
//! the rate the machine's cores could sustain at best.
//!
//! `cargo bench -p e2e --bench notify_latency`; without `--bench` it exits at
//! once. The stack is removed at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
use tokio_util::sync::CancellationToken;

use common::cpu::{CpuSample, server_runtime, worker_runtime};
use common::phones::{SECONDS, on_each_processed, post_game, sign_up, upload_body};
use common::{env_or, invoked_as_bench, private_settings, start_gateway, teardown};

const FS: usize = 100;
const WORKERS: usize = 2;

/// When each game was accepted and when its notification arrived.
#[derive(Debug, Default, Clone, Copy)]
struct Times {
    accepted: Option<Instant>,
    notified: Option<Instant>,
}

type Clock = Arc<Mutex<HashMap<String, Times>>>;

fn main() -> anyhow::Result<()> {
    if !invoked_as_bench("notify_latency") {
        return Ok(());
    }
    let length = Duration::from_secs(env_or("BENCH_SECS", 20));
    let rate: f64 = env_or("BENCH_RATE", 50.0);
    let phones: usize = env_or("BENCH_PHONES", 32);
    let settings = private_settings()?;

    let server = server_runtime()?;
    let base = start_gateway(&server, settings.clone())?;
    let stop = CancellationToken::new();
    let mut workers = Vec::new();
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
        runtime.spawn(worker.run_until_stopped(stop.clone()));
        workers.push(runtime);
    }

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let report = client.block_on(run(&base, length, rate, phones));
    stop.cancel();
    client.block_on(teardown(&settings))?;
    println!(
        "cores={}; {WORKERS} workers; {phones} phones; {rate} games/s for {} s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        length.as_secs()
    );
    println!("{}", report?);
    drop(workers);
    Ok(())
}

async fn run(base: &str, length: Duration, rate: f64, phones: usize) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let mut tokens = Vec::with_capacity(phones);
    for _ in 0..phones {
        tokens.push(sign_up(&http, base).await?);
    }
    let clock: Clock = Arc::default();
    for token in &tokens {
        listen(base, token, Arc::clone(&clock)).await?;
    }
    let sensors = shared_events::recording::synthetic_sensors_json(SECONDS, FS);
    let body = upload_body(&sensors);

    let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let cpu_before = CpuSample::now();
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let (mut next, mut n, mut refused) = (started, 0usize, 0usize);
    while next < started + length {
        tokio::select! {
            () = tokio::time::sleep_until(next.into()) => {
                let token = &tokens[n % tokens.len()];
                n += 1;
                pending.push(upload(&http, base, token, &body, Arc::clone(&clock)));
                next += interval;
            }
            Some(done) = pending.next(), if !pending.is_empty() => refused += usize::from(!done?),
        }
    }
    while let Some(done) = pending.next().await {
        refused += usize::from(!done?);
    }
    // Let the last games through the pipeline.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && outstanding(&clock) > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = cpu_before.per_item_ms(&CpuSample::now(), notified(&clock));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(format!(
        "{}\nCPU per game (ms): {}; at best {:.0} games/s on {cores} cores",
        report(&clock, n, refused),
        cpu.line(),
        cores as f64 * 1e3 / cpu.sum().max(f64::EPSILON),
    ))
}

fn notified(clock: &Clock) -> usize {
    let times = clock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    times.values().filter(|t| t.notified.is_some()).count()
}

fn outstanding(clock: &Clock) -> usize {
    let times = clock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    times
        .values()
        .filter(|t| t.accepted.is_some() && t.notified.is_none())
        .count()
}

fn report(clock: &Clock, sent: usize, refused: usize) -> String {
    let times = clock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut latencies: Vec<Duration> = times
        .values()
        .filter_map(|t| Some(t.notified?.saturating_duration_since(t.accepted?)))
        .collect();
    latencies.sort_unstable();
    let accepted = times.values().filter(|t| t.accepted.is_some()).count();
    let pick = |q: f64| {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies
            .get(index)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    format!(
        "sent {sent}, accepted {accepted}, refused {refused}, notified {}, never notified {}; \
         202 -> notification p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        accepted - latencies.len(),
        pick(0.5),
        pick(0.99),
        pick(1.0),
    )
}

/// Opens the patient's socket and records each `game.processed` it hears.
async fn listen(base: &str, token: &str, clock: Clock) -> anyhow::Result<()> {
    on_each_processed(base, token, move |game_id| {
        let now = Instant::now();
        let mut times = clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        times.entry(game_id.to_owned()).or_default().notified = Some(now);
    })
    .await
}

/// One upload; records when it was accepted. `false` when refused with `503`.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Bytes,
    clock: Clock,
) -> anyhow::Result<bool> {
    let response = post_game(http, base, token, body).await?;
    match response.status().as_u16() {
        202 => {
            let now = Instant::now();
            let answer: Value = response.json().await?;
            let game_id = answer["game_id"].as_str().context("no game id")?.to_owned();
            let mut times = clock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            times.entry(game_id).or_default().accepted = Some(now);
            Ok(true)
        }
        503 => Ok(false),
        other => anyhow::bail!("POST /game answered {other}"),
    }
}

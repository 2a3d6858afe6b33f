//! Login throughput and `GET /games` latency under login load.
//!
//! Runs the real gateway in-process (its own multi-threaded runtime, as `main` would)
//! against the local MongoDB-compatible server and Redis, and drives it over loopback
//! HTTP from a separate single-threaded client runtime. Three timed phases:
//! 1. logins alone: `BENCH_LOGIN_CONCURRENCY` clients log in back to back;
//! 2. `GET /games` from one client, back to back, in 2-second windows that alternate
//!    between no other load and logins saturating the hashing pool; the loaded p99
//!    should stay within 2x of the unloaded one. Alternating keeps other processes on
//!    a shared machine from favouring one side.
//!
//! `cargo bench -p gateway --bench login_load` (release profile; without `--bench` the
//! binary exits at once, so `cargo test --all-targets` skips it). `BENCH_SECS` sets each
//! phase's length (default 10). Every loop stops at its deadline or request cap. The
//! bench database and Redis keys are removed at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod common;

use anyhow::Context;
use gateway::auth::password::{OWASP_ITERATIONS, OWASP_MEMORY_KIB, OWASP_PARALLELISM};
use mongodb::bson::{DateTime, doc};
use serde_json::{Value, json};
use shared_store::connect_mongodb;

use common::{env_or, invoked_as_bench, private_settings, start_gateway, teardown};

const PASSWORD: &str = "benchmark password";
/// Length of each alternating alone / loaded measuring window.
const WINDOW: Duration = Duration::from_secs(2);
/// Caps every loop, whatever the deadline.
const MAX_REQUESTS_PER_LOOP: usize = 200_000;

fn main() -> anyhow::Result<()> {
    if !invoked_as_bench("login_load") {
        return Ok(());
    }
    let phase = Duration::from_secs(env_or("BENCH_SECS", 10));
    let login_clients: usize = env_or("BENCH_LOGIN_CONCURRENCY", 4);
    let settings = private_settings()?;
    let store = settings.store.clone();
    let hash_slots = settings.auth.hash_concurrency;

    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let base = start_gateway(&server, settings.clone())?;

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = client.block_on(run(&base, phase, login_clients, &store));
    client.block_on(teardown(&settings))?;
    let report = report?;

    println!(
        "argon2id m={OWASP_MEMORY_KIB} KiB t={OWASP_ITERATIONS} p={OWASP_PARALLELISM}; hashing slots={hash_slots}; cores={}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "phase length {} s; {login_clients} login clients",
        phase.as_secs()
    );
    println!("{report}");
    Ok(())
}

async fn run(
    base: &str,
    phase: Duration,
    login_clients: usize,
    store: &shared_store::StoreSettings,
) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let reader = setup(&http, base, store, login_clients).await?;

    // Warm-up: connections, caches, the query plan.
    games_loop(&http, base, &reader, Duration::from_secs(1)).await?;

    let logins = login_load(&http, base, login_clients, phase, None).await?;

    // Alone and loaded windows alternate, so anything else running on this shared
    // machine weighs on both sides of the comparison alike.
    let (mut alone, mut loaded) = (GamesRun::default(), GamesRun::default());
    let (mut during_ok, mut during_busy, mut during_time) = (0, 0, Duration::ZERO);
    for _ in 0..(phase.as_secs() / WINDOW.as_secs()).max(1) {
        alone.absorb(games_loop(&http, base, &reader, WINDOW).await?);
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn({
            let (http, base, stop) = (http.clone(), base.to_owned(), stop.clone());
            async move { login_load(&http, &base, login_clients, WINDOW * 4, Some(stop)).await }
        });
        // Let the hashing pool fill before measuring.
        tokio::time::sleep(Duration::from_millis(300)).await;
        loaded.absorb(games_loop(&http, base, &reader, WINDOW).await?);
        stop.store(true, Ordering::Relaxed);
        let run = load.await.context("login load task")??;
        during_ok += run.ok;
        during_busy += run.busy;
        during_time += run.elapsed;
    }
    let (alone_latency, loaded_latency) = (alone.latency(), loaded.latency());
    let ratio = loaded_latency.p99.as_secs_f64() / alone_latency.p99.as_secs_f64();
    Ok(format!(
        "logins alone: {:.1} logins/s ({} ok, {} answered 503), login p50 {:.1} ms p99 {:.1} ms\n\
         GET /games alone: {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms\n\
         GET /games under login load: {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms \
         (logins meanwhile: {:.1}/s, {} answered 503)\n\
         p99 ratio loaded/alone: {ratio:.2} (target <= 2.00)",
        logins.ok as f64 / logins.elapsed.as_secs_f64(),
        logins.ok,
        logins.busy,
        ms(logins.latency.p50),
        ms(logins.latency.p99),
        alone.samples.len(),
        alone.rate(),
        ms(alone_latency.p50),
        ms(alone_latency.p99),
        loaded.samples.len(),
        loaded.rate(),
        ms(loaded_latency.p50),
        ms(loaded_latency.p99),
        during_ok as f64 / during_time.as_secs_f64(),
        during_busy,
    ))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Registers the login users and a reader with 50 games; returns the reader's token.
async fn setup(
    http: &reqwest::Client,
    base: &str,
    store: &shared_store::StoreSettings,
    login_clients: usize,
) -> anyhow::Result<String> {
    for i in 0..=login_clients {
        let response = http
            .post(format!("{base}/register"))
            .json(&json!({ "username": format!("bench-{i}"), "password": PASSWORD }))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "register: {}", response.status());
    }
    let login: Value = http
        .post(format!("{base}/login"))
        .json(&json!({ "username": "bench-0", "password": PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned();
    let user_id = login["user_id"].as_str().context("user_id")?;
    let db = connect_mongodb(store, "gateway-bench").await?;
    let games: Vec<_> = (0..50)
        .map(|i| {
            doc! { "_id": format!("game-{i:03}"), "user_id": user_id,
            "created_at": DateTime::from_millis(1_800_000_000_000 + i * 1000),
            "exercise": "piano", "score": i, "status": "processed" }
        })
        .collect();
    db.collection("games").insert_many(games).await?;
    Ok(token)
}

struct Latency {
    p50: Duration,
    p99: Duration,
}

fn percentiles(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    let at = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).saturating_sub(1);
        samples.get(index).copied().unwrap_or_default()
    };
    Latency {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Latency samples of `GET /games` and the time they took.
#[derive(Default)]
struct GamesRun {
    samples: Vec<Duration>,
    elapsed: Duration,
}

impl GamesRun {
    fn absorb(&mut self, other: GamesRun) {
        self.samples.extend(other.samples);
        self.elapsed += other.elapsed;
    }

    fn rate(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn latency(&self) -> Latency {
        percentiles(self.samples.clone())
    }
}

/// One client sending `GET /games?limit=20` back to back for `length`.
async fn games_loop(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    length: Duration,
) -> anyhow::Result<GamesRun> {
    let url = format!("{base}/games?limit=20");
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < length && samples.len() < MAX_REQUESTS_PER_LOOP {
        let sent = Instant::now();
        let response = http.get(&url).bearer_auth(token).send().await?;
        anyhow::ensure!(
            response.status() == 200,
            "GET /games: {}",
            response.status()
        );
        response.bytes().await?;
        samples.push(sent.elapsed());
    }
    Ok(GamesRun {
        samples,
        elapsed: started.elapsed(),
    })
}

struct LoginRun {
    ok: usize,
    busy: usize,
    elapsed: Duration,
    latency: Latency,
}

/// `clients` tasks logging in back to back until `length` passes or `stop` is set.
/// A `503` is counted and retried after a short pause, as a phone would after
/// `Retry-After` (shortened so the pool stays saturated).
async fn login_load(
    http: &reqwest::Client,
    base: &str,
    clients: usize,
    length: Duration,
    stop: Option<Arc<AtomicBool>>,
) -> anyhow::Result<LoginRun> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 1..=clients {
        let (http, url, stop) = (http.clone(), format!("{base}/login"), stop.clone());
        let body = json!({ "username": format!("bench-{i}"), "password": PASSWORD });
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut busy, mut samples) = (0, 0, Vec::new());
            let stopped = || stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));
            while started.elapsed() < length && !stopped() && ok + busy < MAX_REQUESTS_PER_LOOP {
                let sent = Instant::now();
                let status = http.post(&url).json(&body).send().await?.status();
                match status.as_u16() {
                    200 => {
                        ok += 1;
                        samples.push(sent.elapsed());
                    }
                    503 => {
                        busy += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    other => anyhow::bail!("login answered {other}"),
                }
            }
            anyhow::Ok((ok, busy, samples))
        }));
    }
    let (mut ok, mut busy, mut samples) = (0, 0, Vec::new());
    for task in tasks {
        let (o, b, s) = task.await.context("login task")??;
        ok += o;
        busy += b;
        samples.extend(s);
    }
    Ok(LoginRun {
        ok,
        busy,
        elapsed: started.elapsed(),
        latency: percentiles(samples),
    })
}

//! `POST /game` throughput and latency, beside the raw broker limit for the same
//! message size.
//!
//! Runs the real gateway in-process (its own multi-threaded runtime, as `main` would)
//! against the local RabbitMQ, MongoDB-compatible server and Redis, on a fresh bus
//! prefix, database and Redis prefix, and drives it over loopback HTTP from a separate
//! client runtime, like many phones (seed 001's generator: each client posts back to
//! back). Every upload is a 60 s, 100 Hz recording with all channels (~0.7 MB JSON,
//! sent uncompressed). A consumer drains the processing queue meanwhile. Phases:
//! 1. saturation: `BENCH_PHONES` clients (default 16) post back to back;
//! 2. half load: uploads are started at half the rate phase 1 reached, open loop;
//! 3. raw broker limit: the same ProcessingEvent body published straight through
//!    lapin with confirms, `BENCH_IN_FLIGHT` (default 64) unconfirmed at a time, to the
//!    same exchange (so the same quorum queue and history stream).
//!
//! `cargo bench -p gateway --bench upload_load` (release profile; without `--bench`
//! the binary exits at once, so `cargo test --all-targets` skips it). `BENCH_SECS` sets
//! each phase's length (default 10). The bench's database, Redis keys and bus
//! topology are removed at the end.

use std::time::{Duration, Instant};

mod common;

use anyhow::Context;
// Cheap to clone: the 0.7 MB body is shared by every request, not copied.
use axum::body::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use shared_events::events::{EncodedRecording, ProcessingEventV1};
use shared_events::lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
};
use shared_events::lapin::types::FieldTable;
use shared_events::{Bus, Envelope, Event, WorkQueue};

use common::cpu::{CpuSample, server_runtime};
use common::phones::{SECONDS, post_game, sign_up, upload_body};
use common::{env_or, invoked_as_bench, private_settings, start_gateway, teardown};

const FS: usize = 100;

fn main() -> anyhow::Result<()> {
    if !invoked_as_bench("upload_load") {
        return Ok(());
    }
    let phase = Duration::from_secs(env_or("BENCH_SECS", 10));
    let phones: usize = env_or("BENCH_PHONES", 16);
    let in_flight: usize = env_or("BENCH_IN_FLIGHT", 64);
    if std::env::var_os("RUST_LOG").is_some() {
        // e.g. `RUST_LOG=gateway=debug`: each upload's stages (`routes/upload`).
        shared_events::telemetry::init("upload_load");
    }
    let settings = private_settings()?;
    let bus = Bus::new(settings.bus.clone());

    let server = server_runtime()?;
    let base = start_gateway(&server, settings.clone())?;

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = client.block_on(run(&base, &bus, phase, phones, in_flight));
    client.block_on(teardown(&settings))?;
    let report = report?;
    println!(
        "cores={}; phase length {} s; {phones} phones; {in_flight} raw publishes in flight",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        phase.as_secs()
    );
    println!("{report}");
    Ok(())
}

async fn run(
    base: &str,
    bus: &Bus,
    phase: Duration,
    phones: usize,
    in_flight: usize,
) -> anyhow::Result<String> {
    let sensors = shared_events::recording::synthetic_sensors_json(SECONDS, FS);
    let body = upload_body(&sensors);
    let event = Envelope::new(Event::ProcessingV1(ProcessingEventV1 {
        user_id: uuid::Uuid::now_v7(),
        game_id: uuid::Uuid::now_v7(),
        exercise: "piano".into(),
        score: 1234,
        started_at: time::OffsetDateTime::now_utc(),
        ended_at: time::OffsetDateTime::now_utc(),
        // Compressed as the gateway does (zstd level 1), so both sides move the same bytes.
        recording: EncodedRecording {
            content_type: EncodedRecording::CONTENT_TYPE.to_owned(),
            content_encoding: EncodedRecording::CONTENT_ENCODING.to_owned(),
            data: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                zstd::bulk::compress(&sensors, 1)?,
            ),
        },
    }))
    .to_json()?;
    let drain = tokio::spawn(drain(bus.clone()));

    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for _ in 0..phones {
        tokens.push(sign_up(&http, base).await?);
    }
    // Warm-up: connections, the publisher's channel, the allocator.
    closed_loop(&http, base, &tokens, &body, Duration::from_secs(2)).await?;

    let before = CpuSample::now();
    let saturated = closed_loop(&http, base, &tokens, &body, phase).await?;
    let after = CpuSample::now();
    let upload_cpu = before.per_item_ms(&after, saturated.samples.len());
    let rate = saturated.rate() / 2.0;
    let half = open_loop(&http, base, &tokens, &body, phase, rate).await?;
    let before = CpuSample::now();
    let (raw, published) = raw_publish(bus, &event, phase, in_flight).await?;
    let after = CpuSample::now();
    let raw_cpu = before.per_item_ms(&after, published);
    drain.abort();

    let (s, h) = (saturated.latency(), half.latency());
    Ok(format!(
        "body {:.0} KB JSON, event {:.0} KB (zstd level 1 + base64)\n\
         saturation: {:.1} games/s ({} accepted, {} refused), p50 {:.1} ms, p99 {:.1} ms\n\
         half load ({rate:.1}/s offered): {:.1} games/s ({} accepted, {} refused), p50 {:.1} ms, p99 {:.1} ms\n\
         half load, slowest: {}\n\
         raw broker: {raw:.1} confirmed publishes/s of the same event\n\
         gateway / raw = {:.0}% (target >= 50%)\n\
         CPU ms per accepted upload at saturation: {}\n\
         CPU ms per raw publish: {}\n\
         CPU-bound ratio (CPU per raw publish / CPU per upload) = {:.0}%",
        body.len() as f64 / 1e3,
        event.len() as f64 / 1e3,
        saturated.rate(),
        saturated.samples.len(),
        saturated.refused,
        ms(s.0),
        ms(s.1),
        half.rate(),
        half.samples.len(),
        half.refused,
        ms(h.0),
        ms(h.1),
        half.slowest(5),
        100.0 * saturated.rate() / raw,
        upload_cpu.line(),
        raw_cpu.line(),
        100.0 * raw_cpu.sum() / upload_cpu.sum(),
    ))
}

#[derive(Default)]
struct Run {
    samples: Vec<Duration>,
    refused: usize,
    elapsed: Duration,
    /// Open loop only: when each accepted upload started (since the phase began)
    /// and its latency, to line slow ones up with what else happened then.
    timeline: Vec<(Duration, Duration)>,
}

impl Run {
    /// The `n` slowest uploads of the timeline: "at 3.2 s: 812 ms, ...".
    fn slowest(&self, n: usize) -> String {
        let mut timeline = self.timeline.clone();
        timeline.sort_unstable_by_key(|&(_, latency)| std::cmp::Reverse(latency));
        let slow: Vec<String> = timeline
            .iter()
            .take(n)
            .map(|(at, latency)| format!("at {:.1} s: {:.0} ms", at.as_secs_f64(), ms(*latency)))
            .collect();
        slow.join(", ")
    }

    fn rate(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// (p50, p99)
    fn latency(&self) -> (Duration, Duration) {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(index).copied().unwrap_or_default()
        };
        (at(0.50), at(0.99))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One upload with a fresh idempotency key; its latency when accepted.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Bytes,
) -> anyhow::Result<Option<Duration>> {
    let sent = Instant::now();
    let response = post_game(http, base, token, body).await?;
    let status = response.status().as_u16();
    let _ = response.bytes().await?;
    match status {
        202 => Ok(Some(sent.elapsed())),
        503 => Ok(None),
        other => anyhow::bail!("POST /game answered {other}"),
    }
}

/// Every phone posts back to back until `length` has passed.
async fn closed_loop(
    http: &reqwest::Client,
    base: &str,
    tokens: &[String],
    body: &Bytes,
    length: Duration,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let deadline = started + length;
    let mut phones = FuturesUnordered::new();
    for token in tokens {
        phones.push(async move {
            let mut run = Run::default();
            while Instant::now() < deadline {
                match upload(http, base, token, body).await? {
                    Some(latency) => run.samples.push(latency),
                    None => run.refused += 1,
                }
            }
            anyhow::Ok(run)
        });
    }
    let mut total = Run::default();
    while let Some(run) = phones.next().await {
        let run = run?;
        total.samples.extend(run.samples);
        total.refused += run.refused;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Starts uploads at `rate` per second, whatever the answers, for `length`.
async fn open_loop(
    http: &reqwest::Client,
    base: &str,
    tokens: &[String],
    body: &Bytes,
    length: Duration,
    rate: f64,
) -> anyhow::Result<Run> {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut total = Run::default();
    let mut next = started;
    let mut n = 0usize;
    let record = |total: &mut Run, (at, done): (Duration, anyhow::Result<Option<Duration>>)| {
        match done? {
            Some(latency) => {
                total.samples.push(latency);
                total.timeline.push((at, latency));
            }
            None => total.refused += 1,
        }
        anyhow::Ok(())
    };
    while next < started + length {
        let token = &tokens[n % tokens.len()];
        n += 1;
        tokio::select! {
            () = tokio::time::sleep_until(next.into()) => {
                let at = next - started;
                pending.push(async move { (at, upload(http, base, token, body).await) });
                next += interval;
            }
            Some(done) = pending.next(), if !pending.is_empty() => record(&mut total, done)?,
        }
    }
    while let Some(done) = pending.next().await {
        record(&mut total, done)?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Confirmed publishes per second of `event`, `in_flight` unconfirmed at a time, and
/// how many were confirmed.
async fn raw_publish(
    bus: &Bus,
    event: &[u8],
    length: Duration,
    in_flight: usize,
) -> anyhow::Result<(f64, usize)> {
    let connection = bus.connect("bench raw publisher").await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let exchange = bus.topology().events_exchange();
    let properties = shared_events::lapin::BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    let started = Instant::now();
    let mut confirms = FuturesUnordered::new();
    let mut confirmed = 0usize;
    loop {
        while confirms.len() < in_flight && started.elapsed() < length {
            let confirm = channel
                .basic_publish(
                    exchange.as_str().into(),
                    Event::PROCESSING_REQUESTED.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    event,
                    properties.clone(),
                )
                .await?;
            confirms.push(confirm);
        }
        match confirms.next().await {
            Some(confirmation) => {
                anyhow::ensure!(confirmation?.is_ack(), "the broker nacked a raw publish");
                confirmed += 1;
            }
            None => break,
        }
    }
    let rate = confirmed as f64 / started.elapsed().as_secs_f64();
    let _ = connection.close(200, "bench done".into()).await;
    Ok((rate, confirmed))
}

/// Consumes the processing queue (auto-ack) so it does not grow during the bench.
async fn drain(bus: Bus) -> anyhow::Result<()> {
    let connection = bus.connect("bench drain").await?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(
            200,
            shared_events::lapin::options::BasicQosOptions::default(),
        )
        .await?;
    let queue = bus.topology().queue(WorkQueue::Processing);
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "bench-drain".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    while let Some(delivery) = consumer.next().await {
        delivery.context("delivery")?;
    }
    Ok(())
}

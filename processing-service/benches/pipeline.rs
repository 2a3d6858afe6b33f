//! End-to-end games per second through the queue, with 1 and then 2 worker processes.
//!
//! `cargo bench -p processing-service --bench pipeline [-- --games N]`
//!
//! For each worker count, on a fresh stack (its own bus prefix and database):
//! publish N `processing.requested` events carrying a 60 s, 100 Hz recording
//! with every channel, start the worker processes (the release binary, as
//! operators run it), and time from their start until N `reconciliation.ready`
//! events have arrived: decompress, parse, analyse, save the result, recompute
//! progress, publish, ack. Needs RabbitMQ and MongoDB (`scripts/services`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt as _;
use shared_events::events::{EncodedRecording, ProcessingEventV1};
use shared_events::lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use shared_events::lapin::types::FieldTable;
use shared_events::recording::synthetic_sensors_json;
use shared_events::{Bus, BusSettings, Envelope, Event, Publisher, WorkQueue};
use time::OffsetDateTime;
use uuid::Uuid;

const FS: usize = 100;
const SECONDS: usize = 60;

fn main() -> anyhow::Result<()> {
    let mut games = 300;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--games" => games = args.next().context("--games needs a value")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let recording = EncodedRecording::from_json(&synthetic_sensors_json(SECONDS, FS))?;
    println!(
        "recording: {SECONDS} s at {FS} Hz, 10 joints + gyro + accel + grip; event recording {} bytes (base64 zstd)",
        recording.data.len()
    );
    for workers in [1, 2] {
        let rate = runtime.block_on(run(workers, games, &recording))?;
        println!("workers={workers} games={games} rate={rate:.1} games/s");
    }
    Ok(())
}

async fn run(workers: usize, games: usize, recording: &EncodedRecording) -> anyhow::Result<f64> {
    let unique = format!("bench-{}", Uuid::now_v7().simple());
    let bus = Bus::new(BusSettings {
        prefix: unique.clone(),
        ..BusSettings::from_env()?
    });
    bus.declare_topology("bench setup").await?;
    let publisher = Publisher::new(bus.clone(), "bench publisher");
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..games {
        let envelope = game(recording.clone());
        let publisher = publisher.clone();
        pending.spawn(async move { publisher.publish(&envelope).await });
        while pending.len() >= 64 {
            pending.join_next().await.context("a publish task")???;
        }
    }
    while let Some(done) = pending.join_next().await {
        done??;
    }

    let started = Instant::now();
    let mut children: Vec<Child> = (0..workers)
        .map(|_| spawn_worker(&unique))
        .collect::<anyhow::Result<_>>()?;
    let counted = count_reconciliations(&bus, games).await;
    let elapsed = started.elapsed();
    for child in &mut children {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    publisher.close().await;
    bus.delete_topology().await;
    drop_database(&unique).await;
    counted?;
    Ok(games as f64 / elapsed.as_secs_f64())
}

fn spawn_worker(unique: &str) -> anyhow::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_processing-service"))
        .env("M2M_BUS_PREFIX", unique)
        .env("M2M_MONGODB_DB", unique.replace('-', "_"))
        // Two workers run at once: each takes a free operations port.
        .env("M2M_OPS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("Failed to start a worker")
}

async fn count_reconciliations(bus: &Bus, games: usize) -> anyhow::Result<()> {
    let connection = bus.connect("bench counter").await?;
    let channel = connection.create_channel().await?;
    channel.basic_qos(500, BasicQosOptions::default()).await?;
    let queue = bus.topology().queue(WorkQueue::Reconciliation);
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut seen = 0;
    while seen < games {
        let delivery = tokio::time::timeout(Duration::from_secs(120), consumer.next())
            .await
            .context("no reconciliation for 120 s")?
            .context("the consumer ended")??;
        delivery.ack(BasicAckOptions::default()).await?;
        seen += 1;
    }
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

async fn drop_database(unique: &str) {
    let Ok(settings) = shared_store::StoreSettings::from_lookup(|name| match name {
        "M2M_MONGODB_DB" => Some(unique.replace('-', "_")),
        _ => std::env::var(name).ok(),
    }) else {
        return;
    };
    if let Ok(database) = shared_store::connect_mongodb(&settings, "bench cleanup").await {
        let _ = database.drop().await;
    }
}

fn game(recording: EncodedRecording) -> Envelope {
    let now = OffsetDateTime::now_utc();
    Envelope::new(Event::ProcessingV1(ProcessingEventV1 {
        user_id: Uuid::now_v7(),
        game_id: Uuid::now_v7(),
        exercise: "piano".into(),
        score: 1234,
        started_at: now - time::Duration::seconds(SECONDS as i64),
        ended_at: now,
        recording,
    }))
}

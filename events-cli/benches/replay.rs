//! Replay throughput against the raw confirmed-publish rate, measured in one run.
//!
//! `cargo bench -p events-cli` (a real RabbitMQ on `M2M_TEST_AMQP_BASE`, default
//! 127.0.0.1:5672). In a fresh stack (random prefix):
//! 1. seed: 100,000 reconciliation events (~400 bytes each) published to the
//!    events exchange, so the history stream holds them;
//! 2. raw: the same 100,000 messages published straight through lapin to the
//!    reconciliation queue (where a replay sends them), 1,000 confirms in
//!    flight, every confirm checked: the ceiling a replay could reach. Twice:
//!    awaiting each `basic_publish` (the usual way), and polling it once and
//!    awaiting the write with the confirm (what the replay's pipeline does,
//!    `src/pipeline.rs`), each on a current-thread (as `events`) and a
//!    multi-thread runtime. The ratio is taken against the fastest of the four;
//! 3. replay: `events replay --from first` (the release binary, as a user runs
//!    it), timed from start to exit: read from the stream and republished.
//!
//! Target: replay >= 50% of raw. `M2M_BENCH_EVENTS` changes the count.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use shared_events::events::{GameOutcome, ReconciliationEventV1};
use shared_events::lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueuePurgeOptions};
use shared_events::lapin::{Channel, PublisherConfirm};
use shared_events::publisher::OutgoingMessage;
use shared_events::{Bus, BusSettings, Envelope, Event, WorkQueue};
use uuid::Uuid;

const WINDOW: usize = 1_000;

fn main() -> ExitCode {
    // The runtime `events` itself uses, so both sides pay the same client costs.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let count: usize = std::env::var("M2M_BENCH_EVENTS")
        .ok()
        .map(|n| n.parse())
        .transpose()
        .context("M2M_BENCH_EVENTS")?
        .unwrap_or(100_000);
    let base = std::env::var("M2M_TEST_AMQP_BASE")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into());
    let settings = BusSettings {
        url: format!("{base}/%2f"),
        prefix: format!("bench-{}", Uuid::now_v7().simple()),
        ..BusSettings::default()
    };
    let bus = Bus::new(settings);
    bus.declare_topology("bench setup")
        .await
        .context("declare")?;
    let result = measure(&bus, count).await;
    cleanup(&bus).await;
    result
}

async fn measure(bus: &Bus, count: usize) -> anyhow::Result<()> {
    let messages: Vec<OutgoingMessage> = (0..count)
        .map(|_| OutgoingMessage::from_envelope(&small_event()))
        .collect::<Result<_, _>>()?;
    let size = messages.iter().map(|m| m.body.len()).sum::<usize>() / count.max(1);
    let topology = bus.topology();
    let queue = topology.queue(WorkQueue::Reconciliation);
    println!("{count} reconciliation events, {size} bytes of body on average");

    let seed = publish_all(
        bus,
        &topology.events_exchange(),
        "reconciliation.ready",
        &messages,
        Send::Batched,
    )
    .await?;
    println!(
        "seed   (events exchange -> quorum queue + stream): {:>8.0} msg/s ({:.2}s)",
        count as f64 / seed.as_secs_f64(),
        seed.as_secs_f64()
    );
    purge(bus, &queue).await?;

    // Every way of publishing we know, each on both kinds of runtime: the ratio
    // is taken against the best, so no baseline is picked to flatter the replay.
    let messages = Arc::new(messages);
    let mut raw_rate: f64 = 0.0;
    for multi_thread in [false, true] {
        for send in [Send::AwaitEach, Send::Batched] {
            let raw = if multi_thread {
                let (bus, queue, messages) = (bus.clone(), queue.clone(), Arc::clone(&messages));
                tokio::task::spawn_blocking(move || {
                    tokio::runtime::Runtime::new()?
                        .block_on(publish_all(&bus, "", &queue, &messages, send))
                })
                .await??
            } else {
                publish_all(bus, "", &queue, &messages, send).await?
            };
            let rate = count as f64 / raw.as_secs_f64();
            let runtime = if multi_thread {
                "multi-thread"
            } else {
                "current-thread"
            };
            println!(
                "raw    (lapin, {WINDOW} confirms in flight, {send:?}, {runtime} runtime -> quorum queue): \
                 {rate:>8.0} msg/s ({:.2}s)",
                raw.as_secs_f64()
            );
            raw_rate = raw_rate.max(rate);
            purge(bus, &queue).await?;
        }
    }

    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_events"))
        .args(["replay", "--from", "first"])
        .env("M2M_AMQP_URL", &bus.settings().url)
        .env("M2M_BUS_PREFIX", &bus.settings().prefix)
        .output()
        .await
        .context("run events replay")?;
    let replay = started.elapsed();
    let summary = String::from_utf8_lossy(&output.stderr);
    ensure!(output.status.success(), "replay failed: {summary}");
    let replayed = queue_depth(bus, &queue).await?;
    ensure!(
        replayed as usize == count,
        "replayed {replayed} of {count}: {summary}"
    );
    let replay_rate = count as f64 / replay.as_secs_f64();
    println!(
        "replay (events replay --from first, process start to exit): {replay_rate:>8.0} msg/s ({:.2}s)",
        replay.as_secs_f64()
    );
    println!("        its own summary: {}", summary.trim());
    println!(
        "replay / raw = {:.0}% (target >= 50%)",
        100.0 * replay_rate / raw_rate
    );
    Ok(())
}

/// A reconciliation event: the small kind (a few hundred bytes).
fn small_event() -> Envelope {
    Envelope::new(Event::ReconciliationV1(ReconciliationEventV1 {
        user_id: Uuid::now_v7(),
        game_id: Uuid::now_v7(),
        exercise: "piano".into(),
        outcome: GameOutcome::Processed,
        analytics_version: "1".into(),
    }))
}

/// How each `basic_publish` is waited for.
#[derive(Debug, Clone, Copy)]
enum Send {
    /// `basic_publish(..).await` before the next publish.
    AwaitEach,
    /// Polled once (which queues the frames), awaited with the confirm.
    Batched,
}

type Sending = Pin<Box<dyn Future<Output = shared_events::lapin::Result<PublisherConfirm>>>>;

/// Publishes every message, `WINDOW` in flight, each confirm checked. Plain
/// lapin, so the figure does not depend on the code it is compared with.
async fn publish_all(
    bus: &Bus,
    exchange: &str,
    routing_key: &str,
    messages: &[OutgoingMessage],
    send: Send,
) -> anyhow::Result<Duration> {
    let connection = bus.connect("bench publisher").await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let started = Instant::now();
    let mut in_flight: VecDeque<Sending> = VecDeque::with_capacity(WINDOW);
    for message in messages {
        if in_flight.len() >= WINDOW {
            check(in_flight.pop_front()).await?;
        }
        let (channel, exchange, routing_key) =
            (channel.clone(), exchange.to_owned(), routing_key.to_owned());
        let message = message.clone();
        let mut sending: Sending =
            Box::pin(async move { publish(&channel, &exchange, &routing_key, &message).await });
        match send {
            Send::AwaitEach => {
                let confirm = sending.await?;
                in_flight.push_back(Box::pin(async move { Ok(confirm) }));
            }
            Send::Batched => {
                if let Poll::Ready(confirm) = futures_util::poll!(sending.as_mut()) {
                    let confirm = confirm?;
                    sending = Box::pin(async move { Ok(confirm) });
                }
                in_flight.push_back(sending);
            }
        }
    }
    while let Some(sending) = in_flight.pop_front() {
        check(Some(sending)).await?;
    }
    let elapsed = started.elapsed();
    let _ = connection.close(200, "bench done".into()).await;
    Ok(elapsed)
}

async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    message: &OutgoingMessage,
) -> shared_events::lapin::Result<PublisherConfirm> {
    channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            &message.body,
            message.properties.clone(),
        )
        .await
}

async fn check(sending: Option<Sending>) -> anyhow::Result<()> {
    let Some(sending) = sending else {
        return Ok(());
    };
    let confirmation =
        tokio::time::timeout(Duration::from_secs(30), async { sending.await?.await })
            .await
            .context("confirm timeout")??;
    let acked = confirmation.is_ack();
    if confirmation.take_message().is_some() || !acked {
        bail!("a message was returned or nacked");
    }
    Ok(())
}

async fn purge(bus: &Bus, queue: &str) -> anyhow::Result<()> {
    let connection = bus.connect("bench purge").await?;
    let channel = connection.create_channel().await?;
    channel
        .queue_purge(queue.into(), QueuePurgeOptions::default())
        .await?;
    let _ = connection.close(200, "bench done".into()).await;
    Ok(())
}

async fn queue_depth(bus: &Bus, queue: &str) -> anyhow::Result<u32> {
    let connection = bus.connect("bench depth").await?;
    let stat = events_cli::broker::queue_stat(&connection, queue).await?;
    let _ = connection.close(200, "bench done".into()).await;
    Ok(stat.map_or(0, |s| s.ready))
}

async fn cleanup(bus: &Bus) {
    bus.delete_topology().await;
}

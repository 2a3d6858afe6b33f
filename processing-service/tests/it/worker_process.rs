//! The worker as operators run it: a process, killed or stopped in mid-game.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shared_events::events::EncodedRecording;
use shared_events::lapin::options::QueueDeclareOptions;
use shared_events::lapin::types::FieldTable;
use shared_events::{Bus, BusSettings, Publisher, WorkQueue};
use uuid::Uuid;

use crate::worker::{TestWorker, game, game_id, sample_sensors, stack_env};

/// A worker process on the stack `unique`, one game at a time.
fn spawn_worker(unique: &str) -> Child {
    spawn_worker_with(unique, 1)
}

/// A worker process on the stack `unique` holding up to `prefetch` games.
fn spawn_worker_with(unique: &str, prefetch: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_processing-service"))
        .envs(stack_env(unique))
        .env("M2M_PROCESSING_CONCURRENCY", "1")
        .env("M2M_PROCESSING_PREFETCH", prefetch.to_string())
        // Several workers run at once: each takes a free operations port.
        .env("M2M_OPS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the worker binary starts")
}

/// A long recording (20 minutes at 100 Hz, every channel), so that the worker
/// is busy with it for a while: long enough to be interrupted.
fn long_recording() -> Vec<u8> {
    let n = 120_000;
    let wave = |f: f64, a: f64| -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "{:.3}",
                    a * (2.0 * std::f64::consts::PI * f * i as f64 / 100.0).sin()
                )
            })
            .collect()
    };
    let channel = |f: f64, a: f64| format!("[{}]", wave(f, a).join(","));
    let joints: Vec<String> = [
        "thumb_mcp",
        "index_mcp",
        "index_pip",
        "middle_mcp",
        "middle_pip",
        "ring_mcp",
    ]
    .iter()
    .enumerate()
    .map(|(k, name)| format!("\"{name}\":{}", channel(0.5 + 0.1 * k as f64, 40.0)))
    .collect();
    let axes = |f: f64| {
        format!(
            r#"{{"x":{},"y":{},"z":{}}}"#,
            channel(f, 5.0),
            channel(f, 3.0),
            channel(f, 1.0)
        )
    };
    format!(
        r#"{{"sample_rate_hz":100,"angles_deg":{{{}}},"gyro_dps":{},"accel_ms2":{},"grip_force_n":{}}}"#,
        joints.join(","),
        axes(6.0),
        axes(5.0),
        channel(0.25, 20.0)
    )
    .into_bytes()
}

async fn depth(bus: &Bus, queue: WorkQueue) -> u32 {
    let connection = bus.connect("test depth").await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let declared = channel
        .queue_declare(
            bus.topology().queue(queue).as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the queue exists");
    let _ = connection.close(200, "done".into()).await;
    declared.message_count()
}

/// Publishes a long game on `unique`'s stack and waits until a worker holds it
/// (taken off the queue, not yet reconciled).
async fn publish_and_wait_until_taken(unique: &str) -> (Bus, Publisher, Uuid) {
    let bus = Bus::new(BusSettings {
        prefix: format!("test-{unique}"),
        ..BusSettings::from_env().expect("bus")
    });
    bus.declare_topology("test setup").await.expect("topology");
    let publisher = Publisher::new(bus.clone(), "test publisher");
    let sent = game(
        Uuid::now_v7(),
        EncodedRecording::from_json(&long_recording()).expect("encode"),
    );
    publisher.publish(&sent).await.expect("publish");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while depth(&bus, WorkQueue::Processing).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no worker took the game"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        depth(&bus, WorkQueue::Reconciliation).await,
        0,
        "the game finished before the test could interrupt it; make the recording longer"
    );
    (bus, publisher, game_id(&sent))
}

#[tokio::test]
async fn a_worker_killed_mid_game_leaves_the_game_to_another_worker() {
    let unique = Uuid::now_v7().simple().to_string();
    let mut doomed = spawn_worker(&unique);
    let (_bus, publisher, game) = publish_and_wait_until_taken(&unique).await;
    doomed.kill().expect("SIGKILL"); // no ack, no goodbye
    doomed.wait().expect("reaped");

    let survivor = TestWorker::start_in(&unique).await;
    let reconciliation = survivor
        .reconciliation()
        .await
        .expect("the survivor finishes the game");
    assert_eq!(reconciliation.event.game_id(), Some(game));
    assert_eq!(survivor.result_count(game).await, 1);
    publisher.close().await;
    survivor.stop().await;
}

#[tokio::test]
async fn sigterm_lets_the_game_in_hand_finish_before_the_worker_exits() {
    let unique = Uuid::now_v7().simple().to_string();
    let mut worker = spawn_worker(&unique);
    let (bus, publisher, game) = publish_and_wait_until_taken(&unique).await;
    let terminated = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let status = tokio::task::spawn_blocking(move || worker.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "a clean exit after draining: {status}");

    // The game in hand was finished and acked: reconciled, nothing left queued.
    assert_eq!(depth(&bus, WorkQueue::Processing).await, 0);
    let observer = TestWorker::start_in(&unique).await;
    let reconciliation = observer
        .reconciliation()
        .await
        .expect("the game was reconciled");
    assert_eq!(reconciliation.event.game_id(), Some(game));
    assert_eq!(observer.result_count(game).await, 1);
    publisher.close().await;
    observer.stop().await;
}

/// Sends SIGTERM to `child` and waits for it to exit.
async fn terminate(mut child: Child) -> std::process::ExitStatus {
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait")
}

#[tokio::test]
async fn sigterm_under_load_loses_no_acknowledged_game() {
    const GAMES: usize = 30;
    let unique = Uuid::now_v7().simple().to_string();
    let bus = Bus::new(BusSettings {
        prefix: format!("test-{unique}"),
        ..BusSettings::from_env().expect("bus")
    });
    bus.declare_topology("test setup").await.expect("topology");
    let publisher = Publisher::new(bus.clone(), "test publisher");
    let mut sent = HashSet::new();
    for _ in 0..GAMES {
        let envelope = game(
            Uuid::now_v7(),
            EncodedRecording::from_json(&sample_sensors()).expect("encode"),
        );
        publisher.publish(&envelope).await.expect("publish");
        sent.insert(game_id(&envelope));
    }

    // Under load: it holds a game and the next one, and has finished a few.
    let doomed = spawn_worker_with(&unique, 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while depth(&bus, WorkQueue::Reconciliation).await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker finished nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = terminate(doomed).await;
    assert!(status.success(), "a clean exit after draining: {status}");
    let left = depth(&bus, WorkQueue::Processing).await;
    assert!(
        left > 0,
        "every game was done before SIGTERM; the test needs more games"
    );

    // Another worker takes what was not acknowledged; every game ends reconciled
    // and saved exactly once, whichever worker did it.
    let survivor = TestWorker::start_in(&unique).await;
    let mut reconciled = HashSet::new();
    while reconciled.len() < GAMES {
        let Some(envelope) = survivor.reconciliation().await else {
            panic!(
                "{} of {GAMES} games reconciled; lost: {:?}",
                reconciled.len(),
                sent.difference(&reconciled).collect::<Vec<_>>()
            );
        };
        reconciled.insert(envelope.event.game_id().expect("a game event"));
    }
    assert_eq!(reconciled, sent);
    for game in &sent {
        assert_eq!(survivor.result_count(*game).await, 1, "game {game}");
    }
    let dead = bus.topology().dead_letter_queue();
    assert!(
        survivor.next_message_now(&dead).await.is_none(),
        "nothing was dead-lettered"
    );
    publisher.close().await;
    survivor.stop().await;
}

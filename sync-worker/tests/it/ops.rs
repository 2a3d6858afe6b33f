//! The worker's operations server, and the worker process stopped by SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use secrecy::ExposeSecret as _;
use shared_events::WorkQueue;
use shared_events::events::Job;
use shared_events::lapin::options::QueueDeclareOptions;
use shared_events::lapin::types::FieldTable;

use crate::helpers::{TestEnv, eventually};

async fn get(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_worker_is_ready_and_its_metrics_count_job_runs() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let (status, body) = get(format!("http://{}/readyz", app.ops_addr)).await;
    assert_eq!(status, 200, "{body}");
    for dependency in ["broker", "mongodb", "redis"] {
        assert!(
            body.contains(&format!(r#""{dependency}":{{"status":"up"}}"#)),
            "{body}"
        );
    }

    env.publish(Job::Backup, 3).await;
    assert!(eventually(|| async { app.stats.runs(Job::Backup) == 1 }).await);
    let queue = env.publisher.bus().topology().queue(WorkQueue::Jobs);
    let expected = [
        r#"m2m_job_runs_total{job="backup"} 1"#.to_owned(),
        r#"m2m_job_runs_total{job="sync"} 0"#.to_owned(),
        format!(
            r#"m2m_events_consumed_total{{queue="{queue}",event_type="timer.fired",outcome="handled"}} 1"#
        ),
    ];
    let url = format!("http://{}/metrics", app.ops_addr);
    let scraped = eventually(|| async {
        let (_, text) = get(url.clone()).await;
        expected.iter().all(|line| text.contains(line.as_str()))
    })
    .await;
    assert!(scraped, "missing {expected:?} in {}", get(url).await.1);
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn sigterm_stops_the_worker_process_cleanly() {
    let env = TestEnv::new().await;
    let settings = &env.settings;
    let mut worker = Command::new(env!("CARGO_BIN_EXE_sync-worker"))
        .env("M2M_AMQP_URL", &settings.bus.url)
        .env("M2M_BUS_PREFIX", &settings.bus.prefix)
        .env(
            "M2M_MONGODB_URL",
            settings.store.mongodb_url.expose_secret(),
        )
        .env("M2M_MONGODB_DB", &settings.store.mongodb_db)
        .env("M2M_REDIS_URL", settings.store.redis_url.expose_secret())
        .env("M2M_REDIS_PREFIX", &settings.store.redis_prefix)
        .env("M2M_OPS_ADDR", "127.0.0.1:0")
        .env("M2M_SCHEDULER_ENABLED", "false")
        .env("M2M_SHUTDOWN_DEADLINE_MS", "5000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the worker binary starts");

    // Consuming: the broker counts its consumer on the jobs queue.
    let bus = env.publisher.bus();
    let queue = bus.topology().queue(WorkQueue::Jobs);
    let consuming = eventually(|| async {
        let Ok(connection) = bus.connect("test consumers").await else {
            return false;
        };
        let consumers = match connection.create_channel().await {
            Ok(channel) => channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_or(0, |declared| declared.consumer_count()),
            Err(_) => 0,
        };
        let _ = connection.close(200, "done".into()).await;
        consumers == 1
    })
    .await;
    assert!(consuming, "the worker process never consumed");

    let terminated = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    // A hang guard, not a timing assertion: the deadline is 5 s.
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || worker.wait()),
    )
    .await
    .expect("the worker exits after SIGTERM")
    .expect("join")
    .expect("wait");
    assert!(waited.success(), "a clean exit: {waited}");
    env.cleanup().await;
}

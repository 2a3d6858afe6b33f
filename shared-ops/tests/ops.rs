//! The operations server against real RabbitMQ, MongoDB and Redis: each test has
//! its own bus prefix and database.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use shared_events::events::{Job, TimerFiredV1};
use shared_events::{Bus, BusSettings, Envelope, Event, Publisher};
use shared_ops::{BrokerProbe, Dependency, Metrics, Ops, OpsServer, QueuePoller, Readiness};
use shared_store::{StoreSettings, connect_mongodb, connect_redis};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct Stack {
    bus: Bus,
    db: mongodb::Database,
    redis: redis::aio::ConnectionManager,
}

impl Stack {
    async fn new() -> Self {
        let id = Uuid::now_v7().simple().to_string();
        let bus = Bus::new(BusSettings {
            prefix: format!("test-ops-{id}"),
            ..BusSettings::from_env().expect("bus settings")
        });
        bus.declare_topology("test setup").await.expect("topology");
        let store = StoreSettings::from_lookup(|name| match name {
            "M2M_MONGODB_DB" => Some(format!("test_ops_{id}")),
            other => std::env::var(other).ok(),
        })
        .expect("store settings");
        Self {
            bus,
            db: connect_mongodb(&store, "ops tests").await.expect("mongodb"),
            redis: connect_redis(&store).await.expect("redis"),
        }
    }

    fn dependencies(&self, probe: &Arc<BrokerProbe>) -> Vec<Dependency> {
        vec![
            Dependency::Broker(Arc::clone(probe)),
            Dependency::MongoDb(self.db.clone()),
            Dependency::Redis(self.redis.clone()),
        ]
    }

    async fn cleanup(self) {
        let _ = self.db.drop().await;
        self.bus.delete_topology().await;
    }
}

fn timer(window: i64) -> Envelope {
    Envelope::new(Event::TimerFiredV1(TimerFiredV1 {
        job: Job::Backup,
        window,
    }))
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Runs `m2m-probe url` off the runtime (the server under test runs on it).
async fn probe_exit(url: &str) -> bool {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_m2m-probe"))
            .arg(url)
            .status()
            .expect("m2m-probe runs")
            .success()
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn the_server_answers_health_readiness_and_metrics_and_stops_being_ready_on_shutdown() {
    let stack = Stack::new().await;
    let metrics = Metrics::new();
    // What a process does: every publisher built on its bus reports to its metrics.
    let observed = stack.bus.clone().observed_by(metrics.bus_observer());
    let publisher = Publisher::new(observed, "ops test publisher");
    publisher.publish(&timer(1)).await.expect("published");
    publisher.close().await;
    let probe = Arc::new(BrokerProbe::new(stack.bus.clone(), "ops test probe"));
    let ops = Ops::new(
        metrics,
        Readiness::new(stack.dependencies(&probe), Duration::from_secs(2)),
    );
    let server = OpsServer::bind("127.0.0.1:0".parse().expect("addr"), ops)
        .await
        .expect("binds");
    let base = format!("http://{}", server.local_addr());
    let shutdown = CancellationToken::new();
    let handle = server.spawn(&shutdown);

    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).expect("json");
    for dependency in ["broker", "mongodb", "redis"] {
        assert_eq!(ready["checks"][dependency]["status"], "up", "{body}");
    }
    let (status, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            r#"m2m_events_published_total{event_type="timer.fired",result="confirmed"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    assert!(probe_exit(&format!("{base}/readyz")).await);
    assert!(!probe_exit(&format!("{base}/no-such-page")).await);

    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(&format!("{base}/readyz")).await;
        if status == 503 {
            assert!(body.contains(r#""status":"stopping""#), "{body}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        get(&format!("{base}/healthz")).await.0,
        200,
        "alive while draining"
    );
    handle.stop().await;
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
    assert!(!probe_exit(&format!("{base}/healthz")).await);
    probe.close().await;
    stack.cleanup().await;
}

#[tokio::test]
async fn the_poller_reports_queue_depths_and_consumers() {
    let stack = Stack::new().await;
    let publisher = Publisher::new(stack.bus.clone(), "ops test publisher");
    for window in [1, 2, 3] {
        publisher.publish(&timer(window)).await.expect("published");
    }
    publisher.close().await;

    let probe = Arc::new(BrokerProbe::new(stack.bus.clone(), "ops test probe"));
    let mut metrics = Metrics::new();
    let poller = QueuePoller::register(&mut metrics, Arc::clone(&probe), Duration::from_secs(5));
    poller.poll_once().await.expect("the broker answers");
    let text = metrics.encode().expect("encodes");
    let prefix = stack.bus.topology().prefix();
    assert!(
        text.contains(&format!(r#"m2m_queue_messages{{queue="{prefix}.jobs"}} 3"#)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"m2m_queue_messages{{queue="{prefix}.dead-letters"}} 0"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"m2m_queue_consumers{{queue="{prefix}.jobs"}} 0"#
        )),
        "{text}"
    );

    // Once the stack is gone, a poll fails and leaves no stale depths behind.
    stack.bus.delete_topology().await;
    assert!(poller.poll_once().await.is_err());
    let text = metrics.encode().expect("encodes");
    assert!(!text.contains("m2m_queue_messages{"), "{text}");
    assert!(text.contains("m2m_queue_poll_failures_total 1"), "{text}");
    probe.close().await;
    stack.cleanup().await;
}

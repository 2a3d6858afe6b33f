//! The queue worker against real RabbitMQ and MongoDB: each test has its own bus
//! prefix and database.

use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::{Document, doc};
use processing_service::worker::{ResultsStore, Worker, WorkerSettings};
use shared_events::events::{EncodedRecording, GameOutcome, ProcessingEventV1};
use shared_events::lapin::options::BasicGetOptions;
use shared_events::{Bus, BusSettings, Envelope, Event, Publisher, WorkQueue};
use shared_store::StoreSettings;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

/// A running worker with its own bus prefix and database.
pub struct TestWorker {
    pub bus: Bus,
    pub publisher: Publisher,
    pub store: ResultsStore,
    database: mongodb::Database,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    pub stats: Arc<shared_events::consumer::RunnerStats>,
    /// Where the worker serves `/healthz`, `/readyz` and `/metrics`.
    pub ops_addr: std::net::SocketAddr,
}

/// The environment that puts a worker process on the stack named `unique`.
pub fn stack_env(unique: &str) -> [(&'static str, String); 2] {
    [
        ("M2M_BUS_PREFIX", format!("test-{unique}")),
        ("M2M_MONGODB_DB", format!("test_{unique}")),
    ]
}

impl TestWorker {
    pub async fn start() -> Self {
        Self::start_in(&Uuid::now_v7().simple().to_string()).await
    }

    /// A worker on the stack named `unique` (see [`stack_env`]).
    pub async fn start_in(unique: &str) -> Self {
        let store_settings = StoreSettings::from_lookup(|name| match name {
            "M2M_MONGODB_DB" => Some(format!("test_{unique}")),
            _ => std::env::var(name).ok(),
        })
        .expect("store settings");
        let bus_settings = BusSettings {
            prefix: format!("test-{unique}"),
            retry_delay: Duration::from_millis(300),
            max_retries: 3,
            ..BusSettings::from_env().expect("bus settings")
        };
        let settings = WorkerSettings {
            bus: bus_settings.clone(),
            store: store_settings.clone(),
            concurrency: 2,
            prefetch: 4,
            ops: shared_ops::OpsSettings::for_tests(),
            max_recording_bytes: 16 << 20,
            analysis: processing_service::analytics::AnalysisConfig::default(),
        };
        let worker = Worker::build(settings).await.expect("worker starts");
        let stats = worker.stats();
        let ops_addr = worker.ops_addr();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task =
            tokio::spawn(async move { worker.run_until_stopped(token).await.expect("worker run") });
        let database = shared_store::connect_mongodb(&store_settings, "worker tests")
            .await
            .expect("mongodb");
        let bus = Bus::new(bus_settings);
        Self {
            publisher: Publisher::new(bus.clone(), "test publisher"),
            store: ResultsStore::new(&database),
            bus,
            database,
            stop,
            task,
            stats,
            ops_addr,
        }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("worker task");
        self.publisher.close().await;
        let _ = self.database.drop().await;
        self.bus.delete_topology().await;
    }

    /// Takes the next message off `queue`, polling until `WAIT` passes.
    pub async fn next_message(&self, queue: &str) -> Option<Envelope> {
        let connection = self.bus.connect("test reader").await.expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        let deadline = tokio::time::Instant::now() + WAIT;
        let found = loop {
            let got = channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get");
            if let Some(message) = got {
                break Some(Envelope::from_json(&message.delivery.data).expect("envelope"));
            }
            if tokio::time::Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let _ = connection.close(200, "done".into()).await;
        found
    }

    /// Takes one message off `queue` if one is there now.
    pub async fn next_message_now(&self, queue: &str) -> Option<Envelope> {
        let connection = self.bus.connect("test reader").await.expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        let got = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        let _ = connection.close(200, "done".into()).await;
        got.map(|message| Envelope::from_json(&message.delivery.data).expect("envelope"))
    }

    pub async fn reconciliation(&self) -> Option<Envelope> {
        self.next_message(&self.bus.topology().queue(WorkQueue::Reconciliation))
            .await
    }

    pub async fn result_count(&self, game_id: Uuid) -> u64 {
        self.database
            .collection::<Document>(ResultsStore::RESULTS)
            .count_documents(doc! { "_id": game_id.to_string() })
            .await
            .expect("count")
    }
}

pub fn sample_sensors() -> Vec<u8> {
    let body: serde_json::Value =
        serde_json::from_str(include_str!("../../testdata/grasp_10s_100hz.json"))
            .expect("sample recording");
    serde_json::to_vec(&body["sensors"]).expect("sensors")
}

pub fn game(user_id: Uuid, recording: EncodedRecording) -> Envelope {
    let now = OffsetDateTime::now_utc();
    Envelope::new(Event::ProcessingV1(ProcessingEventV1 {
        user_id,
        game_id: Uuid::now_v7(),
        exercise: "grasp_and_release".into(),
        score: 30,
        started_at: now - time::Duration::seconds(10),
        ended_at: now,
        recording,
    }))
}

pub fn game_id(envelope: &Envelope) -> Uuid {
    envelope.event.game_id().expect("a game event")
}

#[tokio::test]
async fn a_game_is_analysed_saved_and_reconciled() {
    let worker = TestWorker::start().await;
    let user = Uuid::now_v7();
    let sent = game(
        user,
        EncodedRecording::from_json(&sample_sensors()).expect("encode"),
    );
    worker.publisher.publish(&sent).await.expect("publish");

    let reconciliation = worker
        .reconciliation()
        .await
        .expect("a reconciliation event");
    let Event::ReconciliationV2(event) = &reconciliation.event else {
        panic!("wrong event")
    };
    assert_eq!(event.game_id, game_id(&sent));
    assert_eq!(event.result.outcome, GameOutcome::Processed);
    assert_eq!(event.result.revision, 1);
    assert_eq!(event.result.provenance.source_event_id, sent.id);
    assert_eq!(event.result.provenance.recording_sha256.len(), 64);
    // The event carries the metrics: the gateway reads nothing of ours.
    let carried = event.result.metrics.as_ref().expect("metrics in the event");
    assert!(carried["fingers"]["index"]["sparc_mean"].is_number());
    assert_eq!(
        reconciliation.correlation_id, sent.correlation_id,
        "one correlation id end to end"
    );
    assert_eq!(reconciliation.causation_id, Some(sent.id));

    let result = worker
        .store
        .result(game_id(&sent))
        .await
        .expect("read")
        .expect("a result");
    assert_eq!(result.get_str("status").expect("status"), "processed");
    let metrics = result.get_document("metrics").expect("metrics");
    let index = metrics
        .get_document("fingers")
        .and_then(|f| f.get_document("index"))
        .expect("index finger");
    assert!(index.get_f64("sparc_mean").expect("sparc").is_finite());
    assert!(
        metrics
            .get_document("tremor")
            .expect("tremor")
            .contains_key("gyro")
    );

    let progress = event.progress.as_ref().expect("progress in the event");
    assert_eq!((progress.revision, progress.session_count), (1, 1));
    let sparc = progress
        .metrics
        .iter()
        .find(|m| m.metric == "fingers.index.sparc_mean")
        .expect("sparc progress");
    assert_eq!(sparc.n_sessions, 1);
    assert!(sparc.slope.is_none(), "no trend from one session");
    assert_eq!(sparc.direction.as_deref(), Some("higher_is_better"));
    worker.stop().await;
}

#[tokio::test]
async fn a_duplicate_delivery_leaves_one_result() {
    let worker = TestWorker::start().await;
    let user = Uuid::now_v7();
    let sent = game(
        user,
        EncodedRecording::from_json(&sample_sensors()).expect("encode"),
    );
    worker.publisher.publish(&sent).await.expect("publish");
    worker
        .publisher
        .publish(&sent)
        .await
        .expect("publish again");

    let mut seen = Vec::new();
    for _ in 0..2 {
        let reconciliation = worker
            .reconciliation()
            .await
            .expect("each delivery is reconciled");
        let Event::ReconciliationV2(event) = reconciliation.event else {
            panic!("wrong event")
        };
        seen.push(event);
    }
    assert_eq!(worker.result_count(game_id(&sent)).await, 1);
    // The same result keeps its revision, so the gateway maps both to one change;
    // the progress counts the game once.
    assert_eq!(seen[0].result.revision, 1);
    assert_eq!(seen[1].result.revision, 1);
    for event in &seen {
        let progress = event.progress.as_ref().expect("progress");
        assert_eq!(progress.session_count, 1, "one session, not two");
        assert_eq!(
            progress.revision, 1,
            "the duplicate did not write the state"
        );
    }
    worker.stop().await;
}

#[tokio::test]
async fn a_poison_recording_fails_the_game_once_and_does_not_loop() {
    let worker = TestWorker::start().await;
    // Valid zstd and JSON, impossible content: a sample rate far out of range.
    let poison = br#"{"sample_rate_hz": 5, "angles_deg": {"index_mcp": [1, 2, 3]}}"#;
    let sent = game(
        Uuid::now_v7(),
        EncodedRecording::from_json(poison).expect("encode"),
    );
    worker.publisher.publish(&sent).await.expect("publish");
    // And one whose bytes are not a recording at all.
    let mut corrupt = EncodedRecording::from_json(b"{}").expect("encode");
    corrupt.data = "bm90IHpzdGQ=".into(); // base64 of "not zstd"
    let garbled = game(Uuid::now_v7(), corrupt);
    worker.publisher.publish(&garbled).await.expect("publish");

    for _ in 0..2 {
        let reconciliation = worker
            .reconciliation()
            .await
            .expect("a reconciliation event");
        let Event::ReconciliationV2(event) = &reconciliation.event else {
            panic!("wrong event")
        };
        assert!(event.progress.is_none(), "a failed game is not a session");
        assert!(event.result.metrics.is_none());
        let GameOutcome::Failed { reason } = &event.result.outcome else {
            panic!("the game must fail")
        };
        let expected = if event.game_id == game_id(&sent) {
            "sample_rate_hz"
        } else {
            "zstd"
        };
        assert!(reason.contains(expected), "{reason}");
    }
    let result = worker
        .store
        .result(game_id(&sent))
        .await
        .expect("read")
        .expect("a result");
    assert_eq!(result.get_str("status").expect("status"), "failed");
    // Handled once each: no retry, no dead letter, nothing left to loop.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stats = worker.stats.snapshot();
    assert_eq!(
        (stats.handled, stats.retried, stats.dead_lettered),
        (2, 0, 0)
    );
    worker.stop().await;
}

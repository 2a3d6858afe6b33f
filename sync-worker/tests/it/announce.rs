//! Every completed run is told to the bus as `job.completed`, once per run, even
//! when the broker refused the first attempt.

use mongodb::bson::{Document, doc};
use redis::AsyncCommands as _;
use shared_events::events::{Job, JobCompletedV1};
use shared_events::lapin::types::FieldTable;
use shared_events::testing::{drain, wait_for_depth};
use shared_events::{Envelope, Event, WorkQueue};
use shared_store::keys::JOURNAL;
use sync_worker::store;

use crate::helpers::{TestEnv, WAIT, eventually};

/// The `job.completed` events waiting on the dashboard's queue, taken off it.
async fn announcements(env: &TestEnv) -> Vec<(Envelope, JobCompletedV1)> {
    let bus = env.publisher.bus();
    drain(bus, &bus.topology().queue(WorkQueue::Dashboard))
        .await
        .into_iter()
        .map(|message| {
            let envelope = Envelope::from_json(&message.delivery.data).expect("an event");
            match envelope.event.clone() {
                Event::JobCompletedV1(completed) => (envelope, completed),
                other => panic!("not job.completed: {other:?}"),
            }
        })
        .collect()
}

#[tokio::test]
async fn a_completed_run_is_announced_once_with_what_it_did() {
    let env = TestEnv::new().await;
    let mut redis = env.redis();
    let entries: Vec<String> = (0..3).map(|i| format!(r#"{{"id":"{i}"}}"#)).collect();
    let _: () = redis
        .rpush(env.keys.key(JOURNAL), &entries)
        .await
        .expect("rpush");
    let worker = env.spawn().await;
    // Two copies of one window: one run, one announcement.
    env.publish(Job::Backup, 7).await;
    env.publish(Job::Backup, 7).await;
    assert!(
        eventually(|| async { worker.runner.snapshot().handled >= 2 }).await,
        "both copies are acknowledged"
    );
    let dashboard = env.publisher.bus().topology().queue(WorkQueue::Dashboard);
    assert_eq!(
        wait_for_depth(env.publisher.bus(), &dashboard, 1, WAIT).await,
        1
    );

    let announced = announcements(&env).await;
    assert_eq!(announced.len(), 1, "{announced:?}");
    let (envelope, completed) = &announced[0];
    assert_eq!((completed.job, completed.window), (Job::Backup, 7));
    assert_eq!(completed.summary["entries"], 3);
    assert!(
        envelope.causation_id.is_some(),
        "caused by its timer message"
    );
    let recorded = env
        .db
        .collection::<Document>(store::JOB_RUNS)
        .find_one(doc! { "job": "backup", "window": 7_i64 })
        .await
        .expect("find")
        .expect("the run is recorded");
    assert_eq!(recorded.get_bool("announced").ok(), Some(true));
    assert_eq!(
        recorded
            .get_datetime("finished_at")
            .expect("finished_at")
            .timestamp_millis(),
        (completed.finished_at.unix_timestamp_nanos() / 1_000_000) as i64,
        "the event carries the recorded time"
    );

    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_run_whose_announcement_the_broker_refused_is_announced_when_its_timer_comes_back() {
    let env = TestEnv::new().await;
    let bus = env.publisher.bus().clone();
    let topology = bus.topology().clone();
    let worker = env.spawn().await;
    // A first run, so the worker's publisher is connected (a connecting publisher
    // declares the topology, which would bind the queues again).
    env.publish(Job::Backup, 11).await;
    let dashboard = topology.queue(WorkQueue::Dashboard);
    assert_eq!(wait_for_depth(&bus, &dashboard, 1, WAIT).await, 1);
    assert_eq!(announcements(&env).await.len(), 1);
    // Then nothing routes `job.completed` any more: the mandatory publish of the
    // next announcement comes back unroutable, after its run is recorded.
    let connection = bus.connect("test unbind").await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    for (queue, key) in [
        (topology.queue(WorkQueue::Dashboard), "job.completed"),
        (topology.history_stream(), "#"),
    ] {
        channel
            .queue_unbind(
                queue.as_str().into(),
                topology.events_exchange().as_str().into(),
                key.into(),
                FieldTable::default(),
            )
            .await
            .expect("unbind");
    }
    let _ = connection.close(200, "done".into()).await;

    env.publish(Job::Backup, 12).await;
    let runs = env.db.collection::<Document>(store::JOB_RUNS);
    let unannounced = doc! { "job": "backup", "window": 12_i64, "announced": false };
    assert!(
        eventually(|| async {
            worker.runner.snapshot().retried >= 1
                && runs
                    .count_documents(unannounced.clone())
                    .await
                    .expect("count")
                    == 1
        })
        .await,
        "the run is recorded, unannounced, and its timer waits to be retried"
    );

    // The broker routes it again; the retried timer announces the recorded run.
    bus.declare_topology("test rebind").await.expect("rebind");
    assert_eq!(wait_for_depth(&bus, &dashboard, 1, WAIT).await, 1);
    let announced = announcements(&env).await;
    assert_eq!(announced.len(), 1, "{announced:?}");
    let (_, completed) = &announced[0];
    assert_eq!((completed.job, completed.window), (Job::Backup, 12));
    let recorded = runs
        .find_one(doc! { "job": "backup", "window": 12_i64 })
        .await
        .expect("find")
        .expect("recorded");
    assert_eq!(recorded.get_bool("announced").ok(), Some(true));
    assert_eq!(
        recorded
            .get_datetime("finished_at")
            .expect("finished_at")
            .timestamp_millis(),
        (completed.finished_at.unix_timestamp_nanos() / 1_000_000) as i64,
        "the recorded run, not a new one"
    );
    assert_eq!(worker.stats.runs(Job::Backup), 2, "each window ran once");

    worker.stop().await;
    env.cleanup().await;
}

//! Every completed run is told to the bus as `job.completed`, once per run, even
//! when the first attempt to publish it did not happen.

use mongodb::bson::{self, Document, doc};
use redis::AsyncCommands as _;
use shared_events::events::{Job, JobCompletedV1};
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
async fn a_run_recorded_but_never_announced_is_announced_by_the_next_copy_of_its_timer() {
    let env = TestEnv::new().await;
    // What a worker leaves when the broker refused the announcement after the
    // run was recorded.
    let finished_at = bson::DateTime::from_millis(1_795_341_600_000);
    env.db
        .collection::<Document>(store::JOB_RUNS)
        .insert_one(doc! {
            "job": "sync", "window": 12_i64, "finished_at": finished_at,
            "summary": { "families": 4_i64 }, "announced": false,
        })
        .await
        .expect("insert");
    let worker = env.spawn().await;
    env.publish(Job::Sync, 12).await;
    assert!(eventually(|| async { worker.runner.snapshot().handled >= 1 }).await);

    let dashboard = env.publisher.bus().topology().queue(WorkQueue::Dashboard);
    assert_eq!(
        wait_for_depth(env.publisher.bus(), &dashboard, 1, WAIT).await,
        1
    );
    let announced = announcements(&env).await;
    let (_, completed) = &announced[0];
    assert_eq!((completed.job, completed.window), (Job::Sync, 12));
    assert_eq!(completed.summary["families"], 4);
    assert_eq!(
        completed.finished_at.unix_timestamp_nanos(),
        1_795_341_600_000_000_000
    );
    assert_eq!(
        worker.stats.runs(Job::Sync),
        0,
        "the window did not run again"
    );
    let marked = env
        .db
        .collection::<Document>(store::JOB_RUNS)
        .count_documents(doc! { "job": "sync", "window": 12_i64, "announced": true })
        .await
        .expect("count");
    assert_eq!(marked, 1);

    // Announced now: a later copy announces nothing.
    env.publish(Job::Sync, 12).await;
    assert!(eventually(|| async { worker.runner.snapshot().handled >= 2 }).await);
    assert!(announcements(&env).await.is_empty());

    worker.stop().await;
    env.cleanup().await;
}

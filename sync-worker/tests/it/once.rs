//! Several replicas, one window: the job runs once.

use redis::AsyncCommands as _;
use shared_events::events::Job;
use shared_store::keys::JOURNAL;

use crate::helpers::{TestEnv, eventually};

#[tokio::test]
async fn two_replicas_given_one_window_many_times_run_each_job_once() {
    let env = TestEnv::new().await;
    let mut redis = env.redis();
    let entries: Vec<String> = (0..5).map(|i| format!(r#"{{"id":"{i}"}}"#)).collect();
    let _: () = redis
        .rpush(env.keys.key(JOURNAL), &entries)
        .await
        .expect("rpush");
    let _: () = redis.sadd(env.keys.key("users"), "u1").await.expect("sadd");
    let _: () = redis
        .set(env.keys.key("users:updated_time"), 1_000)
        .await
        .expect("set");

    let first = env.spawn().await;
    let second = env.spawn().await;
    // What every replica's scheduler would do, and then some: three copies of one
    // window per job, raced by two consumers.
    for _ in 0..3 {
        env.publish(Job::Backup, 7).await;
        env.publish(Job::Sync, 7).await;
    }
    let handled = || first.runner.snapshot().handled + second.runner.snapshot().handled;
    assert!(
        eventually(|| async { handled() >= 6 }).await,
        "all six timer messages are acknowledged"
    );
    for job in [Job::Backup, Job::Sync] {
        let runs = first.stats.runs(job) + second.stats.runs(job);
        assert_eq!(runs, 1, "{} ran once for window 7", job.as_str());
        assert_eq!(env.completed_runs(job, 7).await, 1);
    }
    let archived = env
        .db
        .collection::<mongodb::bson::Document>(sync_worker::store::JOURNAL)
        .count_documents(mongodb::bson::doc! {})
        .await
        .expect("count");
    assert_eq!(archived, 5);

    // The next window is a new run.
    env.publish(Job::Backup, 8).await;
    assert!(eventually(|| async { handled() >= 7 }).await);
    let runs = first.stats.runs(Job::Backup) + second.stats.runs(Job::Backup);
    assert_eq!(runs, 2, "window 8 ran too");

    first.stop().await;
    second.stop().await;
    env.cleanup().await;
}

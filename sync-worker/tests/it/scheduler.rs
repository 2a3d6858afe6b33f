//! The scheduler: windows published as they start, and a window missed while every
//! replica was down run when one comes back.
//!
//! Intervals of 10^9 s make the current window 1 until 2033 whatever the clock says
//! during the test, and keep that job's own ticks from firing.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use redis::AsyncCommands as _;
use shared_events::events::Job;
use shared_events::{Bus, Publisher};
use shared_store::keys::JOURNAL;
use sync_worker::runs::JobRuns;
use sync_worker::{scheduler, store};

use crate::helpers::{TestEnv, eventually};

const FOREVER: Duration = Duration::from_secs(1_000_000_000);

async fn env_with_scheduler() -> TestEnv {
    TestEnv::with_jobs(|jobs| {
        jobs.scheduler_enabled = true;
        jobs.sync_interval = FOREVER;
        jobs.backup_interval = FOREVER;
    })
    .await
}

async fn record_run(env: &TestEnv, job: Job, window: i64) {
    env.db
        .collection::<Document>(store::JOB_RUNS)
        .insert_one(doc! { "job": job.as_str(), "window": window })
        .await
        .expect("insert a past run");
}

#[tokio::test]
async fn a_missed_window_is_published_and_run_at_start() {
    let env = env_with_scheduler().await;
    record_run(&env, Job::Backup, 0).await; // the last backup before everyone went down
    let mut redis = env.redis();
    let _: () = redis
        .rpush(env.keys.key(JOURNAL), &["a", "b"])
        .await
        .expect("rpush");

    let app = env.spawn().await;
    let mut caught_up = app.caught_up.clone();
    caught_up.sort_by_key(|(job, _)| job.as_str());
    assert_eq!(caught_up, vec![(Job::Backup, 1), (Job::Sync, 1)]);
    assert!(
        eventually(|| async {
            env.completed_runs(Job::Backup, 1).await == 1
                && env.completed_runs(Job::Sync, 1).await == 1
        })
        .await,
        "both caught-up windows ran"
    );
    let left: i64 = redis.llen(env.keys.key(JOURNAL)).await.expect("llen");
    assert_eq!(left, 0, "the caught-up backup moved the journal");
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_window_that_already_ran_is_not_published_again() {
    let env = env_with_scheduler().await;
    record_run(&env, Job::Backup, 1).await;
    record_run(&env, Job::Sync, 1).await;
    let app = env.spawn().await;
    assert!(app.caught_up.is_empty());
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn the_scheduler_publishes_each_window_as_it_starts() {
    let env = TestEnv::with_jobs(|jobs| {
        jobs.scheduler_enabled = true;
        jobs.sync_interval = FOREVER;
        jobs.backup_interval = Duration::from_secs(1);
    })
    .await;
    let app = env.spawn().await;
    let runs = env.db.collection::<Document>(store::JOB_RUNS);
    // The catch-up runs one backup window; the ticks must bring at least two more.
    assert!(
        eventually(|| async {
            let backups = runs
                .count_documents(doc! { "job": "backup" })
                .await
                .expect("count");
            backups >= 3
        })
        .await,
        "windows keep coming without anyone publishing them by hand"
    );
    app.stop().await;
    env.cleanup().await;
}

/// `rabbitmqctl` on the shared broker, for a vhost of this test's own.
fn rabbitmqctl(args: &[&str]) {
    let output = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl must be installed where RabbitMQ runs");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_catch_up_the_broker_refuses_at_first_is_retried_not_fatal() {
    let env = env_with_scheduler().await;
    // A vhost the worker may not use yet: every publish fails until the grant below,
    // as the first publishes to a fresh stack sometimes do.
    let vhost = format!("test-sw-catch-up-{}", uuid::Uuid::now_v7().simple());
    let ctl = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };
    ctl(vec!["add_vhost".into(), vhost.clone()])
        .await
        .expect("ctl");
    let mut bus = env.settings.bus.clone();
    bus.url = format!("amqp://guest:guest@127.0.0.1:5672/{vhost}");
    let publisher = Publisher::new(Bus::new(bus), "catch-up test");
    let late_grant = async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let all = ".*".to_owned();
        let grant = ["set_permissions", "-p", &vhost, "guest", &all, &all, &all];
        ctl(grant.map(str::to_owned).to_vec()).await.expect("ctl");
    };
    let runs = JobRuns::new(&env.db);
    let (caught_up, ()) = tokio::join!(
        scheduler::catch_up(&publisher, &runs, &env.settings.jobs),
        late_grant
    );
    let mut caught_up = caught_up.expect("the catch-up retried until the broker took it");
    caught_up.sort_by_key(|(job, _)| job.as_str());
    assert_eq!(caught_up, vec![(Job::Backup, 1), (Job::Sync, 1)]);
    publisher.close().await;
    ctl(vec!["delete_vhost".into(), vhost]).await.expect("ctl");
    env.cleanup().await;
}

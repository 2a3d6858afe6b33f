//! The backup job: nothing lost, nothing duplicated, whatever happens meanwhile.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use redis::AsyncCommands as _;
use shared_events::events::Job;
use shared_store::keys::JOURNAL;
use sync_worker::contract::{JOURNAL_STAGING, lease_key};
use sync_worker::jobs::backup::{BackupJob, entry_of};
use sync_worker::lease::Lease;
use sync_worker::store;

use crate::helpers::{TestEnv, eventually};

/// A gateway-like entry; `n` makes it unique unless a test repeats it on purpose.
fn entry(n: usize) -> String {
    format!(
        r#"{{"id":"e-{n}","at":"2026-11-22T10:00:00Z","command":"games","user_id":"user-{}","status":202}}"#,
        n % 3
    )
}

/// Every archived entry, as its JSON text, sorted (a multiset to compare).
async fn archived(env: &TestEnv) -> Vec<String> {
    let mut cursor = env
        .db
        .collection::<Document>(store::JOURNAL)
        .find(doc! {})
        .await
        .expect("find");
    let mut entries = Vec::new();
    while cursor.advance().await.expect("cursor") {
        let document = cursor.deserialize_current().expect("document");
        entries.push(entry_of(&document).to_string());
    }
    entries.sort();
    entries
}

/// The pushed entries in the same canonical form as [`archived`].
fn canonical(pushed: &[String]) -> Vec<String> {
    let mut entries: Vec<String> = pushed
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(e)
                .expect("json")
                .to_string()
        })
        .collect();
    entries.sort();
    entries
}

async fn redis_is_drained(env: &TestEnv) -> bool {
    let mut redis = env.redis();
    let left: i64 = redis.llen(env.keys.key(JOURNAL)).await.expect("llen");
    let staged: bool = redis
        .exists(env.keys.key(JOURNAL_STAGING))
        .await
        .expect("exists");
    left == 0 && !staged
}

#[tokio::test]
async fn a_backup_under_concurrent_appends_loses_and_duplicates_nothing() {
    // Small batches and runs, so that many runs interleave with the appends.
    let env = TestEnv::with_jobs(|jobs| {
        jobs.backup_batch_size = 7;
        jobs.backup_max_batches = 3;
    })
    .await;
    let app = env.spawn().await;

    let mut appender_redis = env.redis();
    let journal = env.keys.key(JOURNAL);
    let appender = tokio::spawn(async move {
        let mut pushed = Vec::new();
        for n in 0..400 {
            // Every tenth entry is pushed twice, identical: both copies must survive.
            let copies = if n % 10 == 0 { 2 } else { 1 };
            for _ in 0..copies {
                let _: () = appender_redis
                    .rpush(&journal, entry(n))
                    .await
                    .expect("rpush");
                pushed.push(entry(n));
            }
            if n % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        pushed
    });

    // Windows keep coming while the gateway appends, and after, until Redis is drained.
    let mut window = 0;
    let drained = eventually(|| {
        window += 1;
        let (env, window, appending) = (&env, window, !appender.is_finished());
        async move {
            env.publish(Job::Backup, window).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            !appending && redis_is_drained(env).await
        }
    })
    .await;
    let pushed = appender.await.expect("appender");
    assert!(drained, "the journal was moved out of Redis");
    assert_eq!(pushed.len(), 440);
    assert_eq!(
        archived(&env).await,
        canonical(&pushed),
        "every entry once, copies included"
    );
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_backup_killed_after_the_insert_and_before_the_delete_leaves_no_duplicate() {
    let env = TestEnv::new().await;
    let mut redis = env.redis();
    let mut pushed: Vec<String> = (0..25).map(entry).collect();
    pushed.extend([entry(3), entry(3)]); // identical entries, in the batch that dies
    pushed.rotate_right(2);
    let _: () = redis
        .rpush(env.keys.key(JOURNAL), &pushed)
        .await
        .expect("rpush");

    // A run that dies between step 2 (insert) and step 3 (delete): its lease is never
    // released and expires, its batch stays staged.
    let job = BackupJob::new(env.redis(), env.keys.clone(), &env.db, 10, 100);
    let lease_name = env.keys.key(&lease_key(Job::Backup));
    let lease = Lease::acquire(&env.redis, lease_name, "test", env.settings.jobs.lease_ttl)
        .await
        .expect("redis")
        .expect("the lease is free");
    let batch = job.stage(&lease).await.expect("stage").expect("a batch");
    assert_eq!(batch.entries.len(), 10);
    assert_eq!(job.archive(&batch).await.expect("archive"), 10);
    drop(lease);
    assert_eq!(archived(&env).await.len(), 10);

    let app = env.spawn().await;
    env.publish(Job::Backup, 1).await;
    assert!(eventually(|| async { env.completed_runs(Job::Backup, 1).await == 1 }).await);
    assert!(redis_is_drained(&env).await);
    assert_eq!(
        archived(&env).await,
        canonical(&pushed),
        "no duplicate, no loss"
    );

    let run = env
        .db
        .collection::<Document>(store::JOB_RUNS)
        .find_one(doc! { "job": "backup", "window": 1 })
        .await
        .expect("find")
        .expect("the run is recorded");
    let summary = run.get_document("summary").expect("summary");
    assert_eq!(summary.get_i64("entries").ok(), Some(27));
    assert_eq!(
        summary.get_i64("already_archived").ok(),
        Some(10),
        "the leftover batch was finished first"
    );
    app.stop().await;
    env.cleanup().await;
}

//! Redis loses its data (a restart without persistence) while the gateway keeps
//! writing: the snapshot comes back merged with the new writes, at start or while the
//! worker runs, once however many workers notice, and no snapshot stores the loss.

use std::time::Duration;

use redis::AsyncCommands as _;
use shared_store::connect_redis;
use shared_store::keys::Family;
use sync_worker::contract::EPOCH;
use sync_worker::jobs::sync::restore::RestoreOutcome;
use sync_worker::jobs::sync::snapshot::Snapshots;
use sync_worker::jobs::sync::{FamilyOutcome, SyncJob};

use crate::helpers::{TestEnv, eventually};
use crate::restore::snapshot;

/// The gateway's writes after the loss, as the gateway makes them: a new user, one
/// request counted, one game of 5 points by the new user and one of 0.5 by `user-0`.
async fn gateway_writes_after_the_loss(env: &TestEnv) {
    let mut redis = env.redis();
    let key = |name: &str| env.keys.key(name);
    let _: () = redis.sadd(key("users"), "user-new").await.expect("sadd");
    let _: () = redis.incr(key("c:login"), 1).await.expect("incr");
    let _: () = redis
        .hincr(key("agg:piano"), "count", 1)
        .await
        .expect("hincr");
    let _: () = redis
        .hincr(key("agg:piano"), "score_sum", 5)
        .await
        .expect("hincr");
    let _: () = redis::cmd("ZADD")
        .arg(key("leaderboard:piano"))
        .arg("GT")
        .arg(5.0)
        .arg("user-new")
        .arg(0.5)
        .arg("user-0")
        .query_async(&mut redis)
        .await
        .expect("zadd");
    for family in Family::ALL {
        let _: () = redis
            .set(key(family.updated_time_key()), 5_000)
            .await
            .expect("set updated_time");
    }
}

/// Checks Redis holds snapshot variant 2 (`restore::write_bookkeeping`) plus the
/// writes above, each counted once.
async fn holds_snapshot_plus_new_writes(env: &TestEnv) -> bool {
    let mut redis = env.redis();
    let key = |name: &str| env.keys.key(name);
    let mut users: Vec<String> = redis.smembers(key("users")).await.expect("smembers");
    users.sort();
    let login: Option<i64> = redis.get(key("c:login")).await.expect("get");
    let only_in_2: Option<i64> = redis.get(key("c:only-in-2")).await.expect("get");
    let count: Option<i64> = redis.hget(key("agg:piano"), "count").await.expect("hget");
    let sum: Option<i64> = redis
        .hget(key("agg:piano"), "score_sum")
        .await
        .expect("hget");
    let best: Vec<(String, f64)> = redis
        .zrange_withscores(key("leaderboard:piano"), 0, -1)
        .await
        .expect("zrange");
    let time: Option<i64> = redis.get(key("c:updated_time")).await.expect("get");
    users == ["user-0", "user-1", "user-2", "user-new"]
        && login == Some(12 + 1)
        && only_in_2 == Some(2)
        && count == Some(4 + 1)
        && sum == Some(32 + 5)
        // user-0's best stays 3.5 (its 0.5 after the loss is lower).
        && best
            == [
                ("user-0".to_owned(), 3.5),
                ("user-new".to_owned(), 5.0),
                ("user-1".to_owned(), 7.0),
            ]
        // The time written after the loss is the newer one.
        && time == Some(5_000)
}

#[tokio::test]
async fn a_worker_starting_after_the_loss_merges_the_snapshot_into_the_new_writes() {
    let env = TestEnv::new().await;
    snapshot(&env, 2, 2_000).await;
    env.clear_redis().await;
    gateway_writes_after_the_loss(&env).await;

    let app = env.spawn().await;
    assert!(
        app.restored
            .iter()
            .all(|(_, outcome)| *outcome
                == RestoreOutcome::MergedIntoLostRedis { store_time: 2_000 }),
        "{:?}",
        app.restored
    );
    assert!(holds_snapshot_plus_new_writes(&env).await);
    let marker: Option<String> = env.redis().get(env.keys.key(EPOCH)).await.expect("get");
    assert!(marker.is_some_and(|m| m != "before"), "a new marker is set");
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_running_worker_notices_the_loss_and_restores_without_a_restart() {
    let env =
        TestEnv::with_jobs(|jobs| jobs.redis_check_interval = Duration::from_millis(50)).await;
    let app = env.spawn().await;
    // The marker the running worker set is the one the snapshot is taken under.
    let marker: Option<String> = env.redis().get(env.keys.key(EPOCH)).await.expect("get");
    let marker = marker.expect("the worker marks Redis at start");
    crate::restore::write_bookkeeping(&env, 2, 2_000).await;
    SyncJob::new(env.redis(), env.keys.clone(), &env.db)
        .run()
        .await
        .expect("sync run");
    let stored = Snapshots::new(&env.db)
        .load(Family::Counters)
        .await
        .expect("load");
    assert_eq!(stored.and_then(|s| s.epoch), Some(marker));

    env.clear_redis().await;
    gateway_writes_after_the_loss(&env).await;
    assert!(
        eventually(|| holds_snapshot_plus_new_writes(&env)).await,
        "the running worker merged the snapshot back"
    );
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_sync_run_never_stores_what_a_redis_without_its_marker_holds() {
    let env = TestEnv::new().await;
    snapshot(&env, 2, 2_000).await;
    let snapshots = Snapshots::new(&env.db);
    let before = snapshots.load(Family::Counters).await.expect("load");
    env.clear_redis().await;
    gateway_writes_after_the_loss(&env).await;

    let outcomes = SyncJob::new(env.redis(), env.keys.clone(), &env.db)
        .run()
        .await
        .expect("sync run");
    assert!(
        outcomes
            .iter()
            .all(|(_, outcome)| *outcome == FamilyOutcome::RedisLost),
        "{outcomes:?}"
    );
    assert_eq!(
        snapshots.load(Family::Counters).await.expect("load"),
        before
    );
    env.cleanup().await;
}

#[tokio::test]
async fn two_workers_noticing_one_loss_merge_it_once() {
    let env = TestEnv::new().await;
    snapshot(&env, 2, 2_000).await;
    env.clear_redis().await;
    gateway_writes_after_the_loss(&env).await;

    let sync = SyncJob::new(env.redis(), env.keys.clone(), &env.db);
    let mut first = connect_redis(&env.settings.store).await.expect("redis");
    let mut second = connect_redis(&env.settings.store).await.expect("redis");
    let (a, b) = tokio::join!(sync.restore(&mut first), sync.restore(&mut second));
    let merged = [a.expect("restore"), b.expect("restore")]
        .iter()
        .flatten()
        .filter(|(_, outcome)| matches!(outcome, RestoreOutcome::MergedIntoLostRedis { .. }))
        .count();
    assert_eq!(
        merged,
        Family::ALL.len(),
        "one of the two merged each family"
    );
    assert!(holds_snapshot_plus_new_writes(&env).await);
    env.cleanup().await;
}

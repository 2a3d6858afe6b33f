//! Restore on start, in every direction of seed 000's rule.

use redis::AsyncCommands as _;
use shared_store::keys::Family;
use sync_worker::contract::EPOCH;
use sync_worker::jobs::sync::SyncJob;
use sync_worker::jobs::sync::redis_side;
use sync_worker::jobs::sync::restore::RestoreOutcome;
use sync_worker::jobs::sync::snapshot::{Record, Saved, Snapshot, Snapshots, Value};

use crate::helpers::TestEnv;

/// Some bookkeeping in every family; `variant` changes every value.
pub async fn write_bookkeeping(env: &TestEnv, variant: i64, updated_time: i64) {
    let mut redis = env.redis();
    let key = |name: &str| env.keys.key(name);
    let users: Vec<String> = (0..=variant).map(|i| format!("user-{i}")).collect();
    let _: () = redis.sadd(key("users"), &users).await.expect("sadd");
    let _: () = redis.set(key("c:login"), 10 + variant).await.expect("set");
    let _: () = redis
        .set(key(&format!("c:only-in-{variant}")), variant)
        .await
        .expect("set");
    let scores = [(1.5 + variant as f64, "user-0"), (7.0, "user-1")];
    let _: () = redis
        .zadd_multiple(key("leaderboard:piano"), &scores)
        .await
        .expect("zadd");
    let fields = [("count", 2 + variant), ("score_sum", 30 + variant)];
    let _: () = redis
        .hset_multiple(key("agg:piano"), &fields)
        .await
        .expect("hset");
    for family in Family::ALL {
        let _: () = redis
            .set(key(family.updated_time_key()), updated_time)
            .await
            .expect("set updated_time");
    }
}

/// Sets Redis's sync marker, as a worker does when it restores: the Redis it marks
/// has not lost its data since.
pub async fn set_marker(env: &TestEnv, epoch: &str) {
    let _: () = env
        .redis()
        .set(env.keys.key(EPOCH), epoch)
        .await
        .expect("set the marker");
}

/// Everything the sync job sees in Redis, in a comparable order.
pub async fn read_bookkeeping(env: &TestEnv) -> Vec<(Family, Option<i64>, Vec<Record>)> {
    let mut redis = env.redis();
    let mut state = Vec::new();
    for family in Family::ALL {
        let time = redis_side::updated_time(&mut redis, &env.keys, family)
            .await
            .expect("updated_time");
        let mut records = redis_side::read_family(&mut redis, &env.keys, family)
            .await
            .expect("read family");
        records.sort_by(|a, b| a.key.cmp(&b.key));
        state.push((family, time, records));
    }
    state
}

/// Writes the bookkeeping and snapshots it into the store with the sync job, under
/// the marker `"before"`.
pub async fn snapshot(
    env: &TestEnv,
    variant: i64,
    updated_time: i64,
) -> Vec<(Family, Option<i64>, Vec<Record>)> {
    set_marker(env, "before").await;
    write_bookkeeping(env, variant, updated_time).await;
    let state = read_bookkeeping(env).await;
    SyncJob::new(env.redis(), env.keys.clone(), &env.db)
        .run()
        .await
        .expect("sync run");
    state
}

fn outcomes_are(
    app_restored: &[(Family, RestoreOutcome)],
    expected: impl Fn(RestoreOutcome) -> bool,
) -> bool {
    app_restored.len() == Family::ALL.len() && app_restored.iter().all(|(_, o)| expected(*o))
}

#[tokio::test]
async fn a_newer_store_snapshot_replaces_older_redis_data() {
    let env = TestEnv::new().await;
    let stored = snapshot(&env, 3, 2_000).await;
    // Redis goes back in time (an old dump, with the marker of its day): other
    // values, an older updated_time.
    env.clear_redis().await;
    set_marker(&env, "before").await;
    write_bookkeeping(&env, 1, 1_000).await;

    let app = env.spawn().await;
    assert!(outcomes_are(&app.restored, |o| matches!(
        o,
        RestoreOutcome::RestoredStoreNewer {
            store_time: 2_000,
            redis_time: 1_000
        }
    )));
    assert_eq!(
        read_bookkeeping(&env).await,
        stored,
        "Redis holds exactly the snapshot"
    );
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_newer_redis_is_left_alone() {
    let env = TestEnv::new().await;
    snapshot(&env, 3, 2_000).await;
    // The worker was down while the gateway kept writing to a Redis that kept its
    // data (and so its marker).
    env.clear_redis().await;
    set_marker(&env, "before").await;
    write_bookkeeping(&env, 5, 3_000).await;
    let live = read_bookkeeping(&env).await;

    let app = env.spawn().await;
    assert!(outcomes_are(&app.restored, |o| matches!(
        o,
        RestoreOutcome::KeptRedisNewer {
            store_time: 2_000,
            redis_time: 3_000
        }
    )));
    assert_eq!(read_bookkeeping(&env).await, live, "Redis is untouched");
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn an_empty_redis_gets_the_snapshot_back() {
    let env = TestEnv::new().await;
    let stored = snapshot(&env, 2, 2_000).await;
    env.clear_redis().await; // a Redis restart without persistence

    let app = env.spawn().await;
    assert!(outcomes_are(&app.restored, |o| matches!(
        o,
        RestoreOutcome::RestoredIntoEmptyRedis { store_time: 2_000 }
    )));
    assert_eq!(read_bookkeeping(&env).await, stored);
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_fresh_store_leaves_redis_alone() {
    let env = TestEnv::new().await;
    write_bookkeeping(&env, 1, 1_000).await;
    let live = read_bookkeeping(&env).await;
    let app = env.spawn().await;
    assert!(outcomes_are(&app.restored, |o| o == RestoreOutcome::NoSnapshot));
    assert_eq!(read_bookkeeping(&env).await, live);
    app.stop().await;
    env.cleanup().await;
}

#[tokio::test]
async fn an_older_snapshot_never_replaces_a_newer_one() {
    let env = TestEnv::new().await;
    let snapshots = Snapshots::new(&env.db);
    let snapshot = |time: i64, value: i64| Snapshot {
        updated_time: time,
        records: vec![Record {
            key: "c:login".into(),
            value: Value::Counter { value },
        }],
        epoch: Some("before".into()),
    };
    let newer = snapshot(2_000, 9);
    assert_eq!(
        snapshots
            .save(Family::Counters, &newer)
            .await
            .expect("save"),
        Saved::Replaced
    );
    // A slow run that read Redis before the newer one did.
    assert_eq!(
        snapshots
            .save(Family::Counters, &snapshot(1_000, 1))
            .await
            .expect("save"),
        Saved::Superseded
    );
    let loaded = snapshots.load(Family::Counters).await.expect("load");
    assert_eq!(loaded, Some(newer));
    env.cleanup().await;
}

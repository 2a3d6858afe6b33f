//! Against the real servers: connecting, and recognising duplicate-key errors.

use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use shared_store::{StoreError, StoreSettings, connect_mongodb, connect_redis, is_duplicate_key};

fn settings(db: &str) -> StoreSettings {
    let db = db.to_owned();
    StoreSettings::from_lookup(move |name| match name {
        "M2M_MONGODB_DB" => Some(db.clone()),
        other => std::env::var(other).ok(),
    })
    .expect("valid settings")
}

#[tokio::test]
async fn duplicate_keys_are_recognised_and_other_errors_are_not() {
    let name = format!("store_test_{}", std::process::id());
    let db = connect_mongodb(&settings(&name), "shared-store-tests")
        .await
        .expect("mongodb");
    let items = db.collection::<Document>("items");
    let unique = IndexModel::builder()
        .keys(doc! { "key": 1 })
        .options(IndexOptions::builder().unique(true).build())
        .build();
    items.create_index(unique).await.expect("index");

    items
        .insert_one(doc! { "key": 1 })
        .await
        .expect("first insert");
    let single = items
        .insert_one(doc! { "key": 1 })
        .await
        .expect_err("duplicate");
    assert!(is_duplicate_key(&single));

    let batch = items
        .insert_many([doc! { "key": 1 }, doc! { "key": 2 }])
        .ordered(false)
        .await
        .expect_err("one duplicate in the batch");
    assert!(is_duplicate_key(&batch));

    let not_duplicate = db
        .run_command(doc! { "noSuchCommand": 1 })
        .await
        .expect_err("unknown command");
    assert!(!is_duplicate_key(&not_duplicate));

    db.drop().await.expect("drop");
}

#[tokio::test]
async fn redis_connects_and_answers() {
    let mut redis = connect_redis(&settings("unused")).await.expect("redis");
    let pong: String = redis::cmd("PING")
        .query_async(&mut redis)
        .await
        .expect("ping");
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn an_unreachable_redis_fails_instead_of_hanging() {
    let mut settings = settings("unused");
    // Port 1 on loopback refuses connections.
    settings.redis_url = "redis://127.0.0.1:1".to_owned().into();
    settings.connect_timeout = std::time::Duration::from_secs(2);
    let result = connect_redis(&settings).await;
    assert!(matches!(
        result,
        Err(StoreError::RedisUnreachable(_) | StoreError::Timeout { .. })
    ));
}

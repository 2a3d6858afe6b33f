//! The seed-000 Redis keys and the journal, a contract with the sync and backup jobs.

use redis::AsyncCommands;
use serde_json::Value;

use crate::helpers::{spawn_app, unique_username};

#[tokio::test]
async fn requests_write_the_user_set_counters_times_and_journal() {
    let app = spawn_app().await;
    let username = unique_username();
    let login = app.signed_up(&username, "a fine password").await;
    let user_id = login["user_id"].as_str().expect("user_id");
    let access = login["access_token"].as_str().expect("token");
    assert_eq!(app.get_games(access, "").await.status(), 200);
    assert_eq!(app.login(&username, "a wrong password").await.status(), 401);

    let mut redis = app.redis.clone();
    let k = |name: &str| app.keys.key(name);
    let is_member: bool = redis
        .sismember(k("users"), user_id)
        .await
        .expect("sismember");
    assert!(is_member);
    let members: Vec<String> = redis.smembers(k("users")).await.expect("smembers");
    assert_eq!(members.len(), 1);
    let count = |name: &str| {
        let mut redis = redis.clone();
        let key = k(name);
        async move { redis.get::<_, Option<u64>>(key).await.expect("get") }
    };
    assert_eq!(count("c:register").await, Some(1));
    assert_eq!(count("c:login").await, Some(2));
    assert_eq!(count("c:games").await, Some(1));
    assert!(
        count("users:updated_time")
            .await
            .expect("users:updated_time")
            > 1_600_000_000_000
    );
    assert!(count("c:updated_time").await.expect("c:updated_time") > 1_600_000_000_000);

    let journal: Vec<String> = redis.lrange(k("journal"), 0, -1).await.expect("lrange");
    let entries: Vec<Value> = journal
        .iter()
        .map(|e| serde_json::from_str(e).expect("json entry"))
        .collect();
    let commands: Vec<&str> = entries
        .iter()
        .map(|e| e["command"].as_str().expect("command"))
        .collect();
    assert_eq!(commands, ["register", "login", "games", "login"]);
    assert_eq!(entries[0]["user_id"], user_id);
    assert_eq!(entries[2]["route"], "/games");
    assert_eq!(entries[2]["status"], 200);
    assert_eq!(entries[3]["status"], 401);
    assert!(
        entries[3]["user_id"].is_null(),
        "a failed login belongs to nobody"
    );
    for entry in &journal {
        assert!(
            !entry.contains("password") && !entry.contains(access),
            "{entry}"
        );
    }
}

#[tokio::test]
async fn health_checks_and_unknown_routes_are_not_recorded() {
    let app = spawn_app().await;
    app.client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    app.client
        .get(app.url("/no-such-route"))
        .send()
        .await
        .expect("sent");
    let mut redis = app.redis.clone();
    let length: u64 = redis.llen(app.keys.key("journal")).await.expect("llen");
    assert_eq!(length, 0);
}

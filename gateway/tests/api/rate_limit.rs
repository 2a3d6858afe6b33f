//! Failed-login limiting per username and per client address.

use crate::helpers::{error_of, spawn_app_with, unique_username};

#[tokio::test]
async fn failed_logins_for_one_username_hit_429_until_the_window_ends() {
    let app = spawn_app_with(&[("M2M_LOGIN_MAX_FAILURES", "3")]).await;
    let username = unique_username();
    assert_eq!(
        app.register(&username, "the right password").await.status(),
        201
    );

    for _ in 0..3 {
        assert_eq!(app.login(&username, "a wrong password").await.status(), 401);
    }
    // Even the right password is refused now: the guesses must stop.
    let limited = app.login(&username, "the right password").await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    assert_eq!(error_of(limited).await.0, "too_many_requests");

    // Other usernames are unaffected.
    let other = unique_username();
    assert_eq!(
        app.register(&other, "the right password").await.status(),
        201
    );
    assert_eq!(app.login(&other, "the right password").await.status(), 200);
}

#[tokio::test]
async fn a_successful_login_resets_the_username_counter() {
    let app = spawn_app_with(&[("M2M_LOGIN_MAX_FAILURES", "3")]).await;
    let username = unique_username();
    assert_eq!(
        app.register(&username, "the right password").await.status(),
        201
    );

    for _ in 0..2 {
        assert_eq!(app.login(&username, "a wrong password").await.status(), 401);
    }
    assert_eq!(
        app.login(&username, "the right password").await.status(),
        200
    );
    for _ in 0..2 {
        assert_eq!(app.login(&username, "a wrong password").await.status(), 401);
    }
    // Four failures in all, but never three in a row: still allowed.
    assert_eq!(
        app.login(&username, "the right password").await.status(),
        200
    );
}

#[tokio::test]
async fn failed_logins_from_one_client_hit_429_across_usernames() {
    let app = spawn_app_with(&[
        ("M2M_LOGIN_MAX_FAILURES", "100"),
        ("M2M_LOGIN_MAX_FAILURES_PER_CLIENT", "3"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&unique_username(), "a wrong password")
                .await
                .status(),
            401
        );
    }
    let limited = app.login(&unique_username(), "a wrong password").await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

async fn login_from(
    app: &crate::helpers::TestApp,
    forwarded_for: &str,
    username: &str,
) -> reqwest::StatusCode {
    app.client
        .post(app.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&serde_json::json!({ "username": username, "password": "a wrong password" }))
        .send()
        .await
        .expect("sent")
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_counted_by_their_forwarded_address() {
    let app = spawn_app_with(&[
        ("M2M_TRUST_FORWARDED_FOR", "true"),
        ("M2M_LOGIN_MAX_FAILURES", "100"),
        ("M2M_LOGIN_MAX_FAILURES_PER_CLIENT", "2"),
    ])
    .await;
    // The proxy appends the real address last; the first entry is client-chosen.
    for _ in 0..2 {
        assert_eq!(
            login_from(&app, "1.2.3.4, 10.0.0.1", &unique_username()).await,
            401
        );
    }
    assert_eq!(
        login_from(&app, "5.6.7.8, 10.0.0.1", &unique_username()).await,
        429
    );
    assert_eq!(
        login_from(&app, "1.2.3.4, 10.0.0.2", &unique_username()).await,
        401
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forged_forwarded_header_changes_nothing() {
    let app = spawn_app_with(&[
        ("M2M_LOGIN_MAX_FAILURES", "100"),
        ("M2M_LOGIN_MAX_FAILURES_PER_CLIENT", "2"),
    ])
    .await;
    assert_eq!(login_from(&app, "10.0.0.1", &unique_username()).await, 401);
    assert_eq!(login_from(&app, "10.0.0.2", &unique_username()).await, 401);
    assert_eq!(login_from(&app, "10.0.0.3", &unique_username()).await, 429);
}

#[tokio::test]
async fn failure_counters_always_expire_with_their_window() {
    let app = spawn_app_with(&[("M2M_LOGIN_FAILURE_WINDOW_SECS", "600")]).await;
    let username = unique_username();
    for _ in 0..2 {
        assert_eq!(app.login(&username, "a wrong password").await.status(), 401);
    }
    let mut redis = app.redis.clone();
    for key in [
        format!("rl:login:user:{username}"),
        "rl:login:client:127.0.0.1".to_owned(),
    ] {
        let count: u64 = redis::AsyncCommands::get(&mut redis, app.keys.key(&key))
            .await
            .expect("get");
        assert_eq!(count, 2, "{key}");
        let ttl: i64 = redis::AsyncCommands::ttl(&mut redis, app.keys.key(&key))
            .await
            .expect("ttl");
        assert!((1..=600).contains(&ttl), "{key} has ttl {ttl}");
    }
}

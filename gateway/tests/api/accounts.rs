//! Register and login.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use futures_util::future::join_all;
use mongodb::bson::{DateTime, Document, doc};
use serde_json::{Value, json};

use crate::helpers::{error_of, spawn_app, unique_username};

#[tokio::test]
async fn register_login_refresh_logout_round_trip() {
    let app = spawn_app().await;
    let username = unique_username();

    let registered = app.register(&username, "correct horse battery").await;
    assert_eq!(registered.status(), 201);
    let registered: Value = registered.json().await.expect("json");
    let user_id = registered["user_id"].as_str().expect("user_id").to_owned();

    let login = app.login(&username, "correct horse battery").await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["cache-control"], "no-store");
    let login: Value = login.json().await.expect("json");
    assert_eq!(login["user_id"], user_id.as_str());
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    let access_token = login["access_token"].as_str().expect("access_token");
    let refresh_token = login["refresh_token"].as_str().expect("refresh_token");

    assert_eq!(app.get_games(access_token, "").await.status(), 200);

    let refreshed = app.refresh(refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.expect("json");
    assert_eq!(refreshed["user_id"], user_id.as_str());
    let new_refresh = refreshed["refresh_token"].as_str().expect("refresh_token");
    assert_ne!(new_refresh, refresh_token);
    let new_access = refreshed["access_token"].as_str().expect("access_token");
    assert_eq!(app.get_games(new_access, "").await.status(), 200);

    let logout = app
        .post_json("/logout", &json!({ "refresh_token": new_refresh }))
        .await;
    assert_eq!(logout.status(), 204);
    assert_eq!(app.refresh(new_refresh).await.status(), 401);
}

#[tokio::test]
async fn a_taken_username_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    let username = unique_username();
    assert_eq!(app.register(&username, "password-one").await.status(), 201);

    let again = app
        .register(&format!("  {}  ", username.to_uppercase()), "password-two")
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        error_of(again).await,
        ("conflict".into(), Some("username".into()))
    );
}

#[tokio::test]
async fn racing_registrations_of_one_username_let_exactly_one_win() {
    let app = spawn_app().await;
    let username = unique_username();
    let attempts = (0..3).map(|_| app.register(&username, "racing password"));
    let mut statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![201, 409, 409]);
    let stored = app
        .db
        .collection::<Document>("users")
        .count_documents(doc! { "username": &username })
        .await
        .expect("count");
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn invalid_usernames_and_passwords_are_refused_with_their_field() {
    let app = spawn_app().await;
    let long_password = "p".repeat(1025);
    let cases = [
        ("ab", "long enough password", "username"),
        ("has space", "long enough password", "username"),
        ("ok-name", "short", "password"),
        ("ok-name", long_password.as_str(), "password"),
    ];
    for (username, password, field) in cases {
        let response = app.register(username, password).await;
        assert_eq!(response.status(), 422, "{username:?}");
        assert_eq!(
            error_of(response).await,
            ("validation_failed".into(), Some(field.into()))
        );
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_identical_answers() {
    let app = spawn_app().await;
    let username = unique_username();
    assert_eq!(
        app.register(&username, "the right password").await.status(),
        201
    );

    let wrong_password = app.login(&username, "the wrong password").await;
    let unknown_user = app.login(&unique_username(), "the wrong password").await;

    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_user.status(), 401);
    assert_eq!(
        wrong_password.headers()["www-authenticate"],
        unknown_user.headers()["www-authenticate"]
    );
    let a = wrong_password.bytes().await.expect("body");
    let b = unknown_user.bytes().await.expect("body");
    assert_eq!(a, b);
}

#[tokio::test]
async fn the_stored_hash_is_a_phc_argon2id_string_with_at_least_owasp_parameters() {
    let app = spawn_app().await;
    let username = unique_username();
    assert_eq!(
        app.register(&username, "a password to hash").await.status(),
        201
    );

    let user = app
        .db
        .collection::<Document>("users")
        .find_one(doc! { "username": &username })
        .await
        .expect("query")
        .expect("the user is stored");
    let stored = user.get_str("password_hash").expect("password_hash");
    assert!(!stored.contains("a password to hash"));
    let phc = PasswordHash::new(stored).expect("a PHC string");
    assert_eq!(phc.algorithm.as_str(), "argon2id");
    assert_eq!(phc.version, Some(0x13));
    let params = Params::try_from(&phc).expect("argon2 params");
    assert!(params.m_cost() >= 19_456, "m = {}", params.m_cost());
    assert!(params.t_cost() >= 2, "t = {}", params.t_cost());
    assert!(params.p_cost() >= 1);
}

#[tokio::test]
async fn a_weaker_stored_hash_is_upgraded_on_login() {
    let app = spawn_app().await;
    let username = unique_username();
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(4096, 1, 1, None).expect("params"),
    );
    let salt = SaltString::encode_b64(b"sixteen byte sal").expect("salt");
    let weak_hash = weak
        .hash_password(b"an old password", &salt)
        .expect("hash")
        .to_string();
    let users = app.db.collection::<Document>("users");
    users
        .insert_one(doc! {
            "_id": "legacy-user",
            "username": &username,
            "password_hash": &weak_hash,
            "created_at": DateTime::now(),
            "password_updated_at": DateTime::now(),
        })
        .await
        .expect("insert");

    assert_eq!(app.login(&username, "an old password").await.status(), 200);

    let user = users
        .find_one(doc! { "_id": "legacy-user" })
        .await
        .expect("query")
        .expect("user");
    let upgraded = user.get_str("password_hash").expect("hash");
    assert_ne!(upgraded, weak_hash);
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    // The upgraded hash still accepts the same password.
    assert_eq!(app.login(&username, "an old password").await.status(), 200);
}

#[tokio::test]
async fn a_full_hashing_pool_answers_503_with_retry_after() {
    let app = spawn_app_busy().await;
    let username = unique_username();
    let attempts = (0..6).map(|_| app.login(&username, "whatever password"));
    let responses = join_all(attempts).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    let busy = responses
        .into_iter()
        .find(|r| r.status() == 503)
        .expect("a 503");
    assert!(busy.headers().contains_key("retry-after"));
    assert_eq!(error_of(busy).await.0, "overloaded");
}

/// One hashing slot and no waiting: concurrent logins beyond the first are refused.
async fn spawn_app_busy() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(&[
        ("M2M_HASH_CONCURRENCY", "1"),
        ("M2M_HASH_WAIT_MS", "0"),
        ("M2M_LOGIN_MAX_FAILURES", "100"),
    ])
    .await
}

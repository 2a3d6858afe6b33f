//! `spawn_app()`: the real gateway on port 0 with a fresh database and Redis prefix.

use std::collections::HashMap;
use std::sync::LazyLock;

use gateway::config::Settings;
use gateway::startup::Application;
use redis::aio::ConnectionManager;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared_store::{RedisKeys, StoreSettings, connect_mongodb, connect_redis};
use uuid::Uuid;

/// Logs are silent unless `TEST_LOG` is set (then `RUST_LOG` or `debug` applies).
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        shared_events::telemetry::init("gateway-tests");
    }
});

/// A running gateway and direct handles on its stores.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: mongodb::Database,
    pub redis: ConnectionManager,
    pub keys: RedisKeys,
    pub jwt_secret: String,
    pub bus: shared_events::Bus,
    pub store: StoreSettings,
    /// The settings the gateway started with, for more instances of the same stack.
    pub settings: Settings,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with some `M2M_*` variables overridden.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let (settings, jwt_secret) = test_settings(overrides);
    let store = settings.store.clone();
    let bus = shared_events::Bus::new(settings.bus.clone());
    let address = start_instance(&settings).await;

    TestApp {
        address,
        client: reqwest::Client::new(),
        db: connect_mongodb(&store, "gateway-tests")
            .await
            .expect("mongodb"),
        redis: connect_redis(&store).await.expect("redis"),
        keys: RedisKeys::new(&store.redis_prefix),
        jwt_secret,
        bus,
        store,
        settings,
    }
}

/// Starts a gateway with `settings` in the background; returns its base URL.
async fn start_instance(settings: &Settings) -> String {
    let application = Application::build(settings.clone())
        .await
        .expect("the app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until(std::future::pending()));
    address
}

impl TestApp {
    /// Starts another gateway instance on the same stores and bus (as a second
    /// replica behind a load balancer would be); returns its base URL. It stops with
    /// the test's runtime; `TestApp`'s cleanup covers its data.
    pub async fn another_instance(&self) -> String {
        start_instance(&self.settings).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/register",
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/login",
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json("/refresh", &json!({ "refresh_token": refresh_token }))
            .await
    }

    pub async fn get_games(&self, access_token: &str, query: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/games{query}")))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request sent")
    }

    /// Registers `username` and logs in; returns the login body.
    pub async fn signed_up(&self, username: &str, password: &str) -> Value {
        assert_eq!(self.register(username, password).await.status(), 201);
        let response = self.login(username, password).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("json body")
    }
}

/// Settings for one test: port 0, a fresh database and Redis prefix, a random JWT
/// secret (returned too, so tests can forge tokens), then `overrides`.
pub fn test_settings(overrides: &[(&str, &str)]) -> (Settings, String) {
    LazyLock::force(&TRACING);
    let (vars, jwt_secret) = test_vars(overrides);
    let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid settings");
    (settings, jwt_secret)
}

/// The `M2M_*` variables of [`test_settings`], for a gateway run as a process.
pub fn test_vars(overrides: &[(&str, &str)]) -> (HashMap<String, String>, String) {
    let id = Uuid::new_v4().simple().to_string();
    let jwt_secret = format!("test-secret-{id}-{id}");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("M2M_HTTP_ADDR".into(), "127.0.0.1:0".into()),
        ("M2M_MONGODB_DB".into(), format!("test_{id}")),
        ("M2M_REDIS_PREFIX".into(), format!("test:{id}:")),
        ("M2M_BUS_PREFIX".into(), format!("test-gw-{id}")),
        ("M2M_JWT_SECRET".into(), jwt_secret.clone()),
        // Tests run in parallel on few cores; wait for a hashing slot rather than 503.
        ("M2M_HASH_WAIT_MS".into(), "60000".into()),
    ]);
    // Let CI point the tests at other servers.
    for name in ["M2M_MONGODB_URL", "M2M_REDIS_URL", "M2M_AMQP_URL"] {
        if let Ok(value) = std::env::var(name) {
            vars.insert(name.into(), value);
        }
    }
    for (name, value) in overrides {
        vars.insert((*name).into(), (*value).into());
    }
    (vars, jwt_secret)
}

/// Drops the test's database and Redis keys. Runs on its own thread and runtime because
/// `Drop` cannot await and the test's runtime may be shutting down.
impl Drop for TestApp {
    fn drop(&mut self) {
        let store = self.store.clone();
        let bus = self.bus.clone();
        let prefix = self.keys.prefix().to_owned();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                bus.delete_topology().await;
                if let Ok(db) = connect_mongodb(&store, "gateway-tests-cleanup").await {
                    let _ = db.drop().await;
                }
                if let Ok(client) = redis::Client::open(store.redis_url.expose_secret())
                    && let Ok(mut redis) = client.get_multiplexed_async_connection().await
                {
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{prefix}*"))
                        .query_async(&mut redis)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: redis::RedisResult<()> =
                            redis::cmd("DEL").arg(keys).query_async(&mut redis).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A username no other test uses.
pub fn unique_username() -> String {
    format!("user-{}", &Uuid::new_v4().simple().to_string()[..12])
}

/// The JSON body of an error response: `(code, field)`.
pub async fn error_of(response: reqwest::Response) -> (String, Option<String>) {
    let body: Value = response.json().await.expect("a JSON error body");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    assert!(
        body["error"]["message"].is_string(),
        "error.message in {body}"
    );
    let field = body["error"]["field"].as_str().map(str::to_owned);
    (code, field)
}

pub async fn rabbitmqctl(args: &[&str]) {
    let output = tokio::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .await
        .expect("rabbitmqctl must be installed where RabbitMQ runs");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A vhost of this test's own, so revoking it touches no other test.
pub struct PrivateVhost(String);

impl PrivateVhost {
    pub async fn create() -> Self {
        let name = format!("test-gw-{}", uuid::Uuid::now_v7().simple());
        rabbitmqctl(&["add_vhost", &name]).await;
        let vhost = Self(name);
        vhost.allow().await;
        vhost
    }

    pub fn url(&self) -> String {
        let base = std::env::var("M2M_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
        let base = base
            .rsplit_once('/')
            .map_or(base.as_str(), |(b, _)| b)
            .to_owned();
        format!("{base}/{}", self.0)
    }

    pub async fn allow(&self) {
        rabbitmqctl(&["set_permissions", "-p", &self.0, "guest", ".*", ".*", ".*"]).await;
    }

    /// Revokes the permissions and closes every connection: reconnects are refused.
    pub async fn take_down(&self) {
        rabbitmqctl(&["clear_permissions", "-p", &self.0, "guest"]).await;
        rabbitmqctl(&["close_all_connections", "-p", &self.0, "broker down test"]).await;
    }

    pub async fn delete(self) {
        rabbitmqctl(&["delete_vhost", &self.0]).await;
    }
}

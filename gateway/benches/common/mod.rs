//! What the gateway's load benchmarks share: their switches, a private stack and
//! an in-process gateway. The e2e crate's benches include this module by path.

#[allow(dead_code, reason = "only some benches report CPU")]
pub mod cpu;
#[allow(dead_code, reason = "the login bench makes no uploads")]
pub mod phones;

use anyhow::Context;
use gateway::config::Settings;
use gateway::startup::Application;
use shared_store::{connect_mongodb, connect_redis};

/// `name` parsed from the environment, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and a
/// load run of a minute has no place in a test run. Says so when skipping.
pub fn invoked_as_bench(bench: &str) -> bool {
    let invoked = std::env::args().any(|arg| arg == "--bench");
    if !invoked {
        // The package being built: the e2e crate's benches share this module.
        let package = env!("CARGO_PKG_NAME");
        println!("{bench}: skipped (run it with `cargo bench -p {package} --bench {bench}`)");
    }
    invoked
}

/// Gateway settings on a stack of the bench's own: a fresh database, Redis
/// prefix and bus prefix, and a free port; everything else from the environment.
pub fn private_settings() -> anyhow::Result<Settings> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let vars = [
        ("M2M_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("M2M_MONGODB_DB", format!("bench_{id}")),
        ("M2M_REDIS_PREFIX", format!("bench:{id}:")),
        ("M2M_BUS_PREFIX", format!("bench-{id}")),
    ];
    Ok(Settings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    })?)
}

/// Builds the gateway and serves it on `server` (a runtime of its own, as `main`
/// would have); returns its base URL.
pub fn start_gateway(
    server: &tokio::runtime::Runtime,
    settings: Settings,
) -> anyhow::Result<String> {
    let app = server
        .block_on(Application::build(settings))
        .context("Failed to build the gateway")?;
    let base = format!("http://127.0.0.1:{}", app.port());
    server.spawn(app.run_until(std::future::pending()));
    Ok(base)
}

/// Removes the bench's stack: bus topology, database and Redis keys.
pub async fn teardown(settings: &Settings) -> anyhow::Result<()> {
    shared_events::Bus::new(settings.bus.clone())
        .delete_topology()
        .await;
    let store = &settings.store;
    connect_mongodb(store, "gateway-bench")
        .await?
        .drop()
        .await?;
    let mut redis = connect_redis(store).await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", store.redis_prefix))
        .query_async(&mut redis)
        .await?;
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut redis)
            .await?;
    }
    Ok(())
}

//! [`Readiness`]: is this process able to do its work right now?
//!
//! `/readyz` checks, concurrently and each under `M2M_READY_TIMEOUT_MS`, every
//! store and the broker the process uses: a passive declare on the broker, a
//! `ping` on MongoDB, a `PING` on Redis. A process that is shutting down is not
//! ready either, so a load balancer stops sending it requests while it drains.
//! `/healthz` (liveness) checks nothing: a database outage must not get healthy
//! processes restarted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mongodb::bson::doc;
use serde_json::{Map, Value, json};

use crate::broker_probe::BrokerProbe;

/// Something the process needs, and how to check it.
#[derive(Clone)]
pub enum Dependency {
    Broker(Arc<BrokerProbe>),
    MongoDb(mongodb::Database),
    Redis(redis::aio::ConnectionManager),
}

impl std::fmt::Debug for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Dependency {
    /// The name `/readyz` reports it under.
    pub fn name(&self) -> &'static str {
        match self {
            Dependency::Broker(_) => "broker",
            Dependency::MongoDb(_) => "mongodb",
            Dependency::Redis(_) => "redis",
        }
    }

    async fn check(&self) -> Result<(), String> {
        match self {
            Dependency::Broker(probe) => probe.check().await.map_err(|e| e.to_string()),
            Dependency::MongoDb(db) => db
                .run_command(doc! { "ping": 1 })
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Dependency::Redis(redis) => {
                let mut redis = redis.clone();
                redis::cmd("PING")
                    .query_async::<String>(&mut redis)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// The dependencies of a process and whether it is stopping.
#[derive(Debug)]
pub struct Readiness {
    dependencies: Vec<Dependency>,
    /// Dependencies the process works without, less well (see [`Self::degraded_without`]).
    optional: Vec<&'static str>,
    timeout: Duration,
    stopping: AtomicBool,
}

/// One answer of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    pub stopping: bool,
    /// Each dependency and its failure, if it failed.
    pub checks: Vec<(&'static str, Result<(), String>)>,
    /// The dependencies whose failure only degrades the process.
    pub optional: Vec<&'static str>,
}

impl Readiness {
    /// Checks `dependencies`, each bounded by `timeout`.
    pub fn new(dependencies: Vec<Dependency>, timeout: Duration) -> Self {
        Self {
            dependencies,
            optional: Vec::new(),
            timeout,
            stopping: AtomicBool::new(false),
        }
    }

    /// The process stays ready without the dependency `name` (the gateway takes
    /// uploads while the broker is down: its outbox publishes them later); `/readyz`
    /// then answers `200` with `"status": "degraded"`.
    pub fn degraded_without(mut self, name: &'static str) -> Self {
        self.optional.push(name);
        self
    }

    /// From now on the process reports itself not ready (it is draining).
    pub fn mark_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Checks every dependency at once.
    pub async fn check(&self) -> ReadinessReport {
        let checks = self.dependencies.iter().map(|dependency| async move {
            let outcome = match tokio::time::timeout(self.timeout, dependency.check()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            };
            (dependency.name(), outcome)
        });
        ReadinessReport {
            stopping: self.stopping.load(Ordering::Relaxed),
            checks: futures_util::future::join_all(checks).await,
            optional: self.optional.clone(),
        }
    }
}

impl ReadinessReport {
    /// Ready: not stopping, and every dependency the process cannot do without
    /// answered.
    pub fn is_ready(&self) -> bool {
        !self.stopping
            && self
                .checks
                .iter()
                .all(|(name, outcome)| outcome.is_ok() || self.optional.contains(name))
    }

    /// The dependencies that failed their check.
    pub fn down(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|(_, outcome)| outcome.is_err())
            .map(|(name, _)| *name)
            .collect()
    }

    /// `{"status": "ready" | "degraded" | "unavailable" | "stopping", "down": [...],
    /// "checks": {"broker": {"status": "up"}, "redis": {"status": "down", "error": "..."}}}`;
    /// `degraded` is ready with an optional dependency down.
    pub fn to_json(&self) -> Value {
        let status = if self.stopping {
            "stopping"
        } else if !self.is_ready() {
            "unavailable"
        } else if self.down().is_empty() {
            "ready"
        } else {
            "degraded"
        };
        let mut checks = Map::new();
        for (name, outcome) in &self.checks {
            let check = match outcome {
                Ok(()) => json!({ "status": "up" }),
                Err(error) => json!({ "status": "down", "error": error }),
            };
            checks.insert((*name).to_owned(), check);
        }
        json!({ "status": status, "down": self.down(), "checks": checks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stopping: bool, broker: Result<(), String>) -> ReadinessReport {
        ReadinessReport {
            stopping,
            checks: vec![("broker", broker), ("mongodb", Ok(()))],
            optional: Vec::new(),
        }
    }

    #[test]
    fn an_optional_dependency_down_is_degraded_but_ready() {
        let mut report = report(false, Err("connection refused".into()));
        report.optional = vec!["broker"];
        assert!(report.is_ready());
        let json = report.to_json();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["down"], json!(["broker"]));
        report.checks[1].1 = Err("timeout".into());
        assert!(!report.is_ready(), "the store is not optional");
        assert_eq!(report.to_json()["status"], "unavailable");
    }

    #[test]
    fn every_dependency_up_is_ready() {
        let report = report(false, Ok(()));
        assert!(report.is_ready());
        assert_eq!(report.to_json()["status"], "ready");
        assert_eq!(report.to_json()["checks"]["mongodb"]["status"], "up");
    }

    #[test]
    fn a_dependency_down_is_named_with_its_error() {
        let report = report(false, Err("connection refused".into()));
        assert!(!report.is_ready());
        let json = report.to_json();
        assert_eq!(json["status"], "unavailable");
        assert_eq!(json["down"], json!(["broker"]));
        assert_eq!(json["checks"]["broker"]["error"], "connection refused");
    }

    #[test]
    fn a_stopping_process_is_not_ready_even_with_everything_up() {
        let report = report(true, Ok(()));
        assert!(!report.is_ready());
        assert_eq!(report.to_json()["status"], "stopping");
    }
}
